"""The ``Layer`` interface, its registry, and the shape of one sample.

A layer maps a batch ``x`` of shape ``(batch, *input_shape)`` to a batch of shape
``(batch, *output_shape)``. Shapes are per sample, as tuples: ``(features,)``,
``(height, width, channels)``, ``(steps, features)``. ``forward`` caches what ``backward`` needs
(the last call only); ``backward`` receives dL/doutput, writes the gradients of the layer's
parameters in place and returns dL/dinput.

Building: a model calls ``Layer.build`` exactly once per layer, with the shape of one input
sample, a random generator and a dtype, before the layer first runs. A layer creates its
parameters there (so sizes can be inferred from the input), and the model then marks it built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._component import Described
from ..errors import ConfigError, NotCompiledError, ShapeError
from ..parameter import Buffer, Parameter
from ..registry import Registry

__all__ = ["Layer", "Shape", "as_shape", "expect_rank", "registry", "register", "MAX_RANK", "MAX_AXIS"]

#: The shape of one sample, without the batch axis: ``(features,)``, ``(height, width, channels)``...
Shape = tuple[int, ...]


#: The most axes, and the largest size along one, of a sample's shape: what a model file can hold,
#: checked when a shape is set so that no model is built that could be saved but not loaded.
MAX_RANK, MAX_AXIS = 8, 2**31 - 1


def as_shape(value: Any, what: str = "shape") -> Shape:
    """``value`` (an int or a sequence of ints) as a shape tuple of positive ints, else ConfigError.

    Args:
        value: an int or a sequence of ints.
        what: the name used in the error message.
    """
    items: Iterable[Any] = (value,) if isinstance(value, (int, np.integer)) else value
    try:
        shape = tuple(items)
    except TypeError:
        shape = ()
    if not 1 <= len(shape) <= MAX_RANK or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and 1 <= n <= MAX_AXIS for n in shape
    ):
        raise ConfigError(
            f"{what} must be a positive integer or a tuple of 1 to {MAX_RANK} of them (each at most "
            f"{MAX_AXIS:,}), e.g. (28, 28, 1); received {value!r}."
        )
    return tuple(int(n) for n in shape)


class Layer(Described, ABC):
    """Base class of every layer (and of activations, which are layers without parameters).

    A subclass gives ``forward`` and ``backward``. A layer with parameters creates them
    in ``build`` from the input shape it is given and returns them from ``parameters``;
    a layer that changes the shape of a sample says how in ``compute_output_shape``.
    ``training`` is set by the model: True inside ``fit``, False otherwise (dropout reads it).

    Args:
        name: the layer's name in summaries and saved files (default: from its class).

    Examples:
        >>> class Scale(Layer):
        ...     def build(self, input_shape, rng, dtype):
        ...         self.w = Parameter(np.ones(input_shape, dtype=dtype), name="scale")
        ...     def parameters(self):
        ...         return [self.w]
        ...     def forward(self, x):
        ...         self.x = x
        ...         return x * self.w.value
        ...     def backward(self, grad_output):
        ...         np.add.reduce(grad_output * self.x, axis=0, out=self.w.grad)
        ...         return grad_output * self.w.value
    """

    training: bool = False
    _name: str | None = None

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name
        self.built = False
        self.input_shape: Shape | None = None

    @property
    def name(self) -> str | None:
        """The layer's name in its model (a string; None until a model names it)."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        # checked when set, so a model file is never written with a name it cannot be read with
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"A layer's name must be a string; received {value!r} ({type(value).__name__})."
            )
        self._name = value

    @classmethod
    def example(cls) -> Layer:
        """A small instance for conformance tests; layers whose constructor needs arguments override it."""
        return cls()

    def example_input_shape(self) -> Shape:
        """The input shape the conformance kit feeds this layer (``(5,)`` unless overridden)."""
        return self.input_shape or (5,)

    # ------------------------------------------------------------------ building
    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any]) -> None:
        """Creates the layer's parameters for inputs of ``input_shape`` (one sample); a no-op by default.

        Called once, by ``build_for`` (which a model calls), before the first ``forward``.

        Args:
            input_shape: the shape of one input sample, without the batch axis.
            rng: the generator to draw initial weights from (the model spawns one per layer).
            dtype: the dtype of the parameters to create.
        """

    def build_for(self, input_shape: Shape, rng: np.random.Generator | None, dtype: np.dtype[Any]) -> Shape:
        """Checks ``input_shape``, builds the layer for it once and returns its output shape.

        This is what a model calls; a layer author overrides ``build`` instead. ``rng`` may
        be None only for a layer already built.

        Args:
            input_shape: the shape of one input sample, without the batch axis.
            rng: the generator passed on to ``build`` (None only for a layer already built).
            dtype: the dtype of the parameters to create.
        """
        output_shape = self.compute_output_shape(input_shape)
        if not self.built:
            if rng is None:
                raise ConfigError(f"{self.describe()} needs a random generator to be built.")
            self.build(input_shape, rng, dtype)
            self.built = True
        self.input_shape = input_shape
        return output_shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The shape of one output sample for inputs of ``input_shape`` (unchanged by default).

        Raises ShapeError, saying what the layer takes, when it cannot take ``input_shape``.

        Args:
            input_shape: the shape of one input sample, without the batch axis.
        """
        return input_shape

    def require_built(self) -> None:
        """Raises NotCompiledError unless the layer has been built (for a clear error in ``forward``)."""
        if not self.built:
            raise NotCompiledError(
                f"{self.describe()} is not built yet: add it to a Sequential model (which builds it from "
                "the input shape), or call layer.build_for(input_shape, numpy.random.default_rng(seed), "
                "numpy.dtype('float64')) first."
            )

    # ------------------------------------------------------------------ computing
    @abstractmethod
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Computes the output for the batch ``x`` and caches what ``backward`` needs.

        Args:
            x: a batch of inputs, samples along the first axis.
        """

    @abstractmethod
    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Given dL/doutput of the last forward call, fills parameter gradients; returns dL/dinput.

        Args:
            grad_output: dL/doutput for the output of the last ``forward`` call, of that output's shape.
        """

    def backward_parameters(self, grad_output: np.ndarray) -> None:
        """Fills the parameter gradients only, without dL/dinput (the first layer of a training step).

        The default calls ``backward`` and drops its result; a layer may override it to skip
        computing a gradient nobody reads (Dense does).

        Args:
            grad_output: dL/doutput for the output of the last ``forward`` call, of that output's shape.
        """
        self.backward(grad_output)

    def parameters(self) -> list[Parameter]:
        """The layer's trainable parameters, in a fixed order (none by default)."""
        return []

    def buffers(self) -> list[Buffer]:
        """The layer's non-trainable state (a batch norm's moving statistics), in a fixed order.

        None by default. Buffers are saved and restored with the parameters and checked by the
        guard, but no optimizer touches them: the layer updates them itself, in training.
        """
        return []

    # ------------------------------------------------------------------ description
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values (``name`` excluded)."""
        return {}

    def describe(self) -> str:
        """A short description used in messages and summaries, e.g. ``Dense 2 -> 2``."""
        return type(self).__name__

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Runs ``forward`` on ``x``: a layer can be called like a function.

        Args:
            x: a batch of inputs, samples along the first axis.
        """
        return self.forward(x)


def expect_rank(layer: Layer, input_shape: Shape, rank: int, example: str) -> None:
    """Raises ShapeError unless samples of ``input_shape`` have ``rank`` axes (``example`` shows one).

    Args:
        layer: the layer that checks its input (named in the error).
        input_shape: the shape of one input sample.
        rank: the number of axes a sample must have.
        example: a shape of that rank, shown in the error as one that would work.
    """
    if len(input_shape) != rank:
        raise ShapeError(
            f"{layer.describe()} takes samples of shape {example}; received samples of shape {input_shape}."
        )


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Layer] = Registry("layer", Layer)  # type: ignore[type-abstract]
register = registry.register
