"""fit's options (metrics, validation, initial_epoch, continued training) and evaluate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minidl import Callback, Dense, Sequential, losses, metrics
from minidl.errors import ConfigError, DataError, ShapeError


def data(seed: int = 0, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(float)


def model(seed: int = 0, metric_names=("accuracy",), **compile_args) -> Sequential:
    m = Sequential([Dense(2, 6, activation="tanh"), Dense(6, 1, activation="sigmoid")], seed=seed)
    m.compile(
        **{
            "loss": "binary_crossentropy",
            "optimizer": {"type": "sgd", "learning_rate": 0.5, "momentum": 0.5},
            "metrics": list(metric_names),
            **compile_args,
        }
    )
    return m


# --------------------------------------------------------------------------- metrics by hand
def test_accuracy_binary_onehot_and_labels() -> None:
    acc = metrics.get("accuracy")
    assert acc(np.array([[1.0], [0.0], [1.0], [0.0]]), np.array([[0.9], [0.6], [0.4], [0.1]])) == 0.5
    signs = metrics.get("accuracy", threshold=0.0)
    assert signs(np.array([[1.0], [-1.0], [-1.0]]), np.array([[0.2], [-0.7], [0.1]])) == pytest.approx(2 / 3)
    pred = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]])
    assert acc(np.eye(3)[[1, 0, 0, 1]], pred) == 0.75
    assert acc(np.array([1, 0, 0, 1]), pred) == 0.75


def test_mae_and_mse_metrics_by_hand() -> None:
    y, p = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[1.5, 2.0], [-1.0, 1.0]])
    assert metrics.get("mae")(y, p) == (0.5 + 0 + 1 + 2) / 4
    assert metrics.get("mse")(y, p) == (0.25 + 0 + 1 + 4) / 4


def test_half_mse_is_the_playground_loss() -> None:
    y, p = np.array([[1.0], [-1.0], [1.0]]), np.array([[0.5], [0.0], [1.5]])
    loss = losses.get("half_mse")
    assert loss(y, p) == pytest.approx((0.25 + 1 + 0.25) / 2 / 3, rel=1e-15)
    np.testing.assert_allclose(loss.gradient(y, p), [[-0.5 / 3], [1 / 3], [0.5 / 3]], rtol=1e-15)
    assert losses.get("half_mse", reduction="sum")(y, p) == pytest.approx(0.75, rel=1e-15)


def test_metrics_in_history_match_evaluate() -> None:
    x, y = data()
    m = model(metric_names=("accuracy", "mse"))
    history = m.fit(x, y, epochs=3, batch_size=8, validation_data=data(1, 20))
    assert list(history.history) == ["loss", "accuracy", "mse", "val_loss", "val_accuracy", "val_mse"]
    # the epoch's metrics are measured with the weights at the end of the epoch
    train = m.evaluate(x, y, return_dict=True)
    val = m.evaluate(*data(1, 20), return_dict=True)
    assert history.history["accuracy"][-1] == train["accuracy"] and history.history["mse"][-1] == train["mse"]
    assert (
        history.history["val_loss"][-1] == val["loss"]
        and history.history["val_accuracy"][-1] == val["accuracy"]
    )
    p = m.predict(x)[:, 0]
    assert train["accuracy"] == np.mean((p > 0.5) == (y > 0.5))
    assert m.evaluate(x, y) == [train["loss"], train["accuracy"], train["mse"]]


def test_evaluate_without_metrics_is_a_float() -> None:
    x, y = data()
    m = model(metric_names=())
    assert isinstance(m.evaluate(x, y), float)


# --------------------------------------------------------------------------- continued training
@pytest.mark.parametrize("validation", [False, True])
def test_fit_n_equals_fit_k_then_n_minus_k_bit_for_bit(validation: bool) -> None:
    x, y = data()
    extra = {"validation_split": 0.25} if validation else {}
    whole = model(seed=3)
    whole.fit(x, y, epochs=7, batch_size=6, **extra)
    parts = model(seed=3)
    parts.fit(x, y, epochs=3, batch_size=6, **extra)
    parts.fit(x, y, epochs=4, batch_size=6, **extra)
    keras = model(seed=3)
    keras.fit(x, y, epochs=3, batch_size=6, **extra)
    keras.fit(x, y, epochs=7, initial_epoch=3, batch_size=6, **extra)
    for other in (parts, keras):
        for a, b in zip(whole.get_weights(), other.get_weights()):
            assert np.array_equal(a, b)
        assert other.history.history == whole.history.history
        assert other.history.epochs == whole.history.epochs == list(range(7))


def test_initial_epoch_numbers_the_epochs_as_keras() -> None:
    x, y = data()
    m = model()
    m.fit(x, y, epochs=5, initial_epoch=2)
    assert m.history.epochs == [2, 3, 4]
    with pytest.raises(ConfigError, match="epochs=2, initial_epoch=2"):
        m.fit(x, y, epochs=2, initial_epoch=2)


# --------------------------------------------------------------------------- validation
def test_validation_split_holds_out_the_last_samples_before_shuffling() -> None:
    x, y = data(n=40)
    split = model(seed=1)
    split.fit(x, y, epochs=4, batch_size=5, validation_split=0.25)
    explicit = model(seed=1)
    explicit.fit(x[:30], y[:30], epochs=4, batch_size=5, validation_data=(x[30:], y[30:]))
    for a, b in zip(split.get_weights(), explicit.get_weights()):
        assert np.array_equal(a, b)
    assert split.history.history == explicit.history.history
    assert split.history.history["val_loss"][-1] == split.evaluate(x[30:], y[30:], return_dict=True)["loss"]


@pytest.mark.parametrize(
    "samples,split,trained",
    [(10, 0.25, 7), (7, 0.5, 3), (3, 0.5, 1), (40, 0.01, 39), (5, 0.5, 2)],
)
def test_validation_split_counts_as_keras_3(samples: int, split: float, trained: int) -> None:
    # Keras 3 trains on floor(samples * (1 - split)) and validates on the rest; the expected
    # counts are worked by hand (10 * 0.75 = 7.5 -> 7 trained, 3 held out).
    x, y = data(n=samples)
    seen: list[int] = []
    m = model(seed=2)

    class Rows(Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(batch)

    m.fit(x, y, epochs=1, batch_size=1, validation_split=split, callbacks=[Rows()])
    assert len(seen) == trained  # one sample per batch: the batches count the training rows
    val = m.evaluate(x[trained:], y[trained:], return_dict=True)
    assert m.history.history["val_loss"] == [val["loss"]]


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (
            {"validation_split": 0.2, "validation_data": (np.ones((2, 2)), np.ones(2))},
            ConfigError,
            "not both",
        ),
        ({"validation_split": 0.99}, DataError, "leaves 40 for validation and 0 for training"),
        ({"validation_split": 1.0}, ConfigError, "validation_split must be"),
        (
            {"validation_data": (np.ones((3, 5)), np.ones(3))},
            ShapeError,
            "In validation_data: X has 5 features",
        ),
        ({"validation_data": np.ones((3, 2))}, ConfigError, "pair"),
        ({"verbose": 3}, ConfigError, "verbose must be 0, 1, 2 or .auto.; received verbose=3"),
        ({"initial_epoch": -1}, ConfigError, "initial_epoch"),
    ],
)
def test_bad_fit_options_change_nothing(kwargs, error, message) -> None:
    x, y = data()
    m = model()
    before = m.get_weights()
    with pytest.raises(error, match=message):
        m.fit(x, y, epochs=2, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    assert m.optimizer.iterations == 0 and m.history.epochs == []


def test_metric_errors_at_compile() -> None:
    m = Sequential([Dense(2, 3)], seed=0)
    with pytest.raises(ConfigError, match="must be a list"):
        m.compile(loss="mse", metrics="accuracy")
    with pytest.raises(ConfigError, match="used twice"):
        m.compile(loss="mse", metrics=["mae", {"type": "mae"}])
    with pytest.raises(ConfigError, match="integer class labels; use 'accuracy'"):
        m.compile(loss={"type": "sparse_categorical_crossentropy", "from_logits": True}, metrics=["mse"])
    assert m.loss is None  # nothing was set


def test_sparse_labels_with_accuracy_train_a_softmax_classifier() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    labels = rng.integers(0, 3, 150)
    x = centres[labels] + rng.normal(scale=0.5, size=(150, 2))
    m = Sequential([Dense(2, 3, activation="softmax")], seed=0)
    m.compile(
        loss="sparse_categorical_crossentropy",
        optimizer={"type": "adam", "learning_rate": 0.05},
        metrics=["accuracy"],
    )
    history = m.fit(x, labels, epochs=30, batch_size=16)
    assert history.history["accuracy"][-1] >= 0.98
    assert math.isclose(history.history["accuracy"][-1], np.mean(m.predict(x).argmax(axis=1) == labels))
