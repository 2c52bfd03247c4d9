"""The guard after the update, the position it reports, and a clean stop's callbacks.

An update can make the weights non-finite from finite gradients (a learning rate far too
large): the guard must report the step that did it, not the next one. The positions are
checked against the batch counts of the unshuffled runs (3 batches of 8 per epoch).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from test_io_support import X, Y, make_model
from test_robustness import FIT, FailingLoss, assert_state_of, model_with

import minidl
from minidl import DivergenceError
from minidl.guard import DivergenceWarning, check_update, gradient_sum

HUGE = 1e307  # with inputs near 1e3, one SGD step from finite gradients overflows float64


class HugeStepAt(minidl.Callback):
    """Sets the learning rate to HUGE before batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.optimizer.learning_rate = HUGE


class Recorder(minidl.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def big_input_model() -> tuple[minidl.Sequential, np.ndarray, np.ndarray]:
    model = minidl.Sequential([minidl.Dense(1, 1), minidl.Dense(1, 1)], seed=0)
    model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=1e-9))
    x = np.full((24, 1), 1e3)
    return model, x, np.zeros((24, 1))


def test_the_premise_finite_gradients_and_an_overflowing_step() -> None:
    # Independently of minidl: a finite gradient of this size times HUGE is not finite.
    model, x, y = big_input_model()
    (w0, b0, w1, b1) = model.get_weights()
    pred = (x @ w0 + b0) @ w1 + b1
    grad_w0 = ((2 * (pred - y) / len(x)) @ w1.T).T @ x  # d mean((pred - y)**2) / d w0
    assert np.isfinite(grad_w0).all() and abs(grad_w0).max() > 10
    with np.errstate(over="ignore"):
        assert not np.isfinite(w0 - HUGE * grad_w0).all()


def test_an_overflowing_update_is_reported_at_its_own_step() -> None:
    model, x, y = big_input_model()
    with pytest.raises(DivergenceError, match=r"epoch 1, batch 2 .*update made the weights of layer 'dense_0' not finite"
                       ) as info, np.errstate(over="ignore", invalid="ignore"):  # fmt: skip
        model.fit(x, y, epochs=4, callbacks=[HugeStepAt(1, 2)], **FIT)
    assert (info.value.epoch, info.value.batch, info.value.layer) == (1, 2, "dense_0")
    assert "That update was applied" in str(info.value) and "last good step" not in str(info.value)
    # what the error says is the state: every step up to the bad one applied, weights not finite
    assert model.optimizer.iterations == 3 + 3
    assert not np.isfinite(model.get_weights()[0]).all()
    assert model.history.epochs == [0]


def test_stop_policy_on_an_overflowing_update_warns_and_runs_on_train_end() -> None:
    model, x, y = big_input_model()
    recorder = Recorder()
    with pytest.warns(DivergenceWarning, match=r"epoch 0, batch 1 .*That update was applied"), \
            np.errstate(over="ignore", invalid="ignore"):  # fmt: skip
        history = model.fit(
            x, y, epochs=3, on_nonfinite="stop", callbacks=[HugeStepAt(0, 1), recorder], **FIT
        )
    assert history.epochs == [] and model.optimizer.iterations == 2
    assert recorder.events == ["train_begin", "train_end"]


def test_ignore_policy_does_not_check_the_update() -> None:
    model, x, y = big_input_model()
    with np.errstate(over="ignore", invalid="ignore"):
        model.fit(x, y, epochs=2, on_nonfinite="ignore", callbacks=[HugeStepAt(0, 0)], **FIT)
    assert model.optimizer.iterations == 6 and not np.isfinite(model.get_weights()[0]).all()


