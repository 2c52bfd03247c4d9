"""Sequential: building, training semantics, weights, configuration, and errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import Dense, Sequential, Sigmoid
from minidl.errors import (
    ComponentTypeError,
    ConfigError,
    DataError,
    MinidlError,
    NotCompiledError,
    ShapeError,
    UnknownComponentError,
)

X = np.array([[-2.0, -1.0], [25.0, 6.0], [17.0, 4.0], [-15.0, -6.0], [3.0, 1.0]])
Y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])


def small_model(seed: int = 0, **compile_args) -> Sequential:
    model = Sequential([Dense(2, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")], seed=seed)
    model.compile(**({"loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.1}} | compile_args))
    return model


# --------------------------------------------------------------------------- building
def test_activation_instances_and_names_stand_as_layers() -> None:
    a = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), "sigmoid"], seed=3)
    b = Sequential([Dense(2, 2, activation="sigmoid"), Dense(2, 1, activation="sigmoid")], seed=3)
    x = np.array([[0.5, -1.0]])
    np.testing.assert_allclose(a.predict(x), b.predict(x), rtol=0, atol=0)
    assert [layer.name for layer in a.layers] == ["dense_0", "sigmoid_0", "dense_1", "sigmoid_1"]


def test_chain_that_does_not_fit_names_both_layers() -> None:
    model = Sequential([Dense(2, 3)])
    with pytest.raises(ShapeError, match=r"dense_1 \(Dense 4 -> 1\).*dense_0 \(Dense 2 -> 3\).*3 features"):
        model.add(Dense(4, 1))
    assert len(model.layers) == 1
    with pytest.raises(ShapeError, match="cannot follow"):
        Sequential([Dense(2, 3), Sigmoid(), Dense(4, 1)])


def test_same_layer_twice_is_refused() -> None:
    layer = Dense(2, 2)
    with pytest.raises(ConfigError, match="already in the model"):
        Sequential([layer, layer])


@pytest.mark.parametrize(
    "bad,error",
    [({"seed": -1}, ConfigError), ({"seed": 1.5}, ConfigError), ({"dtype": "int32"}, ConfigError)],
)
def test_bad_model_arguments(bad: dict, error: type) -> None:
    with pytest.raises(error):
        Sequential([Dense(2, 1)], **bad)


def test_float32_model_keeps_float32() -> None:
    model = Sequential([Dense(2, 3, activation="relu"), Dense(3, 1)], seed=0, dtype="float32")
    model.compile("mse", "sgd")
    model.fit(X, Y, epochs=2)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(X).dtype == np.float32


def test_summary_counts_parameters() -> None:
    lines: list[str] = []
    small_model().summary(print_fn=lines.append)
    text = lines[0]
    assert "dense_0 (Dense)" in text and "(None, 3)" in text
    assert "Total params: 13" in text  # (2*3 + 3) + (3*1 + 1)


# --------------------------------------------------------------------------- training semantics
def test_same_seed_gives_bit_identical_training() -> None:
    runs = []
    for _ in range(2):
        model = small_model(seed=11)
        history = model.fit(X, Y, epochs=5, batch_size=2, shuffle=True)
        runs.append((model.get_weights(), history.history["loss"]))
    for a, b in zip(runs[0][0], runs[1][0]):
        assert np.array_equal(a, b)
    assert runs[0][1] == runs[1][1]
    assert not np.array_equal(small_model(seed=12).get_weights()[0], small_model(seed=11).get_weights()[0])


def test_fit_continues_where_it_stopped() -> None:
    once = small_model(seed=4)
    once.fit(X, Y, epochs=6, batch_size=2)
    twice = small_model(seed=4)
    twice.fit(X, Y, epochs=2, batch_size=2)
    twice.fit(X, Y, epochs=4, batch_size=2)
    for a, b in zip(once.get_weights(), twice.get_weights()):
        assert np.array_equal(a, b)
    assert once.history.history["loss"] == twice.history.history["loss"]
    assert twice.history.epochs == list(range(6))


def test_last_partial_batch_is_trained_and_loss_is_mean_of_batches() -> None:
    """5 samples in batches of 2: three updates per epoch, the last on one sample."""
    model = small_model(seed=1)
    start = model.get_weights()
    model.fit(X, Y, epochs=1, batch_size=2, shuffle=False)
    # independent replay: three SGD steps on the slices [0:2], [2:4], [4:5]
    replay = small_model(seed=1)
    replay.set_weights(start)
    losses = [
        replay.train_step(X[s].astype(float), Y[s].reshape(-1, 1))
        for s in (slice(0, 2), slice(2, 4), slice(4, 5))
    ]
    for a, b in zip(model.get_weights(), replay.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.history.history["loss"] == [pytest.approx(sum(losses) / 3, rel=1e-15)]
    assert model.optimizer.iterations == 3


def test_evaluate_matches_loss_of_predictions() -> None:
    model = small_model(seed=2)
    pred = model.predict(X)
    expected = np.mean((pred.ravel() - Y) ** 2)
    assert model.evaluate(X, Y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(model.predict(X, batch_size=2), pred, rtol=0, atol=1e-15)


def test_training_reduces_the_loss() -> None:
    model = small_model(seed=5)
    before = model.evaluate(X, Y)
    model.fit(X / 10, Y, epochs=200, batch_size=5)
    assert model.evaluate(X / 10, Y) < before


def test_get_set_weights_round_trip_and_order() -> None:
    model = small_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(2, 3), (3,), (3, 1), (1,)]
    new = [np.full(s, float(i)) for i, s in enumerate(shapes)]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    got = model.get_weights()
    got[0][...] = 99.0  # a copy: changing it changes nothing in the model
    assert model.get_weights()[0][0, 0] == 0.0


def test_set_weights_rejects_bad_lists_without_changing_anything() -> None:
    model = small_model()
    before = model.get_weights()
    bad = [np.zeros((2, 3)), np.zeros(3), np.zeros((1, 3)), np.zeros(1)]
    with pytest.raises(ShapeError, match=r"weight of dense_1.*\(3, 1\).*\(1, 3\)"):
        model.set_weights(bad)
    with pytest.raises(ShapeError, match="list of 4 arrays"):
        model.set_weights(before[:3])
    with pytest.raises(ConfigError, match="NaN"):
        model.set_weights([before[0], before[1], np.full((3, 1), np.nan), before[3]])
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_config_round_trip_rebuilds_the_same_model() -> None:
    model = Sequential(
        [Dense(2, 4, activation="relu", weight_init={"type": "normal", "std": 0.5}), Dense(4, 1, bias=False)],
        seed=9,
    )
    clone = Sequential.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)  # same seed, same initial weights


def test_unknown_component_suggests_the_closest() -> None:
    with pytest.raises(
        UnknownComponentError,
        match=r"Unknown activation 'rleu'\. Did you mean 'relu'\? Available: .*relu.*sigmoid.*tanh",
    ):
        Dense(2, 2, activation="rleu")
    with pytest.raises(UnknownComponentError, match="Unknown loss 'mse2'"):
        small_model().compile(loss="mse2")


def test_bad_hyper_parameters_say_what_was_received() -> None:
    for value in (0, -0.1, float("nan"), float("inf")):
        with pytest.raises(
            ConfigError, match=r"learning_rate must be a finite number > 0; received learning_rate="
        ):
            minidl.SGD(learning_rate=value)
    with pytest.raises(ConfigError, match="out_features must be a positive integer; received out_features=0"):
        Dense(2, 0)


# --------------------------------------------------------------------------- bad input
BAD_FIT_INPUTS = {
    "nan in x": (np.where(X == 25.0, np.nan, X), Y, DataError, "NaN or infinity"),
    "inf in y": (X, np.where(Y == 0.0, np.inf, Y), DataError, "NaN or infinity"),
    "length mismatch": (X, Y[:4], DataError, "same number of samples; received 5 and 4"),
    "empty": (np.zeros((0, 2)), np.zeros(0), DataError, "empty"),
    "1-D x": (X[:, 0], Y, ShapeError, "must be 2-D.*reshape"),
    "3-D x": (X.reshape(5, 2, 1), Y, ShapeError, "must be 2-D"),
    "strings": (np.array([["a", "b"]] * 5), Y, DataError, "real numbers"),
    "complex": (X.astype(complex), Y, DataError, "complex"),
    "ragged": ([[1.0, 2.0], [3.0]], [1.0, 0.0], DataError, "ragged"),
    "wrong width": (
        np.ones((5, 3)),
        Y,
        ShapeError,
        r"X has 3 features, but the first layer, dense_0 \(Dense 2 -> 3, Tanh\), expects 2",
    ),
    "wrong y width": (
        X,
        np.ones((5, 2)),
        ShapeError,
        r"y has 2 columns, but the last layer, dense_1 .* outputs 1",
    ),
}


@pytest.mark.parametrize("case", BAD_FIT_INPUTS, ids=list(BAD_FIT_INPUTS))
def test_bad_fit_input_is_refused_before_anything_changes(case: str) -> None:
    x, y, error, message = BAD_FIT_INPUTS[case]
    model = small_model()
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(x, y, epochs=1)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert model.history.history == {} and model.optimizer.iterations == 0


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"epochs": 0}, "epochs must be a positive integer; received epochs=0"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer; received batch_size=0"),
        ({"batch_size": "4"}, "batch_size must be a positive integer"),
        ({"shuffle": "yes"}, "shuffle must be True or False"),
    ],
)
def test_bad_fit_arguments(kwargs: dict, message: str) -> None:
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ConfigError, match=message):
        model.fit(X, Y, **kwargs)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_fit_before_compile() -> None:
    model = Sequential([Dense(2, 1)])
    with pytest.raises(NotCompiledError, match=r"compile\(loss="):
        model.fit(X, Y)
    with pytest.raises(NotCompiledError):
        model.evaluate(X, Y)


def test_errors_are_also_builtin_exceptions() -> None:
    assert issubclass(ShapeError, ValueError) and issubclass(DataError, ValueError)
    assert issubclass(UnknownComponentError, LookupError) and issubclass(ComponentTypeError, TypeError)
    assert all(issubclass(e, MinidlError) for e in (ShapeError, DataError, ConfigError, NotCompiledError))


def test_inputs_are_not_modified_and_may_be_read_only() -> None:
    x = X.copy()
    x.setflags(write=False)
    y = Y.astype(int)
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=2)
    np.testing.assert_array_equal(x, X)
    assert model.predict(x[::2]).shape == (3, 1)  # non-contiguous view
