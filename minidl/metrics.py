"""Metrics: figures reported during training that are not optimised, such as accuracy.

A ``Metric`` maps ``(y_true, y_pred)`` to one float over a whole data set. ``fit`` reports
each compiled metric for the training data and, with validation data, as ``val_<name>``. The
targets a metric receives are prepared by the loss: integer labels of shape ``(samples,)`` with
a sparse loss, arrays shaped like the predictions otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ._checks import number
from ._component import Described, ValueEquality
from .registry import Registry

__all__ = [
    "Metric",
    "Accuracy",
    "BinaryAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "registry",
    "register",
    "get",
]


class Metric(Described, ValueEquality, ABC):
    """Base class of metrics: ``metric(y_true, y_pred) -> float``.

    ``higher_is_better`` declares which way is an improvement: True (accuracy), False (an
    error such as MAE), or None, the default, for a metric that does not say. Callbacks with
    ``mode="auto"`` (``EarlyStopping``, ``ModelCheckpoint``...) read it, and refuse to guess for
    a metric left at None: such a callback needs ``mode="min"`` or ``mode="max"``.
    ``accepts_labels`` tells whether the metric understands integer class labels.
    """

    higher_is_better: ClassVar[bool | None] = None
    accepts_labels: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """The metric over every sample of ``(y_true, y_pred)``.

        Args:
            y_true: the targets (or class labels where the metric accepts them).
            y_pred: the model's predictions.
        """

    @classmethod
    def example(cls) -> Metric:
        """An instance for conformance tests; metrics whose constructor needs arguments override it."""
        return cls()

    def example_batch(
        self, rng: np.random.Generator, batch: int, outputs: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Valid ``(y_true, y_pred)`` for tests: values in (0.05, 0.95); override for other domains.

        Args:
            rng: the generator to draw from.
            batch: the number of samples.
            outputs: the number of outputs per sample.
        """
        return rng.uniform(0.05, 0.95, (batch, outputs)), rng.uniform(0.05, 0.95, (batch, outputs))


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Metric] = Registry("metric", Metric)  # type: ignore[type-abstract]
register = registry.register
get = registry.get


class _Thresholded(Metric):
    """Shared by the accuracies: ``threshold`` splits an output into the two classes."""

    higher_is_better = True

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = number("threshold", threshold)

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def _match(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(np.mean((y_pred > self.threshold) == (y_true > self.threshold)))


@register("accuracy")
class Accuracy(_Thresholded):
    """The fraction of samples whose predicted class is the true class.

    The shapes decide the rule, as Keras 3's ``"accuracy"`` does (whatever the loss):

    - one output (binary): ``mean((y_pred > threshold) == (y_true > threshold))``; the default
      threshold 0.5 suits sigmoid outputs with 0/1 labels (as Keras), ``threshold=0`` suits tanh
      outputs with -1/+1 labels or logits;
    - several outputs and one-hot (or probability) targets: ``mean(argmax(y_pred) == argmax(y_true))``;
    - several outputs and integer labels (a sparse loss): ``mean(argmax(y_pred) == y_true)``.

    Several independent outputs (multi-label targets, several sigmoids with binary
    cross-entropy) need ``BinaryAccuracy`` (``"binary_accuracy"``), as in Keras.

    Examples:
        >>> Accuracy()(np.array([[1.0], [0.0]]), np.array([[0.9], [0.7]]))
        0.5
    """

    accepts_labels = True

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if y_pred.ndim == 2 and y_pred.shape[1] > 1:
            predicted = np.argmax(y_pred, axis=1)
            truth = (
                y_true.reshape(-1) if y_true.ndim == 1 or y_true.shape[1] == 1 else np.argmax(y_true, axis=1)
            )
            return float(np.mean(predicted == truth))
        return self._match(y_true, y_pred)


@register("binary_accuracy")
class BinaryAccuracy(_Thresholded):
    """The fraction of outputs on the right side of ``threshold``, every output judged alone.

    ``mean((y_pred > threshold) == (y_true > threshold))`` over every element: the accuracy of
    multi-label classifiers (several sigmoid outputs with binary cross-entropy), Keras's
    ``"binary_accuracy"``. With one output it equals ``"accuracy"``.

    Examples:
        >>> BinaryAccuracy()(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.8, 0.6], [0.3, 0.9]]))
        0.5
    """

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return self._match(y_true, y_pred)


@register("mae")
class MeanAbsoluteError(Metric):
    """``mean(|y_pred - y_true|)`` over every element (the ``"mae"`` loss with its default reduction)."""

    higher_is_better = False

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(np.mean(np.abs(y_pred - y_true)))


@register("mse")
class MeanSquaredError(Metric):
    """``mean((y_pred - y_true)**2)`` over every element (the ``"mse"`` loss with its default reduction)."""

    higher_is_better = False

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(np.mean(np.square(y_pred - y_true)))
