"""ModelCheckpoint, BackupAndRestore and resume: a crashed run resumed from its backup ends bit-identical."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_io_support import X, Y, read_archive, registered, weights_equal, write_archive

import minidl
from minidl import ConfigError, FormatError, layers
from minidl.checkpoint import (
    BackupAndRestore,
    CheckpointWarning,
    ModelCheckpoint,
    checkpoints,
    load_latest,
    resume,
)
from minidl.layers import Layer


class Noise(Layer):
    """Adds Gaussian noise while training, drawn from the layer's own Generator."""

    def __init__(self, scale: float = 0.1, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.scale = scale
        self._rng: np.random.Generator | None = None

    def build(self, input_shape, rng, dtype):
        self._rng = rng

    def forward(self, x):
        return x + self.scale * self._rng.standard_normal(x.shape) if self.training else x

    def backward(self, grad_output):
        return grad_output

    def get_config(self):
        return {"scale": self.scale}


@pytest.fixture(autouse=True)
def noise_layer():
    with registered(layers.registry, "test_noise", Noise) as cls:
        yield cls


def make(optimizer=None) -> minidl.Sequential:
    model = minidl.Sequential(
        [minidl.Dense(3, 5, activation="tanh"), Noise(0.05), minidl.Dense(5, 1)], seed=11
    )
    optimizer = optimizer or minidl.SGD(learning_rate=0.05, momentum=0.8, nesterov=True)
    model.compile(loss="mse", optimizer=optimizer)
    return model


FIT = {"batch_size": 5, "shuffle": True}


class Crash(minidl.Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("power cut")


def reference(epochs: int = 6) -> minidl.Sequential:
    model = make()
    model.fit(X, Y, epochs=epochs, **FIT)
    return model


def assert_same_run(a: minidl.Sequential, b: minidl.Sequential) -> None:
    assert weights_equal(a.get_weights(), b.get_weights())
    assert a.history.epochs == b.history.epochs and a.history.history == b.history.history
    sa, sb = (m.trainer.optimizer_state() for m in (a, b))
    assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert a.get_random_state()["shuffle"] == b.get_random_state()["shuffle"]


def test_crashed_run_resumes_bit_identical(tmp_path: Path) -> None:
    crashed = make()
    with pytest.raises(RuntimeError, match="power cut"):
        crashed.fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path, keep=2), Crash(4)], **FIT)
    assert [p.name for p in checkpoints(tmp_path)] == [
        "checkpoint-epoch000003.minidl",
        "checkpoint-epoch000004.minidl",
    ]
    resumed = resume(
        tmp_path,
        X,
        Y,
        epochs=6,
        callbacks=[BackupAndRestore(tmp_path, keep=2, delete_checkpoint=False)],
        **FIT,
    )
    uninterrupted = reference()
    assert_same_run(resumed, uninterrupted)
    assert resumed.history.epochs == list(range(6))
    assert [p.name for p in checkpoints(tmp_path)][-1] == "checkpoint-epoch000006.minidl"
    assert not any(
        np.array_equal(a, b) for a, b in zip(reference(4).get_weights(), uninterrupted.get_weights())
    )


def test_load_then_fit_is_the_same_as_resume(tmp_path: Path) -> None:
    model = make()
    model.fit(X, Y, epochs=3, callbacks=[BackupAndRestore(tmp_path, every=3, delete_checkpoint=False)], **FIT)
    loaded = minidl.load(tmp_path / "checkpoint-epoch000003.minidl")
    loaded.fit(X, Y, epochs=3, **FIT)
    assert_same_run(loaded, reference())
    assert resume(tmp_path / "checkpoint-epoch000003.minidl", X, Y, epochs=2, **FIT).history.epochs == [
        0,
        1,
        2,
    ]


def test_every_and_keep(tmp_path: Path) -> None:
    make().fit(
        X,
        Y,
        epochs=7,
        callbacks=[BackupAndRestore(tmp_path, every=2, keep=None, prefix="run", delete_checkpoint=False)],
        **FIT,
    )
    assert [p.name for p in checkpoints(tmp_path, "run")] == [f"run-epoch{n:06d}.minidl" for n in (2, 4, 6)]
    assert minidl.load(tmp_path / "run-epoch000004.minidl").history.epochs == [0, 1, 2, 3]


