"""Flatten and Reshape: round trips, Keras's -1, the errors, and their place in a model."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import ConfigError, Dense, Flatten, MaxPooling2D, Reshape, Sequential, ShapeError


@pytest.mark.parametrize("shape", [(6, 5, 2), (4,), (3, 1, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten_is_a_row_major_reshape_and_backward_undoes_it(shape, dtype) -> None:
    x = np.random.default_rng(0).standard_normal((3, *shape)).astype(dtype)
    layer = Flatten()
    assert layer.compute_output_shape(shape) == (int(np.prod(shape)),)
    y = layer.forward(x)
    assert y.dtype == dtype and y.shape == (3, int(np.prod(shape)))
    np.testing.assert_array_equal(y[1], x[1].ravel())  # channels vary fastest, as Keras's channels-last
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    dx = layer.backward(g)
    assert dx.shape == x.shape and dx.dtype == dtype
    np.testing.assert_array_equal(dx.reshape(y.shape), g)


def test_flatten_and_reshape_take_empty_batches() -> None:
    for layer in (Flatten(), Reshape((-1, 4)), Reshape((15, 4))):
        y = layer.forward(np.zeros((0, 6, 5, 2)))
        assert y.shape == (0, *layer.compute_output_shape((6, 5, 2)))
        assert layer.backward(y).shape == (0, 6, 5, 2)


@pytest.mark.parametrize(
    "target,input_shape,expected",
    [
        ((4, 4, 1), (16,), (4, 4, 1)),
        ((-1, 2), (6, 5, 2), (30, 2)),
        ((3, -1), (6, 5, 2), (3, 20)),
        ((-1,), (6, 5, 2), (60,)),
        ((2, -1, 5), (6, 5, 2), (2, 6, 5)),
        (7, (7,), (7,)),
    ],
)
def test_reshape_infers_one_minus_one_as_keras(target, input_shape, expected) -> None:
    layer = Reshape(target)
    assert layer.compute_output_shape(input_shape) == expected
    x = np.arange(2 * np.prod(input_shape), dtype=np.float64).reshape(2, *input_shape)
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x.reshape(2, *expected))
    np.testing.assert_array_equal(layer.backward(y), x)  # a round trip


def test_reshape_refuses_a_shape_of_another_size_naming_both() -> None:
    sizes = r"Reshape to \(4, 4\) cannot take samples of shape \(3, 5\): they hold 15 values and \(4, 4\) "
    sizes += "holds 16"
    with pytest.raises(ShapeError, match=sizes):
        Reshape((4, 4)).compute_output_shape((3, 5))
    inferred = r"Reshape to \(-1, 4\) cannot take samples of shape \(3, 5\): their 15 values do not divide"
    with pytest.raises(ShapeError, match=inferred):
        Reshape((-1, 4)).compute_output_shape((3, 5))
    with pytest.raises(ShapeError, match=r"cannot take samples of shape \(3, 5\)"):
        Reshape((4, 4)).forward(np.zeros((2, 3, 5)))
    # in a model: refused when added, naming the layer before
    in_a_model = r"reshape_0 \(Reshape to \(4, 4\)\) cannot follow dense_0 .*15 features"
    with pytest.raises(ShapeError, match=in_a_model):
        Sequential([Dense(15), Reshape((4, 4))], input_shape=(3,))


@pytest.mark.parametrize(
    "target",
    [(), (0, 4), (-1, -1), (2, -2), (2.0, 3), "34", None, (True, 2), [[2], 3]],
    ids=repr,
)
def test_reshape_refuses_malformed_target_shapes(target) -> None:
    malformed = "target_shape must be a tuple of positive integers with at most one -1"
    with pytest.raises(ConfigError, match=malformed):
        Reshape(target)


def test_reshape_config_is_plain_json_and_round_trips_through_the_registry() -> None:
    layer = minidl.layers.get({"type": "reshape", "target_shape": [7, -1, 2]})
    assert isinstance(layer, Reshape) and layer.target_shape == (7, -1, 2)
    assert layer.get_config() == {"target_shape": [7, -1, 2]}
    assert minidl.layers.get("flatten").get_config() == {}


def test_a_model_reshapes_flat_data_into_images_and_back(tmp_path) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 64))
    y = x.reshape(16, 8, 8)[:, ::2, ::2].max(axis=(1, 2))[:, None]
    model = Sequential([Reshape((8, 8, 1)), MaxPooling2D(2), Flatten(), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": 0.01})
    model.fit(x, y, epochs=3, batch_size=4)
    assert model.input_shape == (64,) and model.output_shape == (1,)
    assert [w.shape for w in model.get_weights()] == [(16, 1), (1,)]
    path = tmp_path / "reshape.minidl"
    model.save(path)
    np.testing.assert_array_equal(minidl.load(path).predict(x), model.predict(x))


def test_flatten_before_dense_is_what_the_dense_error_suggests() -> None:
    with pytest.raises(ShapeError, match="Flatten them first"):
        Sequential([Dense(3)], input_shape=(4, 4, 1))
    model = Sequential([Flatten(), Dense(3)], input_shape=(4, 4, 1), seed=0)
    assert model.get_weights()[0].shape == (16, 3)
