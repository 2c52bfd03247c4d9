"""``Sequential``: a stack of layers with its compile settings, weights, inference and files.

The model holds the architecture (layers built from the shape of one input sample), the loss,
the optimizer and the metrics, the weights, ``predict``/``evaluate``, configurations and files.
``fit`` checks its arguments and data, then hands over to the model's
``Trainer``, which owns the training step and the epoch loop. Randomness
comes only from generators seeded by the model's ``seed``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from . import io, losses, optimizers
from . import layers as layers_module
from . import metrics as metrics_module
from ._checks import choice, number, positive_int
from .callbacks import Callback, History
from .data import DTYPES, as_inputs, as_targets, class_weights, sample_weights
from .errors import ComponentTypeError, ConfigError, DataError, MinidlError, NotCompiledError, ShapeError
from .guard import NONFINITE_POLICIES
from .layers import Input, Layer, Shape, activations, as_shape
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .parameter import Buffer, Parameter
from .progress import progress_callback, report
from .training import Trainer, forward_in_chunks, set_training

__all__ = ["Sequential", "load", "as_weight", "PREDICT_VALUES"]

#: By default, ``predict`` and ``evaluate`` batch as many samples as keep each layer's output
#: within this many values (and at least 32, Keras's default batch).
PREDICT_VALUES = 2**20

Arrays = tuple[np.ndarray, np.ndarray]


class Sequential:
    """A linear stack of layers, trained by ``fit``.

    Args:
        layers: layers (instances, names or config dicts) in order; the first may be an
            ``Input`` giving the shape of one sample. More can be added
            with ``add``.
        input_shape: the shape of one input sample, e.g. ``(2,)`` or ``(28, 28, 1)``. Without
            it (and without an Input or a first layer that fixes it, such as ``Dense(2, 4)``),
            the model learns it from the first data it sees, as Keras does.
        seed: seeds every random choice of the model (initial weights, shuffling, layers such
            as dropout). The same seed and data give bit-identical weights and history.
            ``None`` draws fresh entropy.
        dtype: ``"float64"`` (default) or ``"float32"``, for parameters and computations.
        name: the model's name, shown by ``summary``.

    Examples:
        >>> from minidl import Sequential, Dense
        >>> model = Sequential([Dense(2, activation="sigmoid"), Dense(1)], input_shape=(2,), seed=0)
        >>> model.compile(loss="mse", optimizer="sgd")
        >>> model.predict([[1.0, 2.0]]).shape
        (1, 1)
    """

    def __init__(
        self,
        layers: Iterable[Any] | None = None,
        *,
        input_shape: Any = None,
        seed: int | None = None,
        dtype: str = "float64",
        name: str | None = None,
    ) -> None:
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ConfigError(f"seed must be a non-negative integer or None; received seed={seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.dtype = np.dtype(choice("dtype", str(np.dtype(dtype)) if _is_dtype(dtype) else dtype, DTYPES))
        self.name = "sequential" if name is None or name == "" else name
        self._input_shape: Shape | None = (
            None if input_shape is None else as_shape(input_shape, "input_shape")
        )
        root = np.random.SeedSequence(self.seed)
        self._layer_seeds, shuffle_seed = root.spawn(2)
        self._layers: list[Layer] = []
        # The Generator each layer was built with, by position, so checkpoints can save and
        # restore their states (a dropout layer keeps drawing from its own).
        self._layer_rngs: dict[int, np.random.Generator] = {}
        self._loss: Loss | None = None
        self._optimizer: Optimizer | None = None
        self._metrics: dict[str, Metric] = {}
        self.history = History()
        self.stop_training = False
        self._trainer = Trainer(self, np.random.default_rng(shuffle_seed))
        for layer in layers or ():
            self.add(layer)

    # ------------------------------------------------------------------ architecture
    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers, in order (a tuple: change them with ``add`` and ``pop``)."""
        return tuple(self._layers)

    @property
    def name(self) -> str:
        """The model's name, shown by ``summary`` and kept in model files (a string)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        # checked when set, so a model file is never written with a name it cannot be read with
        if not isinstance(value, str):
            raise ConfigError(
                f"A model's name must be a string; received {value!r} ({type(value).__name__})."
            )
        self._name = value

    @property
    def trainer(self) -> Trainer:
        """The model's ``Trainer`` (step, epoch loop, optimizer state)."""
        return self._trainer

    def add(self, layer: Any) -> None:
        """Appends a layer (an instance, a registered name or a config dict), built at once when
        the input shape is known.

        An ``Input`` entry first sets the input shape. Raises ShapeError,
        naming both layers, when the layer cannot take the previous layer's output; the model is
        unchanged then.

        Args:
            layer: a layer instance, a registered name, a ``{"type": name, ...}`` table or an ``Input``.
        """
        layer = layers_module.get(layer)
        if isinstance(layer, Input):
            if self._layers or self._input_shape not in (None, layer.shape):
                raise ConfigError(f"{layer.describe()} can only come first, before any layer, once.")
            self._input_shape = layer.shape
            return
        if any(layer is other for other in self._layers):
            raise ConfigError(f"This {layer.describe()} layer is already in the model; create a new one.")
        if layer.name is not None and layer.name in {other.name for other in self._layers}:
            raise ConfigError(f"A layer named {layer.name!r} is already in the model; names must be unique.")
        if not self._layers and self._input_shape is None and layer.input_shape is not None:
            self._input_shape = layer.input_shape  # the first layer fixes it (Dense(2, 4) takes 2 features)
        shapes = self._shapes()
        if shapes is not None:
            self._check_fits(layer, shapes[-1])
        if layer.name is None:
            layer.name = self._default_name(layer)
        self._layers.append(layer)
        self._trainer.reset_layers()
        if shapes is not None:
            self._build_layer(len(self._layers) - 1, shapes[-1])

    def pop(self) -> Layer:
        """Removes the last layer and returns it (as Keras's ``Sequential.pop``)."""
        if not self._layers:
            raise ConfigError("Cannot pop: the model has no layers.")
        self._layer_rngs.pop(len(self._layers) - 1, None)
        self._trainer.reset_layers()
        return self._layers.pop()

    def build(self, input_shape: Any = None) -> None:
        """Builds every layer for samples of ``input_shape`` (the model's own when None).

        Every layer's shape is checked before any is built, so a shape that does not fit
        changes nothing. ``fit`` and ``predict`` call it with the data's shape when needed.

        Args:
            input_shape: the shape of one input sample, without the batch axis (None: the model's own).
        """
        shape = self._input_shape if input_shape is None else as_shape(input_shape, "input_shape")
        if shape is None:
            raise ConfigError("Cannot build: give the shape of one sample, e.g. model.build((2,)).")
        if self._input_shape is not None and shape != self._input_shape:
            raise ShapeError(f"The model takes samples of shape {self._input_shape}; received {shape}.")
        shapes = [shape]
        for layer in self._layers:
            shapes.append(self._check_fits(layer, shapes[-1]))
        self._input_shape = shape
        for i in range(len(self._layers)):
            self._build_layer(i, shapes[i])

    @property
    def built(self) -> bool:
        """True when every layer is built (the input shape is known)."""
        return self._input_shape is not None and all(layer.built for layer in self._layers)

    def _build_layer(self, i: int, input_shape: Shape) -> None:
        layer = self._layers[i]
        # A generator for each layer that still needs building (Dense, dropout), spawned in layer
        # order; a layer that comes built (an activation) takes none, so Dense(2, 2) then
        # Sigmoid() draws the same weights as Dense(2, 2, activation="sigmoid").
        rng = self._layer_rngs.get(i)
        if rng is None and not layer.built:
            rng = self._layer_rngs[i] = np.random.default_rng(self._layer_seeds.spawn(1)[0])
        layer.build_for(input_shape, rng, self.dtype)

    def _check_fits(self, layer: Layer, input_shape: Shape) -> Shape:
        try:
            return layer.compute_output_shape(input_shape)
        except ShapeError as exc:
            index = next((i for i, other in enumerate(self._layers) if other is layer), len(self._layers))
            source = (
                f"follow {self._layers[index - 1].name} ({self._layers[index - 1].describe()}), which outputs"
                if index
                else "take the model's input,"
            )
            what = (
                f"{input_shape[0]} features" if len(input_shape) == 1 else f"samples of shape {input_shape}"
            )
            raise ShapeError(
                f"Layer {layer.name or self._default_name(layer)} ({layer.describe()}) cannot {source} "
                f"{what}: {exc}"
            ) from None

    def _shapes(self) -> list[Shape] | None:
        """The shape of a sample before each layer and after the last, or None if the input is unknown."""
        if self._input_shape is None:
            return None
        shapes = [self._input_shape]
        for layer in self._layers:
            shapes.append(layer.compute_output_shape(shapes[-1]))
        return shapes

    def _default_name(self, layer: Layer) -> str:
        base = _registry_of(layer).name_of(type(layer), default=type(layer).__name__.lower())
        taken = {other.name for other in self._layers}
        index = sum(1 for other in self._layers if type(other) is type(layer))
        while f"{base}_{index}" in taken:
            index += 1
        return f"{base}_{index}"

    @property
    def input_shape(self) -> Shape | None:
        """The shape of one input sample, e.g. ``(2,)`` (None until given or learnt from data)."""
        return self._input_shape

    @property
    def output_shape(self) -> Shape | None:
        """The shape of one output sample (None while the input shape is unknown)."""
        shapes = self._shapes()
        return None if shapes is None else shapes[-1]

    @property
    def input_features(self) -> int | None:
        """The number of input columns for samples of shape ``(features,)`` (None if unknown)."""
        shape = self._input_shape
        return shape[0] if shape is not None and len(shape) == 1 else None

    @property
    def output_features(self) -> int | None:
        """The number of output columns for outputs of shape ``(features,)`` (None if unknown)."""
        shape = self.output_shape
        return shape[0] if shape is not None and len(shape) == 1 else None

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter, in layer order (what an optimizer steps)."""
        return [p for layer in self._layers for p in layer.parameters()]

    def get_layer(self, name: str | int | None = None, index: int | None = None) -> Layer:
        """The layer named ``name``, or at position ``index`` (as Keras's ``get_layer``).

        ``model.get_layer("dense_1")``, ``model.get_layer(0)`` and ``model.get_layer(index=-1)``
        all work; a negative index counts from the end.

        Args:
            name: the layer's name, or its position (an int).
            index: the layer's position, when ``name`` is not given.

        Returns:
            The layer (the model's own object, not a copy).

        Raises:
            ConfigError: neither or both given, an unknown name or an index out of range.
        """
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool) and index is None:
            index, name = int(name), None
        if (name is None) == (index is None):
            raise ConfigError("get_layer needs a layer's name or its index (one of them).")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise ConfigError(f"index must be an integer; received index={index!r}.")
            if not -len(self._layers) <= index < len(self._layers):
                raise ConfigError(
                    f"No layer at index {index}: the model has {len(self._layers)} layers "
                    f"(indices 0 to {len(self._layers) - 1}, or negative from the end)."
                )
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ConfigError(
            f"No layer named {name!r}; the layers are: {', '.join(str(la.name) for la in self._layers) or 'none'}."
        )

    def count_params(self) -> int:
        """The number of weights: every parameter and buffer element (Keras's ``count_params``).

        Returns:
            The total shown by ``summary``.

        Raises:
            ConfigError: the model is not built yet (its sizes are unknown).
        """
        if not self.built:
            raise ConfigError(
                "count_params needs a built model: give input_shape=..., call model.build(shape), "
                "or train or predict once."
            )
        return sum(w.size for _, w in self._weights())

    def buffers(self) -> list[Buffer]:
        """Every buffer (non-trainable state, such as a batch norm's moving mean), in layer order."""
        return [b for layer in self._layers for b in layer.buffers()]

    def _weights(self) -> list[tuple[Layer, Parameter | Buffer]]:
        # what get_weights lists, as Keras does: per layer, its parameters, then its buffers
        slots: list[tuple[Layer, Parameter | Buffer]] = []
        for layer in self._layers:
            slots.extend((layer, p) for p in layer.parameters())
            slots.extend((layer, b) for b in layer.buffers())
        return slots

    # ------------------------------------------------------------------ compile
    @property
    def loss(self) -> Loss | None:
        """The loss set by ``compile`` (None before)."""
        return self._loss

    @loss.setter
    def loss(self, value: Any) -> None:
        self._loss = None if value is None else losses.get(value)
        self._trainer.reset()

    @property
    def optimizer(self) -> Optimizer | None:
        """The optimizer set by ``compile`` (None before)."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value: Any) -> None:
        self._optimizer = None if value is None else optimizers.get(value)
        self._trainer.reset()

    def compile(
        self, loss: Any = "mse", optimizer: Any = "sgd", metrics: Sequence[Any] | None = None
    ) -> None:
        """Sets the loss, the optimizer and the metrics (names, classes, instances or config dicts).

        ``metrics`` (e.g. ``["accuracy"]``) are reported each epoch under their registry names,
        and as ``val_<name>`` for validation data; they are measured, never optimised.

        Args:
            loss: the loss: a name, a class, an instance or a ``{"type": ...}`` table.
            optimizer: the optimizer, likewise.
            metrics: the metrics to report, likewise each (None: none).
        """
        loss_obj = losses.get(loss)  # everything resolved and checked before anything is set
        optimizer_obj = optimizers.get(optimizer)
        metric_objs = _resolve_metrics(metrics, loss_obj)
        self.loss, self.optimizer = loss_obj, optimizer_obj
        self._metrics = metric_objs

    @property
    def metrics(self) -> dict[str, Metric]:
        """The compiled metrics by the name they are reported under (a copy)."""
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
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        initial_epoch: int | None = None,
        on_nonfinite: str = "raise",
        sample_weight: Any = None,
        class_weight: Mapping[int, float] | None = None,
    ) -> History:
        """Trains the model for ``epochs`` passes over ``(x, y)`` and returns its History.

        Args:
            x: inputs, shape ``(samples, *input_shape)``; any real dtype, cast to the model's.
            y: targets, shape ``(samples, *output_shape)``, or ``(samples,)`` for one output.
            epochs: number of passes over the data (>= 1).
            batch_size: samples per update (>= 1); ``None`` for the whole data set. The last,
                smaller batch of an epoch is trained too.
            shuffle: visit samples in a new random order each epoch (drawn from the model's
                seeded generator); False keeps data-set order.
            verbose: ``"auto"`` (the default, as Keras) and 1: a live progress bar per epoch on
                a terminal, one plain line per epoch when the output is redirected (a file, a
                CI log, a notebook's captured output); 2 one plain line per epoch; 0 silent.
            callbacks: ``minidl.callbacks.Callback`` objects told of training events.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, val_sample_weight)``,
                evaluated after every epoch (``val_loss``, weighted by the third entry when given,
                and ``val_<metric>`` in the History); never trained on.
            validation_split: a fraction in [0, 1): as in Keras 3, the first
                ``floor(samples * (1 - validation_split))`` samples are trained on and the rest,
                taken from the end before any shuffling, are held out as validation data
                (10 samples with 0.25: 7 and 3).
            initial_epoch: as in Keras, the index of the first epoch; ``epochs`` is then the
                index to stop before, so ``epochs - initial_epoch`` epochs run. Without it, the
                epochs continue the numbering of the model's History.
            on_nonfinite: what a NaN or infinite loss or gradient (checked before each update)
                or weight (found by the next step's check or at the epoch's end) does:
                ``"raise"`` a DivergenceError naming epoch, batch and layer, ``"stop"`` training
                with a warning (callbacks' ``on_train_end`` runs), or ``"ignore"`` it (no check).
                With "raise" and "stop", a bad loss or gradient is never applied; an update that
                itself overflowed the weights has been applied and is not undone (see
                docs/reliability.md). History keeps only completed epochs.
            sample_weight: one weight (finite, >= 0) per sample of ``x``, shuffled with the data:
                each batch's loss is ``sum_i w_i * c_i`` with ``c_i`` the sample's unweighted
                share (Keras's meaning; see ``minidl.Loss.weighted_value_and_gradient``).
                ``validation_split`` holds out the weights of the held-out samples with them, for
                ``val_loss``. Metrics are not weighted (as Keras's ``metrics=``).
            class_weight: ``{class: weight}``, turned into one weight per sample from its class
                (its label, the argmax of its target row, or its rounded single target); a
                class not listed weighs 1. Not together with ``sample_weight`` (as in Keras).

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
        verbose = _verbosity(verbose, "0, 1, 2 or 'auto'", (0, 1, 2))
        start, epochs = _epoch_range(epochs, initial_epoch)
        on_nonfinite = choice("on_nonfinite", on_nonfinite, NONFINITE_POLICIES)
        extra = list(callbacks or ())
        for callback in extra:
            if not isinstance(callback, Callback):
                raise ComponentTypeError(
                    f"callbacks must be minidl.Callback instances; received {type(callback).__name__}."
                )
        x, y = self._validate(x, y)
        weights = self._fit_weights(x, y, sample_weight, class_weight)
        validation_weight = None
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 3:
            *validation_data, validation_weight = validation_data
        x, y, validation = self._held_out(x, y, validation_data, validation_split)
        if validation is not None and validation_weight is not None:
            validation_weight = self._as_weights(
                validation_weight, len(validation[0]), "In validation_data: "
            )
        elif weights is not None and validation_split:  # held out from the end, with their samples
            weights, validation_weight = weights[: len(x)], weights[len(x) :]
        progress = progress_callback(verbose)
        if progress is not None:
            extra.append(progress)
        if start is None:  # continue the History's numbering
            start = len(self.history.epochs) and self.history.epochs[-1] + 1
        with self._trainer.weighted(weights, validation_weight, shuffle):
            return self._trainer.fit(
                x, y, epochs=epochs, batch_size=batch_size or len(x), shuffle=shuffle, callbacks=extra,
                start=start, validation=validation, verbose=verbose, on_nonfinite=on_nonfinite,
            )  # fmt: skip

    def _fit_weights(
        self, x: np.ndarray, y: np.ndarray, sample_weight: Any, class_weight: Any
    ) -> np.ndarray | None:
        """The checked per-sample weights of a fit, from ``sample_weight`` or ``class_weight`` (or None)."""
        if class_weight is None:
            return None if sample_weight is None else self._as_weights(sample_weight, len(x))
        if sample_weight is not None:
            raise ConfigError("Pass sample_weight or class_weight, not both (as in Keras).")
        return class_weights(class_weight, y, bool(self.loss and self.loss.sparse_targets), self.dtype)

    def _as_weights(self, weights: Any, samples: int, where: str = "") -> np.ndarray:
        try:
            return sample_weights(weights, samples, self.dtype)
        except MinidlError as exc:
            raise type(exc)(f"{where}{exc}") from None

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update on the batch ``(x, y)`` (validated arrays); returns its loss (see ``Trainer``).

        Args:
            x: a batch of validated inputs.
            y: the batch's validated targets.
        """
        self._require_compiled("train")
        return self._trainer.train_step(x, y)

    def train_on_batch(
        self,
        x: Any,
        y: Any,
        *,
        sample_weight: Any = None,
        class_weight: Any = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One update on the batch ``(x, y)``, with the step ``fit`` takes (as Keras's ``train_on_batch``).

        The loss is measured before the update, as in ``fit``; compiled metrics are measured on
        the batch after it, with layers in inference mode, as ``fit`` measures an epoch's. So a
        call equals ``fit(x, y, epochs=1, batch_size=len(x), shuffle=False)``'s figures, without
        touching the History or calling callbacks.

        Args:
            x: the batch's inputs (checked as in ``fit``).
            y: the batch's targets.
            sample_weight: one weight (>= 0) per sample of the batch, as in ``fit``.
            class_weight: ``{class: weight}``, as in ``fit`` (not with ``sample_weight``).
            return_dict: return ``{"loss": ..., "<metric>": ...}`` instead of the loss, or
                ``[loss, metric, ...]`` when there are metrics.

        Returns:
            The figures, shaped as ``evaluate`` returns them.
        """
        self._require_compiled("train")
        x, y = self._validate(x, y)
        weights = self._fit_weights(x, y, sample_weight, class_weight)
        set_training(self._layers, True)
        try:
            figures = {"loss": self._trainer.weighted_step(x, y, weights)}
        finally:
            set_training(self._layers, False)
        if self._metrics:
            figures.update(self._trainer.figures(y, self.predict_on_batch(x), with_loss=False))
        return _shaped(figures, return_dict)

    def test_on_batch(
        self, x: Any, y: Any, *, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """The loss and metrics of one batch, weights unchanged (Keras's ``test_on_batch``).

        Args:
            x: the batch's inputs.
            y: the batch's targets.
            sample_weight: one weight (>= 0) per sample for the loss, as in ``evaluate``.
            return_dict: return ``{"loss": ..., "<metric>": ...}``.

        Returns:
            The figures, shaped as ``evaluate`` returns them.
        """
        self._require_compiled("evaluate")
        x, y = self._validate(x, y)
        weights = None if sample_weight is None else self._as_weights(sample_weight, len(x))
        figures = self._trainer.figures(y, self.predict_on_batch(x), with_loss=True, sample_weight=weights)
        return _shaped(figures, return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """The outputs for one batch, computed in one pass, layers in inference mode.

        Args:
            x: the batch's inputs.

        Returns:
            An array of shape ``(samples, *output_shape)``.
        """
        self._require_layers("predict")
        x = self._inputs(x)
        set_training(self._layers, False)
        return forward_in_chunks(self._layers, x, max(len(x), 1))

    # ------------------------------------------------------------------ inference
    def predict(self, x: Any, *, batch_size: int | None = None, verbose: int | str = 0) -> np.ndarray:
        """The model's outputs for ``x``, shape ``(samples, *output_shape)``.

        Computed ``batch_size`` samples at a time, with layers in inference mode. By default
        (None) a batch holds as many samples as keep every layer's output within
        ``PREDICT_VALUES`` values (8 MiB in float64), and at least 32, so the extra memory is
        a batch's worth whatever the size of ``x``. ``verbose`` 1, 2 or ``"auto"`` prints one
        line when done (``predict: 200 samples - 2ms``); 0, the default, is silent.

        Args:
            x: the inputs, ``(samples, *input_shape)``.
            batch_size: how many samples to compute at a time (>= 1), or None for the default
                above.
            verbose: 0 silent; 1, 2 or ``"auto"`` one line when done.
        """
        verbose = _verbosity(verbose, "0, 1, 2 or 'auto'", (0, 1, 2))
        started = time.perf_counter()
        self._require_layers("predict")
        if batch_size is not None:
            batch_size = positive_int("batch_size", batch_size)
        x = self._inputs(x)
        set_training(self._layers, False)
        outputs = forward_in_chunks(self._layers, x, batch_size or self._predict_rows())
        if verbose:
            report("predict", len(x), time.perf_counter() - started)
        return outputs

    def _predict_rows(self) -> int:
        widest = max((math.prod(shape) for shape in self._shapes() or [(1,)]), default=1)
        return max(32, PREDICT_VALUES // max(widest, 1))

    @overload
    def evaluate(
        self,
        x: Any,
        y: Any,
        *,
        batch_size: int | None = None,
        return_dict: Literal[False] = False,
        verbose: int | str = 0,
        sample_weight: Any = None,
    ) -> float | list[float]: ...
    @overload
    def evaluate(
        self,
        x: Any,
        y: Any,
        *,
        batch_size: int | None = None,
        return_dict: Literal[True],
        verbose: int | str = 0,
        sample_weight: Any = None,
    ) -> dict[str, float]: ...
    @overload
    def evaluate(
        self,
        x: Any,
        y: Any,
        *,
        batch_size: int | None = None,
        return_dict: bool = False,
        verbose: int | str = 0,
        sample_weight: Any = None,
    ) -> float | list[float] | dict[str, float]: ...
    def evaluate(
        self,
        x: Any,
        y: Any,
        *,
        batch_size: int | None = None,
        return_dict: bool = False,
        verbose: int | str = 0,
        sample_weight: Any = None,
    ) -> float | list[float] | dict[str, float]:
        """The loss over the whole of ``(x, y)`` (with the loss's reduction), weights unchanged.

        The outputs are computed in batches, as ``predict`` computes them (``batch_size``).
        With compiled metrics it returns ``[loss, metric, ...]`` as Keras does, and with
        ``return_dict=True`` always ``{"loss": ..., "<metric>": ...}``. ``verbose`` 1, 2 or
        ``"auto"`` prints one line with the figures when done; 0, the default, is silent.
        ``sample_weight`` (one weight >= 0 per sample) weighs the loss as in ``fit``:
        ``sum_i w_i * c_i`` over the whole data set; metrics are not weighted.

        Args:
            x: the inputs, ``(samples, *input_shape)``.
            y: the targets (or class labels for a sparse loss).
            batch_size: how many samples to compute at a time (None: all at once).
            return_dict: return ``{"loss": ..., "<metric>": ...}`` even without metrics.
            verbose: 0 silent; 1, 2 or ``"auto"`` one line with the figures when done.
            sample_weight: one weight (>= 0) per sample for the loss, or None.
        """
        verbose = _verbosity(verbose, "0, 1, 2 or 'auto'", (0, 1, 2))
        started = time.perf_counter()
        self._require_compiled("evaluate")
        x, y = self._validate(x, y)
        weights = None if sample_weight is None else self._as_weights(sample_weight, len(x))
        figures = self._trainer.figures(
            y, self.predict(x, batch_size=batch_size), with_loss=True, sample_weight=weights
        )
        if verbose:
            report("evaluate", len(x), time.perf_counter() - started, figures)
        return _shaped(figures, return_dict)

    def _held_out(
        self, x: np.ndarray, y: np.ndarray, data: Any, split: Any
    ) -> tuple[np.ndarray, np.ndarray, Arrays | None]:
        """The training arrays and the validation pair (from ``validation_data`` or the split)."""
        split = number("validation_split", split, low=0.0, high=1.0, high_open=True)
        if data is not None:
            if split:
                raise ConfigError("Pass validation_data or validation_split, not both.")
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise ConfigError(
                    "validation_data must be a pair (x_val, y_val) or a triple (x_val, y_val, "
                    f"val_sample_weight); received a {type(data).__name__} of {_length(data)}."
                )
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

    # ------------------------------------------------------------------ validation
    def _require_layers(self, action: str) -> None:
        if not self._layers:
            raise ConfigError(f"Cannot {action}: the model has no layers; add some with model.add(...).")

    def _require_compiled(self, action: str) -> None:
        self._require_layers(action)
        if self.loss is None or self.optimizer is None:
            raise NotCompiledError(
                f"Cannot {action} before compile: call model.compile(loss=..., optimizer=...) first, "
                "e.g. model.compile(loss='mse', optimizer='sgd')."
            )

    def _inputs(self, x: Any) -> np.ndarray:
        first = self._layers[0]
        array = as_inputs(x, self.dtype, self._input_shape, f"{first.name} ({first.describe()})")
        if (
            not self.built
        ):  # learnt from the first data, as Keras does; refused whole if a layer cannot take it
            self.build(array.shape[1:])
        return array

    def _validate(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        xs = self._inputs(x)
        last = self._layers[-1]
        labels = bool(self.loss is not None and self.loss.sparse_targets)
        ys = as_targets(
            y, self.dtype, self.output_shape, len(xs), f"{last.name} ({last.describe()})", labels=labels
        )
        return xs, ys

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight array, in layer order: per layer its parameters (Dense: weight,
        then bias), then its buffers (non-trainable state), as Keras lists them."""
        return [w.value.copy() for _, w in self._weights()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets every parameter from ``weights`` (same order and shapes as ``get_weights``).

        All arrays are checked before any is written, so a bad list changes nothing.

        Args:
            weights: one array per parameter, in ``get_weights``'s order.
        """
        slots = self._weights()
        if isinstance(weights, str | bytes) or not hasattr(weights, "__len__"):  # a generator, an iterator
            raise ShapeError(
                f"set_weights needs a list of {len(slots)} arrays (one per parameter and buffer); received "
                f"{type(weights).__name__} (for a generator or an iterator, pass list(...))."
            )
        if isinstance(weights, np.ndarray) or len(weights) != len(slots):
            got = "an array" if isinstance(weights, np.ndarray) else f"{len(weights)} arrays"
            raise ShapeError(
                f"set_weights needs a list of {len(slots)} arrays (one per parameter and buffer); received {got}."
            )
        arrays = []
        for (layer, p), w in zip(slots, weights, strict=True):
            a = as_weight(w, f"the {p.name} of {layer.name}")
            if a.shape != p.shape:
                raise ShapeError(
                    f"The {p.name} of {layer.name} ({layer.describe()}) has shape {p.shape}; "
                    f"received an array of shape {a.shape}."
                )
            arrays.append(a)
        for (_, p), a in zip(slots, arrays, strict=True):
            p.value[...] = a

    # ------------------------------------------------------------------ random state
    def get_random_state(self) -> dict[str, Any]:
        """The state of every generator of the model: ``shuffle`` and ``layers`` (by position)."""
        return {
            "shuffle": self._trainer.shuffle_rng.bit_generator.state,
            "layers": {str(i): rng.bit_generator.state for i, rng in self._layer_rngs.items()},
        }

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Restores ``get_random_state``'s output (layers given by position may be a subset).

        Args:
            state: the output of ``get_random_state``.
        """
        generators = [(self._trainer.shuffle_rng, state["shuffle"])]
        generators += [(self._layer_rngs[int(i)], value) for i, value in state.get("layers", {}).items()]
        for rng, value in generators:
            rng.bit_generator.state = value

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes architecture, weights, compile settings and training state to one file, atomically.

        See ``minidl.io.save`` and docs/reliability.md for the format and its guarantees.

        Args:
            path: the file to write (replaced atomically if it exists).
        """
        io.save(self, path)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Writes only the parameter arrays (as ``get_weights``) to one file, atomically.

        Args:
            path: the file to write (replaced atomically if it exists).
        """
        io.save_weights(self, path)

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Sets every parameter from a ``save_weights`` file; a bad file changes nothing.

        Args:
            path: the file ``save_weights`` wrote.
        """
        io.load_weights(self, path)

    # ------------------------------------------------------------------ description
    def summary(self, print_fn: Any = print) -> None:
        """Prints a table of layers, output shapes and parameter counts, and the totals.

        Args:
            print_fn: the function each line is given to (``print`` by default).
        """
        rows = [("Layer (type)", "Output shape", "Params")]
        shapes = self._shapes()
        for i, layer in enumerate(self._layers):
            shape = "?" if shapes is None else _batch_shape(shapes[i + 1])
            count = sum(w.size for w in (*layer.parameters(), *layer.buffers()))
            rows.append(
                (f"{layer.name} ({type(layer).__name__})", shape, f"{count:,}" if layer.built else "?")
            )
        trainable = sum(p.size for p in self.parameters())
        frozen = sum(b.size for b in self.buffers())
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        line = "-" * (sum(widths) + 4)
        text = [f"Model: {self.name!r}", line]
        for i, row in enumerate(rows):
            text.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")
            if i == 0:
                text.append(line)
        text += [
            line,
            f"Total params: {trainable + frozen:,}  (dtype {self.dtype})",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {frozen:,}",
        ]
        if not self.built:
            text.append("(not built yet: the input shape is learnt from the first data)")
        print_fn("\n".join(text))

    def get_config(self) -> dict[str, Any]:
        """The model's architecture as plain JSON values (layers by registry name)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "dtype": str(self.dtype),
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [_layer_config(layer) for layer in self._layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Builds a model from ``get_config``'s output (weights freshly initialised).

        Args:
            config: a dict from ``get_config`` (or the ``[model]`` table of a configuration).
        """
        if not isinstance(config, dict):
            raise ConfigError(f"A model configuration must be a dict; received {type(config).__name__}.")
        known = {"name", "seed", "dtype", "input_shape", "layers"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"Unknown model configuration key(s) {unknown}; known keys: {sorted(known)}.")
        layer_configs = config.get("layers", [])
        if not isinstance(layer_configs, list):
            raise ConfigError(f"'layers' must be a list of layer configurations; received {layer_configs!r}.")
        return cls(
            layer_configs, input_shape=config.get("input_shape"), seed=config.get("seed"),
            dtype=config.get("dtype", "float64"), name=config.get("name"),
        )  # fmt: skip

    def __repr__(self) -> str:
        inner = ", ".join(layer.describe() for layer in self._layers)
        return f"Sequential([{inner}], dtype={self.dtype})"


def load(path: str | os.PathLike[str]) -> Sequential:
    """Reads a model file written by ``Sequential.save`` (see ``minidl.io.load``).

    Args:
        path: the model file.

    Returns:
        The model, compiled and with its training state when the file has them.

    Raises:
        IsADirectoryError: ``path`` is a folder; the message names the function that reads it.
    """
    if Path(os.fspath(path)).is_dir():
        raise IsADirectoryError(
            f"Cannot load {os.fspath(path)!r}: it is a folder, and minidl.load reads one model file. "
            f"For a folder of backups (BackupAndRestore, or ModelCheckpoint with a folder) use "
            f"minidl.checkpoint.load_latest({os.fspath(path)!r}); a sweep's folder holds its best "
            "model in best.minidl."
        )
    return io.load(path, Sequential)


def _shaped(figures: dict[str, float], as_dict: bool) -> float | list[float] | dict[str, float]:
    """Figures as Keras returns them: a dict, the loss alone, or ``[loss, metric, ...]``."""
    if as_dict:
        return figures
    return figures["loss"] if len(figures) == 1 else list(figures.values())


def _verbosity(value: Any, accepted: str, numbers: tuple[int, ...]) -> int:
    """``value`` as a number (``"auto"`` is 1, as in Keras), else a ConfigError."""
    if value == "auto":
        return 1
    if isinstance(value, bool) or value not in numbers:
        raise ConfigError(f"verbose must be {accepted}; received verbose={value!r}.")
    return int(value)


def _batch_shape(shape: Shape) -> str:
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


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


def _resolve_metrics(metrics: Any, loss: Loss) -> dict[str, Metric]:
    """Metrics by name, checked for duplicates and against the loss's form of targets."""
    if metrics is None:
        return {}
    if isinstance(metrics, (str, Mapping, Metric)) or not isinstance(metrics, Iterable):
        raise ConfigError(f"metrics must be a list, e.g. metrics=['accuracy']; received {metrics!r}.")
    resolved: dict[str, Metric] = {}
    for identifier in metrics:
        metric = metrics_module.get(identifier)
        name = metrics_module.registry.name_of(type(metric), default=type(metric).__name__.lower())
        if name == "loss" or name in resolved:
            raise ConfigError(
                f"The metric name {name!r} is used twice (or clashes with 'loss'); each figure needs one name."
            )
        if loss.sparse_targets and not metric.accepts_labels:
            raise ConfigError(
                f"The metric {name!r} compares arrays shaped like the predictions, but the loss "
                f"{type(loss).__name__} takes integer class labels; use 'accuracy' with it."
            )
        resolved[name] = metric
    return resolved


def _registry_of(layer: Layer) -> Any:
    return activations.registry if isinstance(layer, activations.Activation) else layers_module.registry


def _layer_config(layer: Layer) -> dict[str, Any]:
    name = _registry_of(layer).name_of(type(layer))
    return {"type": name, "name": layer.name, **layer.get_config()}


def as_weight(value: Any, what: str) -> np.ndarray:
    """``value`` as a finite real array, else a clear error (used when setting weights).

    Args:
        value: the array-like to check.
        what: the name of the array in the error message.
    """
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


def _length(value: Any) -> str:
    """``"3 items"`` for a sized value, else ``"unknown length"`` (for messages)."""
    try:
        return f"{len(value)} items"
    except TypeError:
        return "unknown length"
