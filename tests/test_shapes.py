"""Shapes instead of widths: one build protocol, inferred sizes, Input, add/pop, files with shapes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from layer_support import Scale

import minidl
from minidl import ConfigError, Dense, Input, Layer, Sequential, ShapeError


def data(samples: int = 12, features: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features))
    return x, np.tanh(x.sum(axis=1, keepdims=True))


def compiled(model: Sequential) -> Sequential:
    model.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": 0.1})
    return model


# --------------------------------------------------------------------------- inference of sizes
def test_units_only_layers_learn_their_input_from_the_first_data() -> None:
    x, y = data()
    model = compiled(Sequential([Dense(4, activation="tanh"), Dense(1)], seed=0))
    assert model.input_shape is None and not model.built and model.parameters() == []
    model.fit(x, y, epochs=2, batch_size=4)
    assert model.input_shape == (3,) and model.output_shape == (1,)
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4, 1), (1,)]


@pytest.mark.parametrize(
    "layers, kwargs",
    [
        ([Dense(4, activation="tanh"), Dense(1)], {"input_shape": (3,)}),
        ([Input((3,)), Dense(4, activation="tanh"), Dense(1)], {}),
        ([Dense(3, 4, activation="tanh"), Dense(4, 1)], {}),
        ([Dense(4, activation="tanh"), Dense(1)], {}),  # learnt from the data at fit
    ],
)
def test_every_way_of_giving_the_input_shape_draws_the_same_weights(
    layers: list[Layer], kwargs: dict
) -> None:
    x, y = data()
    reference = compiled(Sequential([Dense(3, 4, activation="tanh"), Dense(4, 1)], seed=5))
    model = compiled(Sequential(layers, seed=5, **kwargs))
    reference.fit(x, y, epochs=3, batch_size=4)
    model.fit(x, y, epochs=3, batch_size=4)
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_input_is_not_a_layer_and_comes_first_only() -> None:
    model = Sequential([Input(2), Dense(3)])
    assert model.input_shape == (2,) and len(model.layers) == 1
    with pytest.raises(ConfigError, match="first"):
        model.add(Input(3))
    with pytest.raises(ConfigError, match=r"positive integer or a tuple"):
        Input((2, 0))


def test_predict_learns_the_shape_too_and_summary_shows_full_shapes() -> None:
    model = Sequential([Dense(5, activation="relu"), Dense(2)], seed=0)
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "not built yet" in lines[0]
    assert model.predict(np.ones((7, 4))).shape == (7, 2)
    lines.clear()
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "(None, 5)" in text and "(None, 2)" in text and "Total params: 37" in text  # 4*5+5 + 5*2+2


# --------------------------------------------------------------------------- errors change nothing
def test_a_layer_that_does_not_fit_names_both_and_is_not_added() -> None:
    model = Sequential([Dense(2, 3)], seed=0)
    with pytest.raises(ShapeError, match=r"dense_1 \(Dense 4 -> 1\).*dense_0 \(Dense 2 -> 3\).*3 features"):
        model.add(Dense(4, 1))
    assert len(model.layers) == 1


def test_data_of_the_wrong_rank_is_refused_before_any_layer_is_built() -> None:
    model = compiled(Sequential([Dense(4), Dense(1)], seed=0))
    with pytest.raises(ShapeError, match=r"takes samples of shape \(features,\).*\(2, 2\).*Flatten"):
        model.fit(np.ones((5, 2, 2)), np.ones(5))
    assert not model.built and all(not layer.built for layer in model.layers)
    model.fit(np.ones((5, 2)), np.ones(5))  # still usable with the right data
    assert model.input_shape == (2,)


def test_build_checks_every_layer_before_building_any() -> None:
    model = Sequential([Dense(4), Dense(3, 1)], seed=0)  # the second takes 3 features, not 4
    with pytest.raises(ShapeError, match="expects 3 input features, but receives 4"):
        model.build((2,))
    assert not any(layer.built for layer in model.layers) and model.input_shape is None


# --------------------------------------------------------------------------- layers cannot change behind the model
def test_layers_is_read_only() -> None:
    model = Sequential([Dense(2, 2), Dense(2, 1)], seed=0)
    with pytest.raises(TypeError):
        model.layers[1] = Dense(2, 1)  # type: ignore[index]
    assert isinstance(model.layers, tuple)


def test_pop_and_add_train_the_new_layer() -> None:
    x, y = data(features=2)
    model = compiled(Sequential([Dense(2, 2, activation="tanh"), Dense(2, 1)], seed=0))
    model.fit(x, y, epochs=2, batch_size=4)
    old = model.pop()
    assert isinstance(old, Dense) and len(model.layers) == 1
    new = Dense(1)
    model.add(new)
    before_old, before_new = old.W.value.copy(), new.W.value.copy()
    model.fit(x, y, epochs=2, batch_size=4)
    assert np.array_equal(old.W.value, before_old)  # the removed layer is no longer trained
    assert not np.array_equal(new.W.value, before_new)  # the new one is
    np.testing.assert_array_equal(model.predict(x), new.forward(model.layers[0].forward(x)))


def test_optimizer_state_is_public() -> None:
    x, y = data(features=2)
    model = Sequential([Dense(2, 2), Dense(2, 1)], seed=0)
    model.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    assert model.trainer.optimizer_state() == {"iterations": 0}
    model.fit(x, y, epochs=1, batch_size=4)
    state = model.trainer.optimizer_state()
    assert state["iterations"] == 3 and state["0/velocity"].shape == (9,)


# --------------------------------------------------------------------------- a plugin author's layer
def test_a_layer_with_weights_is_built_by_the_model_whatever_its_author_wrote(tmp_path: Path) -> None:
    minidl.layers.register("scale_for_test")(Scale)
    try:
        x, y = data()
        model = compiled(Sequential([Scale(), Dense(1)], seed=0))
        model.fit(x, y, epochs=3, batch_size=4)
        assert model.layers[0].w.shape == (3,) and model.trainer.optimizer_state()["iterations"] == 9
        model.save(tmp_path / "scale.minidl")
        again = minidl.load(tmp_path / "scale.minidl")
        assert np.array_equal(again.predict(x), model.predict(x))
    finally:
        minidl.layers.registry.unregister("scale_for_test")


# --------------------------------------------------------------------------- files
def test_files_record_the_input_shape_and_version_1_files_still_load(tmp_path: Path) -> None:
    x, y = data(features=2)
    model = compiled(Sequential([Dense(4, activation="tanh"), Dense(1)], input_shape=(2,), seed=0))
    model.fit(x, y, epochs=2, batch_size=4)
    path = tmp_path / "m.minidl"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("minidl.json"))
        members = {name: archive.read(name) for name in archive.namelist()}
    assert document["format_version"] == 2 and document["model"]["input_shape"] == [2]
    # the same file as minidl 0.1 wrote it: no input_shape, widths as in_features/out_features
    del document["model"]["input_shape"]
    document["format_version"] = 1
    for layer, n_in in zip(document["model"]["layers"], (2, 4), strict=True):
        layer["in_features"], layer["out_features"] = n_in, layer.pop("units")
    old = tmp_path / "old.minidl"
    with zipfile.ZipFile(old, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, json.dumps(document) if name == "minidl.json" else content)
    loaded = minidl.load(old)
    assert loaded.input_shape == (2,)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_configuration_file_may_give_units_and_an_input_shape() -> None:
    from minidl import config

    cfg = config.TrainingConfig.from_dict(
        {
            "model": {
                "seed": 0,
                "input_shape": [2],
                "layers": [
                    {"type": "dense", "units": 3, "activation": "tanh"},
                    {"type": "dense", "units": 1},
                ],
            },
            "compile": {"loss": "mse", "optimizer": "sgd"},
            "data": {"x": [[0, 0], [1, 1]], "y": [0, 1]},
        }
    )
    model = cfg.build()
    assert model.input_shape == (2,) and [w.shape for w in model.get_weights()] == [
        (2, 3),
        (3,),
        (3, 1),
        (1,),
    ]
