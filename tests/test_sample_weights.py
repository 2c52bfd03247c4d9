"""fit(sample_weight=, class_weight=) and evaluate(sample_weight=), with Keras's meaning: each
sample's loss times its weight, the reduction unchanged (a mean still divides by the batch)."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import Dense, Sequential, losses
from minidl.errors import ConfigError, DataError, ShapeError


def _model(loss: str = "mse", outputs: int = 1, activation: str | None = None, seed: int = 0) -> Sequential:
    m = Sequential([Dense(3, 5, activation="tanh"), Dense(5, outputs, activation=activation)], seed=seed)
    m.compile(loss=loss, optimizer={"type": "sgd", "learning_rate": 0.05})
    return m


def _data(n: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, np.tanh(x @ np.array([1.0, -2.0, 0.5]))


def test_integer_weights_equal_repeated_samples_with_a_sum() -> None:
    # sum_i w_i l_i is the plain loss of the data with sample i repeated w_i times (full batch)
    x, y = _data(10)
    w = np.array([0, 1, 2, 3, 1, 0, 2, 1, 1, 4])
    weighted = _model("sse")
    weighted.fit(x, y, sample_weight=w, epochs=5, batch_size=10, shuffle=False)
    repeated = _model("sse")
    repeated.fit(np.repeat(x, w, axis=0), np.repeat(y, w), epochs=5, batch_size=int(w.sum()), shuffle=False)
    for a, b in zip(weighted.get_weights(), repeated.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_evaluate_is_the_weighted_sum_over_the_batch_size() -> None:
    x, _ = _data(12)
    rng = np.random.default_rng(3)
    y = rng.normal(size=(12, 2))
    w = rng.uniform(0, 2, 12)
    m = _model("mse", outputs=2)
    pred = m.predict(x)
    per_sample = [np.mean((pred[i] - y[i]) ** 2) for i in range(12)]  # Keras's MSE: a mean over outputs
    keras_loss = sum(wi * li for wi, li in zip(w, per_sample, strict=True)) / 12  # sum_over_batch_size
    assert m.evaluate(x, y, sample_weight=w) == pytest.approx(keras_loss, rel=1e-13)
    assert m.evaluate(x, y, sample_weight=np.ones(12)) == pytest.approx(m.evaluate(x, y), rel=1e-14)


def test_weights_of_one_train_bit_for_bit_as_no_weights() -> None:
    x, y = _data()
    a, b = _model(), _model()
    history_a = a.fit(x, y, epochs=3, batch_size=5)
    history_b = b.fit(x, y, epochs=3, batch_size=5, sample_weight=np.ones(len(x)))
    for u, v in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_allclose(history_a.history["loss"], history_b.history["loss"], rtol=1e-13)


def test_weights_are_shuffled_with_their_samples() -> None:
    # samples of weight 0 carry nonsense targets: whatever they hold, training is the same bit for bit
    x, y = _data(30)
    w = np.where(np.arange(30) % 3 == 0, 0.0, 1.5)
    corrupt = np.where(w == 0, 1e3, y)
    clean, dirty = _model(), _model()
    clean.fit(x, y, sample_weight=w, epochs=4, batch_size=4, shuffle=True)
    dirty.fit(x, corrupt, sample_weight=w, epochs=4, batch_size=4, shuffle=True)
    for u, v in zip(clean.get_weights(), dirty.get_weights(), strict=True):
        np.testing.assert_array_equal(u, v)


def test_class_weight_is_the_sample_weight_of_each_class() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 3))
    labels = rng.integers(0, 3, 20)
    table = {0: 0.5, 2: 3.0}  # class 1 unlisted: weight 1, as in Keras
    as_samples = np.array([table.get(int(c), 1.0) for c in labels])
    cases = [
        ("sparse_categorical_crossentropy", labels, 3, "softmax"),
        ("categorical_crossentropy", np.eye(3)[labels], 3, "softmax"),
        ("binary_crossentropy", (labels == 2).astype(float), 1, "sigmoid"),
    ]
    binary = {0: 0.5, 1: 3.0}  # a one-output model has classes 0 and 1 only
    for loss, y, outputs, activation in cases:
        weights = as_samples if outputs == 3 else np.array([binary[int(c == 2)] for c in labels])
        a, b = _model(loss, outputs, activation), _model(loss, outputs, activation)
        a.fit(x, y, class_weight=table if outputs == 3 else binary, epochs=2, batch_size=6)
        b.fit(x, y, sample_weight=weights, epochs=2, batch_size=6)
        for u, v in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(u, v)


def test_validation_split_holds_out_the_weights_with_the_samples() -> None:
    x, y = _data(20)
    w = np.linspace(0.0, 2.0, 20)
    m = _model()
    history = m.fit(x, y, sample_weight=w, validation_split=0.25, epochs=1, batch_size=5)
    assert history.history["val_loss"][0] == pytest.approx(
        m.evaluate(x[15:], y[15:], sample_weight=w[15:]), rel=1e-13
    )
    m2 = _model()
    history = m2.fit(x[:15], y[:15], validation_data=(x[15:], y[15:], w[15:]), epochs=1, batch_size=5)
    assert history.history["val_loss"][0] == pytest.approx(
        m2.evaluate(x[15:], y[15:], sample_weight=w[15:]), rel=1e-13
    )


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"sample_weight": -np.ones(8)}, DataError, r"sample_weight must be >= 0; received -1.0 at index 0"),
        ({"sample_weight": np.ones(7)}, DataError, "one weight per sample: 8; received 7"),
        ({"sample_weight": np.ones((8, 2))}, ShapeError, r"shape \(8,\); received shape \(8, 2\)"),
        ({"sample_weight": np.r_[np.ones(7), np.nan]}, DataError, "NaN or infinity"),
        ({"sample_weight": ["a"] * 8}, DataError, "must hold real numbers"),
        ({"sample_weight": np.ones(8), "class_weight": {0: 1.0}}, ConfigError, "not both"),
        ({"class_weight": [1.0, 2.0]}, ConfigError, "class_weight must be a dict"),
        ({"class_weight": {-1: 2.0}}, ConfigError, "integers >= 0"),
        ({"class_weight": {0: float("inf")}}, ConfigError, r"class_weight\[0\] must be a finite number"),
        # a regression's targets have no classes: once silently rounded into classes 0 and 1
        ({"class_weight": {0: 1.0, 1: 2.0}}, DataError, "not class labels.*pass sample_weight"),
    ],
)
def test_bad_weights_are_refused_before_anything_changes(kwargs, error, message) -> None:
    x, y = _data(8)
    m = _model()
    before = m.get_weights()
    with pytest.raises(error, match=message):
        m.fit(x, y, epochs=1, **kwargs)
    for a, b in zip(before, m.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="In validation_data: sample_weight must be >= 0"):
        m.fit(x, y, validation_data=(x, y, -np.ones(8)))
    assert len(m.history.epochs) == 0


def test_an_unweighted_step_calls_the_loss_itself() -> None:
    # no per-step cost without weights: the step plan holds the loss's own method
    x, y = _data()
    m = _model()
    assert m.trainer.plan().value_and_gradient == m.loss.value_and_gradient
    m.fit(x, y, sample_weight=np.ones(len(x)), epochs=1)
    assert m.trainer.plan().value_and_gradient == m.loss.value_and_gradient


def test_a_loss_called_directly_takes_weights() -> None:
    mse = losses.get("mse")
    y, p, w = np.array([[1.0], [2.0], [4.0]]), np.zeros((3, 1)), np.array([1.0, 0.0, 0.5])
    assert mse(y, p, sample_weight=w) == pytest.approx((1 * 1 + 0 * 4 + 0.5 * 16) / 3, rel=1e-15)
    np.testing.assert_allclose(
        mse.gradient(y, p, sample_weight=w), [[-2 / 3], [0.0], [-0.5 * 8 / 3]], rtol=1e-15
    )


def test_class_weight_for_a_class_the_targets_cannot_have_is_refused() -> None:
    x, _ = _data(12)
    onehot = np.eye(3)[np.arange(12) % 3]
    m = _model("categorical_crossentropy", outputs=3, activation="softmax")
    with pytest.raises(ConfigError, match=r"class\(es\) \[5\].*3 classes"):
        m.fit(x, onehot, class_weight={0: 1.0, 5: 3.0}, epochs=1)
    assert m.optimizer.iterations == 0