@pytest.mark.parametrize("mode", ["min", "max"])
def test_save_best_only(tmp_path: Path, mode: str) -> None:
    # the older folder spelling of ModelCheckpoint still works, with a FutureWarning
    model = make()
    with pytest.warns(
        FutureWarning, match=r"ModelCheckpoint\(.*\) with a folder is deprecated: use BackupAndRestore"
    ):
        callback = ModelCheckpoint(tmp_path, save_best_only=True, mode=mode, keep=None)
    model.fit(X, Y, epochs=6, callbacks=[callback], **FIT)
    losses = model.history.history["loss"]
    better = (lambda v, best: v < best) if mode == "min" else (lambda v, best: v > best)
    best, expected = None, []
    for epoch, value in enumerate(losses, 1):
        if best is None or better(value, best):
            best, expected = value, [*expected, epoch]
    assert [int(p.stem[-6:]) for p in checkpoints(tmp_path)] == expected
    assert len(expected) >= 1 and (mode == "max" or len(expected) > 1)


def test_missing_monitor_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"monitors 'val_loss', which this fit does not report \(validation figures need"
    ):
        make().fit(X, Y, epochs=1, callbacks=[ModelCheckpoint(tmp_path / "m.minidl", save_best_only=True)])
    assert list(tmp_path.iterdir()) == []


def test_corrupt_newest_checkpoint_falls_back_with_a_warning(tmp_path: Path) -> None:
    make().fit(X, Y, epochs=3, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)], **FIT)
    newest = tmp_path / "checkpoint-epoch000003.minidl"
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.warns(
        CheckpointWarning, match=r"Skipping unreadable checkpoint .*epoch000003.minidl.*truncated"
    ):
        model = load_latest(tmp_path)
    assert model.history.epochs == [0, 1]
    for path in checkpoints(tmp_path):
        path.write_bytes(b"")
    with (
        pytest.warns(CheckpointWarning),
        pytest.raises(FormatError, match=r"No checkpoint .* could be read:\n.*epoch000003"),
    ):
        load_latest(tmp_path)


def test_newest_checkpoint_refused_for_its_content_falls_back(tmp_path: Path) -> None:
    # A well-formed file whose optimizer state is out of range is a ConfigError, not a FormatError
    model = make()
    model.compile(loss="mse", optimizer="adam")
    model.fit(X, Y, epochs=3, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)], **FIT)
    newest = tmp_path / "checkpoint-epoch000003.minidl"
    document, members = read_archive(newest)
    document["training"]["optimizer"]["0/t"] = -1
    write_archive(newest, document, members)
    with pytest.raises(ConfigError, match="'0/t' is a count"):
        minidl.load(newest)
    with pytest.warns(CheckpointWarning, match=r"epoch000003.minidl.*'0/t' is a count"):
        restored = load_latest(tmp_path)
    assert restored.history.epochs == [0, 1] and restored.optimizer.iterations == 2 * math.ceil(
        len(X) / FIT["batch_size"]
    )


def test_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No checkpoint named checkpoint-epoch"):
        load_latest(tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"every": 0}, "every must be a positive integer"), ({"keep": 0}, "keep must be a positive integer"),
     ({"prefix": "../x"}, "prefix must be a plain"), ({"delete_checkpoint": 1}, "delete_checkpoint must be")],
)  # fmt: skip
def test_bad_checkpoint_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BackupAndRestore(tmp_path / "c", **kwargs)
    with pytest.raises(ConfigError, match="mode must be one of"):
        ModelCheckpoint(tmp_path / "c.minidl", mode="up")
    assert list(tmp_path.iterdir()) == []


def test_resume_best_value_carries_over(tmp_path: Path) -> None:
    model = make()
    model.fit(X, Y, epochs=2, **FIT)
    callback = ModelCheckpoint(tmp_path / "best.minidl", save_best_only=True, monitor="loss")
    callback.set_model(model)
    callback.on_train_begin()
    assert callback.best == min(v for v in model.history.history["loss"] if math.isfinite(v))


def test_a_learning_rate_changed_by_a_callback_is_in_the_checkpoint(tmp_path: Path) -> None:
    # callback state is not saved (docs/reliability.md), but what a callback did to the optimizer is
    halve = minidl.LearningRateScheduler(lambda epoch, lr: lr / 2)
    model = make()
    model.fit(X, Y, epochs=3, callbacks=[halve, BackupAndRestore(tmp_path, delete_checkpoint=False)], **FIT)
    assert load_latest(tmp_path).optimizer.learning_rate == 0.05 / 2**3 == model.optimizer.learning_rate


