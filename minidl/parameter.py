"""Parameters (a value array and its gradient) and buffers (non-trainable state, no gradient)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Parameter", "Buffer", "pack"]


class _NamedArray:
    """A named array: what parameters and buffers share (shape, size, a readable repr)."""

    __slots__ = ("value", "name")
    value: np.ndarray
    name: str

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self.value = value
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def size(self) -> int:
        return int(self.value.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"


class Parameter(_NamedArray):
    """A trainable array and its gradient.

    Layers write ``grad`` in place during ``backward``; optimizers update ``value`` in place.
    Identity matters (optimizer state is keyed by the Parameter object), so Parameters compare
    and hash by identity.

    Args:
        value: the initial array (its dtype is kept; ``grad`` gets the same shape and dtype).
        name: the parameter's name (``"weight"``, ``"bias"``).

    Examples:
        >>> p = Parameter(np.zeros((2, 3)), name="weight")
        >>> p.grad.shape
        (2, 3)
    """

    __slots__ = ("grad", "__weakref__")
    grad: np.ndarray

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        super().__init__(value, name)
        self.grad = np.zeros_like(value)


class Buffer(_NamedArray):
    """A named array of a layer's non-trainable state, such as a batch norm's moving mean.

    A layer returns its buffers from ``buffers()``. They are saved in model files and
    checkpoints and restored bit for bit, checked for NaN and infinity by the guard, listed
    by ``get_weights``, counted as non-trainable in ``summary()``, and never seen by an
    optimizer: the layer itself updates ``value`` in place (during training).

    Examples:
        >>> b = Buffer(np.ones(3), name="moving_variance")
        >>> b.shape
        (3,)
    """

    __slots__ = ()


def pack(parameters: Sequence[Parameter], dtype: np.dtype[Any]) -> Parameter:
    """Moves the values and gradients of ``parameters`` into two contiguous buffers.

    Each parameter's ``value`` and ``grad`` become views of one flat buffer, so an elementwise
    optimizer can update every parameter of a model with one numpy call instead of one per array.
    Returns a Parameter whose ``value`` and ``grad`` are the two flat buffers.

    Args:
        parameters: the parameters to move.
        dtype: the dtype of the two buffers.
    """
    total = sum(p.size for p in parameters)
    # The old gradients are not carried over (backward overwrites them): dropping them first,
    # and allocating the flat gradient only once the old values are gone, means packing never
    # holds more than one extra copy of the weights (peak 2x the parameters instead of 4x).
    for p in parameters:
        del p.grad
    values = np.empty(total, dtype=dtype)
    offset = 0
    for p in parameters:
        end = offset + p.size
        values[offset:end] = p.value.ravel()
        p.value = values[offset:end].reshape(p.value.shape)
        offset = end
    flat = Parameter(values, name="all")
    offset = 0
    for p in parameters:
        end = offset + p.size
        p.grad = flat.grad[offset:end].reshape(p.value.shape)
        offset = end
    return flat
