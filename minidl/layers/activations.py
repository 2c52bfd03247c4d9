"""Activations: layers without parameters, registered by name so a Dense layer can name one.

An ``Activation`` is a ``Layer`` that keeps the shape of its input and
has no parameters, so it can stand in a ``Sequential`` model (``Sequential([Dense(2, 2),
Sigmoid()])``) or be named in ``Dense(..., activation="sigmoid")``. Like every layer it gives
``forward`` (caching what its backward needs) and ``backward``; each built-in writes its formula
once, in those two methods, which are what training runs and what the conformance kit checks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax

from .._component import ValueEquality
from ..registry import Registry
from .base import Layer

__all__ = ["Activation", "Sigmoid", "Tanh", "ReLU", "Identity", "Softmax", "registry", "register", "get"]


class Activation(ValueEquality, Layer):
    """Base class of activations: a parameter-free layer that keeps the shape of its input.

    Subclasses give ``forward(x)`` (keeping what ``backward`` needs, for the last call only) and
    ``backward(grad_output)`` returning dL/dx. Two activations of the same class and
    configuration are equal.

    Args:
        name: the activation's name in summaries and saved files (default: from its class).

    Examples:
        >>> class Square(Activation):
        ...     def forward(self, x):
        ...         self.x = x
        ...         return x * x
        ...     def backward(self, grad_output):
        ...         return grad_output * 2.0 * self.x
    """

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.built = True  # nothing to build: usable on its own, inside Dense or in a model

    def describe(self) -> str:
        return type(self).__name__


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Activation] = Registry("activation", Activation)  # type: ignore[type-abstract]
register = registry.register
get = registry.get


@register("sigmoid")
class Sigmoid(Activation):
    """Logistic sigmoid ``y = 1 / (1 + exp(-x))``; ``dL/dx = dL/dy * y (1 - y)``, from the output.

    Uses ``scipy.special.expit``, which never overflows.
    """

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
    """Hyperbolic tangent ``y = tanh(x)``; ``dL/dx = dL/dy * (1 - y**2)``, from the output."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._y = np.tanh(x)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        y = self._y
        return grad_output * (1.0 - y * y)


@register("relu")
class ReLU(Activation):
    """``y = max(x, 0)``; ``dL/dx = dL/dy`` where ``x > 0`` and 0 elsewhere (0 at the kink)."""

    # Only the output is kept (y > 0 exactly where x > 0), so the pre-activation array can be
    # freed: on the W4 benchmark that is one (batch, width) array less per layer at the peak.
    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._y = np.maximum(x, 0)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        # The 0/1 slope made as a float array, then multiplied in place: a float-by-bool product
        # casts the mask on numpy's slow path (on a 256x1024 float32 batch 113 us instead of 158 us)
        slope = (self._y > 0).astype(grad_output.dtype)
        slope *= grad_output
        return slope


@register("linear")
class Identity(Activation):
    """The identity ``y = x``, ``dL/dx = dL/dy`` (registered as ``"linear"``, as in Keras)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output


@register("softmax")
class Softmax(Activation):
    """``y_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))`` over the last axis (no overflow).

    Not elementwise: ``backward`` applies the Jacobian, ``dL/dx = y * (g - sum(g * y))`` per row.
    With a cross-entropy, prefer a linear last layer and ``from_logits=True``: it is exact and cheaper.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._y = softmax(x, axis=-1)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        y = self._y
        return y * (grad_output - np.sum(grad_output * y, axis=-1, keepdims=True))
