"""``Flatten`` and ``Reshape``: the same values, another shape per sample (the batch axis kept)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, register

__all__ = ["Flatten", "Reshape"]


class _Reshaping(Layer):
    """A parameter-free layer whose forward is a reshape and whose backward is the reverse one."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.built = True  # no parameters and no randomness: the model spawns no generator for it
        self._input_batch_shape: tuple[int, ...] = ()  # the last input's shape, set by forward

    def example_input_shape(self) -> Shape:
        return self.input_shape or (6, 5, 2)

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """No parameters (a model file is checked against this before it is read)."""
        return []

    def forward(self, x: np.ndarray) -> np.ndarray:
        output_shape = self.compute_output_shape(tuple(x.shape[1:]))
        self._input_batch_shape = x.shape
        # a view when x is contiguous (the usual case); the sizes are explicit, never -1, so an
        # empty batch reshapes too
        return x.reshape((x.shape[0], *output_shape))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(self._input_batch_shape)


@register("flatten")
class Flatten(_Reshaping):
    """Samples of any shape to ``(prod(shape),)``, in C (row-major) order: ``(7, 7, 32)`` to ``(1568,)``.

    Keras's ``Flatten`` on channels-last images: the channel index varies fastest. Backward
    reshapes the gradient back.
    """

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)


@register("reshape")
class Reshape(_Reshaping):
    """Samples to ``target_shape`` (C order), as Keras: ``Reshape((4, 4, 1))`` on ``(16,)`` samples.

    One entry may be ``-1``: it is inferred from the sample size (``Reshape((-1, 2))`` on
    ``(6, 5, 2)`` gives ``(30, 2)``). The sizes must match, else a ShapeError names both shapes.

    Args:
        target_shape: the shape of one output sample; one entry may be ``-1``.
        name: the layer's name in summaries and saved files (default: from its class).
    """

    def __init__(self, target_shape: Any, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.target_shape = _target_shape(target_shape)

    @classmethod
    def example(cls) -> Reshape:
        return cls((-1, 4))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        size = math.prod(input_shape)
        known = math.prod(n for n in self.target_shape if n != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ShapeError(
                    f"{self.describe()} cannot take samples of shape {tuple(input_shape)}: their {size} "
                    f"values do not divide into the {known} of the known sizes of {self.target_shape}."
                )
            return tuple(size // known if n == -1 else n for n in self.target_shape)
        if size != known:
            raise ShapeError(
                f"{self.describe()} cannot take samples of shape {tuple(input_shape)}: they hold {size} "
                f"values and {self.target_shape} holds {known}."
            )
        return self.target_shape

    def get_config(self) -> dict[str, Any]:
        return {"target_shape": list(self.target_shape)}

    def describe(self) -> str:
        return f"Reshape to {self.target_shape}"


def _target_shape(value: Any) -> tuple[int, ...]:
    """``value`` as a shape of positive ints with at most one -1, else ConfigError."""
    items = (value,) if isinstance(value, (int, np.integer)) else value
    try:
        shape = tuple(items)
    except TypeError:
        shape = ()
    ints = all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape)
    if not shape or not ints or not all(n >= 1 or n == -1 for n in shape) or shape.count(-1) > 1:
        raise ConfigError(
            "target_shape must be a tuple of positive integers with at most one -1 (inferred), e.g. "
            f"(7, 7, 32) or (-1, 4); received target_shape={value!r}."
        )
    return tuple(int(n) for n in shape)
