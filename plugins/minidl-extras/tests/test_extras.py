"""minidl's conformance kit on this package's components, and what the kit cannot see."""

from __future__ import annotations

import os

import numpy as np
import pytest

if os.environ.get("MINIDL_REQUIRE_PLUGINS") != "1":
    pytest.importorskip("minidl_extras", reason="minidl-extras is not installed")

from minidl import Dense, Parameter, Sequential, losses, optimizers  # noqa: E402
from minidl.testing import parametrize_with_checks  # noqa: E402
from minidl_extras import Dropout, Huber, RMSprop  # noqa: E402


@parametrize_with_checks([Huber, RMSprop, Dropout])
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


def test_dropout_in_training_only() -> None:
    layer = Dropout(0.25)
    layer.build(np.random.default_rng(0), np.dtype("float64"))
    x = np.ones((200, 50))
    np.testing.assert_array_equal(layer.forward(x), x)  # not training: identity
    layer.training = True
    y = layer.forward(x)
    dropped = np.mean(y == 0)
    assert 0.22 < dropped < 0.28
    np.testing.assert_allclose(y[y != 0], 1 / 0.75)
    g = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(g == 0, y == 0)  # the same mask on the way back


def test_dropout_by_name_in_a_seeded_model() -> None:
    def run() -> list[np.ndarray]:
        model = Sequential([Dense(3, 8, activation="relu"), "dropout", Dense(8, 1)], seed=3)
        model.compile(loss="huber", optimizer="rmsprop")
        model.fit(np.random.default_rng(0).standard_normal((32, 3)), np.ones(32), epochs=3, batch_size=8)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_the_model_switches_dropout_on_only_inside_fit() -> None:
    seen = []

    class Spy(Dropout):
        def forward(self, x):
            seen.append(self.training)
            return super().forward(x)

    layer = Spy(0.5)
    model = Sequential([Dense(2, 4), layer, Dense(4, 1)], seed=0)
    model.compile(loss="huber", optimizer="rmsprop")
    x = np.random.default_rng(1).standard_normal((8, 2))
    model.fit(x, np.zeros(8), epochs=2, batch_size=4)
    assert seen == [True] * 4 and layer.training is False
    np.testing.assert_array_equal(model.predict(x), model.predict(x))  # inference: no dropout
    assert seen[4:] == [False, False]
