"""Model files: round trips, the format as written, and atomic saves."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_io_support import (
    X,
    Y,
    make_model,
    registered,
    saved_file,
    temporaries,  # noqa: F401 (a fixture)
    trained_model,
    weights_equal,
)

import minidl
from minidl import ConfigError, FormatError, activations
from minidl.io import FORMAT_VERSION


# ----------------------------------------------------------------------------------- round trips
def test_round_trip_restores_everything(tmp_path: Path) -> None:
    model = trained_model()
    model.save(tmp_path / "m.minidl")
    loaded = minidl.load(tmp_path / "m.minidl")
    assert loaded.get_config() == model.get_config()
    assert weights_equal(loaded.get_weights(), model.get_weights())
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert loaded.loss == model.loss and repr(loaded.optimizer) == repr(model.optimizer)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 6  # 2 epochs x 3 batches
    assert loaded.history.epochs == [0, 1] and loaded.history.history == model.history.history
    velocity = loaded.trainer.optimizer_state()["0/velocity"]
    assert np.array_equal(velocity, model.trainer.optimizer_state()["0/velocity"])
    assert loaded.get_random_state()["shuffle"] == model.get_random_state()["shuffle"]


def test_uncompiled_and_float32_models_round_trip(tmp_path: Path) -> None:
    model = minidl.Sequential([minidl.Dense(3, 2, activation="relu", bias=False)], seed=1, dtype="float32")
    model.save(tmp_path / "m.minidl")
    loaded = minidl.load(tmp_path / "m.minidl")
    assert loaded.loss is None and loaded.optimizer is None and loaded.dtype == np.float32
    assert weights_equal(loaded.get_weights(), model.get_weights())
    assert loaded.get_weights()[0].dtype == np.float32


def test_saving_is_deterministic(tmp_path: Path) -> None:
    model = trained_model()
    model.save(tmp_path / "a.minidl")
    model.save(tmp_path / "b.minidl")
    assert (tmp_path / "a.minidl").read_bytes() == (tmp_path / "b.minidl").read_bytes()


def test_file_layout_read_independently(tmp_path: Path) -> None:
    # The format as documented, read with zipfile, json, hashlib and numpy only.
    path = saved_file(tmp_path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.compress_type for i in infos] == [zipfile.ZIP_STORED] * len(infos)
        document = json.loads(archive.read("minidl.json"))
        assert document["format"] == "minidl-model" and document["format_version"] == FORMAT_VERSION
        assert document["minidl_version"] == minidl.__version__
        sgd = {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}
        assert document["compile"] == {"loss": {"type": "mse", "reduction": "mean"}, "optimizer": sgd}
        names = [entry["name"] for entry in document["arrays"]]
        assert names == [
            "weights/0/0",
            "weights/0/1",
            "weights/1/0",
            "weights/1/1",
            "optimizer/0/velocity",
            "history/loss",
        ]
        for i, entry in enumerate(document["arrays"]):
            raw = archive.read(f"arrays/{i:05d}.npy")
            assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
            with archive.open(f"arrays/{i:05d}.npy") as stream:
                array = np.load(stream, allow_pickle=False)
            assert list(array.shape) == entry["shape"] and array.dtype.str == entry["dtype"]
        assert document["arrays"][4]["shape"] == [3 * 4 + 4 + 4 * 1 + 1]  # one flat velocity
        assert document["training"]["optimizer"] == {"iterations": 6}


def test_save_weights_and_load_weights(tmp_path: Path) -> None:
    source, target = trained_model(), make_model(seed=99)
    source.save_weights(tmp_path / "w.minidl")
    target.load_weights(tmp_path / "w.minidl")
    assert weights_equal(target.get_weights(), source.get_weights())
    target.load_weights(saved_file(tmp_path))  # a full model file holds the weights too
    with pytest.raises(FormatError, match=r"weights only: use model\.load_weights"):
        minidl.load(tmp_path / "w.minidl")


def test_load_weights_into_another_architecture_changes_nothing(tmp_path: Path) -> None:
    trained_model().save_weights(tmp_path / "w.minidl")
    other = minidl.Sequential([minidl.Dense(3, 5), minidl.Dense(5, 1)], seed=0)
    before = other.get_weights()
    with pytest.raises(FormatError, match=r"shape \(3, 5\) in the model, but the file holds shape \(3, 4\)"):
        other.load_weights(tmp_path / "w.minidl")
    assert weights_equal(other.get_weights(), before)


# ------------------------------------------------------------------------------------ atomic saves
def _write_fails_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    original = zipfile.ZipFile.writestr
    calls = []

    def failing(self, name, data, *args, **kwargs):  # the second member: mid-file
        calls.append(name)
        if len(calls) == 2:
            raise exc
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)


@pytest.mark.parametrize(
    "exc",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
@pytest.mark.usefixtures("temporaries")
def test_failed_save_keeps_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    path = saved_file(tmp_path)
    before = path.read_bytes()
    model = trained_model(epochs=3)
    _write_fails_with(monkeypatch, exc)
    with pytest.raises(type(exc)):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.minidl"]  # no temporary file left


@pytest.mark.usefixtures("temporaries")
def test_failed_fsync_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved_file(tmp_path)
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        trained_model(epochs=3).save(path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=["022", "077", "002"])
@pytest.mark.usefixtures("temporaries")
def test_a_new_file_gets_the_mode_open_would_give(tmp_path: Path, umask: int) -> None:
    # mkstemp's 0o600 would hide a model saved to a shared folder from the others
    previous = os.umask(umask)
    try:
        (tmp_path / "plain").write_bytes(b"")  # what open() gives, for comparison
        trained_model().save(tmp_path / "m.minidl")
        trained_model().save_weights(tmp_path / "w.minidl")
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == expected
    for name in ("m.minidl", "w.minidl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected


@pytest.mark.usefixtures("temporaries")
def test_overwriting_keeps_the_existing_files_mode(tmp_path: Path) -> None:
    path = saved_file(tmp_path)
    path.chmod(0o640)
    before = path.read_bytes()
    trained_model(epochs=3).save(path)
    assert path.read_bytes() != before  # really replaced
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"folder .*missing.* does not exist"):
        trained_model().save(tmp_path / "missing" / "m.minidl")
    assert list(tmp_path.iterdir()) == []


def test_save_onto_a_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        trained_model().save(tmp_path / "taken")
    assert list((tmp_path / "taken").iterdir()) == []


class _Opaque:
    pass


class _Unserializable(activations.Identity):
    def get_config(self):
        return {"thing": _Opaque()}


@pytest.fixture()
def unserializable():
    with registered(activations.registry, "test_unserializable", _Unserializable) as cls:
        yield cls


def test_unserializable_configuration_fails_before_the_file_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unserializable: type
) -> None:
    model = minidl.Sequential([minidl.Dense(2, 2), unserializable()], seed=0)
    opened = []
    for creator in ("_unnamed_temporary", "_named_temporary"):
        monkeypatch.setattr(
            f"minidl._archive.{creator}",
            lambda *a, **k: opened.append(a) or (_ for _ in ()).throw(AssertionError),
        )
    with pytest.raises(ConfigError, match="model configuration is not JSON-serializable"):
        model.save(tmp_path / "m.minidl")
    assert opened == [] and list(tmp_path.iterdir()) == []


def test_unregistered_component_fails_before_the_file_is_opened(tmp_path: Path) -> None:
    class Private(minidl.SGD):
        pass

    model = make_model(compiled=False)
    model.compile(loss="mse", optimizer=Private())
    with pytest.raises(ConfigError, match="not a registered optimizer"):
        model.save(tmp_path / "m.minidl")
    assert list(tmp_path.iterdir()) == []


def test_diverged_model_is_not_saved(tmp_path: Path) -> None:
    model = make_model()
    model.layers[1].W.value[0, 0] = np.nan
    with pytest.raises(minidl.DivergenceError, match="weight of layer 'dense_1' contains NaN"):
        model.save(tmp_path / "m.minidl")
    assert list(tmp_path.iterdir()) == []


def test_optimizer_state_export_import_checks_before_changing() -> None:
    model = trained_model()
    optimizer, targets = model.optimizer, (model.trainer.update_targets()[0],)
    state = optimizer.get_state(targets)
    assert list(state) == ["iterations", "0/velocity"]
    bad_shape = state | {"0/velocity": np.zeros(3)}
    for bad, message in [
        (bad_shape, "must be a float64 array of shape"),
        (state | {"0/speed": 1.0}, "Unknown optimizer state entries"),
        (state | {"iterations": -1}, r"is a count, so it must lie in \[0, 2\*\*63\); received -1"),
        (state | {"iterations": 2**63}, r"is a count, so it must lie in \[0, 2\*\*63\)"),
    ]:
        with pytest.raises(ConfigError, match=message):
            optimizer.set_state(targets, bad)
        assert optimizer.get_state(targets)["iterations"] == 6
        assert np.array_equal(optimizer.get_state(targets)["0/velocity"], state["0/velocity"])
    fresh = make_model().optimizer
    fresh.set_state(targets, state)
    assert fresh.iterations == 6 and np.array_equal(
        fresh.get_state(targets)["0/velocity"], state["0/velocity"]
    )
    state["0/velocity"][:] = 0  # the optimizer holds its own copy
    assert not np.array_equal(fresh.get_state(targets)["0/velocity"], state["0/velocity"])


def test_round_trip_then_training_matches(tmp_path: Path) -> None:
    model = trained_model()
    model.save(tmp_path / "m.minidl")
    loaded = minidl.load(tmp_path / "m.minidl")
    model.fit(X, Y, epochs=2, batch_size=8)
    loaded.fit(X, Y, epochs=2, batch_size=8)
    assert weights_equal(loaded.get_weights(), model.get_weights())
    assert loaded.history.history == model.history.history


def test_metrics_are_saved_and_a_resumed_run_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    def compiled() -> minidl.Sequential:
        model = make_model()
        model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.05, momentum=0.9),
                      metrics=["mae", {"type": "accuracy", "threshold": 0.0}])  # fmt: skip
        return model

    straight = compiled()
    straight.fit(X, Y, epochs=4, batch_size=8, validation_split=0.25)
    first = compiled()
    first.fit(X, Y, epochs=2, batch_size=8, validation_split=0.25)
    first.save(tmp_path / "m.minidl")
    resumed = minidl.load(tmp_path / "m.minidl")
    assert list(resumed.metrics) == ["mae", "accuracy"] and resumed.metrics["accuracy"].threshold == 0.0
    resumed.fit(X, Y, epochs=2, batch_size=8, validation_split=0.25)
    assert weights_equal(resumed.get_weights(), straight.get_weights())
    assert resumed.history.epochs == straight.history.epochs == [0, 1, 2, 3]
    assert resumed.history.history == straight.history.history
    assert set(straight.history.history) == {"loss", "mae", "accuracy", "val_loss", "val_mae", "val_accuracy"}
    # the mae of the last epoch, computed independently from the final weights' predictions
    cut = len(X) - int(len(X) * 0.25)
    expected = np.mean(np.abs(straight.predict(X[:cut]) - Y[:cut]))
    assert resumed.history.history["mae"][-1] == pytest.approx(expected, rel=1e-12)


def test_a_file_without_metrics_has_no_metrics_key(tmp_path: Path) -> None:
    # files of models compiled without metrics are laid out as before metrics were saved
    with zipfile.ZipFile(saved_file(tmp_path)) as archive:
        assert set(json.loads(archive.read("minidl.json"))["compile"]) == {"loss", "optimizer"}


class _LayerwiseSGD(minidl.SGD):
    elementwise = False  # the model hands it every parameter separately


@pytest.fixture()
def layerwise_sgd():
    with registered(minidl.optimizers.registry, "test_layerwise_sgd", _LayerwiseSGD) as cls:
        yield cls


def test_per_parameter_optimizer_state_round_trips(tmp_path: Path, layerwise_sgd: type) -> None:
    def make() -> minidl.Sequential:
        model = make_model(compiled=False)
        model.compile(loss="mse", optimizer=layerwise_sgd(learning_rate=0.05, momentum=0.9))
        return model

    model, ref = make(), make()
    model.fit(X, Y, epochs=2, batch_size=8, on_nonfinite="ignore")  # "ignore": the model stays unpacked
    model.save(tmp_path / "m.minidl")
    loaded = minidl.load(tmp_path / "m.minidl")
    state = loaded.optimizer.get_state(loaded.parameters())
    assert list(state) == ["iterations", "0/velocity", "1/velocity", "2/velocity", "3/velocity"]
    assert state["0/velocity"].shape == (3, 4) and state["3/velocity"].shape == (1,)
    loaded.fit(X, Y, epochs=1, batch_size=8)
    ref.fit(X, Y, epochs=3, batch_size=8)
    assert weights_equal(loaded.get_weights(), ref.get_weights())


def test_partial_history_and_renamed_layers_round_trip(tmp_path: Path) -> None:
    model = trained_model()
    model.history.history["val_loss"] = [0.25]  # a figure logged at one epoch of two
    model.layers[0].name = "encoder"  # renamed after it was added
    model.save(tmp_path / "m.minidl")
    loaded = minidl.load(tmp_path / "m.minidl")
    assert loaded.history.history == model.history.history and loaded.layers[0].name == "encoder"
    assert loaded.get_random_state()["layers"]["0"] == model.get_random_state()["layers"]["0"]


def test_saving_an_untrained_model_does_not_move_its_arrays(tmp_path: Path) -> None:
    model = make_model()
    weight = model.layers[0].W.value
    model.save(tmp_path / "m.minidl")
    assert model.layers[0].W.value is weight
    assert minidl.load(tmp_path / "m.minidl").optimizer.iterations == 0


def test_history_that_is_not_numbers_is_refused_before_writing(tmp_path: Path) -> None:
    model = trained_model()
    model.history.history["note"] = ["fine", "good"]
    with pytest.raises(ConfigError, match="History figure 'note' holds values that are not numbers"):
        model.save(tmp_path / "m.minidl")
    assert list(tmp_path.iterdir()) == []


class _AdamLike(minidl.Optimizer):
    """Adam's shape of state: two moment arrays and a step count per parameter."""

    def init_state(self, param):
        return {"m": np.zeros_like(param.value), "v": np.zeros_like(param.value), "t": 0}

    def update(self, param, state):
        state["t"] += 1
        state["m"] += 0.1 * (param.grad - state["m"])
        state["v"] += 0.001 * (param.grad**2 - state["v"])
        m_hat, v_hat = state["m"] / (1 - 0.9 ** state["t"]), state["v"] / (1 - 0.999 ** state["t"])
        param.value -= self.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)


