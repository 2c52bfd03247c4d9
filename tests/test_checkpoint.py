"""ModelCheckpoint and resume: a crashed run resumed from its checkpoint ends bit-identical."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_io_support import X, Y, read_archive, registered, weights_equal, write_archive

import minidl
from minidl import ConfigError, FormatError, layers
from minidl.checkpoint import CheckpointWarning, ModelCheckpoint, checkpoints, load_latest, resume
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


def make() -> minidl.Sequential:
    model = minidl.Sequential(
        [minidl.Dense(3, 5, activation="tanh"), Noise(0.05), minidl.Dense(5, 1)], seed=11
    )
    model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.05, momentum=0.8, nesterov=True))
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
        crashed.fit(X, Y, epochs=6, callbacks=[ModelCheckpoint(tmp_path, keep=2), Crash(4)], **FIT)
    assert [p.name for p in checkpoints(tmp_path)] == [
        "checkpoint-epoch000003.minidl",
        "checkpoint-epoch000004.minidl",
    ]
    resumed = resume(tmp_path, X, Y, epochs=6, callbacks=[ModelCheckpoint(tmp_path, keep=2)], **FIT)
    uninterrupted = reference()
    assert_same_run(resumed, uninterrupted)
    assert resumed.history.epochs == list(range(6))
    assert [p.name for p in checkpoints(tmp_path)][-1] == "checkpoint-epoch000006.minidl"
    assert not any(
        np.array_equal(a, b) for a, b in zip(reference(4).get_weights(), uninterrupted.get_weights())
    )


def test_load_then_fit_is_the_same_as_resume(tmp_path: Path) -> None:
    model = make()
    model.fit(X, Y, epochs=3, callbacks=[ModelCheckpoint(tmp_path, every=3)], **FIT)
    loaded = minidl.load(tmp_path / "checkpoint-epoch000003.minidl")
    loaded.fit(X, Y, epochs=3, **FIT)
    assert_same_run(loaded, reference())
    assert resume(tmp_path / "checkpoint-epoch000003.minidl", X, Y, epochs=2, **FIT).history.epochs == [
        0,
        1,
        2,
    ]


def test_every_and_keep(tmp_path: Path) -> None:
    make().fit(X, Y, epochs=7, callbacks=[ModelCheckpoint(tmp_path, every=2, keep=None, prefix="run")], **FIT)
    assert [p.name for p in checkpoints(tmp_path, "run")] == [f"run-epoch{n:06d}.minidl" for n in (2, 4, 6)]
    assert minidl.load(tmp_path / "run-epoch000004.minidl").history.epochs == [0, 1, 2, 3]


@pytest.mark.parametrize("mode", ["min", "max"])
def test_save_best_only(tmp_path: Path, mode: str) -> None:
    model = make()
    model.fit(
        X,
        Y,
        epochs=6,
        callbacks=[ModelCheckpoint(tmp_path, save_best_only=True, mode=mode, keep=None)],
        **FIT,
    )
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
        ConfigError, match=r"monitors 'val_loss', which the epoch does not report; available: \['loss'\]"
    ):
        make().fit(
            X, Y, epochs=1, callbacks=[ModelCheckpoint(tmp_path, save_best_only=True, monitor="val_loss")]
        )


def test_corrupt_newest_checkpoint_falls_back_with_a_warning(tmp_path: Path) -> None:
    make().fit(X, Y, epochs=3, callbacks=[ModelCheckpoint(tmp_path)], **FIT)
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
    model.fit(X, Y, epochs=3, callbacks=[ModelCheckpoint(tmp_path)], **FIT)
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
    [({"every": 0}, "every must be a positive integer"), ({"mode": "up"}, "mode must be one of"),
     ({"keep": 0}, "keep must be a positive integer"), ({"prefix": "../x"}, "prefix must be a plain")],
)  # fmt: skip
def test_bad_checkpoint_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ModelCheckpoint(tmp_path / "c", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_resume_best_value_carries_over(tmp_path: Path) -> None:
    model = make()
    model.fit(X, Y, epochs=2, **FIT)
    callback = ModelCheckpoint(tmp_path, save_best_only=True)
    callback.set_model(model)
    callback.on_train_begin()
    assert callback.best == min(v for v in model.history.history["loss"] if math.isfinite(v))


def test_a_learning_rate_changed_by_a_callback_is_in_the_checkpoint(tmp_path: Path) -> None:
    # callback state is not saved (docs/reliability.md), but what a callback did to the optimizer is
    halve = minidl.LearningRateScheduler(lambda epoch, lr: lr / 2)
    model = make()
    model.fit(X, Y, epochs=3, callbacks=[halve, ModelCheckpoint(tmp_path)], **FIT)
    assert load_latest(tmp_path).optimizer.learning_rate == 0.05 / 2**3 == model.optimizer.learning_rate