def test_finite_weights_whose_sum_overflows_pass_the_update_check() -> None:
    model = minidl.Sequential([minidl.Dense(1, 1, bias=False), minidl.Dense(1, 1, bias=False)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    flat = model.trainer.plan().params[0].value
    flat[:] = [1e308, 1e308]
    with np.errstate(over="ignore"):
        check_update(model.trainer.guard, gradient_sum(flat))
        flat[1] = np.inf
        with pytest.raises(DivergenceError, match="weights of layer 'dense_1' not finite"):
            check_update(model.trainer.guard, gradient_sum(flat))


# ------------------------------------------------------------------------- position of the step
@pytest.mark.parametrize(
    ("initial_epoch", "at", "expected"), [(3, 5, (4, 1)), (0, 5, (1, 1)), (2, 1, (2, 0))]
)
def test_position_with_initial_epoch(initial_epoch: int, at: int, expected: tuple[int, int]) -> None:
    # step ``at`` (counted from 1) of a run with 3 batches per epoch starting at initial_epoch
    model = model_with(FailingLoss(at, "nan"))
    with pytest.raises(DivergenceError) as info:
        model.fit(X, Y, epochs=6, initial_epoch=initial_epoch, **FIT)
    assert (info.value.epoch, info.value.batch) == expected
    assert f"epoch {expected[0]}, batch {expected[1]} " in str(info.value)
    assert model.optimizer.iterations == at - 1


def test_position_when_a_second_fit_continues_the_history() -> None:
    model = make_model()
    model.fit(X, Y, epochs=2, **FIT)
    model.compile(loss=FailingLoss(4, "nan"), optimizer=model.optimizer)
    with pytest.raises(DivergenceError) as info:
        model.fit(X, Y, epochs=3, **FIT)
    assert (info.value.epoch, info.value.batch) == (3, 0)


# -------------------------------------------------------------------------- a clean stop's end
def test_stop_policy_runs_on_train_end(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    recorder, logger = Recorder(), minidl.callbacks.CSVLogger(log)
    model = model_with(FailingLoss(5, "nan"))
    with pytest.warns(DivergenceWarning, match="epoch 1, batch 1"):
        model.fit(X, Y, epochs=4, on_nonfinite="stop", callbacks=[recorder, logger], **FIT)
    assert recorder.events == ["train_begin", "train_end"]
    assert logger._file is None  # closed by its on_train_end
    rows = list(csv.reader(log.open()))
    assert rows[0][0] == "epoch" and [r[0] for r in rows[1:]] == ["0"]
    assert math.isfinite(float(rows[1][1]))
    assert_state_of(model, 4)


def test_stop_policy_lets_early_stopping_restore_the_best_weights() -> None:
    # EarlyStopping restores in on_train_end: after the stop the weights are those of its best epoch
    stopper = minidl.callbacks.EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    model = model_with(FailingLoss(8, "nan"))
    with pytest.warns(DivergenceWarning):
        model.fit(X, Y, epochs=5, on_nonfinite="stop", callbacks=[stopper], **FIT)
    losses = model.history.history["loss"]
    best = losses.index(min(losses))
    reference = make_model()
    reference.fit(X, Y, epochs=best + 1, **FIT)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), reference.get_weights()))


class InfiniteWeightAfter(minidl.Callback):
    """After batch ``batch`` of epoch 0, sets the first layer's weight to +inf: an overflowed update."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.batch = batch

    def on_batch_end(self, batch, logs=None):
        if batch == self.batch and not self.model.history.epochs:
            self.model.layers[0].W.value[...] = np.inf


def _two_units(activation: str | None) -> tuple[minidl.Sequential, np.ndarray, np.ndarray]:
    model = minidl.Sequential([minidl.Dense(1, 1, activation=activation), minidl.Dense(1, 1)], seed=0)
    model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=1e-3))
    return model, np.full((24, 1), 1e3), np.zeros((24, 1))


def test_an_overflow_a_saturated_unit_hides_is_caught_at_the_end_of_its_epoch() -> None:
    # sigmoid(+inf * 1e3) = 1 with slope 0: every later loss and gradient stays finite, so only
    # the end-of-epoch look at the weights can see it; it names the epoch's last batch
    model, x, y = _two_units("sigmoid")
    with pytest.raises(DivergenceError, match=r"epoch 0, batch 2 .*found at the end of the epoch") as info, \
            np.errstate(invalid="ignore"):  # fmt: skip
        model.fit(x, y, epochs=3, callbacks=[InfiniteWeightAfter(0)], **FIT)
    assert (info.value.epoch, info.value.batch, info.value.layer) == (0, 2, "dense_0")
    assert model.optimizer.iterations == 3 and model.history.epochs == []


def test_an_overflow_the_next_step_sees_is_blamed_on_the_update_before_it() -> None:
    # a linear unit passes the infinity on: the next step's loss is not finite, and the error
    # names the update that made it (batch 0), not the step that saw it (batch 1)
    model, x, y = _two_units(None)
    with pytest.raises(DivergenceError, match=r"epoch 0, batch 0 .*That update was applied") as info, \
            np.errstate(invalid="ignore"):  # fmt: skip
        model.fit(x, y, epochs=3, callbacks=[InfiniteWeightAfter(0)], **FIT)
    assert (info.value.epoch, info.value.batch, info.value.layer) == (0, 0, "dense_0")
    assert model.optimizer.iterations == 1  # the step that saw it was refused