# ------------------------------------------------------------------ ModelCheckpoint(filepath), Keras's meaning
def labelled() -> tuple[minidl.Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 3))
    y = (x[:, :1] - x[:, 1:2] + rng.normal(scale=0.8, size=(80, 1)) > 0).astype(float)
    model = minidl.Sequential(
        [minidl.Dense(3, 4, activation="tanh"), minidl.Dense(4, 1, activation="sigmoid")], seed=2
    )
    model.compile(loss="binary_crossentropy", optimizer=minidl.SGD(learning_rate=0.3), metrics=["accuracy"])
    return model, x, y


def test_save_best_only_on_accuracy_keeps_the_best_epoch(tmp_path: Path) -> None:
    model, x, y = labelled()
    path = tmp_path / "best.minidl"
    best = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)
    model.fit(x, y, epochs=12, batch_size=16, validation_split=0.25, callbacks=[best], verbose=0)
    accuracy = model.history.history["val_accuracy"]
    first_best = next(i for i, v in enumerate(accuracy) if v == max(accuracy))  # ties keep the first
    assert min(accuracy) < max(accuracy)  # so keeping the worst epoch would be caught
    assert minidl.load(path).history.epochs[-1] == first_best
    assert best.best == max(accuracy)


def test_filepath_fields_name_each_file(tmp_path: Path) -> None:
    model, x, y = labelled()
    template = str(tmp_path / "ckpt" / "epoch{epoch:03d}-{val_loss:.3f}.minidl")
    model.fit(
        x, y, epochs=3, batch_size=16, validation_split=0.25, callbacks=[ModelCheckpoint(template)], verbose=0
    )
    expected = [f"epoch{e + 1:03d}-{v:.3f}.minidl" for e, v in enumerate(model.history.history["val_loss"])]
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == expected
    saved = minidl.load(tmp_path / "ckpt" / expected[1])
    assert saved.history.epochs == [0, 1]


def test_save_weights_only_writes_a_weights_file(tmp_path: Path) -> None:
    model = make()
    model.fit(
        X, Y, epochs=2, callbacks=[ModelCheckpoint(tmp_path / "w.minidl", save_weights_only=True)], **FIT
    )
    fresh = make()
    fresh.load_weights(tmp_path / "w.minidl")
    assert weights_equal(fresh.get_weights(), model.get_weights())
    with pytest.raises(ConfigError, match=r"save_weights_only needs a \.minidl file path"):
        ModelCheckpoint(tmp_path / "folder", save_weights_only=True)


@pytest.mark.parametrize("template, message", [
    ("m-{val_loss:.3f}.minidl", r"names the figure 'val_loss', which this fit does not report"),
    ("m-{}.minidl", r"is not a valid template"),
    ("m-{loss:d}.minidl", r"is not a valid template"),
])  # fmt: skip
def test_a_bad_template_is_refused_before_training(tmp_path: Path, template: str, message: str) -> None:
    model = make()
    before = model.get_weights()
    with pytest.raises(ConfigError, match=message):
        model.fit(X, Y, epochs=2, callbacks=[ModelCheckpoint(tmp_path / template)], **FIT)
    assert weights_equal(before, model.get_weights()) and list(tmp_path.iterdir()) == []


def test_a_path_that_names_a_file_never_becomes_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"whose names end in .minidl; received .*best.keras"):
        ModelCheckpoint(tmp_path / "best.keras")
    with pytest.raises(ConfigError, match=r"names a file; backups need a folder"):
        BackupAndRestore(tmp_path / "backup.minidl")
    with pytest.raises(ConfigError, match=r"writes one model file: leave them out"):
        ModelCheckpoint(tmp_path / "best.minidl", keep=2)
    existing = tmp_path / "notes"
    existing.write_text("mine")
    with pytest.raises(ConfigError, match=r"names a file; backups need a folder"):
        BackupAndRestore(existing)
    (tmp_path / "folder.minidl").mkdir()
    with pytest.raises(ConfigError, match=r"is a folder; give a file name ending in .minidl"):
        make().fit(X, Y, epochs=1, callbacks=[ModelCheckpoint(tmp_path / "folder.minidl")], **FIT)
    assert existing.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == [
        "folder.minidl",
        "notes",
    ]


def test_load_on_a_folder_names_the_function_that_reads_it(tmp_path: Path) -> None:
    with pytest.raises(
        IsADirectoryError, match=r"minidl.load reads one model file.*minidl.checkpoint.load_latest"
    ):
        minidl.load(tmp_path)


