"""minidl's conformance kit on this package's components, and what the kit cannot see."""

from __future__ import annotations

import os

import numpy as np
import pytest

if os.environ.get("MINIDL_REQUIRE_PLUGINS") != "1":
    pytest.importorskip("minidl_extras", reason="minidl-extras is not installed")

from minidl import (
    ConfigError,
    Dense,
    Dropout,
    Parameter,
    Sequential,
    initializers,
    layers,
    losses,
    optimizers,
)
from minidl.testing import check_initializer, parametrize_with_checks
from minidl_extras import GaussianNoise, Huber, Orthogonal, RMSprop


@parametrize_with_checks([Huber, RMSprop, GaussianNoise, Orthogonal])
def test_conformance(check) -> None:
    check()


def test_huber_matches_its_two_branches() -> None:
    y_true = np.zeros((1, 3))
    y_pred = np.array([[0.5, 2.0, -3.0]])
    expected = (0.5 * 0.25 + 1.0 * (2.0 - 0.5) + 1.0 * (3.0 - 0.5)) / 3
    assert losses.get("huber")(y_true, y_pred) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(losses.get("huber").gradient(y_true, y_pred), [[0.5 / 3, 1 / 3, -1 / 3]])


def test_rmsprop_first_steps_by_hand() -> None:
    opt = optimizers.get("rmsprop", learning_rate=0.1, rho=0.5)
    p = Parameter(np.array([1.0]))
    v = 0.0
    expected = 1.0
    for g in (2.0, -1.0, 0.5):
        p.grad[:] = g
        opt.step([p])
        v = 0.5 * v + 0.5 * g * g
        expected -= 0.1 * g / (np.sqrt(v) + 1e-7)
    assert p.value[0] == pytest.approx(expected, rel=1e-14)


def test_gaussian_noise_in_training_only() -> None:
    layer = GaussianNoise(0.5)
    layer.build_for((50,), np.random.default_rng(0), np.dtype("float64"))
    x = np.random.default_rng(1).standard_normal((400, 50))
    assert layer.forward(x) is x  # not training: identity
    layer.training = True
    noise = layer.forward(x) - x
    # 20,000 normal draws: mean 0 and standard deviation 0.5 within a few standard errors
    assert abs(noise.mean()) < 5 * 0.5 / np.sqrt(noise.size)
    assert abs(noise.std() - 0.5) < 0.02
    np.testing.assert_array_equal(noise + x, x + 0.5 * np.random.default_rng(0).standard_normal(x.shape))
    g = np.random.default_rng(2).standard_normal(x.shape)
    assert layer.backward(g) is g  # the noise does not depend on x
    layer32 = GaussianNoise(0.1)
    layer32.build_for((3,), np.random.default_rng(0), np.dtype("float32"))
    layer32.training = True
    assert layer32.forward(np.ones((2, 3), np.float32)).dtype == np.float32


def test_gaussian_noise_refuses_a_negative_or_missing_stddev() -> None:
    with pytest.raises(ConfigError, match=r"stddev must be a finite number >= 0; received stddev=-1"):
        GaussianNoise(-1)
    with pytest.raises(TypeError):
        GaussianNoise()  # type: ignore[call-arg]


def test_gaussian_noise_by_name_in_a_seeded_model() -> None:
    def run() -> list[np.ndarray]:
        noise = {"type": "gaussian_noise", "stddev": 0.2}
        model = Sequential([Dense(3, 8, activation="relu"), noise, Dense(8, 1)], seed=3)
        model.compile(loss="huber", optimizer="rmsprop")
        model.fit(np.random.default_rng(0).standard_normal((32, 3)), np.ones(32), epochs=3, batch_size=8)
        return model.get_weights()

    first, second = run(), run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_the_model_switches_gaussian_noise_on_only_inside_fit() -> None:
    seen = []

    class Spy(GaussianNoise):
        def forward(self, x):
            seen.append(self.training)
            return super().forward(x)

    layer = Spy(0.5)
    model = Sequential([Dense(2, 4), layer, Dense(4, 1)], seed=0)
    model.compile(loss="huber", optimizer="rmsprop")
    x = np.random.default_rng(1).standard_normal((8, 2))
    model.fit(x, np.zeros(8), epochs=2, batch_size=4)
    assert seen == [True] * 4 and layer.training is False
    np.testing.assert_array_equal(model.predict(x), model.predict(x))  # inference: no noise
    assert seen[4:] == [False, False]


