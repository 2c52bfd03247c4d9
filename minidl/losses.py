"""Losses: a scalar ``L(y_true, y_pred)`` and its gradient dL/dy_pred.

A loss knows nothing of activations. Its reduction is explicit: ``"mean"`` divides the sum of
elementwise terms by the number of elements (batch size x outputs), ``"sum"`` does not. The
frameworks differ here by factors of 2 and N, so each loss states its exact formula.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ._checks import choice
from .registry import Registry

__all__ = ["Loss", "MSE", "SSE", "registry", "register", "get", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum")


class Loss(ABC):
    """Base class of losses. ``loss(y_true, y_pred)`` returns a Python float.

    Subclasses implement ``__call__`` and ``gradient``; ``value_and_gradient`` may be overridden
    to share work between the two (the training loop calls it once per step).
    """

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = choice("reduction", reduction, REDUCTIONS)

    @abstractmethod
    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """The reduced loss."""

    @abstractmethod
    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """dL/dy_pred, with the shape and dtype of ``y_pred``."""

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        """Both at once; the training step calls this."""
        return self(y_true, y_pred), self.gradient(y_true, y_pred)

    @classmethod
    def example(cls) -> Loss:
        """An instance for conformance tests; losses whose constructor needs arguments override it."""
        return cls()

    def example_batch(self, rng: np.random.Generator, batch: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
        """Valid ``(y_true, y_pred)`` for tests: values in (0.05, 0.95); override for other domains."""
        return rng.uniform(0.05, 0.95, (batch, outputs)), rng.uniform(0.05, 0.95, (batch, outputs))

    def _scale(self, y_pred: np.ndarray) -> float:
        return 1.0 / y_pred.size if self.reduction == "mean" else 1.0

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values."""
        return {"reduction": self.reduction}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


registry: Registry[Loss] = Registry("loss", Loss, plural="losses")
register = registry.register
get = registry.get


def _difference(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    # computed in the prediction's dtype, so float32 models stay float32 whatever the targets are
    if y_pred.dtype == y_true.dtype:
        return y_pred - y_true  # the operator is faster than np.subtract(..., dtype=) on tiny arrays
    return np.subtract(y_pred, y_true, dtype=y_pred.dtype)


@register("mse")
class MSE(Loss):
    """Squared error: ``L = s * sum((y_pred - y_true)**2)``, ``dL/dy_pred = 2 s (y_pred - y_true)``.

    ``s = 1 / y_pred.size`` for ``reduction="mean"`` (the default: the mean over every element,
    as PyTorch's ``MSELoss`` and Keras's ``MeanSquaredError``), ``s = 1`` for ``"sum"``.

    Example:
        >>> MSE()(np.array([1.0, 0, 0, 1]), np.zeros(4))
        0.5
    """

    def __call__(self, y_true, y_pred):
        d = _difference(y_pred, y_true)
        return float(np.vdot(d, d)) * self._scale(y_pred)

    def gradient(self, y_true, y_pred):
        return _difference(y_pred, y_true) * (2.0 * self._scale(y_pred))

    def value_and_gradient(self, y_true, y_pred):
        d = _difference(y_pred, y_true)
        scale = self._scale(y_pred)
        value = float(np.vdot(d, d)) * scale
        d *= 2.0 * scale  # d is a new array: reuse it as the gradient
        return value, d


@register("sse")
class SSE(MSE):
    """Sum of squared errors ``L = sum((y_pred - y_true)**2)``; ``MSE`` with ``reduction="sum"``."""

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__(reduction)

    def get_config(self) -> dict[str, Any]:
        return {} if self.reduction == "sum" else {"reduction": self.reduction}
