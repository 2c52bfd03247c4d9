"""``Sequential``: a stack of layers that owns the training step.

``fit`` validates its arguments once, then loops over epochs and mini-batches; each step runs
forward through the layers, asks the loss for its value and dL/dy_pred, runs backward through
the layers in reverse (each fills its parameters' gradients) and lets the optimizer update every
parameter. Randomness comes only from generators seeded by the model's ``seed``.
"""

from __future__ import annotations

import math
from math import isfinite
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import layers as layers_module
from . import losses, optimizers
from . import metrics as metrics_module
from ._checks import choice, number, positive_int
from ._guard import NONFINITE_POLICIES, check_update, check_weights_before_fit, gradient_sum, refuse_step, step_guard
from .callbacks import Callback, CallbackList, History
from .data import as_inputs, as_targets, batch_slices
from .errors import (
    ComponentTypeError, ConfigError, DataError, DivergenceError, MinidlError, NotCompiledError, ShapeError,
)
from .layers import Layer
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .parameter import Parameter, pack
from .progress import progress_callback

__all__ = ["Sequential"]

DTYPES = ("float32", "float64")
EVAL_ROWS = 4096  # figures between epochs are computed in chunks of this many rows

Arrays = tuple[np.ndarray, np.ndarray]


class Sequential:
    """A linear stack of layers, trained by :meth:`fit`.

    Args:
        layers: layers (instances, names or config dicts) in order; more can be added with
            :meth:`add`.
        seed: seeds every random choice of the model (initial weights, shuffling, layers such
            as dropout). The same seed and data give bit-identical weights and history.
            ``None`` draws fresh entropy.
        dtype: ``"float64"`` (default) or ``"float32"``, for parameters and computations.

    Example:
        >>> from minidl import Sequential, Dense
        >>> model = Sequential([Dense(2, 2, activation="sigmoid"), Dense(2, 1)], seed=0)
        >>> model.compile(loss="mse", optimizer="sgd")
        >>> model.predict([[1.0, 2.0]]).shape
        (1, 1)
    """

    def __init__(
        self,
        layers: Iterable[Any] | None = None,
        *,
        seed: int | None = None,
        dtype: str = "float64",
        name: str | None = None,
    ) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ConfigError(f"seed must be a non-negative integer or None; received seed={seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.dtype = np.dtype(choice("dtype", str(np.dtype(dtype)) if _is_dtype(dtype) else dtype, DTYPES))
        self.name = name or "sequential"
        root = np.random.SeedSequence(self.seed)
        self._layer_seeds, shuffle_seed = root.spawn(2)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self.layers: list[Layer] = []
        self._loss: Loss | None = None
        self._optimizer: Optimizer | None = None
        self.history = History()
        self.stop_training = False
        self._flat: Parameter | None = None
        self._plan: _StepPlan | None = None
        # The Generator each layer was built with, by layer position, so checkpoints can save and
        # restore their states (a dropout-like layer keeps drawing from it).
        self._layer_rngs: dict[int, np.random.Generator] = {}
        self._on_nonfinite = "raise"  # set by fit; read by train_step's guard
        self._interrupted = False  # a Ctrl-C deferred to the next step boundary (see _guard)
        for layer in layers or ():
            self.add(layer)

    # ------------------------------------------------------------------ building
    def add(self, layer: Any) -> None:
        """Appends a layer (an instance, a registered name or a config dict) and builds it.

        Raises ShapeError, naming both layers, when the layer cannot take the previous output.
        """
        layer = layers_module.get(layer)
        if any(layer is other for other in self.layers):
            raise ConfigError(f"This {layer.describe()} layer is already in the model; create a new one.")
        if layer.name is not None and layer.name in {other.name for other in self.layers}:
            raise ConfigError(f"A layer named {layer.name!r} is already in the model; names must be unique.")
        self._check_fits(layer)
        if layer.name is None:
            layer.name = self._default_name(layer)
        if not layer.built:
            rng = self._layer_rngs[len(self.layers)] = np.random.default_rng(self._layer_seeds.spawn(1)[0])
            layer.build(rng, self.dtype)
        self.layers.append(layer)
        self._flat = self._plan = None

    def _check_fits(self, layer: Layer) -> None:
        width, source = None, None
        for previous in self.layers:
            out = previous.output_features(width)
            if out != width:
                source = previous
            width = out
        try:
            layer.output_features(width)
        except ShapeError as exc:
            raise ShapeError(
                f"Layer {layer.name or self._default_name(layer)} ({layer.describe()}) cannot "
                f"follow {source.name} ({source.describe()}), which outputs {width} features: {exc}"
            ) from None

    def _default_name(self, layer: Layer) -> str:
        registry = _registry_of(layer)
        base = registry.name_of(type(layer), default=type(layer).__name__.lower())
        taken = {other.name for other in self.layers}
        index = sum(1 for other in self.layers if type(other) is type(layer))
        while f"{base}_{index}" in taken:
            index += 1
        return f"{base}_{index}"

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter, in layer order."""
        return [p for layer in self.layers for p in layer.parameters()]

    def _packed(self) -> Parameter:
        # All parameters become views of one flat buffer, so elementwise optimizers update
        # everything in one call; redone only when layers were added.
        if self._flat is None:
            self._flat = pack(self.parameters(), self.dtype)
        return self._flat

    def _step_plan(self) -> _StepPlan:
        # What every step needs, looked up once: at these sizes each attribute lookup and method
        # resolution is a measurable share of a step. Rebuilt when layers or optimizer change.
        plan = self._plan
        if plan is None:
            flat = self._packed()  # before any step: packing repoints every gradient array
            optimizer = self.optimizer
            params = (flat,) if optimizer.elementwise else tuple(self.parameters())  # type: ignore[union-attr]
            plan = self._plan = _StepPlan(
                optimizer,  # type: ignore[arg-type]
                self.loss,  # type: ignore[arg-type]
                params,
                tuple(layer.forward for layer in self.layers),
                tuple(layer.backward for layer in reversed(self.layers)),
                gradient_sum(flat.grad),
                gradient_sum(flat.value),
            )
        return plan

    @property
    def input_features(self) -> int | None:
        """The number of input columns the model takes (None if no layer fixes it)."""
        first = self._first_sized_layer()
        return None if first is None else first.in_features  # type: ignore[attr-defined]

    def _first_sized_layer(self) -> Layer | None:
        return next((layer for layer in self.layers if getattr(layer, "in_features", None) is not None), None)

    @property
    def output_features(self) -> int | None:
        """The number of output columns (None if no layer fixes it)."""
        width = None
        for layer in self.layers:
            width = layer.output_features(width)
        return width

    # ------------------------------------------------------------------ compile
    @property
    def loss(self) -> Loss | None:
        """The loss set by :meth:`compile` (None before)."""
        return self._loss

    @loss.setter
    def loss(self, value: Any) -> None:
        self._loss = None if value is None else losses.get(value)
        self._plan = None

    @property
    def optimizer(self) -> Optimizer | None:
        """The optimizer set by :meth:`compile` (None before)."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value: Any) -> None:
        self._optimizer = None if value is None else optimizers.get(value)
        self._plan = None

    _metrics: tuple[tuple[str, Metric], ...] = ()  # set by compile (replaced, never mutated)

    def compile(self, loss: Any = "mse", optimizer: Any = "sgd", metrics: Sequence[Any] | None = None) -> None:
        """Sets the loss, the optimizer and the metrics (names, classes, instances or config dicts).

        ``metrics`` (e.g. ``["accuracy"]``) are reported each epoch under their registry names,
        and as ``val_<name>`` for validation data; they are measured, never optimised.
        """
        loss_obj = losses.get(loss)  # everything resolved and checked before anything is set
        optimizer_obj = optimizers.get(optimizer)
        metric_objs = _resolve_metrics(metrics, loss_obj)
        self.loss, self.optimizer = loss_obj, optimizer_obj
        self._metrics = metric_objs

    @property
    def metrics(self) -> dict[str, Metric]:
        """The compiled metrics by the name they are reported under."""
        return dict(self._metrics)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        x: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int | None = 32,
        shuffle: bool = True,
        verbose: int = 0,
        callbacks: Sequence[Callback] | None = None,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        initial_epoch: int | None = None,
        on_nonfinite: str = "raise",
    ) -> History:
        """Trains the model for ``epochs`` passes over ``(x, y)`` and returns its History.

        Args:
            x: inputs, shape ``(samples, features)``; any real dtype, cast to the model's.
            y: targets, shape ``(samples, outputs)``, or ``(samples,)`` for one output.
            epochs: number of passes over the data (>= 1).
            batch_size: samples per update (>= 1); ``None`` for the whole data set. The last,
                smaller batch of an epoch is trained too.
            shuffle: visit samples in a new random order each epoch (drawn from the model's
                seeded generator); False keeps data-set order.
            verbose: 0 silent; 1 a live progress bar per epoch on a terminal (one plain line
                per epoch when the output is redirected); 2 one plain line per epoch.
            callbacks: :class:`~minidl.callbacks.Callback` objects told of training events.
            validation_data: ``(x_val, y_val)``, evaluated after every epoch (``val_loss`` and
                ``val_<metric>`` in the History); never trained on.
            validation_split: a fraction in [0, 1): as in Keras 3, the first
                ``floor(samples * (1 - validation_split))`` samples are trained on and the rest,
                taken from the end before any shuffling, are held out as validation data
                (10 samples with 0.25: 7 and 3).
            initial_epoch: as in Keras, the index of the first epoch; ``epochs`` is then the
                index to stop before, so ``epochs - initial_epoch`` epochs run. Without it, the
                epochs continue the numbering of the model's History.
            on_nonfinite: what a NaN or infinite loss or gradient (checked before each update)
                or weight (found by the next step's check or at the epoch's end) does: ``"raise"`` a DivergenceError naming epoch,
                batch and layer, ``"stop"`` training with a warning (callbacks'
                ``on_train_end`` runs), or ``"ignore"`` it (no check). With "raise" and "stop",
                a bad loss or gradient is never applied; an update that itself overflowed the
                weights has been applied and is not undone (see docs/reliability.md). History
                keeps only completed epochs.

        Calling ``fit`` again continues from the current weights, optimizer state, shuffling
        generator and History, so ``fit(epochs=n)`` equals ``fit(epochs=k)`` then
        ``fit(epochs=n - k)``, bit for bit. Nothing is changed if any argument is invalid.
        """
        self._require_compiled("fit")
        epochs = positive_int("epochs", epochs)
        if batch_size is not None:
            batch_size = positive_int("batch_size", batch_size)
        if not isinstance(shuffle, bool):
            raise ConfigError(f"shuffle must be True or False; received shuffle={shuffle!r}.")
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ConfigError(f"verbose must be 0, 1 or 2; received verbose={verbose!r}.")
        start, epochs = _epoch_range(epochs, initial_epoch)
        on_nonfinite = choice("on_nonfinite", on_nonfinite, NONFINITE_POLICIES)
        x, y = self._validate(x, y)
        x, y, validation = self._held_out(x, y, validation_data, validation_split)
        extra = list(callbacks or ())
        for callback in extra:
            if not isinstance(callback, Callback):
                raise ComponentTypeError(
                    f"callbacks must be minidl.Callback instances; received {type(callback).__name__}."
                )
        progress = progress_callback(verbose)
        if progress is not None:
            extra.append(progress)
        if start is None:  # continue the History's numbering
            start = len(self.history.epochs) and self.history.epochs[-1] + 1
        batch_size = batch_size or len(x)
        if on_nonfinite != "ignore":  # weights left non-finite before this fit: refused, not blamed on it
            check_weights_before_fit(self, self._step_plan().value_sum)
        with step_guard(self, on_nonfinite, len(x), batch_size, start) as diverged:
            return self._train(
                x, y, epochs, batch_size, shuffle, [self.history, *extra],
                start=start, validation=validation, verbose=verbose, diverged=diverged,
            )

    def _train(
        self, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, shuffle: bool, callbacks: list[Callback],
        *, start: int, validation: Arrays | None, verbose: int, diverged: Callable[[DivergenceError], None],
    ) -> History:
        cbs = CallbackList(callbacks, self)
        self.stop_training = False
        cbs.set_params({
            "epochs": start + epochs, "initial_epoch": start, "steps": -(-len(x) // batch_size),
            "verbose": verbose, "metrics": self._log_keys(validation is not None),
        })
        # In data-set order the batches are the same views every epoch: slice them once.
        fixed = None if shuffle else [(x[rows], y[rows]) for rows in batch_slices(len(x), batch_size, None)]
        self._step_plan()
        self._set_training(True)
        try:
            cbs.on_train_begin({})
            try:
                for epoch in range(start, start + epochs):
                    cbs.on_epoch_begin(epoch, {})
                    loss = self._run_epoch(x, y, fixed, batch_size, cbs)
                    # an update that overflowed a weight without making any later loss or gradient
                    # non-finite (a saturated unit hides it) is caught here, once an epoch
                    check_update(self, self._step_plan().value_sum)
                    cbs.on_epoch_end(epoch, self._epoch_logs(loss, x, y, validation))
                    if self.stop_training:
                        break
            except DivergenceError as exc:
                diverged(exc)  # raises under on_nonfinite="raise"; "stop" ends the run cleanly, below
            # Reached after a normal end or a stop; any other exception propagates without it (as in Keras).
            cbs.on_train_end({})
        finally:
            self._set_training(False)
        return self.history

    def _run_epoch(
        self, x: np.ndarray, y: np.ndarray, batches: list[tuple[np.ndarray, np.ndarray]] | None,
        batch_size: int, cbs: CallbackList,
    ) -> float:
        step = self.train_step
        if batches is None:  # shuffled: a new order of indices each epoch, never a copy of the data
            batches = ((x[rows], y[rows]) for rows in batch_slices(len(x), batch_size, self._shuffle_rng))
        hooks = cbs.batch_callbacks
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
                if self.stop_training:
                    break
        return total / count

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update on the batch ``(x, y)`` (already validated arrays); returns its loss.

        Every gradient is computed from the weights as they were before the step; the update
        comes last. The returned loss is measured before the update.
        """
        plan = self._plan or self._step_plan()
        h = x
        for forward in plan.forwards:
            h = forward(h)
        value, grad = plan.loss.value_and_gradient(y, h)
        for backward in plan.backwards:
            grad = backward(grad)
        # The guard's fast path, written out here rather than called: one Python call less per
        # step, 0.1 us of a 12 us lecture-1 step. A pending Ctrl-C and a non-finite loss
        # or gradient stop the step before anything is updated. An earlier update that overflowed
        # a weight shows here as a non-finite loss or gradient; refuse_step then blames that update.
        if self._interrupted:
            raise KeyboardInterrupt
        if self._on_nonfinite != "ignore" and not (isfinite(value) and isfinite(plan.grad_sum())):
            refuse_step(self, value)
        plan.optimizer.step(plan.params)
        return value

    def _set_training(self, training: bool) -> None:
        for layer in self.layers:
            layer.training = training
        if self.layers:
            self.layers[0].input_grad = not training  # the data needs no gradient

    # ------------------------------------------------------------------ inference
    def predict(self, x: Any, *, batch_size: int | None = None) -> np.ndarray:
        """The model's outputs for ``x``, shape ``(samples, outputs)``, computed in batches."""
        self._require_layers("predict")
        x = self._inputs(x)
        if batch_size is None:
            return self._forward(x)
        batch_size = positive_int("batch_size", batch_size)
        return np.concatenate([self._forward(x[rows]) for rows in batch_slices(len(x), batch_size, None)])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def evaluate(
        self, x: Any, y: Any, *, batch_size: int | None = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """The loss over the whole of ``(x, y)`` (with the loss's reduction), weights unchanged.

        With compiled metrics it returns ``[loss, metric, ...]`` as Keras does, and with
        ``return_dict=True`` always ``{"loss": ..., "<metric>": ...}``.
        """
        self._require_compiled("evaluate")
        x, y = self._validate(x, y)
        figures = self._figures(y, self.predict(x, batch_size=batch_size), with_loss=True)
        if return_dict:
            return figures
        return figures["loss"] if len(figures) == 1 else list(figures.values())

    # ------------------------------------------------------------------ figures of a fit
    def _held_out(self, x: np.ndarray, y: np.ndarray, data: Any, split: Any) -> tuple[np.ndarray, np.ndarray, Arrays | None]:
        """The training arrays and the validation pair (from ``validation_data`` or the split)."""
        split = number("validation_split", split, low=0.0, high=1.0, high_open=True)
        if data is not None:
            if split:
                raise ConfigError("Pass validation_data or validation_split, not both.")
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise ConfigError(f"validation_data must be a pair (x_val, y_val); received {type(data).__name__}.")
            try:
                return x, y, self._validate(*data)
            except MinidlError as exc:
                raise type(exc)(f"In validation_data: {exc}") from None
        if not split:
            return x, y, None
        # Keras 3's rule, to the float: train on floor(n * (1 - split)), validate on the rest
        # (n=10, split=0.25: 7 and 3), so a model moved from Keras sees the same samples.
        cut = math.floor(len(x) * (1.0 - split))
        if not 1 <= cut < len(x):
            raise DataError(
                f"validation_split={split:g} of {len(x)} samples leaves {len(x) - cut} for validation and "
                f"{cut} for training; both need at least one sample."
            )
        return x[:cut], y[:cut], (x[cut:], y[cut:])

    def _log_keys(self, validation: bool) -> list[str]:
        keys = ["loss", *(name for name, _ in self._metrics)]
        return keys + [f"val_{key}" for key in keys] if validation else keys

    def _epoch_logs(self, loss: float, x: np.ndarray, y: np.ndarray, validation: Arrays | None) -> dict[str, float]:
        """``loss`` (the mean batch loss), the metrics on the training data at the epoch's end, and
        ``val_*`` figures on the validation data."""
        logs = {"loss": loss}
        if self._metrics:
            logs.update(self._figures(y, self._inference(x), with_loss=False))
        if validation is not None:
            x_val, y_val = validation
            figures = self._figures(y_val, self._inference(x_val), with_loss=True)
            logs.update((f"val_{key}", value) for key, value in figures.items())
        return logs

    def _figures(self, y: np.ndarray, y_pred: np.ndarray, *, with_loss: bool) -> dict[str, float]:
        figures = {"loss": self.loss(y, y_pred)} if with_loss else {}  # type: ignore[misc]
        figures.update((name, metric(y, y_pred)) for name, metric in self._metrics)
        return figures

    def _inference(self, x: np.ndarray) -> np.ndarray:
        # Measured as predict would (layers such as dropout off), then back to training mode.
        self._set_training(False)
        try:
            if len(x) <= EVAL_ROWS:
                return self._forward(x)
            return np.concatenate([self._forward(x[rows]).copy() for rows in batch_slices(len(x), EVAL_ROWS, None)])
        finally:
            self._set_training(True)

    # ------------------------------------------------------------------ validation
    def _require_layers(self, action: str) -> None:
        if not self.layers:
            raise ConfigError(f"Cannot {action}: the model has no layers; add some with model.add(...).")

    def _require_compiled(self, action: str) -> None:
        self._require_layers(action)
        if self.loss is None or self.optimizer is None:
            raise NotCompiledError(
                f"Cannot {action} before compile: call model.compile(loss=..., optimizer=...) first, "
                "e.g. model.compile(loss='mse', optimizer='sgd')."
            )

    def _inputs(self, x: Any) -> np.ndarray:
        first = self._first_sized_layer()
        where = f"{first.name} ({first.describe()})" if first else ""
        return as_inputs(x, self.dtype, self.input_features, where)

    def _validate(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        xs = self._inputs(x)
        last = self.layers[-1]
        labels = bool(self.loss is not None and self.loss.sparse_targets)
        ys = as_targets(
            y, self.dtype, self.output_features, len(xs), f"{last.name} ({last.describe()})", labels=labels
        )
        return xs, ys

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter array, in layer order (per Dense: weight, then bias)."""
        return [p.value.copy() for p in self.parameters()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets every parameter from ``weights`` (same order and shapes as :meth:`get_weights`).

        All arrays are checked before any is written, so a bad list changes nothing.
        """
        params = self.parameters()
        owners = [layer for layer in self.layers for _ in layer.parameters()]
        if isinstance(weights, np.ndarray) or len(weights) != len(params):
            got = "an array" if isinstance(weights, np.ndarray) else f"{len(weights)} arrays"
            raise ShapeError(f"set_weights needs a list of {len(params)} arrays (one per parameter); received {got}.")
        arrays = []
        for p, layer, w in zip(params, owners, weights):
            a = as_weight(w, f"the {p.name} of {layer.name}")
            if a.shape != p.shape:
                raise ShapeError(
                    f"The {p.name} of {layer.name} ({layer.describe()}) has shape {p.shape}; "
                    f"received an array of shape {a.shape}."
                )
            arrays.append(a)
        for p, a in zip(params, arrays):
            p.value[...] = a

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes architecture, weights, compile settings and training state to one file, atomically.

        See :func:`minidl.io.save` and docs/reliability.md for the format and its guarantees.
        """
        from . import io

        io.save(self, path)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Writes only the parameter arrays (as :meth:`get_weights`) to one file, atomically."""
        from . import io

        io.save_weights(self, path)

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Sets every parameter from a :meth:`save_weights` file; a bad file changes nothing."""
        from . import io

        io.load_weights(self, path)

    # ------------------------------------------------------------------ description
    def summary(self, print_fn: Any = print) -> None:
        """Prints a table of layers, output shapes and parameter counts, and the total."""
        rows = [("Layer (type)", "Output shape", "Params")]
        width = None
        for layer in self.layers:
            width = layer.output_features(width)
            count = sum(p.size for p in layer.parameters())
            rows.append((f"{layer.name} ({type(layer).__name__})", f"(None, {width})", f"{count:,}"))
        total = sum(p.size for p in self.parameters())
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        line = "-" * (sum(widths) + 4)
        text = [f"Model: {self.name!r}", line]
        for i, row in enumerate(rows):
            text.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")
            if i == 0:
                text.append(line)
        text += [line, f"Total params: {total:,}  (dtype {self.dtype})"]
        print_fn("\n".join(text))

    def get_config(self) -> dict[str, Any]:
        """The model's architecture as plain JSON values (layers by registry name)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "dtype": str(self.dtype),
            "layers": [_layer_config(layer) for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Builds a model from :meth:`get_config`'s output (weights freshly initialised)."""
        if not isinstance(config, dict):
            raise ConfigError(f"A model configuration must be a dict; received {type(config).__name__}.")
        known = {"name", "seed", "dtype", "layers"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"Unknown model configuration key(s) {unknown}; known keys: {sorted(known)}.")
        layer_configs = config.get("layers", [])
        if not isinstance(layer_configs, list):
            raise ConfigError(f"'layers' must be a list of layer configurations; received {layer_configs!r}.")
        return cls(
            layer_configs, seed=config.get("seed"), dtype=config.get("dtype", "float64"), name=config.get("name")
        )

    def __repr__(self) -> str:
        inner = ", ".join(layer.describe() for layer in self.layers)
        return f"Sequential([{inner}], dtype={self.dtype})"


class _StepPlan(NamedTuple):
    optimizer: Optimizer
    loss: Loss
    params: tuple[Parameter, ...]
    forwards: tuple[Any, ...]
    backwards: tuple[Any, ...]
    grad_sum: Callable[[], float]  # the sum of every gradient, for the non-finite guard
    value_sum: Callable[[], float]  # the sum of every weight, for the after-update guard


def _epoch_range(epochs: int, initial_epoch: Any) -> tuple[int | None, int]:
    """(first epoch index or None to continue the History, number of epochs to run)."""
    if initial_epoch is None:
        return None, epochs
    initial_epoch = positive_int("initial_epoch", initial_epoch, allow_zero=True)
    if epochs <= initial_epoch:
        raise ConfigError(
            f"With initial_epoch, epochs is the index to stop before (as in Keras), so it must exceed "
            f"it; received epochs={epochs}, initial_epoch={initial_epoch}."
        )
    return initial_epoch, epochs - initial_epoch


def _resolve_metrics(metrics: Any, loss: Loss) -> tuple[tuple[str, Metric], ...]:
    """``(name, metric)`` pairs, checked for duplicates and against the loss's form of targets."""
    if metrics is None:
        return ()
    if isinstance(metrics, (str, Mapping, Metric)) or not isinstance(metrics, Iterable):
        raise ConfigError(f"metrics must be a list, e.g. metrics=['accuracy']; received {metrics!r}.")
    resolved: dict[str, Metric] = {}
    for identifier in metrics:
        metric = metrics_module.get(identifier)
        name = metrics_module.registry.name_of(type(metric), default=type(metric).__name__.lower())
        if name == "loss" or name in resolved:
            raise ConfigError(f"The metric name {name!r} is used twice (or clashes with 'loss'); each figure needs one name.")
        if loss.sparse_targets and not metric.accepts_labels:
            raise ConfigError(
                f"The metric {name!r} compares arrays shaped like the predictions, but the loss "
                f"{type(loss).__name__} takes integer class labels; use 'accuracy' with it."
            )
        resolved[name] = metric
    return tuple(resolved.items())


def _registry_of(layer: Layer):
    from . import activations

    return activations.registry if isinstance(layer, activations.Activation) else layers_module.registry


def _layer_config(layer: Layer) -> dict[str, Any]:
    name = _registry_of(layer).name_of(type(layer))
    return {"type": name, "name": layer.name, **layer.get_config()}


def as_weight(value: Any, what: str) -> np.ndarray:
    """``value`` as a finite real array, else a clear error (used when setting weights)."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ShapeError(f"{what} could not be read as an array: {exc}") from exc
    if array.dtype.kind not in "biuf":
        raise ConfigError(f"{what} must hold real numbers; received dtype {array.dtype}.")
    if not np.isfinite(array).all():
        raise ConfigError(f"{what} contains NaN or infinity.")
    return array


def _is_dtype(value: Any) -> bool:
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True
