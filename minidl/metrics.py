"""Metrics: figures reported during training that are not optimised, such as accuracy.

A :class:`Metric` maps ``(y_true, y_pred)`` to one float over a whole data set. ``fit`` reports
each compiled metric for the training data and, with validation data, as ``val_<name>``. The
targets a metric receives are prepared by the loss: integer labels of shape ``(samples,)`` with
a sparse loss, arrays shaped like the predictions otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ._component import Described, ValueEquality
from ._checks import number
from .registry import Registry

__all__ = ["Metric", "Accuracy", "MeanAbsoluteError", "MeanSquaredError", "registry", "register", "get"]


class Metric(Described, ValueEquality, ABC):
    """Base class of metrics: ``metric(y_true, y_pred) -> float``.

    ``higher_is_better`` tells callbacks such as ``EarlyStopping(mode="auto")`` which way is an
    improvement; ``accepts_labels`` whether the metric understands integer class labels.
    """

    higher_is_better: ClassVar[bool] = False
    accepts_labels: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """The metric over every sample of ``(y_true, y_pred)``."""

    @classmethod
    def example(cls) -> Metric:
        """An instance for conformance tests; metrics whose constructor needs arguments override it."""
        return cls()

    def example_batch(self, rng: np.random.Generator, batch: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
        """Valid ``(y_true, y_pred)`` for tests: values in (0.05, 0.95); override for other domains."""
        return rng.uniform(0.05, 0.95, (batch, outputs)), rng.uniform(0.05, 0.95, (batch, outputs))


registry: Registry[Metric] = Registry("metric", Metric)
register = registry.register
get = registry.get


@register("accuracy")
class Accuracy(Metric):
    """The fraction of samples whose predicted class is the true class.

    The form of the targets decides the rule:

    - one output (binary): ``mean((y_pred > threshold) == (y_true > threshold))``; the default
      threshold 0.5 suits sigmoid outputs with 0/1 labels (as Keras), ``threshold=0`` suits tanh
      outputs with -1/+1 labels or logits;
    - several outputs and one-hot (or probability) targets: ``mean(argmax(y_pred) == argmax(y_true))``;
    - several outputs and integer labels (a sparse loss): ``mean(argmax(y_pred) == y_true)``.

    Example:
        >>> Accuracy()(np.array([[1.0], [0.0]]), np.array([[0.9], [0.7]]))
        0.5
    """

    higher_is_better = True
    accepts_labels = True

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = number("threshold", threshold)

    def __call__(self, y_true, y_pred):
        if y_pred.ndim == 2 and y_pred.shape[1] > 1:
            predicted = np.argmax(y_pred, axis=1)
            truth = y_true.reshape(-1) if y_true.ndim == 1 or y_true.shape[1] == 1 else np.argmax(y_true, axis=1)
            return float(np.mean(predicted == truth))
        return float(np.mean((y_pred > self.threshold) == (y_true > self.threshold)))

    def get_config(self):
        return {"threshold": self.threshold}


@register("mae")
class MeanAbsoluteError(Metric):
    """``mean(|y_pred - y_true|)`` over every element (the ``"mae"`` loss with its default reduction)."""

    def __call__(self, y_true, y_pred):
        return float(np.mean(np.abs(y_pred - y_true)))


@register("mse")
class MeanSquaredError(Metric):
    """``mean((y_pred - y_true)**2)`` over every element (the ``"mse"`` loss with its default reduction)."""

    def __call__(self, y_true, y_pred):
        return float(np.mean(np.square(y_pred - y_true)))
