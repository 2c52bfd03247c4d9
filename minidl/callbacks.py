"""Callbacks: objects told of training events, and ``History``, which records the figures.

A callback overrides any of the ``on_*`` hooks. ``self.model`` is the model being trained; a
callback stops training cleanly by setting ``self.model.stop_training = True``: after the current
epoch, or, set in a batch hook, right after that batch (as Keras 3; the partial epoch still ends
with ``on_epoch_end`` and is recorded in the History). ``logs`` is a
dict of the figures known at that point (``loss`` at the end of a batch; at the end of an epoch
``loss``, each metric, and ``val_loss`` and ``val_<metric>`` with validation data).
``self.params`` describes the run: ``epochs`` (the index the run stops before), ``initial_epoch``,
``steps`` (batches per epoch), ``samples``, ``verbose`` and ``metrics`` (every key the epoch logs will hold).
"""

from __future__ import annotations

import csv
import inspect
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from . import metrics
from ._checks import choice, number, positive_int
from .errors import ComponentTypeError, ConfigError, NotCompiledError
from .optimizers import Optimizer
from .plot import history_figure

if TYPE_CHECKING:
    from .model import Sequential

__all__ = [
    "Callback",
    "History",
    "CallbackList",
    "EarlyStopping",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
    "monitor_mode",
    "require_reported",
]

Logs = dict[str, Any]
HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_begin",
    "on_batch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
)
# Keras's names of the batch hooks, called in place of the short ones when a callback defines them
_KERAS_BATCH_HOOKS = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}


