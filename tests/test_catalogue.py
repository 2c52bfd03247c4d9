"""Values of the built-in components against independent computations (the conformance kit
checks their gradients; these check the functions themselves)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minidl import Dense, Parameter, Sequential, activations, initializers, losses, optimizers
from minidl.errors import DataError, ShapeError


def test_softmax_rows_and_no_overflow() -> None:
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]])
    with np.errstate(all="raise", under="ignore"):
        y = activations.get("softmax").forward(x)
    e = [math.exp(v) for v in (1.0, 2.0, 3.0)]
    np.testing.assert_allclose(y[0], [v / sum(e) for v in e], rtol=1e-15)
    np.testing.assert_allclose(y[1], [0.5, 0.5, 0.0], atol=1e-300)


def test_crossentropies_by_hand() -> None:
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    labels = np.array([0, 2])
    onehot = np.eye(3)[labels]
    log_softmax = [[z - math.log(sum(math.exp(v) for v in row)) for z in row] for row in logits.tolist()]
    expected = -(log_softmax[0][0] + log_softmax[1][2]) / 2
    assert losses.get("sparse_categorical_crossentropy", from_logits=True)(labels, logits) == pytest.approx(
        expected, rel=1e-14
    )
    assert losses.get("categorical_crossentropy", from_logits=True)(onehot, logits) == pytest.approx(
        expected, rel=1e-14
    )
    probs = np.exp(np.array(log_softmax))
    assert losses.get("sparse_categorical_crossentropy")(labels, probs) == pytest.approx(expected, rel=1e-12)
    assert losses.get("categorical_crossentropy")(onehot, probs) == pytest.approx(expected, rel=1e-12)


def test_binary_crossentropy_by_hand_and_exact_for_huge_logits() -> None:
    y = np.array([[1.0], [0.0]])
    p = np.array([[0.8], [0.3]])
    expected = -(math.log(0.8) + math.log(0.7)) / 2
    assert losses.get("binary_crossentropy")(y, p) == pytest.approx(expected, rel=1e-14)
    z = np.array([[800.0], [800.0]])  # sigmoid(800) rounds to 1: only the logit form stays exact
    assert losses.get("binary_crossentropy", from_logits=True)(y, z) == pytest.approx(800.0 / 2, rel=1e-14)


def test_mae_by_hand() -> None:
    assert losses.get("mae")(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]])) == 1.5


def test_sgd_momentum_and_nesterov_by_hand() -> None:
    for nesterov in (False, True):
        opt = optimizers.get("sgd", learning_rate=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
        p = Parameter(np.array([1.0]))
        value, velocity = 1.0, 0.0
        for g in (0.5, -0.2, 0.3):
            p.grad[:] = g
            opt.step([p])
            g_total = g + 0.01 * value
            velocity = 0.9 * velocity - 0.1 * g_total
            value += 0.9 * velocity - 0.1 * g_total if nesterov else velocity
        assert p.value[0] == pytest.approx(value, rel=1e-14)


def test_adam_by_hand() -> None:
    opt = optimizers.get("adam", learning_rate=0.01)
    p = Parameter(np.array([0.5]))
    m = v = 0.0
    value = 0.5
    for t, g in enumerate((0.3, -0.1, 0.2), start=1):
        p.grad[:] = g
        opt.step([p])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        value -= 0.01 * (m / (1 - 0.9**t)) / (math.sqrt(v / (1 - 0.999**t)) + 1e-7)
    assert p.value[0] == pytest.approx(value, rel=1e-6)  # epsilon is folded slightly differently


@pytest.mark.parametrize(
    "name,variance",
    [
        ("glorot_uniform", 2 / (300 + 200)),
        ("glorot_normal", 2 / (300 + 200)),
        ("he_normal", 2 / 300),
        ("he_uniform", 2 / 300),
        ("lecun_normal", 1 / 300),
    ],
)
def test_initializer_variances(name: str, variance: float) -> None:
    w = initializers.get(name)((300, 200), np.random.default_rng(0), np.float64)
    assert abs(w.mean()) < 0.01 * math.sqrt(variance) * 10
    assert w.var() == pytest.approx(variance, rel=0.02)


def test_sparse_labels_are_checked_against_the_outputs() -> None:
    model = Sequential([Dense(2, 3)], seed=0)
    model.compile(loss={"type": "sparse_categorical_crossentropy", "from_logits": True}, optimizer="sgd")
    x = np.ones((4, 2))
    with pytest.raises(DataError, match=r"labels must lie in \[0, 3\).*from 0 to 3"):
        model.fit(x, [0, 1, 2, 3])
    with pytest.raises(DataError, match="whole numbers"):
        model.fit(x, [0, 1.5, 2, 1])
    with pytest.raises(ShapeError, match="integer class labels"):
        model.fit(x, np.eye(3)[[0, 1, 2, 1]])
    model.fit(x, np.array([0, 1, 2, 1]), epochs=1)
    assert model.optimizer.iterations == 1


def test_integer_labels_with_a_dense_loss_get_a_hint() -> None:
    model = Sequential([Dense(2, 3)], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    with pytest.raises(ShapeError, match="sparse_categorical_crossentropy"):
        model.fit(np.ones((4, 2)), np.array([[0], [1], [2], [1]]))
