"""The trainer: one training step, the epoch loop, the epoch figures and the guard's state.

``Sequential.fit`` checks its arguments and data, then hands over to the model's
``Trainer``. Each step runs forward through the layers, asks the loss for its value and
dL/dy_pred, runs backward through the layers in reverse (each fills its parameters' gradients),
checks the step (``minidl.guard``) and lets the optimizer update every parameter.

The trainer knows the model only through its public API (``layers``, ``loss``, ``optimizer``,
``metrics``, ``history``, ``stop_training``, ``dtype``, ``parameters()``), as a Keras trainer
does; the model owns the trainer and tells it when layers or compile settings change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from math import isfinite
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np

from .callbacks import Callback, CallbackList, History
from .data import batch_slices
from .errors import DivergenceError, NotCompiledError
from .guard import GuardState, check_update, check_weights_before_fit, gradient_sum, refuse_step, step_guard
from .layers import Layer
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .parameter import Parameter, pack

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["Trainer", "EVAL_ROWS", "set_training"]

EVAL_ROWS = 4096  # figures between epochs are computed in chunks of this many rows

Arrays = tuple[np.ndarray, np.ndarray]
_T = TypeVar("_T")


class _StepPlan(NamedTuple):
    # What every step needs, looked up once: at lecture sizes each attribute lookup and method
    # resolution is a measurable share of a step.
    optimizer: Optimizer
    value_and_gradient: Callable[
        [np.ndarray, np.ndarray], tuple[float, np.ndarray]
    ]  # the loss's, or weighted
    params: tuple[Parameter, ...]
    forwards: tuple[Callable[[np.ndarray], np.ndarray], ...]
    backwards: tuple[Callable[[np.ndarray], np.ndarray], ...]  # every layer but the first, reversed
    first_backward: Callable[[np.ndarray], None]  # the first layer's: parameter gradients only
    grad_sum: Callable[[], float]  # the sum of every gradient, for the non-finite guard
    value_sum: Callable[[], float]  # the sum of every weight, for the after-update guard


class Trainer:
    """Trains one model. Made by the model; ``model.trainer`` is it.

    Args:
        model: the model it trains (read through its public API only).
        shuffle_rng: the generator that orders the samples of each shuffled epoch.
    """

    def __init__(self, model: Sequential, shuffle_rng: np.random.Generator) -> None:
        self.model = model
        self.shuffle_rng = shuffle_rng
        self.guard = GuardState()
        self._flat: Parameter | None = None
        self._plan: _StepPlan | None = None
        self._metrics: dict[str, Metric] = {}  # the model's, read once per fit (a copy each time)
        self._resume_at: int | None = None  # set by a callback that restored a run (resume_at)
        self._weighting: _Weighting | None = None  # set for the length of a weighted fit

    def reset(self) -> None:
        """Forgets the step plan: the loss or the optimizer changed."""
        self._plan = None

    def reset_layers(self) -> None:
        """Forgets the packing of the parameters and the step plan: a layer was added or removed."""
        self._flat = self._plan = None

    # ------------------------------------------------------------------ what the optimizer sees
    @property
    def packed(self) -> bool:
        """True once the parameters live in one flat buffer (after the first step)."""
        return self._flat is not None

    def _packed(self) -> Parameter:
        # All parameters become views of one flat buffer, so an elementwise optimizer updates
        # everything with one numpy call instead of one per array; redone when layers change.
        if self._flat is None:
            self._flat = pack(self.model.parameters(), self.model.dtype)
        return self._flat

    def update_targets(self) -> tuple[Parameter, ...]:
        """The Parameters the optimizer is stepped with: one flat buffer for an elementwise
        optimizer, else every parameter. Packs the parameters if they are not yet."""
        optimizer = _required(self.model.optimizer, "optimizer")
        flat = self._packed()
        return (flat,) if optimizer.updates_flat else tuple(self.model.parameters())

    def optimizer_state(self) -> dict[str, Any]:
        """The optimizer's state by name (see ``Optimizer.get_state``); empty before any step."""
        optimizer = _required(self.model.optimizer, "optimizer")
        if self._flat is None and optimizer.updates_flat:  # never stepped: packing now would change nothing
            return {"iterations": optimizer.iterations}
        return optimizer.get_state(self.update_targets())

    def optimizer_state_template(self) -> dict[str, Any]:
        """What ``optimizer_state`` holds after a step: fresh slot values by name."""
        return _required(self.model.optimizer, "optimizer").state_template(self.update_targets())

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        """Restores ``optimizer_state``'s output; checked whole before anything changes.

        Args:
            state: the output of ``optimizer_state``.
        """
        _required(self.model.optimizer, "optimizer").set_state(self.update_targets(), state)

    # ------------------------------------------------------------------ one step
    def plan(self) -> _StepPlan:
        """The step plan, made on first use after any change of layers, loss or optimizer."""
        plan = self._plan
        if plan is None:
            model = self.model
            flat = self._packed()  # before the plan: packing repoints every gradient array
            layers = model.layers
            plan = self._plan = _StepPlan(
                _required(model.optimizer, "optimizer"),
                self._step_loss(_required(model.loss, "loss")),
                self.update_targets(),
                tuple(layer.forward for layer in layers),
                tuple(layer.backward for layer in reversed(layers[1:])),
                layers[0].backward_parameters,  # nothing needs the gradient of the data
                gradient_sum(flat.grad),
                gradient_sum(flat.value),
            )
            self.guard.layers = tuple(layers)
        return plan

    def _step_loss(self, loss: Loss) -> Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]:
        # chosen when the plan is made: the unweighted step calls the loss's own method
        weighting = self._weighting
        return loss.value_and_gradient if weighting is None or weighting.train is None else weighting

    @contextmanager
    def weighted(
        self, sample_weight: np.ndarray | None, validation_weight: np.ndarray | None, shuffle: bool
    ) -> Iterator[None]:
        """Weighs the loss of the fit run inside it (``Sequential.fit`` enters it around ``fit``).

        With ``sample_weight`` (validated, one per training sample) each batch's loss weighs its
        samples (``minidl.Loss.weighted_value_and_gradient``); ``validation_weight`` weighs
        ``val_loss`` alike. Without either, nothing changes: the step stays the unweighted one.

        Args:
            sample_weight: the training samples' weights, or None.
            validation_weight: the validation samples' weights, or None.
            shuffle: whether the fit shuffles (the weights' batches follow the same rows).
        """
        if sample_weight is None and validation_weight is None:
            yield
            return
        loss = _required(self.model.loss, "loss")
        rng = self.shuffle_rng if shuffle else None
        self._weighting = _Weighting(loss, sample_weight, validation_weight, rng)
        self._plan = None  # the step's loss becomes the weighted one
        try:
            yield
        finally:
            self._weighting = self._plan = None

    def weighted_step(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        """``train_step`` on one batch whose loss weighs each sample (``train_on_batch``'s weights).

        Without weights it is ``train_step`` itself; with them, the step a weighted ``fit`` takes
        on a batch of these rows.

        Args:
            x: a batch of validated inputs.
            y: the batch's validated targets.
            sample_weight: one validated weight per sample, or None.

        Returns:
            The batch's (weighted) loss, measured before the update.
        """
        if sample_weight is None:
            return self.train_step(x, y)
        with self.weighted(sample_weight, None, shuffle=False):
            if self._weighting is not None:  # always, inside weighted() with weights
                self._weighting.current = sample_weight
            return self.train_step(x, y)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update on the batch ``(x, y)`` (already validated arrays); returns its loss.

        Every gradient is computed from the weights as they were before the step; the update
        comes last. The returned loss is measured before the update.

        Args:
            x: a batch of validated inputs.
            y: the batch's validated targets.
        """
        plan = self._plan or self.plan()
        h = x
        for forward in plan.forwards:
            h = forward(h)
        value, grad = plan.value_and_gradient(y, h)
        for backward in plan.backwards:
            grad = backward(grad)
        plan.first_backward(grad)
        # The guard's fast path, written out here rather than called (one Python call less per
        # step). A pending Ctrl-C and a non-finite loss or gradient stop the step before anything
        # is updated; an earlier update that overflowed a weight shows here as a non-finite loss
        # or gradient, and refuse_step then blames that update.
        guard = self.guard
        if guard.interrupted:
            raise KeyboardInterrupt
        if guard.policy != "ignore" and not (isfinite(value) and isfinite(plan.grad_sum())):
            refuse_step(guard, value)
        plan.optimizer.step(plan.params)
        return value

    # ------------------------------------------------------------------ the epoch loop
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        shuffle: bool,
        callbacks: Sequence[Callback],
        start: int,
        validation: Arrays | None,
        verbose: int,
        on_nonfinite: str,
    ) -> History:
        """Runs ``epochs`` epochs from epoch index ``start`` on validated arrays; returns the History.

        A callback that restores a run in ``on_train_begin`` (``BackupAndRestore``) moves the
        start with ``resume_at``; the index the run stops before stays ``start + epochs``.

        Args:
            x: the validated inputs.
            y: the validated targets.
            epochs: how many epochs to run.
            batch_size: the samples per batch.
            shuffle: shuffle the samples each epoch.
            callbacks: the callbacks (History is added).
            start: the index of the first epoch.
            validation: the validation arrays ``(x, y)``, or None.
            verbose: the progress output: 0, 1, 2 or "auto".
            on_nonfinite: ``"raise"``, ``"stop"`` or ``"ignore"``.
        """
        model = self.model
        plan = self.plan()
        self._metrics = model.metrics
        if on_nonfinite != "ignore":  # weights left non-finite before this fit: refused, not blamed on it
            check_weights_before_fit(self.guard.layers, plan.value_sum)
        if self._metrics:  # a metric that cannot score these outputs is refused before any update
            rows = slice(0, min(len(x), 8))
            self.figures(y[rows], self.inference(x[rows]), with_loss=False)
        cbs = CallbackList([model.history, *callbacks], model)
        params = {
            "epochs": start + epochs, "initial_epoch": start, "steps": -(-len(x) // batch_size),
            "samples": len(x), "verbose": verbose, "metrics": self._log_keys(validation is not None),
        }  # fmt: skip
        cbs.set_params(params)
        model.stop_training = False
        self._resume_at = None
        set_training(model.layers, True)
        try:
            cbs.on_train_begin({})
            # before the guard starts counting: a restored run's epochs and steps are not this fit's
            first = start if self._resume_at is None else max(start, self._resume_at)
            if first != start:  # the progress line counts its epochs from here
                cbs.set_params({**params, "initial_epoch": first})
            self.guard.policy = on_nonfinite
            with step_guard(
                self.guard, model, plan.optimizer, model.history,
                samples=len(x), batch_size=batch_size, first_epoch=first,
            ) as diverged:  # fmt: skip
                self._epochs(
                    x, y, range(first, start + epochs), batch_size, shuffle, cbs, validation, diverged
                )
        finally:
            set_training(model.layers, False)
        return model.history

    def resume_at(self, epoch: int) -> None:
        """Makes the current ``fit`` continue at epoch index ``epoch``.

        Called from a callback's ``on_train_begin`` that restored an earlier run's state
        (weights, optimizer state, History), as ``BackupAndRestore`` does; epochs below
        ``epoch`` are not run again.

        Args:
            epoch: the index of the first epoch still to run.
        """
        self._resume_at = epoch

    def _epochs(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epochs: range,
        batch_size: int,
        shuffle: bool,
        cbs: CallbackList,
        validation: Arrays | None,
        diverged: Callable[[DivergenceError], None],
    ) -> None:
        model = self.model
        value_sum = self.plan().value_sum
        # In data-set order the batches are the same views every epoch: slice them once.
        unweighted = self._weighting is None or self._weighting.train is None
        fixed = (
            [(x[rows], y[rows]) for rows in batch_slices(len(x), batch_size, None)]
            if not shuffle and unweighted
            else None
        )
        try:
            for epoch in epochs:
                cbs.on_epoch_begin(epoch, {})
                loss = self._run_epoch(x, y, fixed, batch_size, cbs)
                # an update that overflowed a weight without making any later loss or gradient
                # non-finite (a saturated unit hides it) is caught here, once an epoch
                check_update(self.guard, value_sum)
                cbs.on_epoch_end(epoch, self._epoch_logs(loss, x, y, validation))
                if model.stop_training:
                    break
        except DivergenceError as exc:
            diverged(exc)  # raises under on_nonfinite="raise"; "stop" ends the run cleanly, below
        # Reached after a normal end or a stop; any other exception propagates without it (as in Keras).
        cbs.on_train_end({})

    def _run_epoch(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batches: Iterable[Arrays] | None,
        batch_size: int,
        cbs: CallbackList,
    ) -> float:
        step = self.train_step
        weighting = self._weighting
        if batches is None and weighting is not None and weighting.train is not None:
            batches = weighting.batches(x, y, batch_size)
        elif batches is None:  # shuffled: a new order of indices each epoch, never a copy of the data
            batches = _shuffled(x, y, batch_size, self.shuffle_rng)
        hooks = cbs.batch_callbacks
        model = self.model
        total, count = 0.0, 0
        for xb, yb in batches:
            if hooks:
                cbs.on_batch_begin(count, {})
            value = step(xb, yb)
            total += value
            count += 1
            if hooks:
                cbs.on_batch_end(count - 1, {"loss": value})
                # As Keras 3: a batch hook's stop ends the epoch right after that batch. Only a
                # batch hook can set it mid-epoch, so the check costs nothing without one.
                if model.stop_training:
                    break
        return total / count

    # ------------------------------------------------------------------ figures
    def _log_keys(self, validation: bool) -> list[str]:
        keys = ["loss", *self._metrics]
        return keys + [f"val_{key}" for key in keys] if validation else keys

    def _epoch_logs(
        self, loss: float, x: np.ndarray, y: np.ndarray, validation: Arrays | None
    ) -> dict[str, float]:
        """``loss`` (the mean batch loss), the metrics on the training data at the epoch's end, and
        ``val_*`` figures on the validation data."""
        logs = {"loss": loss}
        if self._metrics:
            logs.update(self.figures(y, self.inference(x), with_loss=False))
        if validation is not None:
            x_val, y_val = validation
            weights = None if self._weighting is None else self._weighting.validation
            figures = self.figures(y_val, self.inference(x_val), with_loss=True, sample_weight=weights)
            logs.update((f"val_{key}", value) for key, value in figures.items())
        return logs

    def figures(
        self, y: np.ndarray, y_pred: np.ndarray, *, with_loss: bool, sample_weight: np.ndarray | None = None
    ) -> dict[str, float]:
        """The loss (when ``with_loss``; weighted by ``sample_weight`` when given) and every
        compiled metric (never weighted, as Keras's ``metrics=``) of ``y_pred`` against ``y``.

        Args:
            y: the targets.
            y_pred: the model's predictions.
            with_loss: include the loss.
            sample_weight: one weight per sample for the loss, or None.
        """
        loss = _required(self.model.loss, "loss")
        figures: dict[str, float] = {}
        if with_loss:
            figures["loss"] = loss(y, y_pred) if sample_weight is None else loss(y, y_pred, sample_weight)
        figures.update((name, metric(y, y_pred)) for name, metric in self.model.metrics.items())
        return figures

    def inference(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs with layers in inference mode (dropout off), then back to training.

        Args:
            x: the inputs.
        """
        layers = self.model.layers
        set_training(layers, False)
        try:
            return forward_in_chunks(layers, x, EVAL_ROWS)
        finally:
            set_training(layers, True)


def forward_in_chunks(layers: Sequence[Layer], x: np.ndarray, rows: int) -> np.ndarray:
    """The layers' output for ``x``, computed ``rows`` samples at a time (bounded memory)."""
    if len(x) <= rows:
        return _forward(layers, x)
    # Each chunk is copied into one output array as it comes: extra memory of one chunk's
    # activations, not a list of every chunk's output and then their concatenation.
    first = _forward(layers, x[:rows])
    out = np.empty((len(x), *first.shape[1:]), dtype=first.dtype)
    out[:rows] = first
    del first
    for start in range(rows, len(x), rows):
        out[start : start + rows] = _forward(layers, x[start : start + rows])
    return out


def _forward(layers: Sequence[Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer.forward(x)
    return x


def set_training(layers: Sequence[Layer], training: bool) -> None:
    """Puts every layer in training mode (True) or inference mode (False).

    Args:
        layers: the layers.
        training: True for training mode, False for inference.
    """
    for layer in layers:
        layer.training = training


class _Weighting:
    """The sample weights of one fit, and the weighted loss its steps call.

    The step plan calls this object in place of the loss's ``value_and_gradient``; the batches
    it yields set ``current`` to their rows' weights before each step, so the step itself, its
    signature and the unweighted path stay as they are.
    """

    def __init__(
        self,
        loss: Loss,
        train: np.ndarray | None,
        validation: np.ndarray | None,
        rng: np.random.Generator | None,
    ) -> None:
        self.loss, self.train, self.validation, self.rng = loss, train, validation, rng
        self.current = np.ones(0)

    def __call__(self, y: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        return self.loss.weighted_value_and_gradient(y, y_pred, self.current)

    def batches(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> Iterator[Arrays]:
        # the same rows, in the same order from the same generator, as an unweighted epoch
        weights = self.train if self.train is not None else np.ones(len(x), dtype=x.dtype)
        for rows in batch_slices(len(x), batch_size, self.rng):
            self.current = weights[rows]
            yield x[rows], y[rows]


def _shuffled(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[Arrays]:
    for rows in batch_slices(len(x), batch_size, rng):
        yield x[rows], y[rows]


def _required(value: _T | None, what: str) -> _T:
    # The model checks compile before handing over; this keeps the types honest for mypy.
    if value is None:
        raise NotCompiledError(f"The model has no {what}: call model.compile(loss=..., optimizer=...) first.")
    return value