# ------------------------------------------------------------------ BackupAndRestore
def test_backup_and_restore_resumes_a_killed_run_in_the_same_script(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="power cut"):
        make().fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path, keep=2), Crash(4)], **FIT)
    assert [p.name for p in checkpoints(tmp_path)][-1] == "checkpoint-epoch000004.minidl"
    assert (tmp_path / "checkpoint-run.json").is_file()
    started = []
    again = make()  # the same script, run again: fresh weights, then the backup restored
    backup = BackupAndRestore(tmp_path, keep=2)
    probe = minidl.LambdaCallback(on_epoch_begin=lambda epoch, logs: started.append(epoch))
    again.fit(X, Y, epochs=6, callbacks=[backup, probe], **FIT)
    assert backup.restored_epoch == 3 and started == [4, 5]
    assert_same_run(again, reference())
    assert not tmp_path.exists()  # deleted once the run ended (delete_checkpoint=True)


def test_other_callbacks_start_from_the_restored_state(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        make().fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path / "b"), Crash(3)], **FIT)
    best = ModelCheckpoint(tmp_path / "best.minidl", monitor="loss", save_best_only=True)
    seen = []
    early = minidl.LambdaCallback(on_train_begin=lambda logs: seen.append(list(again.history.epochs)))
    again = make()
    again.fit(X, Y, epochs=6, callbacks=[best, early, BackupAndRestore(tmp_path / "b")], **FIT)
    assert seen == [[0, 1, 2]]  # listed before BackupAndRestore, they still saw its restore
    assert best.best == min(again.history.history["loss"])


def test_a_later_fit_of_the_same_model_is_not_rolled_back(tmp_path: Path) -> None:
    model = make()
    backup = BackupAndRestore(tmp_path, every=2, delete_checkpoint=False)
    model.fit(X, Y, epochs=3, callbacks=[backup], **FIT)  # backed up at 2 epochs, the model has 3
    model.fit(X, Y, epochs=3, callbacks=[backup], **FIT)
    assert backup.restored_epoch is None
    assert_same_run(model, reference(6))


def _refused(tmp_path: Path, other: minidl.Sequential, message: str) -> None:
    before = other.get_weights()
    with pytest.raises(ConfigError, match=message):
        other.fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path)], **FIT)
    assert weights_equal(before, other.get_weights()) and other.history.epochs == []


def test_backups_of_another_run_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        make().fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path), Crash(2)], **FIT)
    wider = minidl.Sequential(
        [minidl.Dense(3, 7, activation="tanh"), Noise(0.05), minidl.Dense(7, 1)], seed=11
    )
    wider.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.05, momentum=0.8, nesterov=True))
    _refused(tmp_path, wider, r"belong to another run.*\n  architecture: .*\(backups\) vs .*\(this run\)")
    other_optimizer = make()
    other_optimizer.compile(loss="mse", optimizer="adam")
    _refused(tmp_path, other_optimizer, r"belong to another run.*\n  optimizer: .*sgd.*vs .*adam")
    other_loss = make()
    other_loss.compile(loss="mae", optimizer=minidl.SGD(learning_rate=0.05, momentum=0.8, nesterov=True))
    _refused(tmp_path, other_loss, r"\n  loss: .*\"mse\"\} \(backups\) vs .*\"mae\"\} \(this run\)")
    slower = make()
    slower.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.01, momentum=0.8, nesterov=True))
    _refused(tmp_path, slower, r"\n  optimizer: .*0.05.*0.01")
    # a different number of samples is let through with a warning, as Keras would proceed
    with pytest.warns(CheckpointWarning, match=r"trained on 24 samples; this one has 20"):
        make().fit(X[:20], Y[:20], epochs=3, callbacks=[BackupAndRestore(tmp_path)], **FIT)


def test_a_learning_rate_a_callback_changed_is_the_same_run(tmp_path: Path) -> None:
    halve = minidl.LearningRateScheduler(lambda epoch, lr: lr / 2)
    model = make()
    backup = BackupAndRestore(tmp_path, delete_checkpoint=False)
    model.fit(X, Y, epochs=2, callbacks=[halve, backup], **FIT)
    model.fit(X, Y, epochs=2, callbacks=[halve, backup], **FIT)  # the rate is now the newest backup's
    assert backup.restored_epoch is None and model.history.epochs == [0, 1, 2, 3]  # not refused


