"""Activations: elementwise functions with their derivatives, usable as layers.

An :class:`Activation` is a :class:`~minidl.layers.Layer` without parameters, so it can stand in
a ``Sequential`` model (``Sequential([Dense(2, 2), Sigmoid()])``) or be named in
``Dense(..., activation="sigmoid")``. Subclasses give ``function(x)`` and
``derivative(x, y)`` (dy/dx elementwise, from the input ``x`` or the cached output ``y``).
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from scipy.special import expit, softmax

from ._component import ValueEquality
from .layers import Layer
from .registry import Registry

__all__ = ["Activation", "Sigmoid", "Tanh", "ReLU", "Identity", "Softmax", "registry", "register", "get"]


class Activation(ValueEquality, Layer):
    """Base class of elementwise activations: ``y = f(x)``, ``dL/dx = dL/dy * f'(x)``."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        # typed as arrays: forward sets them before any backward, and a None check in every
        # backward would cost the hot path a little on each step
        self._x: np.ndarray = None  # type: ignore[assignment]
        self._y: np.ndarray = None  # type: ignore[assignment]

    @abstractmethod
    def function(self, x: np.ndarray) -> np.ndarray:
        """f(x), elementwise, keeping x's dtype."""

    @abstractmethod
    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """f'(x) elementwise, computed from the input ``x`` or the output ``y = f(x)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self.function(x)
        self._x, self._y = x, y
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * self.derivative(self._x, self._y)

    def describe(self) -> str:
        return type(self).__name__


registry: Registry[Activation] = Registry("activation", Activation)
register = registry.register
get = registry.get


@register("sigmoid")
class Sigmoid(Activation):
    """Logistic sigmoid ``1 / (1 + exp(-x))``; derivative ``y * (1 - y)`` from the output.

    Uses ``scipy.special.expit``, which never overflows.
    """

    def function(self, x: np.ndarray) -> np.ndarray:
        return expit(x)

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y * (1.0 - y)

    # forward and backward written out: one Python call less each way, about 3% of a
    # lecture-1 step; only the output is needed on the way back
    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._y = expit(x)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        # y - y*y is y(1 - y) to within a rounding, without the Python float 1.0 that numpy
        # must convert on every call (0.75 us instead of 0.9 us on a lecture-1 layer)
        y = self._y
        return grad_output * (y - y * y)


@register("tanh")
class Tanh(Activation):
    """Hyperbolic tangent; derivative ``1 - y**2`` from the output."""

    def function(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 1.0 - y * y

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._y = np.tanh(x)  # only the output is needed on the way back
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        y = self._y
        return grad_output * (1.0 - y * y)


@register("relu")
class ReLU(Activation):
    """``max(x, 0)``; derivative 1 where ``x > 0`` and 0 elsewhere (0 at the kink)."""

    def function(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x > 0).astype(x.dtype)

    # Keeping only the output (y > 0 exactly where x > 0) lets the pre-activation array be freed:
    # on the W4 benchmark that is one (batch, width) array less per layer at the memory peak.
    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._y = np.maximum(x, 0)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        # The 0/1 slope made as a float array, then multiplied in place: a float-by-bool product
        # casts the mask on numpy's slow path (on a 256x1024 float32 batch 113 us instead of
        # 158 us; 2.2 us instead of 3.0 us on a 32x128 one)
        slope = (self._y > 0).astype(grad_output.dtype)
        slope *= grad_output
        return slope


@register("linear")
class Identity(Activation):
    """The identity ``f(x) = x`` (registered as ``"linear"``, as in Keras)."""

    def function(self, x: np.ndarray) -> np.ndarray:
        return x

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.ones_like(x)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output




@register("softmax")
class Softmax(Activation):
    """``y_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))`` over each row (no overflow).

    Not elementwise: ``backward`` applies the Jacobian, ``dL/dx = y * (g - sum(g * y))`` per row.
    With a cross-entropy, prefer a linear last layer and ``from_logits=True``: it is exact and cheaper.
    """

    def function(self, x: np.ndarray) -> np.ndarray:
        return softmax(x, axis=-1)

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError("softmax is not elementwise: its backward applies the full Jacobian.")

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        y = self._y
        return y * (grad_output - np.sum(grad_output * y, axis=-1, keepdims=True))
