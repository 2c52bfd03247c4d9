"""The two lecture networks: published figures, exact reproduction, and outcomes over many seeds.

The reference computations here are written independently of minidl, in the lectures' own
arithmetic (scalar Python floats for lecture 1, explicit matrices for lecture 2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minidl
from minidl import config

LECTURE1_X = [[-2.0, -1.0], [25.0, 6.0], [17.0, 4.0], [-15.0, -6.0]]
LECTURE1_Y = [1.0, 0.0, 0.0, 1.0]
LECTURE2_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
LECTURE2_Y = np.array([[0], [1], [1], [0]], dtype=float)


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# --------------------------------------------------------------------------- published figures
def test_feed_forward_figure() -> None:
    """Every neuron with weights [0, 1] and bias 0: input [2, 3] gives 0.7216325609518421."""
    model = config.load("lecture1").build(seed=0)
    model.set_weights(
        [np.array([[0.0, 0.0], [1.0, 1.0]]), np.zeros(2), np.array([[0.0], [1.0]]), np.zeros(1)]
    )
    out = model.predict([[2.0, 3.0]])
    assert out.shape == (1, 1)
    assert out[0, 0] == pytest.approx(0.7216325609518421, abs=1e-15)


def test_mse_figure() -> None:
    assert minidl.losses.get("mse")(np.array([1.0, 0, 0, 1]), np.zeros(4)) == 0.5


# --------------------------------------------------------------------------- exactness
def lecture1_reference(params: list[float], epochs: int) -> list[float]:
    """The lecture's per-sample SGD on the nine named parameters, as scalar arithmetic."""
    *_, last = lecture1_updates(params, epochs)
    return last


def lecture1_updates(params: list[float], epochs: int):
    """The nine parameters after each of the lecture's updates, in order."""
    w1, w2, w3, w4, w5, w6, b1, b2, b3 = params
    for _ in range(epochs):
        for (x0, x1), y in zip(LECTURE1_X, LECTURE1_Y):
            h1 = _sigmoid(w1 * x0 + w2 * x1 + b1)
            h2 = _sigmoid(w3 * x0 + w4 * x1 + b2)
            o1 = _sigmoid(w5 * h1 + w6 * h2 + b3)
            d_o1 = -2.0 * (y - o1)
            # derivative of each sigmoid from its own output, as the lecture does
            do, dh1, dh2 = o1 * (1 - o1), h1 * (1 - h1), h2 * (1 - h2)
            grads = [
                d_o1 * do * w5 * dh1 * x0,
                d_o1 * do * w5 * dh1 * x1,
                d_o1 * do * w6 * dh2 * x0,
                d_o1 * do * w6 * dh2 * x1,
                d_o1 * do * h1,
                d_o1 * do * h2,
                d_o1 * do * w5 * dh1,
                d_o1 * do * w6 * dh2,
                d_o1 * do,
            ]
            w1, w2, w3, w4, w5, w6, b1, b2, b3 = [
                p - 0.1 * g for p, g in zip((w1, w2, w3, w4, w5, w6, b1, b2, b3), grads)
            ]
            yield [w1, w2, w3, w4, w5, w6, b1, b2, b3]


def lecture1_weights(p: list[float]) -> list[np.ndarray]:
    """The nine named parameters as minidl's arrays: W[i, j] is the weight of input i into unit j."""
    w1, w2, w3, w4, w5, w6, b1, b2, b3 = p
    return [np.array([[w1, w3], [w2, w4]]), np.array([b1, b2]), np.array([[w5], [w6]]), np.array([b3])]


@pytest.mark.parametrize("draw", range(4))
def test_lecture1_is_reproduced_exactly(draw: int) -> None:
    params = list(np.random.default_rng(1000 + draw).standard_normal(9))
    cfg = config.load("lecture1")
    model = cfg.build(seed=draw)
    model.set_weights(lecture1_weights(params))
    model.fit(*cfg.arrays(), **cfg.fit)
    expected = lecture1_weights(lecture1_reference(params, cfg.fit["epochs"]))
    assert cfg.fit == {"epochs": 1000, "batch_size": 1, "shuffle": False}
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert model.optimizer.iterations == 4000