def test_backups_without_a_run_record_are_checked_in_part(tmp_path: Path) -> None:
    make().fit(X, Y, epochs=2, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)], **FIT)
    (tmp_path / "checkpoint-run.json").unlink()  # as an older minidl left them
    with pytest.warns(CheckpointWarning, match="hold no run record"):
        model = make()
        model.fit(X, Y, epochs=3, callbacks=[BackupAndRestore(tmp_path)], **FIT)
    assert_same_run(model, reference(3))


@pytest.mark.parametrize("generator", ["shuffle", "layer"])
@pytest.mark.parametrize("field, value", [("uinteger", 2**32), ("has_uint32", 2**31)])
def test_a_random_state_beyond_numpys_limits_is_refused_and_skipped(
    tmp_path: Path, generator: str, field: str, value: int
) -> None:
    # below 2**128, so the structure passes, but numpy keeps these fields in a uint32 and an int
    make().fit(X, Y, epochs=2, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)], **FIT)
    newest = tmp_path / "checkpoint-epoch000002.minidl"
    document, members = read_archive(newest)
    states = document["training"]["random"]
    (states["shuffle"] if generator == "shuffle" else states["layers"]["1"])[field] = value
    write_archive(newest, document, members)
    with pytest.raises(FormatError, match=r"random generator states was rejected: OverflowError"):
        minidl.load(newest)
    with pytest.warns(CheckpointWarning, match=r"epoch000002.minidl.*OverflowError"):
        restored = load_latest(tmp_path)
    assert restored.history.epochs == [0]


def test_load_latest_falls_back_on_any_failure_the_file_causes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make().fit(X, Y, epochs=2, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)], **FIT)
    real = minidl.checkpoint.load

    def failing(error: BaseException):
        def load(path: Path) -> minidl.Sequential:
            if path.name.endswith("000002.minidl"):
                raise error
            return real(path)

        return load

    # a failure minidl did not foresee (here a RecursionError) is still the file's doing
    monkeypatch.setattr(
        minidl.checkpoint, "load", failing(RecursionError("maximum recursion depth exceeded"))
    )
    with pytest.warns(CheckpointWarning, match=r"epoch000002.minidl': RecursionError: maximum recursion"):
        assert load_latest(tmp_path).history.epochs == [0]
    with pytest.warns(CheckpointWarning, match="RecursionError"):
        assert resume(tmp_path, X, Y, epochs=1).history.epochs == [0]
    # an interrupt is not: it propagates
    monkeypatch.setattr(minidl.checkpoint, "load", failing(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        load_latest(tmp_path)


def test_backup_and_restore_keeps_a_learning_rate_schedule(tmp_path: Path) -> None:
    # a resumed run goes on with the schedule (and its step count), not with the rate it had reached
    def scheduled():
        rate = minidl.schedules.get(
            {"type": "cosine_decay", "initial_learning_rate": 0.05, "decay_steps": 30}
        )
        return make(minidl.optimizers.AdamW(learning_rate=rate, clipnorm=1.0))

    with pytest.raises(RuntimeError, match="power cut"):
        scheduled().fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path), Crash(3)], **FIT)
    again = scheduled()
    again.fit(X, Y, epochs=6, callbacks=[BackupAndRestore(tmp_path)], **FIT)
    uninterrupted = scheduled()
    uninterrupted.fit(X, Y, epochs=6, **FIT)
    assert again.optimizer.schedule is not None
    assert again.optimizer.learning_rate == uninterrupted.optimizer.learning_rate
    assert_same_run(again, uninterrupted)


@pytest.mark.parametrize(
    "make_callback",
    [
        lambda folder: BackupAndRestore(folder, prefix="P" * 250),
        lambda folder: ModelCheckpoint(str(folder / ("x" * 250 + "{epoch:03d}.minidl"))),
    ],
    ids=["BackupAndRestore", "ModelCheckpoint"],
)
def test_a_file_name_too_long_is_refused_before_the_first_epoch(tmp_path: Path, make_callback) -> None:
    # the save would fail only at the first epoch's end (weights moved), naming a temporary file
    model = make()
    before = model.get_weights()
    with pytest.raises(ConfigError, match="bytes, and this file system allows"):
        model.fit(X, Y, epochs=2, callbacks=[make_callback(tmp_path / "c")], **FIT)
    assert model.optimizer.iterations == 0 and weights_equal(before, model.get_weights())