@pytest.fixture()
def adam_like():
    with registered(minidl.optimizers.registry, "test_adam_like", _AdamLike) as cls:
        yield cls


def test_any_optimizer_with_array_and_number_state_resumes_exactly(tmp_path: Path, adam_like: type) -> None:
    def make() -> minidl.Sequential:
        model = make_model(compiled=False)
        model.compile(loss="mse", optimizer=adam_like(learning_rate=0.01))
        return model

    model, ref = make(), make()
    model.fit(X, Y, epochs=2, batch_size=8)
    model.save(tmp_path / "m.minidl")
    with zipfile.ZipFile(tmp_path / "m.minidl") as archive:
        document = json.loads(archive.read("minidl.json"))
    assert document["training"]["optimizer"] == {"iterations": 6, "0/t": 6}
    assert [a["name"] for a in document["arrays"] if a["name"].startswith("optimizer/")] == [
        "optimizer/0/m",
        "optimizer/0/v",
    ]
    loaded = minidl.load(tmp_path / "m.minidl")
    loaded.fit(X, Y, epochs=2, batch_size=8)
    ref.fit(X, Y, epochs=4, batch_size=8)
    assert weights_equal(loaded.get_weights(), ref.get_weights())


def test_to_bytes_is_the_file_and_from_bytes_resumes_exactly(tmp_path: Path) -> None:
    model, ref = make_model(), make_model()
    model.fit(X, Y, epochs=2, batch_size=8)
    model.save(tmp_path / "m.minidl")
    data = minidl.io.to_bytes(model)
    assert data == (tmp_path / "m.minidl").read_bytes()  # the same format, byte for byte
    again = minidl.io.from_bytes(data, minidl.Sequential)
    again.fit(X, Y, epochs=2, batch_size=8)
    ref.fit(X, Y, epochs=4, batch_size=8)
    assert weights_equal(again.get_weights(), ref.get_weights())


def test_from_bytes_checks_like_load() -> None:
    data = minidl.io.to_bytes(make_model())
    with pytest.raises(FormatError, match="the pickled network is not a minidl model file"):
        minidl.io.from_bytes(data[:-1], minidl.Sequential, where="the pickled network")
    with pytest.raises(FormatError, match=r"must be bytes .* received str"):
        minidl.io.from_bytes("not bytes", minidl.Sequential)  # type: ignore[arg-type]
