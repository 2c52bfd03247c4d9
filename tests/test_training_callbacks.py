"""EarlyStopping's baseline, start_from_epoch and verbose, ReduceLROnPlateau across fits, and the
learning rate in the epoch logs; every expected sequence is worked out by hand in the comments."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from test_callbacks import data, drive, model

from minidl import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
)
from minidl.errors import ConfigError


@pytest.mark.parametrize(
    "values,kwargs,ran,best_epoch",
    [
        # baseline 0.5, patience 2: epochs 0 and 1 improve on the best but not on 0.5, so the
        # count runs on (1, 2); epoch 2 does not improve and the count (3) has reached 2: stop
        ([0.9, 0.8, 0.85, 0.7, 0.4, 0.45, 0.46, 0.47], {"baseline": 0.5}, [0, 1, 2], 1),
        # without the baseline the same values stop at epoch 6 (counts 0 0 1 0 0 1 2)
        ([0.9, 0.8, 0.85, 0.7, 0.4, 0.45, 0.46, 0.47], {}, [0, 1, 2, 3, 4, 5, 6], 4),
        # epoch 1 beats the baseline: the count restarts there (counts 1 0 1 2), stop at epoch 3
        ([0.9, 0.4, 0.45, 0.46, 0.47], {"baseline": 0.5}, [0, 1, 2, 3], 1),
        # min_delta 0.05 applies to the baseline too: 0.46 is not below 0.5 - 0.05 (counts 1 2 3)
        ([0.9, 0.46, 0.47, 0.48], {"baseline": 0.5, "min_delta": 0.05}, [0, 1, 2], 1),
    ],
)
def test_early_stopping_baseline_by_hand(values, kwargs, ran, best_epoch) -> None:
    stop = EarlyStopping(patience=2, restore_best_weights=True, **kwargs)
    m = model()
    assert drive(stop, m, values) == ran
    assert stop.best_epoch == best_epoch and stop.stopped_epoch == ran[-1]
    assert m.layers[0].W.value[0, 0] == best_epoch  # drive marks each epoch's weights


def test_early_stopping_start_from_epoch_ignores_the_warm_up() -> None:
    values = [0.1, 0.2, 0.3, 0.5, 0.6, 0.4]
    # epochs 0-2 unwatched; 3 is the first best (0.5), 4 does not improve: patience 1 stops there
    late = EarlyStopping(patience=1, start_from_epoch=3)
    assert drive(late, model(), values) == [0, 1, 2, 3, 4]
    assert late.best == 0.5 and late.best_epoch == 3
    # watched from epoch 0, epoch 1 (0.2 after 0.1) already stops it
    assert drive(EarlyStopping(patience=1), model(), values) == [0, 1]


def test_early_stopping_verbose_says_when_it_stops_and_restores(capsys) -> None:
    drive(EarlyStopping(patience=1, verbose=1, restore_best_weights=True), model(), [1.0, 0.5, 0.7])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping",
        "Restoring model weights from the end of the best epoch: 2.",
    ]
    drive(EarlyStopping(patience=1, restore_best_weights=True), model(), [1.0, 0.5, 0.7])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"baseline": "low"}, "baseline"),
        ({"start_from_epoch": -1}, "start_from_epoch"),
        ({"verbose": 2}, "verbose must be 0 .* or 1 .*received verbose=2"),
    ],
)
def test_early_stopping_bad_arguments(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        EarlyStopping(**kwargs)


def test_reduce_lr_on_plateau_starts_each_fit_without_the_last_cooldown() -> None:
    m = model(lr=1.0)
    reduce = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=3, min_delta=0.0)
    drive(reduce, m, [1.0, 1.0])  # epoch 1 does not improve: 1 -> 0.5, three cooldown epochs left
    assert m.optimizer.learning_rate == 0.5
    # a new fit: epoch 0 sets the best, epoch 1 does not improve and reduces at once (0.5 -> 0.25);
    # a cooldown kept from the first fit would have blocked it
    drive(reduce, m, [1.0, 1.0])
    assert m.optimizer.learning_rate == 0.25


class Params(Callback):
    def on_train_begin(self, logs=None):
        self.seen = self.params["metrics"]


def test_learning_rate_callbacks_put_the_epochs_rate_in_the_history(tmp_path) -> None:
    x, y = data()
    m = model()
    params = Params()
    m.fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        validation_split=0.25,
        callbacks=[
            LearningRateScheduler(lambda epoch: 0.1 * 0.5**epoch),
            CSVLogger(tmp_path / "log.csv"),
            params,
        ],
    )
    assert m.history.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert params.seen == ["loss", "val_loss", "learning_rate"]
    rows = list(csv.reader((tmp_path / "log.csv").open()))
    assert rows[0] == ["epoch", "loss", "val_loss", "learning_rate"] and float(rows[3][3]) == 0.025
    # nothing improves on epoch 0 by 1e9: epochs 1 and 2 each halve the rate after recording it
    plateau = model(lr=0.08)
    plateau.fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        callbacks=[
            ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=1e9),
            LearningRateScheduler(lambda epoch, lr: lr),
        ],
    )
    assert plateau.history.history["learning_rate"] == [0.08, 0.08, 0.04]
    assert plateau.optimizer.learning_rate == 0.02


def test_no_learning_rate_key_without_those_callbacks() -> None:
    x, y = data()
    m = model()
    m.fit(x, y, epochs=2, callbacks=[EarlyStopping("loss", patience=5)])
    assert list(m.history.history) == ["loss"]
    assert np.isfinite(m.history.history["loss"]).all()


# --------------------------------------------------------------------------- Keras names
def test_keras_batch_hook_names_are_called_and_may_stop_training() -> None:
    x, y = data(24)  # batches of 8: 3 steps per epoch
    seen: list[tuple[str, int]] = []

    class KerasStyle(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

    def end(batch, logs):
        seen.append(("end", batch))
        if batch == 1 and len(m.history.epochs) == 1:
            m.stop_training = True

    m = model()
    history = m.fit(
        x, y, epochs=5, batch_size=8, callbacks=[KerasStyle(), LambdaCallback(on_train_batch_end=end)]
    )
    # epoch 0: 3 batches; epoch 1 stops right after its batch 1
    assert [b for kind, b in seen if kind == "begin"] == [0, 1, 2, 0, 1]
    assert [b for kind, b in seen if kind == "end"] == [0, 1, 2, 0, 1]
    assert history.epoch == history.epochs == [0, 1] and m.optimizer.iterations == 5


def test_a_callback_defining_both_names_gets_the_keras_one_only() -> None:
    calls: list[str] = []

    class Both(Callback):
        def on_batch_end(self, batch, logs=None):
            calls.append("short")

        def on_train_batch_end(self, batch, logs=None):
            calls.append("keras")

    x, y = data(16)
    model().fit(x, y, epochs=1, batch_size=8, callbacks=[Both()])
    assert calls == ["keras", "keras"]
