"""Training that never silently corrupts: the non-finite guard, interrupts, and bad inputs.

Each failure is compared with an independent reference run that simply stopped one step
earlier: "the weights stay those of the last good step" means bit-identical to that run.
"""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
from test_io_support import X, Y, make_model, weights_equal

import minidl
from minidl import DataError, DivergenceError, ShapeError
from minidl.guard import DivergenceWarning, gradient_sum, refuse_step
from minidl.layers import Layer
from minidl.losses import MSE
from minidl.parameter import Parameter

FIT = {"batch_size": 8, "shuffle": False}  # 24 samples: 3 batches per epoch


class FailingLoss(MSE):
    """MSE that misbehaves on its ``at``-th call: a NaN gradient, a Ctrl-C or an exception."""

    def __init__(self, at: int, how: str) -> None:
        super().__init__()
        self.at, self.how, self.calls = at, how, 0

    def value_and_gradient(self, y_true, y_pred):
        self.calls += 1
        value, grad = super().value_and_gradient(y_true, y_pred)
        if self.calls == self.at:
            if self.how == "nan":
                grad = grad.copy()
                grad[0, 0] = np.nan
            elif self.how == "inf-loss":
                value = float("inf")
            elif self.how == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise RuntimeError("boom")
        return value, grad


def model_with(loss: MSE) -> minidl.Sequential:
    model = make_model()
    model.compile(loss=loss, optimizer=minidl.SGD(learning_rate=0.05, momentum=0.9))
    return model


def reference_after(steps: int) -> minidl.Sequential:
    """The same model after exactly ``steps`` good steps (unshuffled, so batches are known)."""
    model = make_model()
    epochs, rest = divmod(steps, 3)
    if epochs:
        model.fit(X, Y, epochs=epochs, **FIT)
    if rest:
        model.fit(X[: 8 * rest], Y[: 8 * rest], epochs=1, **FIT)
        model.history.epochs.pop()  # the partial epoch is not a completed one
        model.history.history["loss"].pop()
        if not model.history.epochs:
            model.history.history.clear()
    return model


def assert_state_of(model: minidl.Sequential, steps: int) -> None:
    ref = reference_after(steps)
    assert weights_equal(model.get_weights(), ref.get_weights())
    assert model.optimizer.iterations == ref.optimizer.iterations == steps
    velocity = model.trainer.optimizer_state()["0/velocity"]
    assert np.array_equal(velocity, ref.trainer.optimizer_state()["0/velocity"])
    assert model.history.epochs == ref.history.epochs and model.history.history == ref.history.history
    assert not any(layer.training for layer in model.layers)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ------------------------------------------------------------------------------ non-finite guard
def test_nan_gradient_raises_with_position_and_keeps_last_good_step() -> None:
    model = model_with(FailingLoss(8, "nan"))  # step 8 = epoch 2, batch 1
    with pytest.raises(
        DivergenceError, match=r"epoch 2, batch 1 .*gradient of layer 'dense_0' is not finite"
    ) as info:
        model.fit(X, Y, epochs=5, **FIT)
    assert (info.value.epoch, info.value.batch, info.value.layer) == (2, 1, "dense_0")
    assert isinstance(info.value, ArithmeticError)
    assert_state_of(model, 7)


def test_infinite_loss_alone_is_refused() -> None:
    model = model_with(FailingLoss(2, "inf-loss"))
    with pytest.raises(
        DivergenceError, match=r"epoch 0, batch 1 .*the loss is inf and the gradient is finite"
    ):
        model.fit(X, Y, epochs=2, **FIT)
    assert_state_of(model, 1)


def test_stop_policy_ends_training_with_a_warning() -> None:
    model = model_with(FailingLoss(5, "nan"))
    with pytest.warns(DivergenceWarning, match="epoch 1, batch 1"):
        history = model.fit(X, Y, epochs=5, on_nonfinite="stop", **FIT)
    assert history is model.history and history.epochs == [0]
    assert_state_of(model, 4)


def test_ignore_policy_applies_the_update() -> None:
    model = model_with(FailingLoss(2, "nan"))
    model.fit(X, Y, epochs=1, on_nonfinite="ignore", **FIT)
    assert np.isnan(model.get_weights()[0]).any()


