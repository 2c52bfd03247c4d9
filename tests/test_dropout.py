"""Dropout in the core: inverted dropout, off outside training, masks from the model's seeded
generators, so a seeded model and a run resumed from a file draw the same masks."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import ConfigError, Dense, Dropout, NotCompiledError, Sequential


def built(rate: float, seed: int = 0, dtype: str = "float64") -> Dropout:
    layer = Dropout(rate)
    layer.build_for((50,), np.random.default_rng(seed), np.dtype(dtype))
    layer.training = True
    return layer


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_expected_value_is_preserved_and_rate_of_inputs_are_dropped(rate: float) -> None:
    x = np.random.default_rng(1).uniform(0.5, 1.5, (2000, 50))
    y = built(rate).forward(x)
    dropped = y == 0
    assert abs(dropped.mean() - rate) < 0.01  # 100,000 draws: the standard error is below 0.002
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - rate), rtol=1e-15)
    # E[y] = x: the mean of y / x is 1 within a few standard errors (sqrt(rate / (1 - rate) / n))
    assert abs((y / x).mean() - 1.0) < 5 * np.sqrt(rate / (1 - rate) / x.size)


def test_backward_uses_the_mask_of_the_last_forward() -> None:
    layer = built(0.4)
    x = np.ones((20, 50))
    y = layer.forward(x)
    g = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(g), g * y)  # y = mask / (1 - rate) here


def test_off_outside_training_and_at_rate_zero() -> None:
    layer = built(0.5)
    layer.training = False
    x = np.random.default_rng(3).standard_normal((8, 50))
    assert layer.forward(x) is x
    g = np.ones_like(x)
    assert layer.backward(g) is g
    zero = built(0.0)
    assert zero.forward(x) is x and zero.backward(g) is g


def test_the_same_seed_draws_the_same_masks_and_another_seed_others() -> None:
    x = np.ones((10, 50))
    a, b, c = built(0.5, seed=4), built(0.5, seed=4), built(0.5, seed=5)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, c.forward(x))
    assert not np.array_equal(first, a.forward(x))  # each call draws a new mask


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_dtype_is_kept(dtype: str) -> None:
    layer = built(0.3, dtype=dtype)
    x = np.ones((4, 50), dtype=dtype)
    y = layer.forward(x)
    assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype
    assert set(np.unique(y).tolist()) <= {0.0, float(np.dtype(dtype).type(1 / 0.7))}


def test_training_without_a_generator_is_a_clear_error() -> None:
    layer = Dropout(0.5)
    layer.training = True
    with pytest.raises(NotCompiledError, match="not built yet"):
        layer.forward(np.ones((2, 3)))


@pytest.mark.parametrize("rate", [1.0, 1.5, -0.1, float("nan"), float("inf"), "0.5", True, None])
def test_hostile_rates_are_refused(rate) -> None:
    with pytest.raises(ConfigError, match=r"rate must be a finite number >= 0 and < 1; received rate="):
        Dropout(rate)


def test_rate_is_required_as_in_keras_and_named_in_configs() -> None:
    with pytest.raises(TypeError):
        Dropout()  # type: ignore[call-arg]
    layer = minidl.layers.get({"type": "dropout", "rate": 0.25})
    assert isinstance(layer, Dropout) and layer.get_config() == {"rate": 0.25}
    assert layer.describe() == "Dropout 0.25"
    assert minidl.layers.registry.get_class("dropout") is Dropout  # the core's, not a plugin's


def test_the_model_switches_dropout_on_only_inside_fit() -> None:
    seen = []

    class Spy(Dropout):
        def forward(self, x):
            seen.append(self.training)
            return super().forward(x)

    layer = Spy(0.5)
    model = Sequential([Dense(2, 4), layer, Dense(4, 1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = np.random.default_rng(1).standard_normal((8, 2))
    model.fit(x, np.zeros(8), epochs=2, batch_size=4, shuffle=False)
    assert seen == [True] * 4 and layer.training is False
    np.testing.assert_array_equal(model.predict(x), model.predict(x))  # inference: no dropout
    assert seen[4:] == [False, False]


def model_with_dropout(seed: int = 1) -> Sequential:
    model = Sequential([Dense(3, 16, activation="relu"), Dropout(0.5), Dense(16, 1)], seed=seed)
    model.compile(loss="mse", optimizer={"type": "adam", "learning_rate": 0.01})
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 3))
    return x, np.sin(x.sum(axis=1, keepdims=True))


def test_a_seeded_model_draws_the_same_masks_on_every_run() -> None:
    x, y = data()
    runs = []
    for _ in range(2):
        model = model_with_dropout()
        model.fit(x, y, epochs=3, batch_size=8)
        runs.append(model.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_run_resumed_from_a_file_draws_the_masks_of_the_uninterrupted_run(tmp_path) -> None:
    x, y = data()
    uninterrupted = model_with_dropout()
    uninterrupted.fit(x, y, epochs=5, batch_size=8)

    first = model_with_dropout()
    first.fit(x, y, epochs=2, batch_size=8)
    path = tmp_path / "mid.minidl"
    first.save(path)
    resumed = minidl.load(path)
    resumed.fit(x, y, epochs=3, batch_size=8)
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.history.history == uninterrupted.history.history

    # the control: the same file resumed with the dropout layer's generator put elsewhere in its
    # stream draws other masks, so the equality above is the saved generator state at work
    other = minidl.load(path)
    state = other.get_random_state()
    state["layers"]["1"] = np.random.default_rng(99).bit_generator.state
    other.set_random_state(state)
    other.fit(x, y, epochs=3, batch_size=8)
    assert not np.array_equal(other.get_weights()[0], uninterrupted.get_weights()[0])


def test_dropout_takes_a_generator_of_its_own_in_a_model() -> None:
    model = Sequential([Dense(2, 3), Dropout(0.5), Dense(3, 1)], seed=0)
    assert set(model.get_random_state()["layers"]) == {"0", "1", "2"}
    # a layer without randomness takes none, so the layers after it draw the weights they would without it
    plain = Sequential([Dense(2, 3), Dense(3, 1)], seed=0)
    assert set(plain.get_random_state()["layers"]) == {"0", "1"}
