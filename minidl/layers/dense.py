"""``Dense``, the fully connected layer, and ``Input``, which declares a model's input shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers
from .._checks import positive_int
from ..errors import ComponentTypeError, ConfigError, ShapeError
from ..parameter import Parameter
from . import activations
from .base import Layer, Shape, as_shape, register

__all__ = ["Dense", "Input"]


@register("input")
class Input(Layer):
    """Declares the shape of one input sample, as the first entry of a ``Sequential`` model.

    ``Sequential([Input((28, 28, 1)), ...])`` is the same as ``Sequential([...],
    input_shape=(28, 28, 1))``: the model keeps the shape and builds every layer from it; the
    Input itself is not one of ``model.layers`` (as in Keras).

    Args:
        shape: the shape of one sample without the batch axis: an int or a tuple of ints.
        name: the entry's name (default: from its class).
    """

    def __init__(self, shape: Any, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = as_shape(shape, "Input's shape")
        self.built = True

    @classmethod
    def example(cls) -> Input:
        return cls((3,))

    def example_input_shape(self) -> Shape:
        return self.shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if tuple(input_shape) != self.shape:
            raise ShapeError(
                f"Input declares samples of shape {self.shape}; received samples of shape {input_shape}."
            )
        return self.shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    def describe(self) -> str:
        return f"Input {self.shape}"


@register("dense")
class Dense(Layer):
    """Fully connected layer: ``y = activation(x @ W + b)`` on samples of shape ``(features,)``.

    ``Dense(units)`` infers its input size from the layer before it (or the data);
    ``Dense(in_features, out_features)`` fixes both, as the lectures write it. ``W`` has shape
    ``(in_features, units)`` and ``b`` shape ``(units,)``; they are created when the model builds
    the layer.

    Args:
        units: the number of outputs, when it is the only size given (the input size is inferred).
        out_features: the number of outputs, with ``in_features`` given first (the lectures' way).
        in_features: the number of inputs; None infers it from the layer before or the data.
        bias: whether to add a bias ``b`` (False: ``y = activation(x @ W)``).
        weight_init: the initializer of ``W``: a name, an ``Initializer`` or a ``{"type": ...}`` table.
        bias_init: the initializer of ``b``, likewise.
        activation: an activation applied to the output: a name, an ``Activation`` or None (identity).
        name: the layer's name in summaries and saved files (default: from its class).

    Examples:
        >>> layer = Dense(3, activation="tanh")
        >>> layer.build_for((2,), np.random.default_rng(0), np.dtype("float64"))
        (3,)
        >>> layer.forward(np.ones((5, 2))).shape
        (5, 3)
    """

    def __init__(
        self,
        units: int | None = None,
        out_features: int | None = None,
        *,
        in_features: int | None = None,
        bias: bool = True,
        weight_init: Any = "glorot_uniform",
        bias_init: Any = "zeros",
        activation: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if out_features is not None:  # Dense(in_features, out_features), by position or by name
            out_features = positive_int("out_features", out_features)
            if units is not None and in_features is not None:
                raise ConfigError(
                    f"Dense takes Dense(units) or Dense(in_features, out_features); received units={units}, "
                    f"out_features={out_features} and in_features={in_features}."
                )
            units, in_features = out_features, units if in_features is None else in_features
        if units is None:
            raise ConfigError(
                "Dense needs its number of outputs: Dense(units) or Dense(in_features, out_features)."
            )
        self.units = positive_int("units", units)
        self.declared_in = None if in_features is None else positive_int("in_features", in_features)
        if self.declared_in is not None:
            self.input_shape = (self.declared_in,)  # a model whose first layer this is takes that shape
        if not isinstance(bias, bool):
            raise ComponentTypeError(f"bias must be True or False; received bias={bias!r}.")
        self.bias = bias
        self.weight_init = initializers.get(weight_init)
        self.bias_init = initializers.get(bias_init)
        self.activation = None if activation is None else activations.get(activation)
        self.W: Parameter = None  # type: ignore[assignment]  # made by build, before any forward
        self.b: Parameter | None = None
        self._x: np.ndarray | None = None

    @classmethod
    def example(cls) -> Dense:
        return cls(3, 4, activation="tanh", bias_init="normal")

    @property
    def in_features(self) -> int | None:
        """The input width: given, or inferred when the layer was built (None before)."""
        return self.declared_in if self.W is None else self.W.shape[0]

    @property
    def out_features(self) -> int:
        """The output width (``units``)."""
        return self.units

    def example_input_shape(self) -> Shape:
        return (self.in_features or 5,)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise ShapeError(
                f"{self.describe()} takes samples of shape (features,); received samples of shape "
                f"{tuple(input_shape)}. Flatten them first (a Flatten layer)."
            )
        expected = self.in_features
        if expected is not None and input_shape[0] != expected:
            raise ShapeError(
                f"{self.describe()} expects {expected} input features, but receives {input_shape[0]}."
            )
        return (self.units,)

    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any]) -> None:
        shape = (input_shape[0], self.units)
        self.W = Parameter(self.weight_init(shape, rng, dtype), name="weight")
        if self.bias:
            self.b = Parameter(self.bias_init((self.units,), rng, dtype), name="bias")

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """The shapes ``build`` will create for ``input_shape`` (checked before a file is read).

        Args:
            input_shape: the shape of one input sample, ``(in_features,)``.
        """
        return [(input_shape[0], self.units)] + ([(self.units,)] if self.bias else [])

    def parameters(self) -> list[Parameter]:
        if self.W is None:
            return []
        return [self.W] if self.b is None else [self.W, self.b]

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.W is None:
            self.require_built()
        self._x = x
        # ndarray.dot rather than @ or np.dot in this layer: the same BLAS product, but on tiny
        # arrays 0.25 us less per call than @ and 0.12 us less than np.dot (which goes through
        # numpy's function dispatch); five calls make a lecture-1 step, which takes about 12 us
        z = x.dot(self.W.value)
        if self.b is not None:
            z += self.b.value
        return z if self.activation is None else self.activation.forward(z)

    def backward_parameters(self, grad_output: np.ndarray) -> None:
        g = grad_output if self.activation is None else self.activation.backward(grad_output)
        self._fill_gradients(g)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        g = grad_output if self.activation is None else self.activation.backward(grad_output)
        self._fill_gradients(g)
        return g.dot(self.W.value.T)

    def _fill_gradients(self, g: np.ndarray) -> None:
        self._x.T.dot(g, out=self.W.grad)  # type: ignore[union-attr]  # forward ran first
        if self.b is not None:
            if len(g) == 1:  # one sample (per-sample SGD): the sum over the batch is that row,
                # copied in 0.15 us instead of reduced in 0.6 us; assigning the (1, n) row itself
                # (numpy drops the leading 1) saves making the view g[0]
                self.b.grad[...] = g
            else:
                # np.add.reduce, not np.sum: the wrapper of np.sum costs about 1 us a call, which
                # is a tenth of a whole lecture-1 step
                np.add.reduce(g, axis=0, out=self.b.grad)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"units": self.units}
        if self.declared_in is not None:
            config["in_features"] = self.declared_in
        config.update(
            bias=self.bias,
            weight_init=initializers.registry.serialize(self.weight_init),
            bias_init=initializers.registry.serialize(self.bias_init),
        )
        if self.activation is not None:
            config["activation"] = activations.registry.serialize(self.activation)
        return config

    def describe(self) -> str:
        act = f", {type(self.activation).__name__}" if self.activation is not None else ""
        return f"Dense {self.in_features or '?'} -> {self.units}{act}"
