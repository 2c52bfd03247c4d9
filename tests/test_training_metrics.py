"""Accuracy for multi-label outputs: "binary_accuracy" judges each output, "accuracy" follows
Keras 3's shape rule (argmax for several outputs, whatever the loss). Values worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import Dense, Sequential, metrics

# three samples, three independent labels (multi-hot), and sigmoid-like predictions
Y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
P = np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.8], [0.1, 0.3, 0.2]])


def test_binary_accuracy_judges_every_output_by_hand() -> None:
    # thresholded at 0.5, P is [[1,0,0],[1,1,1],[0,0,0]]; against Y the matches are
    # [T,T,F], [F,T,T], [T,T,T]: 7 of 9
    assert metrics.get("binary_accuracy")(Y, P) == pytest.approx(7 / 9, rel=1e-15)
    # at 0.65, P is [[1,0,0],[0,1,1],[0,0,0]]: matches [T,T,F], [T,T,T], [T,T,T]: 8 of 9
    assert metrics.get("binary_accuracy", threshold=0.65)(Y, P) == pytest.approx(8 / 9, rel=1e-15)
    # one output (column 0: matches T, F, T): the same figure as "accuracy"
    y1, p1 = Y[:, :1], P[:, :1]
    assert (
        metrics.get("binary_accuracy")(y1, p1)
        == metrics.get("accuracy")(y1, p1)
        == pytest.approx(2 / 3, rel=1e-15)
    )


def test_accuracy_with_several_outputs_is_keras_3s_argmax_rule() -> None:
    # Keras 3 picks CategoricalAccuracy for "accuracy" when targets and outputs have the same
    # several columns: argmax(Y) = [0, 1, 0], argmax(P) = [0, 2, 1]: 1 of 3
    assert metrics.get("accuracy")(Y, P) == pytest.approx(1 / 3, rel=1e-15)


def test_binary_accuracy_in_fit_matches_a_hand_count() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = np.column_stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] < 0.5]).astype(float)
    m = Sequential([Dense(4, 8, activation="tanh"), Dense(8, 3, activation="sigmoid")], seed=0)
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["binary_accuracy"])
    history = m.fit(x, y, epochs=5, batch_size=10, validation_split=0.25)
    p = m.predict(x[:45])
    hand = sum(int((p[i, j] > 0.5) == (y[i, j] == 1.0)) for i in range(45) for j in range(3)) / 135
    assert history.history["binary_accuracy"][-1] == pytest.approx(hand, rel=1e-15)
    assert "val_binary_accuracy" in history.history


def test_binary_accuracy_is_maximised_by_early_stopping_auto_mode() -> None:
    from minidl.callbacks import monitor_mode

    model = Sequential([Dense(2, 1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", metrics=["binary_accuracy"])
    assert monitor_mode("val_binary_accuracy", "auto", model, "EarlyStopping") == "max"


def test_a_metric_that_cannot_score_the_outputs_is_refused_before_any_update() -> None:
    # binary precision on a three-class model: found on a few samples before the first step, not
    # after an epoch has trained (which left the weights moved and the History empty)
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    model = minidl.Sequential([minidl.Dense(4, 3, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["precision"])
    before = model.get_weights()
    with pytest.raises(minidl.MinidlError, match="macro"):
        model.fit(x, labels, epochs=2, verbose=0)
    assert model.optimizer.iterations == 0 and model.history.epochs == []
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
