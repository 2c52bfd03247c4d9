"""``Sequential``: a stack of layers that owns the training step.

``fit`` validates its arguments once, then loops over epochs and mini-batches; each step runs
forward through the layers, asks the loss for its value and dL/dy_pred, runs backward through
the layers in reverse (each fills its parameters' gradients) and lets the optimizer update every
parameter. Randomness comes only from generators seeded by the model's ``seed``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import layers as layers_module
from . import losses, optimizers
from ._checks import choice, positive_int
from ._guard import NONFINITE_POLICIES, check_step, step_guard
from .callbacks import Callback, CallbackList, EpochLogger, History
from .data import as_inputs, as_targets, batch_slices
from .errors import ComponentTypeError, ConfigError, NotCompiledError, ShapeError
from .layers import Layer
from .losses import Loss
from .optimizers import Optimizer
from .parameter import Parameter, pack

__all__ = ["Sequential"]

DTYPES = ("float32", "float64")


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
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.history = History()
        self.stop_training = False
        self._flat: Parameter | None = None
        # The Generator each layer was built with, by layer position, so checkpoints can save and
        # restore their states (a dropout-like layer keeps drawing from it).
        self._layer_rngs: dict[int, np.random.Generator] = {}
        self._on_nonfinite = "raise"  # set by fit; read by check_step
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
        self._flat = None

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
    def compile(self, loss: Any = "mse", optimizer: Any = "sgd") -> None:
        """Sets the loss and the optimizer (names, classes, instances or config dicts)."""
        loss_obj = losses.get(loss)
        optimizer_obj = optimizers.get(optimizer)
        self.loss, self.optimizer = loss_obj, optimizer_obj

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
            verbose: 0 silent, 1 or 2 one line per epoch.
            callbacks: :class:`~minidl.callbacks.Callback` objects told of training events.
            on_nonfinite: what a NaN or infinite loss or gradient does, checked before each
                update: ``"raise"`` a DivergenceError naming epoch, batch and layer, ``"stop"``
                training with a warning (in both cases the bad update is not applied and
                History keeps only completed epochs), or ``"ignore"`` it (no check).

        Calling ``fit`` again continues from the current weights, optimizer state and History.
        Nothing is changed if any argument is invalid.
        """
        self._require_compiled("fit")
        epochs = positive_int("epochs", epochs)
        if batch_size is not None:
            batch_size = positive_int("batch_size", batch_size)
        if not isinstance(shuffle, bool):
            raise ConfigError(f"shuffle must be True or False; received shuffle={shuffle!r}.")
        verbose = positive_int("verbose", verbose, allow_zero=True)
        on_nonfinite = choice("on_nonfinite", on_nonfinite, NONFINITE_POLICIES)
        x, y = self._validate(x, y)
        extra = list(callbacks or ())
        for callback in extra:
            if not isinstance(callback, Callback):
                raise ComponentTypeError(
                    f"callbacks must be minidl.Callback instances; received {type(callback).__name__}."
                )
        if verbose:
            extra.append(EpochLogger(epochs))
        with step_guard(self, on_nonfinite, len(x), batch_size or len(x)):
            return self._train(x, y, epochs, batch_size or len(x), shuffle, [self.history, *extra])
        return self.history  # reached only when on_nonfinite="stop" ended training

    def _train(
        self, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, shuffle: bool, callbacks: list[Callback]
    ) -> History:
        cbs = CallbackList(callbacks, self)
        self.stop_training = False
        start = len(self.history.epochs) and self.history.epochs[-1] + 1
        self._set_training(True)
        try:
            cbs.on_train_begin({})
            for epoch in range(start, start + epochs):
                cbs.on_epoch_begin(epoch, {})
                loss = self._run_epoch(x, y, batch_size, shuffle, cbs)
                cbs.on_epoch_end(epoch, {"loss": loss})
                if self.stop_training:
                    break
            cbs.on_train_end({})
        finally:
            self._set_training(False)
        return self.history

    def _run_epoch(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, cbs: CallbackList) -> float:
        step = self.train_step
        rng = self._shuffle_rng if shuffle else None
        batch_hooks = bool(cbs.batch_callbacks)
        total, count = 0.0, 0
        for rows in batch_slices(len(x), batch_size, rng):
            if batch_hooks:
                cbs.on_batch_begin(count, {})
            value = step(x[rows], y[rows])
            total += value
            count += 1
            if batch_hooks:
                cbs.on_batch_end(count - 1, {"loss": value})
        return total / count

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update on the batch ``(x, y)`` (already validated arrays); returns its loss.

        The loss is computed with the weights before the update.
        """
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        value, grad = self.loss.value_and_gradient(y, h)  # type: ignore[union-attr]
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        check_step(self, value)  # NaN/inf guard and deferred Ctrl-C, before anything is updated
        optimizer = self.optimizer
        optimizer.step((self._packed(),) if optimizer.elementwise else self.parameters())  # type: ignore[union-attr]
        return value

    def _set_training(self, training: bool) -> None:
        for layer in self.layers:
            layer.training = training

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

    def evaluate(self, x: Any, y: Any, *, batch_size: int | None = None) -> float:
        """The loss over the whole of ``(x, y)`` (with the loss's reduction), weights unchanged."""
        self._require_compiled("evaluate")
        x, y = self._validate(x, y)
        return self.loss(y, self.predict(x, batch_size=batch_size))  # type: ignore[misc]

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
        ys = as_targets(y, self.dtype, self.output_features, len(xs), f"{last.name} ({last.describe()})")
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
