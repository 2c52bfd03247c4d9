"""Keras's model helpers: get_layer, count_params, the *_on_batch methods, verbose, to_categorical."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import ConfigError, DataError, Dense, Dropout, Sequential
from minidl.utils import to_categorical


def classifier(seed: int = 0) -> Sequential:
    model = Sequential(
        [Dense(4, 6, activation="tanh"), Dropout(0.3), Dense(6, 3, activation="softmax")], seed=seed
    )
    model.compile(
        loss="categorical_crossentropy",
        optimizer={"type": "adam", "learning_rate": 0.01},
        metrics=["accuracy"],
    )
    return model


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 4))
    return x, np.eye(3)[rng.integers(0, 3, 10)]


def test_get_layer_by_name_and_index() -> None:
    model = classifier()
    first, dropout, last = model.layers
    assert model.get_layer(first.name) is first and model.get_layer(0) is first
    assert model.get_layer(index=-1) is last and model.get_layer(name=dropout.name) is dropout
    with pytest.raises(
        ConfigError, match=r"No layer named 'dense_9'; the layers are: dense_0, dropout_0, dense_1"
    ):
        model.get_layer("dense_9")
    with pytest.raises(ConfigError, match=r"No layer at index 3: the model has 3 layers"):
        model.get_layer(3)
    with pytest.raises(ConfigError, match="a layer's name or its index"):
        model.get_layer()


def test_count_params_counts_every_weight() -> None:
    model = Sequential([Dense(4, 6), minidl.BatchNormalization(), Dense(6, 3)], seed=0)
    # weights and biases, then the batch norm's scale, offset, moving mean and moving variance
    assert model.count_params() == (4 * 6 + 6) + 4 * 6 + (6 * 3 + 3)
    with pytest.raises(ConfigError, match="count_params needs a built model"):
        Sequential([Dense(3)]).count_params()


def test_train_on_batch_is_fits_step() -> None:
    x, y = batch()
    stepped, fitted = classifier(), classifier()
    figures = stepped.train_on_batch(x, y, return_dict=True)
    history = fitted.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    for a, b in zip(stepped.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert figures["loss"] == pytest.approx(history.history["loss"][0], abs=1e-12)
    assert figures["accuracy"] == pytest.approx(history.history["accuracy"][0], abs=1e-12)
    # the same optimizer state and dropout draws: a second step still agrees
    stepped.train_on_batch(x, y)
    fitted.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    for a, b in zip(stepped.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert stepped.history.epochs == [] and all(not layer.training for layer in stepped.layers)


def test_weighted_train_and_test_on_batch_are_fits_and_evaluates() -> None:
    # Keras's train_on_batch(x, y, sample_weight=, class_weight=): the step of a weighted fit
    x, y = batch()
    w = np.linspace(0.0, 2.0, len(x))
    stepped, fitted = classifier(), classifier()
    loss = stepped.train_on_batch(x, y, sample_weight=w, return_dict=True)["loss"]
    history = fitted.fit(x, y, sample_weight=w, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    for a, b in zip(stepped.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert loss == pytest.approx(history.history["loss"][0], abs=1e-12)
    assert stepped.trainer.plan().value_and_gradient == stepped.loss.value_and_gradient  # unweighted again
    table = {0: 0.5, 2: 3.0}
    by_class, by_sample = classifier(), classifier()
    by_class.train_on_batch(x, y, class_weight=table)
    by_sample.train_on_batch(x, y, sample_weight=[table.get(int(c), 1.0) for c in np.argmax(y, 1)])
    assert all(np.array_equal(a, b) for a, b in zip(by_class.get_weights(), by_sample.get_weights()))
    tested = stepped.test_on_batch(x, y, sample_weight=w, return_dict=True)
    assert tested == stepped.evaluate(x, y, sample_weight=w, return_dict=True)
    with pytest.raises(DataError, match="one weight per sample"):
        stepped.train_on_batch(x, y, sample_weight=w[:3])


def test_train_on_batch_uses_the_trainers_step(monkeypatch: pytest.MonkeyPatch) -> None:
    model = classifier()
    calls = []
    step = model.trainer.train_step
    monkeypatch.setattr(model.trainer, "train_step", lambda x, y: calls.append(len(x)) or step(x, y))
    model.train_on_batch(*batch())
    assert calls == [10]


def test_test_and_predict_on_batch_match_evaluate_and_predict() -> None:
    x, y = batch()
    model = classifier()
    before = model.get_weights()
    loss, accuracy = model.test_on_batch(x, y)
    probabilities = model.predict(x)
    hand_loss = -np.mean(np.sum(y * np.log(probabilities), axis=1))
    assert loss == pytest.approx(hand_loss, rel=1e-12)
    assert accuracy == np.mean(np.argmax(probabilities, 1) == np.argmax(y, 1))
    assert model.test_on_batch(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)
    np.testing.assert_array_equal(model.predict_on_batch(x), probabilities)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_fit_shows_progress_by_default_and_is_silent_with_0(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = batch()
    model = classifier()
    model.fit(x, y, epochs=3, batch_size=5)
    lines = capsys.readouterr().out.splitlines()
    # not a terminal here, so one plain line per epoch (no bar, no carriage return)
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert "\r" not in "".join(lines)
    model.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_predict_and_evaluate_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = batch()
    model = classifier()
    model.predict(x)
    model.evaluate(x, y)
    assert capsys.readouterr().out == ""  # silent by default
    model.predict(x, verbose=1)
    figures = model.evaluate(x, y, verbose="auto", return_dict=True)
    predicted, evaluated = capsys.readouterr().out.splitlines()
    assert predicted.startswith("predict: 10 samples - ")
    assert evaluated.startswith("evaluate: 10 samples - ") and f"loss: {figures['loss']:.4f}" in evaluated
    with pytest.raises(ConfigError, match="verbose must be 0, 1, 2 or 'auto'; received verbose=3"):
        model.predict(x, verbose=3)


def test_to_categorical_against_a_loop() -> None:
    labels = np.random.default_rng(3).integers(0, 5, size=(7, 2))
    hand = np.zeros((7, 2, 6))
    for i in range(7):
        for j in range(2):
            hand[i, j, labels[i, j]] = 1.0
    np.testing.assert_array_equal(to_categorical(labels, num_classes=6), hand)
    np.testing.assert_array_equal(to_categorical(labels[:, :1]), hand[:, 0, : labels[:, 0].max() + 1])
    assert to_categorical([1.0, 0.0], dtype="float32").dtype == np.float32
    with pytest.raises(DataError, match="received the label 5, but num_classes=3 allows labels 0 to 2"):
        to_categorical([0, 5], num_classes=3)
    with pytest.raises(DataError, match="labels >= 0"):
        to_categorical([0, -1])
    with pytest.raises(DataError, match="whole-number"):
        to_categorical([0.5])
    with pytest.raises(ConfigError, match="num_classes must be a positive integer"):
        to_categorical([0], num_classes=0)
