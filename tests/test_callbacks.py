"""The built-in callbacks, and progress output."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

import minidl
from minidl import (
    CSVLogger,
    Dense,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    Sequential,
    metrics,
)
from minidl.errors import ComponentTypeError, ConfigError


def data(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(n, 2))
    return x, x @ np.array([1.0, -2.0]) + 0.5


def model(seed: int = 0, lr: float = 0.05) -> Sequential:
    m = Sequential([Dense(2, 4, activation="tanh"), Dense(4, 1)], seed=seed)
    m.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": lr})
    return m


def drive(callback, model: Sequential, values: list[float], monitor: str = "val_loss") -> list[int]:
    """Feeds ``values`` as the monitored figure of successive epochs; returns the epochs run."""
    callback.set_model(model)
    callback.set_params({"metrics": ["loss", monitor], "epochs": len(values), "initial_epoch": 0})
    callback.on_train_begin({})
    ran = []
    for epoch, value in enumerate(values):
        model.layers[0].W.value[0, 0] = float(epoch)  # marks the weights of each epoch
        ran.append(epoch)
        callback.on_epoch_end(epoch, {"loss": 0.0, monitor: value})
        if model.stop_training:
            break
    callback.on_train_end({})
    return ran


# --------------------------------------------------------------------------- early stopping
def test_early_stopping_waits_patience_epochs_and_restores_the_best() -> None:
    m = model()
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    ran = drive(stop, m, [1.0, 0.5, 0.6, 0.55, 0.4, 0.3])
    assert ran == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert m.layers[0].W.value[0, 0] == 1.0  # the weights of epoch 1


def test_early_stopping_min_delta_and_max_mode() -> None:
    m = model()
    stop = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert drive(stop, m, [0.5, 0.54, 0.6], monitor="val_accuracy") == [0, 1]  # +0.04 is no improvement
    assert stop.best == 0.5
    m.stop_training = False
    assert drive(EarlyStopping(monitor="val_accuracy", patience=1), m, [0.5, 0.6, 0.7], "val_accuracy") == [
        0,
        1,
        2,
    ]


def test_early_stopping_in_fit_restores_the_weights_of_the_best_epoch() -> None:
    x, y = data()
    m = model()
    # nothing improves by more than 1e9 after the first epoch, so it is the best one
    history = m.fit(
        x,
        y,
        epochs=20,
        batch_size=6,
        callbacks=[EarlyStopping("loss", patience=3, min_delta=1e9, restore_best_weights=True)],
    )
    assert history.epochs == [0, 1, 2, 3]
    twin = model()
    twin.fit(x, y, epochs=1, batch_size=6)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), twin.get_weights()))


def test_monitoring_a_figure_fit_does_not_report_fails_before_training() -> None:
    x, y = data()
    m = model()
    with pytest.raises(ConfigError, match=r"monitors 'val_loss'.*validation_data.*reports: loss"):
        m.fit(x, y, epochs=3, callbacks=[EarlyStopping()])
    assert m.optimizer.iterations == 0


# --------------------------------------------------------------------------- learning rates
def test_reduce_lr_on_plateau_with_cooldown_and_floor() -> None:
    m = model(lr=1.0)
    reduce = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2, min_delta=0.0)
    drive(reduce, m, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    # reductions at epochs 2 (1 -> 0.5), 5 (-> 0.25) and 8 (-> 0.2, the floor)
    assert m.optimizer.learning_rate == 0.2


def test_learning_rate_scheduler_equals_setting_the_rate_by_hand() -> None:
    x, y = data()
    scheduled = model()
    scheduled.fit(
        x,
        y,
        epochs=4,
        batch_size=8,
        shuffle=False,
        callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)],
    )
    manual = model()
    for epoch in range(4):
        manual.optimizer.learning_rate = 0.1 * 0.5**epoch
        manual.fit(x, y, epochs=1, batch_size=8, shuffle=False)
    assert all(np.array_equal(a, b) for a, b in zip(scheduled.get_weights(), manual.get_weights()))
    assert scheduled.optimizer.learning_rate == 0.1 * 0.5**3
    one_arg = model()
    one_arg.fit(x, y, epochs=2, callbacks=[LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert one_arg.optimizer.learning_rate == 0.02
    with pytest.raises(ConfigError, match="learning rate returned by the schedule"):
        model().fit(x, y, epochs=2, callbacks=[LearningRateScheduler(lambda epoch: -1.0)])


def test_learning_rate_scheduler_refuses_a_scheduled_optimizer_before_training() -> None:
    # it would replace the schedule with numbers, silently (Keras refuses to set a scheduled rate)
    x, y = data()
    m = model()
    m.optimizer.learning_rate = minidl.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    before = m.get_weights()
    with pytest.raises(ConfigError, match="schedule"):
        m.fit(x, y, epochs=2, callbacks=[LearningRateScheduler(lambda epoch, lr: lr)])
    assert m.optimizer.schedule is not None and m.optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


# --------------------------------------------------------------------------- csv, lambda
def test_csv_logger_writes_the_history(tmp_path) -> None:
    x, y = data()
    path = tmp_path / "log.csv"
    m = model()
    m.fit(x, y, epochs=3, validation_split=0.25, callbacks=[CSVLogger(path)])
    m.fit(x, y, epochs=2, validation_split=0.25, callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == m.history.epochs == list(range(5))
    assert [float(r[1]) for r in rows[1:]] == m.history.history["loss"]
    assert [float(r[2]) for r in rows[1:]] == m.history.history["val_loss"]


def test_lambda_callback_hooks_and_stopping() -> None:
    x, y = data(24)
    calls: list[tuple] = []

    def end(epoch, logs):
        calls.append(("epoch", epoch, sorted(logs)))
        if epoch == 2:
            m.stop_training = True

    m = model()
    cb = LambdaCallback(
        on_epoch_end=end,
        on_batch_end=lambda batch, logs: calls.append(("batch", batch)),
        on_train_begin=lambda logs: calls.append(("begin",)),
    )
    history = m.fit(x, y, epochs=10, batch_size=8, callbacks=[cb])
    assert history.epochs == [0, 1, 2]
    assert calls[0] == ("begin",) and calls.count(("batch", 2)) == 3 and ("batch", 3) not in calls
    assert ("epoch", 2, ["loss"]) in calls
    with pytest.raises(ConfigError, match="Unknown hook 'on_epoch_ends'"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(ComponentTypeError):
        LambdaCallback(on_epoch_end=3)


def test_stop_training_in_a_batch_hook_stops_right_after_that_batch() -> None:
    # 40 samples in batches of 8: 5 steps per epoch; stopping at batch 1 of epoch 1 leaves 7 steps,
    # the weights of one full epoch then the first 16 samples, and a History of the partial epoch
    x, y = data(40)

    def end(batch, logs):
        if len(m.history.epochs) == 1 and batch == 1:
            m.stop_training = True

    m = model()
    history = m.fit(
        x,
        y,
        epochs=10,
        batch_size=8,
        shuffle=False,
        validation_data=data(8),
        callbacks=[LambdaCallback(on_batch_end=end)],
    )
    assert m.optimizer.iterations == 7 and history.epochs == [0, 1]
    by_hand = model()
    by_hand.fit(x, y, epochs=1, batch_size=8, shuffle=False)
    by_hand.fit(x[:16], y[:16], epochs=1, batch_size=8, shuffle=False)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), by_hand.get_weights()))
    assert history.history["loss"] == by_hand.history.history["loss"]  # mean over the 2 batches run
    assert history.history["val_loss"][-1] == by_hand.evaluate(*data(8))


# --------------------------------------------------------------------------- progress
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # any control character but tab and newline


def test_progress_when_not_a_terminal_is_one_plain_line_per_epoch(capsys) -> None:
    x, y = data()
    model().fit(x, y, epochs=4, batch_size=5, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 4 and not CONTROL.search(out)
    assert re.fullmatch(r"Epoch 4/4 - 4 steps - \S+ - loss: \S+ - val_loss: \S+", lines[-1]), lines[-1]


def test_verbose_2_and_0(capsys) -> None:
    x, y = data()
    model().fit(x, y, epochs=3, verbose=2)
    assert len(capsys.readouterr().out.splitlines()) == 3
    model().fit(x, y, epochs=3, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal(monkeypatch) -> None:
    x, y = data()
    screen = Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    model().fit(x, y, epochs=2, batch_size=5, verbose=1)
    text = screen.getvalue()
    assert "\r" in text and re.search(r"5/5 \[=+\]", text)
    assert [line.split("\x1b[K")[-1] for line in text.split("\n") if line][-1].startswith(
        "Epoch 2/2 - 5 steps"
    )
    plain = Terminal()
    monkeypatch.setattr("sys.stdout", plain)
    model().fit(x, y, epochs=2, verbose=2)
    assert not CONTROL.search(plain.getvalue())


def classifier_fit(verbose_stream) -> Sequential:
    """A 2-epoch fit with accuracy, mse and validation whose progress goes to ``verbose_stream``."""
    from minidl.progress import progress_callback

    x = np.random.default_rng(3).normal(size=(40, 2))
    y = (x[:, 0] > 0).astype(float)
    m = Sequential([Dense(2, 1, activation="sigmoid")], seed=0)
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy", "mse"])
    m.fit(
        x, y, epochs=2, batch_size=8, validation_split=0.25, callbacks=[progress_callback(1, verbose_stream)]
    )
    return m


def expected_figures(m: Sequential, epoch: int) -> str:
    # formatted independently of minidl.progress: four decimals, the History's order
    return " - ".join(f"{key}: {values[epoch]:.4f}" for key, values in m.history.history.items())


def test_progress_bar_shows_the_running_loss_live_and_every_figure_at_the_epoch_end() -> None:
    screen = Terminal()
    m = classifier_fit(screen)
    epochs = screen.getvalue().split("\n")
    assert epochs[-1] == "" and len(epochs) == 3
    for epoch, text in enumerate(epochs[:2]):
        *frames, last = text.split("\r")
        live = [f for f in frames if f]
        assert live and all(
            re.fullmatch(r"\d/4 \[[=>.]+\] - ETA \S+ - loss: \d\.\d{4}\x1b\[K", f) for f in live
        ), live
        assert live[-1].startswith("4/4 [" + "=" * 24 + "]")
        assert last.startswith("\x1b[K" + f"Epoch {epoch + 1}/2 - 4 steps - ")
        assert last.endswith(" - " + expected_figures(m, epoch)), last
        assert "val_accuracy" in last and "mse: " in last


def test_redirected_progress_has_every_figure_and_no_control_characters() -> None:
    log = io.StringIO()  # isatty() is False, as for a file or a CI log
    m = classifier_fit(log)
    text = log.getvalue()
    assert not CONTROL.search(text)
    lines = text.splitlines()
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        assert re.fullmatch(
            rf"Epoch {epoch + 1}/2 - 4 steps - \S+ - " + re.escape(expected_figures(m, epoch)), line
        ), line


@pytest.mark.parametrize(
    ("seconds", "text"), [(4.8e-5, "48us"), (0.0123, "12ms"), (7.4, "7s"), (125.0, "2m05s")]
)
def test_epoch_durations_are_readable_at_every_scale(seconds: float, text: str) -> None:
    # a lecture-1 epoch takes tens of microseconds; "0ms" would say nothing
    from minidl.progress import _seconds

    assert _seconds(seconds) == text


# ------------------------------------------------------------------ mode="auto" never guesses
def classifier(seed: int = 0) -> tuple[Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 2))
    y = (x[:, :1] + 0.3 * rng.normal(size=(60, 1)) > 0).astype(float)
    m = Sequential([Dense(2, 1, activation="sigmoid")], seed=seed)
    m.compile(
        loss="binary_crossentropy", optimizer={"type": "sgd", "learning_rate": 0.5}, metrics=["accuracy"]
    )
    return m, x, y


@pytest.mark.parametrize("make", [
    lambda: EarlyStopping(monitor="val_accuracy", patience=1), lambda: ReduceLROnPlateau(monitor="val_accuracy"),
])  # fmt: skip
def test_every_monitor_reads_accuracy_upwards(make) -> None:
    m, x, y = classifier()
    callback = make()
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[callback])
    assert callback.mode == "auto" and callback.best == m.history.history["val_accuracy"][0]
    assert not callback._improved(callback.best - 0.1, callback.best)  # lower accuracy is worse
    assert callback._improved(callback.best + 0.1, callback.best)


class Undeclared(metrics.Metric):
    """A plugin-style metric that does not say which way is better."""

    def __call__(self, y_true, y_pred):
        return float(np.mean(y_pred))


@pytest.mark.parametrize("monitor", ["val_undeclared", "undeclared", "learning_rate"])
def test_auto_mode_refuses_a_figure_whose_direction_it_cannot_tell(monitor: str) -> None:
    metrics.register("undeclared")(Undeclared)
    try:
        m, x, y = classifier()
        m.compile(loss="binary_crossentropy", metrics=["undeclared"])
        before = m.get_weights()
        callbacks = [ReduceLROnPlateau(monitor="loss"), EarlyStopping(monitor=monitor)]
        with pytest.raises(ConfigError, match=rf"EarlyStopping cannot tell whether '{monitor}' should go up or down"
                                              r".*mode='max'.*mode='min'"):  # fmt: skip
            m.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=callbacks)
        assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
        # told explicitly, it runs
        callbacks = [ReduceLROnPlateau(monitor="loss"), EarlyStopping(monitor, mode="max")]
        m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=callbacks)
    finally:
        metrics.registry.unregister("undeclared")


@pytest.mark.parametrize("name", metrics.registry.names())
def test_every_built_in_metric_declares_its_direction(name: str) -> None:
    cls = metrics.registry.get_class(name)
    if cls.__module__.startswith("minidl."):
        assert isinstance(cls.higher_is_better, bool), f"{name} does not declare higher_is_better"


# ------------------------------------------------------------------ History lines up with its epochs
@pytest.mark.parametrize("validated_first", [False, True])
def test_history_lists_line_up_with_epochs_across_fits(validated_first: bool) -> None:
    x, y = data()
    m = model()
    m.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": 0.05}, metrics=["mae"])
    runs = [{"validation_data": (x[:6], y[:6])}, {}]
    for extra in runs if validated_first else runs[::-1]:
        m.fit(x, y, epochs=3, batch_size=6, verbose=0, **extra)
    history = m.history
    assert history.epoch == [0, 1, 2, 3, 4, 5]
    assert {len(v) for v in history.history.values()} == {6}
    validated = slice(0, 3) if validated_first else slice(3, 6)
    unvalidated = slice(3, 6) if validated_first else slice(0, 3)
    for key in ("val_loss", "val_mae"):
        assert all(np.isnan(history.history[key][unvalidated]))
        assert not any(np.isnan(history.history[key][validated]))
    # the validation figures at their epochs are those of the model at that epoch: the last one
    # of the validated fit is measured with that fit's final weights
    if not validated_first:
        assert history.history["val_loss"][-1] == pytest.approx(
            m.evaluate(x[:6], y[:6], return_dict=True)["loss"], rel=1e-12
        )


def test_history_plot_draws_each_value_at_its_epoch() -> None:
    pytest.importorskip("matplotlib")
    x, y = data()
    m = model()
    m.fit(x, y, epochs=3, batch_size=6, verbose=0)
    m.fit(x, y, epochs=3, batch_size=6, verbose=0, validation_data=(x[:6], y[:6]))
    figure = m.history.plot()
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    validation = lines["validation loss"]
    xs, ys = np.asarray(validation.get_xdata(), float), np.asarray(validation.get_ydata(), float)
    drawn = xs[~np.isnan(ys)]
    assert drawn.tolist() == [3, 4, 5]
    assert ys[~np.isnan(ys)].tolist() == m.history.history["val_loss"][3:]
    assert np.asarray(lines["training loss"].get_xdata()).tolist() == [0, 1, 2, 3, 4, 5]


def test_a_history_with_gaps_survives_a_model_file(tmp_path) -> None:
    x, y = data()
    m = model()
    m.fit(x, y, epochs=2, batch_size=6, verbose=0)
    m.fit(x, y, epochs=2, batch_size=6, verbose=0, validation_data=(x[:6], y[:6]))
    m.save(tmp_path / "m.minidl")
    loaded = minidl.load(tmp_path / "m.minidl")
    assert loaded.history.epochs == [0, 1, 2, 3] and loaded.history.history.keys() == m.history.history.keys()
    for key, values in m.history.history.items():
        np.testing.assert_array_equal(loaded.history.history[key], values)  # NaN where NaN
    loaded.fit(x, y, epochs=1, batch_size=6, verbose=0)  # and goes on lining up
    assert {len(v) for v in loaded.history.history.values()} == {5}