def test_dropout_is_the_core_one_now() -> None:
    """The package offered "dropout" before minidl took it in; the name is the core's alone."""
    import minidl_extras

    assert layers.registry.get_class("dropout") is Dropout
    assert not hasattr(minidl_extras, "Dropout")
    infos = layers.registry.describe()
    names = {info.name: info for info in infos if info.source.startswith("minidl-extras")}
    assert "dropout" not in names and names["gaussian_noise"].status in ("ok", "available")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (2, 3, 4)])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_orthogonal_is_orthogonal_times_its_gain(shape: tuple[int, ...], dtype, tol: float) -> None:
    w = initializers.get("orthogonal", gain=1.5)(shape, np.random.default_rng(3), dtype)
    assert w.shape == shape and w.dtype == dtype
    m = w.reshape(-1, shape[-1]).astype(np.float64)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T  # the orthonormal side
    np.testing.assert_allclose(gram, 1.5**2 * np.eye(min(m.shape)), atol=tol * 10)


@pytest.mark.parametrize("shape", [(7, 3), (3, 7)])
def test_orthogonal_is_the_q_factor_with_a_positive_r_diagonal(shape: tuple[int, int]) -> None:
    """Keras and PyTorch: Q of the QR of the normal draws, signs fixed so that diag(R) > 0."""
    w = Orthogonal(gain=2.0)(shape, np.random.default_rng(5))
    a = np.random.default_rng(5).standard_normal(shape)
    q, tall = (w / 2.0, a) if shape[0] >= shape[1] else ((w / 2.0).T, a.T)
    r = q.T @ tall  # a = q r, with q's columns orthonormal
    np.testing.assert_allclose(q @ r, tall, atol=1e-12)
    np.testing.assert_allclose(np.tril(r, -1), 0.0, atol=1e-12)
    assert np.all(np.diag(r) > 0)


def test_orthogonal_by_name_in_a_dense_layer_and_its_errors() -> None:
    model = Sequential([Dense(5, 3, weight_init={"type": "orthogonal", "gain": 0.5})], seed=2)
    w = model.get_weights()[0]
    np.testing.assert_allclose(w.T @ w, 0.25 * np.eye(3), atol=1e-12)
    assert model.get_config()["layers"][0]["weight_init"] == {"type": "orthogonal", "gain": 0.5}
    vector = Orthogonal(gain=3.0)((4,), np.random.default_rng(0))
    assert np.linalg.norm(vector) == pytest.approx(3.0, rel=1e-12)  # a vector is one row
    with pytest.raises(ConfigError, match="gain must be a finite number > 0; received gain=0"):
        Orthogonal(gain=0)
    check_initializer("orthogonal")


def test_huber_on_an_empty_batch_is_zero() -> None:
    value, grad = Huber().value_and_gradient(np.zeros((0, 2)), np.zeros((0, 2)))
    assert value == 0.0 and grad.shape == (0, 2)


def test_huber_called_directly_takes_lists_and_refuses_mismatched_shapes() -> None:
    from minidl.errors import ShapeError

    huber = losses.get("huber", delta=1.0)
    # by hand: |d| = 0.5 -> 0.125, |d| = 3 -> 1 * (3 - 0.5) = 2.5; mean over 2 elements
    assert huber([0.0, 0.0], [0.5, 3.0]) == pytest.approx((0.125 + 2.5) / 2, rel=1e-15)
    with pytest.raises(ShapeError, match=r"\(2, 1\).*\(3,\)"):
        huber([[1.0], [2.0]], [1.0, 2.0, 3.0])