class Callback:
    """Base class of callbacks; every hook does nothing by default.

    ``log_keys`` names the figures a callback adds to the epoch logs in ``on_epoch_end`` (the
    learning-rate callbacks add ``learning_rate``); such callbacks see an epoch's end before the
    others, so History, CSVLogger and the progress line record their figures, as in Keras.
    ``restores_state`` marks a callback whose ``on_train_begin`` restores the model's training
    state (``BackupAndRestore``): it runs before the others' ``on_train_begin``, so they see the
    restored History wherever it stands in the list.
    """

    # Set by set_model before any hook runs, so hooks use it as a Sequential; it is None only on
    # a callback never handed to fit.
    model: Sequential = None  # type: ignore[assignment]
    params: dict[str, Any] = {}  # noqa: RUF012 - replaced (never mutated) by set_params
    log_keys: ClassVar[tuple[str, ...]] = ()
    restores_state: ClassVar[bool] = False

    def set_model(self, model: Sequential) -> None:
        """Called by ``fit`` before any hook, with the model being trained.

        Args:
            model: the model ``fit`` trains.
        """
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Called by ``fit`` before any hook, with a description of the run.

        Args:
            params: ``epochs`` (the last epoch's number, counting earlier runs), ``initial_epoch``,
                ``steps`` (batches per epoch), ``verbose`` and ``metrics`` (the names logged).
        """
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once when ``fit`` starts, before the first epoch.

        Args:
            logs: the figures of the event (the epoch's figures at its end); may be None.
        """

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once when ``fit`` ends, after the last epoch (or an early stop).

        Args:
            logs: the figures of the event (the epoch's figures at its end); may be None.
        """

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of each epoch.

        Args:
            epoch: the epoch's index, from 0 (counting the epochs of earlier runs when resuming).
            logs: the figures of the event (the epoch's figures at its end); may be None.
        """

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of each epoch, with its figures (``loss``, metrics, ``val_...``).

        Args:
            epoch: the epoch's index, from 0 (counting the epochs of earlier runs when resuming).
            logs: the figures of the event (the epoch's figures at its end); may be None.
        """

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each training step (only for callbacks that override a batch hook).

        Args:
            batch: the batch's index within its epoch, from 0.
            logs: the figures of the event (the epoch's figures at its end); may be None.
        """

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each training step, with its ``loss`` (only for callbacks that override a batch hook).

        Args:
            batch: the batch's index within its epoch, from 0.
            logs: the figures of the event (the epoch's figures at its end); may be None.
        """

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Keras's name for ``on_batch_begin``; a callback may define either (this one wins).

        Args:
            batch: the batch's index within its epoch, from 0.
            logs: the figures of the event; may be None.
        """

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Keras's name for ``on_batch_end``; a callback may define either (this one wins).

        Args:
            batch: the batch's index within its epoch, from 0.
            logs: the figures of the event (the step's ``loss``); may be None.
        """


class History(Callback):
    """Records each epoch's figures: ``history["loss"][i]`` is epoch ``epochs[i]``'s loss.

    An epoch's ``loss`` is the unweighted mean of that epoch's batch losses, each batch loss
    computed with the model's weights before that batch's update (as Keras and PyTorch loops
    report it). ``fit`` continues the same History when called again.

    Every list lines up with ``epochs``, whatever each ``fit`` reported: a figure missing
    at an epoch (``val_loss`` of a fit without validation data, before or after one with it)
    is recorded there as NaN, so ``history[key][i]`` always belongs to ``epochs[i]``.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []

    @property
    def epoch(self) -> list[int]:
        """Keras's name for ``epochs`` (the same list)."""
        return self.epochs

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Records ``epoch`` and its figures; NaN for each known figure that ``logs`` lacks.

        Args:
            epoch: the epoch's index.
            logs: the epoch's figures by name.
        """
        logs = logs or {}
        history = self.history
        if logs.keys() == history.keys():  # the same figures as every epoch before: no gap to fill
            for key, value in logs.items():
                history[key].append(value)
        else:
            self._record_with_gaps(logs)
        self.epochs.append(epoch)

    def _record_with_gaps(self, logs: Logs) -> None:
        done = len(self.epochs)
        for key, value in logs.items():
            values = self.history.setdefault(key, [])
            if len(values) < done:  # a figure first reported now: NaN for the epochs before
                values.extend([math.nan] * (done - len(values)))
            values.append(value)
        for key, values in self.history.items():  # figures this epoch did not report
            if key not in logs:
                values.extend([math.nan] * (done + 1 - len(values)))

    def plot(self, path: str | Path | None = None) -> Any:
        """A matplotlib Figure of the loss and metric curves (training and validation), saved to
        ``path`` if given. Needs matplotlib (``pip install 'minidl[plot]'``).

        Args:
            path: an image file to save the figure to (None: not saved).
        """
        return history_figure(self, path)

    def __repr__(self) -> str:
        figures = ", ".join(f"{k}: {len(v)} values" for k, v in self.history.items())
        return f"History({figures or 'empty'})"


class CallbackList:
    """Dispatches each event to every callback; batch events only to those that want them.

    Args:
        callbacks: the callbacks, in the order their hooks are called.
        model: the model being trained, handed to each callback's ``set_model``.
    """

    def __init__(self, callbacks: Iterable[Callback], model: Sequential) -> None:
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
        # Batch hooks run per step, the hot path: call only the callbacks that override them.
        self.batch_callbacks = [c for c in self.callbacks if _overrides_batch_hooks(c)]

    def set_params(self, params: dict[str, Any]) -> None:
        """Gives every callback the description of the run (see the module docstring).

        Args:
            params: the description of the run (see ``Callback.set_params``).
        """
        keys = list(params.get("metrics", []))
        keys += [key for c in self.callbacks for key in c.log_keys if key not in keys]
        params = {**params, "metrics": keys}
        for callback in self.callbacks:
            callback.set_params(params)

    def __getattr__(self, hook: str) -> Callable[..., None]:
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        # only the callbacks that override this hook: History, always there, overrides one
        ordered = self.callbacks
        if hook == "on_epoch_end":  # those adding figures first (History comes first otherwise)
            ordered = [c for c in ordered if c.log_keys] + [c for c in ordered if not c.log_keys]
        elif hook == "on_train_begin":  # a restore first: the others start from the restored state
            ordered = [c for c in ordered if c.restores_state] + [c for c in ordered if not c.restores_state]
        targets = [method for method in (_target(c, hook) for c in ordered) if method is not None]

        def dispatch(*args: Any) -> None:
            for method in targets:
                method(*args)

        # kept on the instance, so later calls skip this method: building the dispatcher anew
        # for each event cost 2 us per epoch, 15% of a lecture-2 epoch (one step per epoch)
        setattr(self, hook, dispatch)
        return dispatch


def _overrides(callback: Callback, hook: str) -> bool:
    # a LambdaCallback sets its hooks on the instance; other callbacks override them in the class
    return getattr(type(callback), hook) is not getattr(Callback, hook) or hook in vars(callback)


def _target(callback: Callback, hook: str) -> Callable[..., Any] | None:
    """The method that handles ``hook`` for ``callback``, or None if it keeps the do-nothing one."""
    keras_name = _KERAS_BATCH_HOOKS.get(hook)
    if keras_name is not None and _overrides(callback, keras_name):
        hook = keras_name
    elif not _overrides(callback, hook):
        return None
    method: Callable[..., Any] = getattr(callback, hook)
    return method


def _overrides_batch_hooks(callback: Callback) -> bool:
    return any(_overrides(callback, hook) for hook in HOOKS[4:])


# --------------------------------------------------------------------------- monitoring helpers
def _verbosity(verbose: Any) -> int:
    if isinstance(verbose, bool) or verbose not in (0, 1):
        raise ConfigError(
            f"verbose must be 0 (silent) or 1 (print what the callback does); received verbose={verbose!r}."
        )
    return int(verbose)


def _optimizer_of(model: Sequential) -> Optimizer:
    if model.optimizer is None:
        raise NotCompiledError(
            "The learning-rate callbacks need a compiled model: call model.compile(...) first."
        )
    return model.optimizer


def _log_learning_rate(logs: Logs | None, optimizer: Optimizer) -> None:
    # The rate the epoch trained with, recorded before any change; setdefault because a
    # scheduler and ReduceLROnPlateau may both be used, and the first one has that rate.
    if logs is not None:
        logs.setdefault("learning_rate", float(optimizer.learning_rate))


def monitor_mode(monitor: str, mode: str, model: Sequential, owner: str) -> str:
    """``"min"`` or ``"max"``: which way ``monitor`` improves for a callback given ``mode``.

    ``"auto"`` follows Keras 3: ``"min"`` for ``loss`` and ``val_loss``, the declared direction
    (``Metric.higher_is_better``) for a metric and its ``val_`` form (the model's compiled
    metric of that name, else the registered one).

    Args:
        monitor: the figure watched, e.g. ``"val_accuracy"``.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        model: the model trained, whose compiled metrics are looked up.
        owner: the callback's name, for the error message.

    Returns:
        ``"min"`` or ``"max"``.

    Raises:
        ConfigError: under ``"auto"``, for a figure whose direction cannot be told (a metric
            that does not declare it, or a figure such as ``learning_rate``): a guess could
            keep the worst epoch.
    """
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    metric: Any = model.metrics.get(name)
    if metric is None and name in metrics.registry.names():
        metric = metrics.registry.get_class(name)
    direction = None if metric is None else metric.higher_is_better
    if direction is None:
        what = (
            f"the metric {name!r} does not declare higher_is_better"
            if metric is not None
            else f"{monitor!r} is neither a loss nor a compiled metric"
        )
        raise ConfigError(
            f"{owner} cannot tell whether {monitor!r} should go up or down ({what}); pass "
            "mode='max' to keep the highest values or mode='min' to keep the lowest."
        )
    return "max" if direction else "min"


def require_reported(callback: Callback, figure: str, verb: str) -> None:
    """Raises ConfigError, before any update, when this fit will not report ``figure``.

    Args:
        callback: the callback asking (its ``params["metrics"]`` lists what the fit reports).
        figure: the name of an epoch figure, such as ``"val_loss"``.
        verb: how the callback uses it, for the message (``"monitors"``).

    Raises:
        ConfigError: the figure is not among the fit's epoch figures.
    """
    available = callback.params.get("metrics")
    if available is not None and figure not in available:
        hint = (
            " (validation figures need validation_data or validation_split)"
            if figure.startswith("val_")
            else ""
        )
        raise ConfigError(
            f"{type(callback).__name__} {verb} {figure!r}, which this fit does not report{hint}; "
            f"it reports: {', '.join(available)}."
        )


class _Monitor(Callback):
    """Shared by the callbacks that watch one figure for improvement (``min_delta``, ``mode``)."""

    def __init__(self, monitor: str, mode: str, min_delta: float, patience: int) -> None:
        if not isinstance(monitor, str):
            raise ConfigError(
                f"monitor must be the name of a figure such as 'val_loss'; received {monitor!r}."
            )
        self.monitor = monitor
        self.mode = choice("mode", mode, ("auto", "min", "max"))
        self.min_delta = abs(number("min_delta", min_delta))
        self.patience = positive_int("patience", patience, allow_zero=True)
        self.wait = 0
        self.best = math.nan
        self._lower = True

    def on_train_begin(self, logs: Logs | None = None) -> None:
        require_reported(self, self.monitor, "monitors")
        self.wait = 0
        # resolved once a fit: the compiled metrics may change between fits
        self._lower = monitor_mode(self.monitor, self.mode, self.model, type(self).__name__) == "min"
        self.best = math.inf if self._lower else -math.inf

    def _improved(self, current: float, reference: float) -> bool:
        if self._lower:
            return current < reference - self.min_delta
        return current > reference + self.min_delta


class EarlyStopping(_Monitor):
    """Stops training after ``patience`` epochs in a row in which ``monitor`` did not improve.

    An epoch improves when ``current < best - min_delta`` (mode ``"min"``) or
    ``current > best + min_delta`` (mode ``"max"``); ``"auto"`` picks ``"max"`` for accuracy and
    ``"min"`` otherwise. Training stops at the end of the ``patience``-th such epoch (0 and 1
    both stop at the first, as in Keras). The rules are Keras 3's, including these two:

    - ``baseline``: an epoch that improves on the best but not on ``baseline`` (by ``min_delta``)
      becomes the best without restarting the count, so unless some epoch beats the baseline,
      training stops at the first epoch without improvement after ``patience`` epochs;
    - ``start_from_epoch``: epochs with an index below it are not watched at all (a warm-up).

    With ``restore_best_weights=True`` the weights of the best epoch are put back when training
    ends, whether it stopped early or ran out of epochs (as Keras 3 does; tf.keras 2 restored them
    only when it stopped early). ``verbose=1`` prints when it stops and when it restores.
    ``stopped_epoch`` and ``best_epoch`` tell what happened.

    Args:
        monitor: the figure to watch, e.g. ``"val_loss"`` or ``"accuracy"``.
        patience: how many epochs in a row without improvement stop training.
        min_delta: the least change that counts as an improvement.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        restore_best_weights: at the end, set the weights of the best epoch.
        baseline: a value the figure must beat (see above); None for none.
        start_from_epoch: epochs to wait before watching.
        verbose: 0 (silent) or 1 (a line when training stops, and when the best weights are restored).

    Examples:
        >>> stop = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta, patience)
        if not isinstance(restore_best_weights, bool):
            raise ConfigError(
                f"restore_best_weights must be True or False; received {restore_best_weights!r}."
            )
        self.restore_best_weights = restore_best_weights
        self.baseline = None if baseline is None else number("baseline", baseline)
        self.start_from_epoch = positive_int("start_from_epoch", start_from_epoch, allow_zero=True)
        self.verbose = _verbosity(verbose)
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        super().on_train_begin(logs)
        self.best_weights, self.best_epoch, self.stopped_epoch = None, None, None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience:  # wait >= 1 here, so patience 0 stops as 1 does
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch is not None and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose and self.best_epoch is not None:  # set with best_weights
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    ``new_lr = max(lr * factor, min_lr)``; after a reduction, ``cooldown`` epochs pass before
    counting again. When the optimizer's learning rate is a schedule, the schedule is scaled
    instead (``minidl.Optimizer.scale_learning_rate`` by ``new_lr / lr``): its later
    values keep their shape at the lower level, and ``min_lr`` bounds the rate at the reduction
    only. Improvement is judged as in ``EarlyStopping``. Every ``fit`` starts
    afresh (best, count and cooldown). The epoch logs, and so the History, get
    ``learning_rate``: the rate the epoch trained with.

    Args:
        monitor: the figure to watch, e.g. ``"val_loss"``.
        factor: the factor the rate is multiplied by, in (0, 1).
        patience: epochs without improvement before a reduction.
        min_delta: the least change that counts as an improvement.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this.
    """

    log_keys = ("learning_rate",)

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: str = "auto",
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__(monitor, mode, min_delta, patience)
        self.factor = number("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.cooldown = positive_int("cooldown", cooldown, allow_zero=True)
        self.min_lr = number("min_lr", min_lr, low=0.0)
        self._cooling = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        super().on_train_begin(logs)
        self._cooling = 0  # a cooldown left from an earlier fit must not delay this one

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = _optimizer_of(self.model)
        _log_learning_rate(logs, optimizer)
        current = (logs or {}).get(self.monitor)
        if current is not None:
            if self._cooling:
                self._cooling -= 1
                self.wait = 0
            if self._improved(current, self.best):
                self.best, self.wait = current, 0
            elif not self._cooling:
                self.wait += 1
                lr = optimizer.learning_rate
                if self.wait >= self.patience and lr > self.min_lr:
                    new = max(lr * self.factor, self.min_lr) or lr
                    if optimizer.schedule is None:
                        optimizer.learning_rate = new
                    else:  # the schedule keeps its shape, scaled so that its next rate is ``new``
                        optimizer.scale_learning_rate(new / lr)
                    self._cooling, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (or ``schedule(epoch)``).

    ``epoch`` counts from 0; ``lr`` is the current rate. The epoch logs, and so the History, get
    ``learning_rate``: the rate the epoch trained with.

    Args:
        schedule: a function of ``(epoch, lr)`` or of ``(epoch)`` returning the epoch's learning rate.

    Examples:
        >>> halve_every_10 = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch and epoch % 10 == 0 else lr)
    """

    log_keys = ("learning_rate",)

    def __init__(self, schedule: Callable[..., float]) -> None:
        if not callable(schedule):
            raise ComponentTypeError(
                f"schedule must be a function of (epoch, lr) or (epoch); received {schedule!r}."
            )
        self.schedule = schedule
        try:
            self._two_args = len(inspect.signature(schedule).parameters) >= 2
        except (TypeError, ValueError):  # builtins without a signature: assume (epoch, lr)
            self._two_args = True

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Refuses an optimizer whose learning rate is a schedule (as Keras does): one of the two.

        Args:
            logs: unused.

        Raises:
            ConfigError: the optimizer's learning rate is a schedule, which this callback would
                replace with numbers.
        """
        schedule = _optimizer_of(self.model).schedule
        if schedule is not None:
            raise ConfigError(
                f"LearningRateScheduler sets the learning rate each epoch, but the optimizer's is a "
                f"schedule ({schedule!r}) that it would silently replace. Use one or the other: drop "
                "the callback, or give the optimizer a number."
            )

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = _optimizer_of(self.model)
        lr = self.schedule(epoch, optimizer.learning_rate) if self._two_args else self.schedule(epoch)
        optimizer.learning_rate = number(
            "the learning rate returned by the schedule", lr, low=0.0, low_open=True
        )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        _log_learning_rate(logs, _optimizer_of(self.model))


class CSVLogger(Callback):
    """Writes one CSV row per epoch (``epoch`` and every figure of the logs) to ``filename``.

    The header comes from the first epoch; each row is flushed as it is written, so the file is
    readable while training runs. ``append=True`` continues an existing file (without a new header).

    Args:
        filename: the CSV file to write.
        separator: the column separator.
        append: continue an existing file instead of replacing it.
    """

    def __init__(self, filename: str | Path, *, separator: str = ",", append: bool = False) -> None:
        self.filename = Path(filename)
        self.separator = separator
        self.append = append
        self._file: Any = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        exists = self.append and self.filename.exists() and self.filename.stat().st_size > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._keys = None
        if exists:  # continue under the existing header
            with open(self.filename, newline="", encoding="utf-8") as old:
                self._keys = next(csv.reader(old, delimiter=self.separator))[1:]
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(repr(float(logs[k])) if k in logs else "" for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class LambdaCallback(Callback):
    """A callback made of plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Each keyword is one hook with that hook's arguments: ``(epoch, logs)``, ``(batch, logs)`` or
    ``(logs)``. Batch functions are called only if given, so they cost nothing otherwise.

    Args:
        **hooks: hook names (``on_epoch_end=...``) and the functions to call for them.
    """

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        for name, function in hooks.items():
            if name not in HOOKS:
                raise ConfigError(f"Unknown hook {name!r} for LambdaCallback; hooks: {', '.join(HOOKS)}.")
            if not callable(function):
                raise ComponentTypeError(f"{name} must be a function; received {function!r}.")
            setattr(self, name, function)  # an instance attribute shadows the do-nothing method