def test_bad_policy_changes_nothing() -> None:
    model = make_model()
    before = model.get_weights()
    with pytest.raises(minidl.ConfigError, match="on_nonfinite must be one of 'raise', 'stop', 'ignore'"):
        model.fit(X, Y, on_nonfinite="warn")
    assert weights_equal(model.get_weights(), before) and model.optimizer.iterations == 0


class Spoiler(Layer):
    """Identity layer with one parameter whose gradient turns NaN at a given call."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0
        self.p = Parameter(np.zeros(2), name="spoiled")

    def forward(self, x):
        return x

    def backward(self, grad_output):
        self.calls += 1
        self.p.grad[...] = np.nan if self.calls == self.at else 0.0
        return grad_output

    def parameters(self):
        return [self.p]


def test_names_the_first_layer_with_a_bad_gradient() -> None:
    model = minidl.Sequential([minidl.Dense(3, 2), Spoiler(at=2), minidl.Dense(2, 1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(DivergenceError, match="layer 'spoiler_0'") as info:
        model.fit(X, Y, epochs=1, **FIT)
    assert info.value.layer == "spoiler_0" and model.optimizer.iterations == 1


def test_slow_check_tells_overflowing_sums_from_real_infinities() -> None:
    # the fast check's sum of [1e308, 1e308] is inf; the slow path must let the step through
    model = minidl.Sequential([minidl.Dense(1, 1, bias=False), minidl.Dense(1, 1, bias=False)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    flat = model.trainer.plan().params[0].grad
    flat[:] = [1e308, 1e308]  # finite, but their sum overflows
    with np.errstate(over="ignore"):
        assert not math.isfinite(gradient_sum(flat)())
    refuse_step(model.trainer.guard, 1.0)
    flat[1] = np.inf
    with pytest.raises(DivergenceError, match="layer 'dense_1'"):
        refuse_step(model.trainer.guard, 1.0)


def test_fit_refuses_weights_left_non_finite_before_it() -> None:
    # an earlier fit with on_nonfinite="ignore" left NaN weights: the next guarded fit says so,
    # trains nothing, and does not blame an update it never made
    model = model_with(FailingLoss(1, "nan"))
    model.fit(X, Y, epochs=1, on_nonfinite="ignore", **FIT)
    model.layers[0].W.value[0, 0] = np.nan
    before = model.optimizer.iterations, len(model.history.epochs)
    with pytest.raises(DivergenceError, match="before training starts") as info:
        model.fit(X, Y, epochs=1, **FIT)
    assert info.value.epoch is None and info.value.layer == model.layers[0].name
    assert (model.optimizer.iterations, len(model.history.epochs)) == before


# sizes on both sides of the threshold where gradient_sum switches to a BLAS matrix-vector product
@pytest.mark.parametrize("size", [10, 3 * 2**14 + 5, 4 * 2**14, 9 * 2**14 + 123])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_sum_sees_every_nan_and_infinity(size: int, dtype: str) -> None:
    flat = np.random.default_rng(size).uniform(-1, 1, size).astype(dtype)
    total = gradient_sum(flat)
    assert total() == pytest.approx(math.fsum(flat.astype(float)), rel=1e-3, abs=1e-2)
    for where in {0, size // 2, max(0, size - 2**14 - 1), size - 1}:  # first, middle, last row, tail
        for bad in (np.nan, np.inf, -np.inf):
            keep = flat[where]
            flat[where] = bad
            assert not math.isfinite(total()), (where, bad)
            flat[where] = keep


# ------------------------------------------------------------------------- interrupts, exceptions
def test_ctrl_c_mid_step_leaves_a_consistent_state() -> None:
    model = model_with(FailingLoss(5, "sigint"))  # Ctrl-C arrives during step 5's forward pass
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=3, **FIT)
    assert_state_of(model, 4)


def test_exception_mid_step_leaves_a_consistent_state() -> None:
    model = model_with(FailingLoss(4, "error"))
    with pytest.raises(RuntimeError, match="boom"):
        model.fit(X, Y, epochs=3, **FIT)
    assert_state_of(model, 3)


def test_ctrl_c_after_the_last_step_is_not_lost() -> None:
    class LateInterrupt(minidl.Callback):
        def on_epoch_end(self, epoch, logs=None):
            os.kill(os.getpid(), signal.SIGINT)

    model = make_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=1, callbacks=[LateInterrupt()], **FIT)
    assert_state_of(model, 3)


# ------------------------------------------------------------------------------------ bad inputs
GOOD_Y = Y
BAD_INPUTS = {
    "nan-x": (
        np.where(X > 1.5, np.nan, X),
        GOOD_Y,
        DataError,
        r"X contains NaN or infinity \(first at index",
    ),
    "inf-y": (X, np.where(Y > 1, np.inf, Y), DataError, "y contains NaN or infinity"),
    "lengths": (X, Y[:-1], DataError, "same number of samples; received 24 and 23"),
    "empty": (np.zeros((0, 3)), np.zeros((0, 1)), DataError, r"X is empty \(shape \(0, 3\)\)"),
    "1-d-x": (X[:, 0], Y, ShapeError, r"X must be 2-D.*x.reshape\(-1, 1\)"),
    "3-d-x": (X.reshape(24, 3, 1), Y, ShapeError, r"received 3-D data of shape \(24, 3, 1\)"),
    "strings": (X.astype(str), Y, DataError, "must hold real numbers .*received dtype <U"),
    "complex": (X + 1j, Y, DataError, "complex numbers are not supported"),
    "object-strings": (np.array([["a", "b", "c"]] * 24, dtype=object), Y, DataError, "received dtype object"),
    "ragged": ([[1.0, 2.0, 3.0], [1.0, 2.0]], [[1.0], [2.0]], DataError, "ragged lists are not supported"),
    "0-d-y": (X, 5.0, ShapeError, r"y must hold one target per sample.*received a single number \(5.0\)"),
    "masked-y": (
        X,
        np.ma.masked_array(Y, mask=Y > 1),
        DataError,
        rf"y is a numpy masked array \({int((Y > 1).sum())} of 24 entries masked\).*y.filled\(0.0\)",
    ),
    "width": (
        X[:, :2],
        Y,
        ShapeError,
        r"X has 2 features, but the first layer, dense_0 \(Dense 3 -> 4, Tanh\), expects 3",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_fit_input_changes_nothing(case: str) -> None:
    x, y, error, message = BAD_INPUTS[case]
    model = make_model()
    model.fit(X, Y, epochs=1, **FIT)
    before, x_copy = (
        model.get_weights(),
        np.array(x, dtype=object, copy=True) if isinstance(x, list) else x.copy(),
    )
    with pytest.raises(error, match=message):
        model.fit(x, y, epochs=2, **FIT)
    assert weights_equal(model.get_weights(), before)
    assert model.history.epochs == [0] and model.optimizer.iterations == 3
    if isinstance(x, np.ndarray):
        assert np.array_equal(x, x_copy, equal_nan=x.dtype.kind == "f")


def test_wrong_width_at_predict() -> None:
    model = make_model()
    with pytest.raises(ShapeError, match=r"X has 4 features, but the first layer, dense_0 .* expects 3"):
        model.predict(np.ones((2, 4)))


def test_predict_before_fit_uses_the_initial_weights() -> None:
    # The documented choice (as Keras, unlike scikit-learn's NotFittedError): a built model
    # predicts with its seeded initial weights; fit is not required.
    model = make_model(compiled=False)
    w0, b0, w1, b1 = model.get_weights()
    expected = np.tanh(X @ w0 + b0) @ w1 + b1
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12, atol=0)
    assert weights_equal(model.get_weights(), [w0, b0, w1, b1])
    with pytest.raises(minidl.ConfigError, match="the model has no layers"):
        minidl.Sequential().predict(X)


def _views() -> dict[str, np.ndarray]:
    wide = np.repeat(X, 2, axis=0)
    read_only = X.copy()
    read_only.setflags(write=False)
    return {"strided": wide[::2], "fortran": np.asfortranarray(X), "read-only": read_only}


@pytest.mark.parametrize("kind", ["strided", "fortran", "read-only"])
def test_read_only_and_non_contiguous_inputs_work_unmodified(kind: str) -> None:
    x = _views()[kind]
    assert np.array_equal(x, X)
    y = Y.copy()
    y.setflags(write=False)
    model, ref = make_model(), make_model()
    model.fit(x, y, epochs=2, batch_size=8)
    ref.fit(X.copy(), Y.copy(), epochs=2, batch_size=8)
    assert weights_equal(model.get_weights(), ref.get_weights())
    assert np.array_equal(model.predict(x), ref.predict(X)) and model.evaluate(x, y) == ref.evaluate(X, Y)
    assert np.array_equal(x, X) and np.array_equal(y, Y)


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.bool_, np.float32, np.uint16])
def test_int_bool_and_float32_inputs_are_cast(dtype: type) -> None:
    x = (X * 3).astype(dtype)
    model, ref = make_model(), make_model()
    model.fit(x, Y, epochs=2, batch_size=8)
    ref.fit(x.astype(np.float64), Y, epochs=2, batch_size=8)  # the cast done independently
    assert weights_equal(model.get_weights(), ref.get_weights())
    assert model.predict(x).dtype == np.float64


def test_the_first_step_is_not_lost() -> None:
    # Regression: packing the parameters into one buffer after the first backward pass used to
    # zero that step's gradients, so a fresh model's first update silently did nothing.
    model = minidl.Sequential([minidl.Dense(3, 1)], seed=0)
    model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.1))
    (w, b), x, y = model.get_weights(), X[:8], Y[:8]
    residual = x @ w + b - y  # MSE mean: dL/dpred = 2 * residual / N
    expected_w = w - 0.1 * x.T @ (2 * residual / len(x))
    expected_b = b - 0.1 * (2 * residual / len(x)).sum(axis=0)
    model.fit(x, y, epochs=1, batch_size=8)
    np.testing.assert_allclose(model.get_weights()[0], expected_w, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], expected_b, rtol=1e-12)


def test_masked_inputs_are_refused_by_fit_and_predict() -> None:
    # np.asarray would drop the mask and train on whatever the masked entries hold
    x = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    x.mask[3, 1] = True
    model = make_model()
    before = model.get_weights()
    for call in (lambda: model.fit(x, Y, epochs=1, **FIT), lambda: model.predict(x)):
        with pytest.raises(
            DataError, match=r"X is a numpy masked array \(1 of 72 entries masked\).*x.filled\(0.0\)"
        ):
            call()
    assert weights_equal(model.get_weights(), before) and model.optimizer.iterations == 0
    assert model.history.epochs == [] and x.mask.sum() == 1


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_np_matrix_inputs_train_as_plain_arrays() -> None:
    # np.matrix redefines * and keeps 2-D under reductions; it is read as a plain array view
    model, ref = make_model(), make_model()
    model.fit(np.matrix(X), np.matrix(Y), epochs=2, batch_size=8)
    ref.fit(X, Y, epochs=2, batch_size=8)
    assert weights_equal(model.get_weights(), ref.get_weights())
    prediction = model.predict(np.matrix(X))
    assert type(prediction) is np.ndarray and np.array_equal(prediction, ref.predict(X))
    assert model.evaluate(np.matrix(X), np.matrix(Y)) == ref.evaluate(X, Y)


@pytest.mark.parametrize("what", ["x", "y"])
def test_a_value_that_overflows_float32_is_named_as_such(what: str) -> None:
    model = minidl.Sequential([minidl.Dense(3, 1)], seed=0, dtype="float32")
    model.compile(loss="mse", optimizer="sgd")
    x, y = X.copy(), Y.copy()
    (x if what == "x" else y)[5, 0] = 1e39  # finite in float64, above float32's 3.4028e38
    before = model.get_weights()
    name = "X" if what == "x" else "y"
    with pytest.raises(
        DataError, match=rf"{name} holds 1e\+39 at index \(5, 0\), which overflows the model's dtype float32"
    ):
        model.fit(x, y, epochs=1)
    assert weights_equal(model.get_weights(), before) and model.optimizer.iterations == 0
    with pytest.raises(DataError, match=r"X contains NaN or infinity"):  # a real infinity keeps its message
        model.predict(np.where(X > 1.5, np.inf, X))