def lecture2_reference(w1: np.ndarray, w2: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """The lecture's full-batch descent on the summed squared error, learning rate 1."""
    *_, last = lecture2_updates(w1, w2, iterations)
    return last


def lecture2_updates(w1: np.ndarray, w2: np.ndarray, iterations: int):
    """Copies of both weight matrices after each of the lecture's iterations."""
    w1, w2 = w1.copy(), w2.copy()
    for _ in range(iterations):
        hidden = 1.0 / (1.0 + np.exp(-(LECTURE2_X @ w1)))
        out = 1.0 / (1.0 + np.exp(-(hidden @ w2)))
        delta_out = 2.0 * (LECTURE2_Y - out) * out * (1.0 - out)  # = -dLoss/d(hidden @ w2)
        delta_hidden = (delta_out @ w2.T) * hidden * (1.0 - hidden)
        w2 += hidden.T @ delta_out
        w1 += LECTURE2_X.T @ delta_hidden
        yield w1.copy(), w2.copy()


@pytest.mark.parametrize("draw", range(4))
def test_lecture2_is_reproduced_exactly(draw: int) -> None:
    rng = np.random.default_rng(2000 + draw)
    w1, w2 = rng.random((3, 4)), rng.random((4, 1))
    cfg = config.load("lecture2")
    model = cfg.build(seed=draw)
    model.set_weights([w1, w2])
    model.fit(*cfg.arrays(), **cfg.fit)
    want1, want2 = lecture2_reference(w1, w2, 1500)
    got1, got2 = model.get_weights()
    np.testing.assert_allclose(got1, want1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got2, want2, rtol=0, atol=1e-12)
    assert model.optimizer.iterations == 1500


def _weights_after_every_update(model: minidl.Sequential, cfg) -> list[list[np.ndarray]]:
    seen: list[list[np.ndarray]] = []
    record = minidl.callbacks.LambdaCallback(
        on_batch_end=lambda batch, logs: seen.append(model.get_weights())
    )
    model.fit(*cfg.arrays(), **cfg.fit, callbacks=[record])
    return seen


def test_lecture1_matches_after_every_update() -> None:
    # lectures.md: the same parameters as the lecture's arithmetic after every update, to 1e-12
    params = list(np.random.default_rng(77).standard_normal(9))
    cfg = config.load("lecture1")
    model = cfg.build(seed=0)
    model.set_weights(lecture1_weights(params))
    seen = _weights_after_every_update(model, cfg)
    expected = list(lecture1_updates(params, cfg.fit["epochs"]))
    assert len(seen) == len(expected) == 4000
    worst = max(
        np.abs(g - w).max() for got, want in zip(seen, expected) for g, w in zip(got, lecture1_weights(want))
    )
    assert worst <= 1e-12, worst


def test_lecture2_matches_after_every_update() -> None:
    rng = np.random.default_rng(78)
    w1, w2 = rng.random((3, 4)), rng.random((4, 1))
    cfg = config.load("lecture2")
    model = cfg.build(seed=0)
    model.set_weights([w1, w2])
    seen = _weights_after_every_update(model, cfg)
    expected = list(lecture2_updates(w1, w2, 1500))
    assert len(seen) == len(expected) == 1500
    worst = max(np.abs(g - w).max() for got, want in zip(seen, expected) for g, w in zip(got, want))
    assert worst <= 1e-12, worst


def test_lecture_configs_have_no_hidden_extras() -> None:
    """The lecture networks are plain configurations of built-in components."""
    one = config.load("lecture1").build(seed=0)
    assert [p.shape for p in one.parameters()] == [(2, 2), (2,), (2, 1), (1,)]
    two = config.load("lecture2").build(seed=0)
    assert [p.shape for p in two.parameters()] == [(3, 4), (4, 1)]
    first = two.get_weights()[0]
    assert first.min() >= 0.0 and first.max() < 1.0  # U[0, 1)


# --------------------------------------------------------------------------- outcomes
@pytest.mark.parametrize("seed", range(20))
def test_lecture1_outcome(seed: int) -> None:
    cfg = config.load("lecture1")
    model = cfg.build(seed=seed)
    history = model.fit(*cfg.arrays(), **cfg.fit)
    pred = model.predict(LECTURE1_X).ravel()
    assert np.all(np.abs(pred - LECTURE1_Y) < 0.1), pred
    emily, frank = model.predict([[-7, -3], [20, 2]]).ravel()
    assert emily > 0.5 > frank
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("seed", range(20))
def test_lecture2_outcome(seed: int) -> None:
    cfg = config.load("lecture2")
    model = cfg.build(seed=seed)
    model.fit(*cfg.arrays(), **cfg.fit)
    pred = model.predict(LECTURE2_X)
    assert np.all(np.abs(pred - LECTURE2_Y) < 0.1), pred.ravel()
