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

from ._checks import choice, number, positive_int
from ._component import Described, ValueEquality
from .errors import DataError, ShapeError
from .registry import Registry

__all__ = [
    "Metric",
    "Accuracy",
    "BinaryAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Precision",
    "Recall",
    "F1Score",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "R2Score",
    "AUC",
    "AVERAGES",
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


# --------------------------------------------------------------------------- classification counts
#: How precision, recall and F1 combine classes: the positive class 1 alone, or the mean over classes.
AVERAGES = ("binary", "macro")


def _class_pairs(
    y_true: np.ndarray, y_pred: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """(true classes, predicted classes, number of classes), by ``Accuracy``'s rule.

    One output: the classes 0 and 1, from ``> threshold``; several: the argmax of the
    predictions against the labels, or the argmax of one-hot targets.
    """
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        truth = y_true.reshape(-1) if y_true.ndim == 1 or y_true.shape[1] == 1 else np.argmax(y_true, axis=1)
        return truth.astype(np.intp), np.argmax(y_pred, axis=1), y_pred.shape[1]
    truth = (y_true.reshape(-1) > threshold).astype(np.intp)
    return truth, (y_pred.reshape(-1) > threshold).astype(np.intp), 2


def _confusion(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """``C[t, p]``: how many samples of true class ``t`` were predicted ``p``."""
    return np.bincount(truth * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # 0 where the denominator is 0, as scikit-learn's default (zero_division) gives
    out = np.zeros(len(numerator))
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


class _ClassCounts(Metric):
    """Shared by precision, recall and F1: the per-class figure from the confusion matrix, then
    the positive class's (``"binary"``) or the mean over the classes present (``"macro"``)."""

    higher_is_better = True
    accepts_labels = True

    def __init__(self, average: str = "binary", threshold: float = 0.5) -> None:
        self.average = choice("average", average, AVERAGES)
        self.threshold = number("threshold", threshold)

    def get_config(self) -> dict[str, Any]:
        return {"average": self.average, "threshold": self.threshold}

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        truth, predicted, classes = _class_pairs(np.asarray(y_true), np.asarray(y_pred), self.threshold)
        if self.average == "binary" and classes != 2:
            raise DataError(
                f"{type(self).__name__}(average='binary') takes one output or two classes; received "
                f"{classes} classes. Use average='macro' for several classes."
            )
        matrix = _confusion(truth, predicted, classes)
        tp = np.diag(matrix).astype(np.float64)
        per_class = self._per_class(tp, matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp)
        if self.average == "binary":
            return float(per_class[1])
        present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0  # scikit-learn's labels: seen anywhere
        return float(np.mean(per_class[present])) if present.any() else 0.0

    @abstractmethod
    def _per_class(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        """The figure of each class from its true positives, false positives and false negatives."""

    def example_batch(
        self, rng: np.random.Generator, batch: int, outputs: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Binary: 0/1 targets and probabilities in one column; macro: the base's arrays.

        Args:
            rng: the generator to draw from.
            batch: the number of samples.
            outputs: the number of outputs (classes).
        """
        if self.average == "binary":
            return rng.integers(0, 2, (batch, 1)).astype(np.float64), rng.uniform(0.05, 0.95, (batch, 1))
        return super().example_batch(rng, batch, outputs)


@register("precision")
class Precision(_ClassCounts):
    """The fraction of predicted positives that are positive: ``tp / (tp + fp)`` (0 when nothing is predicted).

    ``average="binary"`` (the default) scores the class 1 of a one-output classifier (outputs
    ``> threshold``) or of two classes; ``"macro"`` averages the score of every class that
    occurs in the targets or the predictions (scikit-learn's ``average="macro"``). Classes are
    found as ``Accuracy`` finds them (a threshold, or the argmax of several outputs).

    Args:
        average: ``"binary"`` or ``"macro"``.
        threshold: the cut of a one-output classifier (targets too: 0/1 or -1/+1 labels with 0).

    Examples:
        >>> Precision()(np.array([1, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.7]))
        0.6666666666666666
    """

    def _per_class(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return _ratio(tp, tp + fp)


@register("recall")
class Recall(_ClassCounts):
    """The fraction of positives predicted positive: ``tp / (tp + fn)``; classes and ``average`` as ``Precision``.

    Args:
        average: ``"binary"`` or ``"macro"``.
        threshold: the cut of a one-output classifier.

    Examples:
        >>> Recall()(np.array([1, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.7]))
        0.6666666666666666
    """

    def _per_class(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return _ratio(tp, tp + fn)


@register("f1")
class F1Score(_ClassCounts):
    """The harmonic mean of precision and recall, ``2 tp / (2 tp + fp + fn)``, per class.

    ``"macro"`` averages the per-class F1 scores (as scikit-learn and Keras's ``F1Score`` do,
    not the F1 of the averaged precision and recall). Classes as ``Precision``.

    Args:
        average: ``"binary"`` or ``"macro"``.
        threshold: the cut of a one-output classifier.

    Examples:
        >>> F1Score()(np.array([1, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.7]))
        0.6666666666666666
    """

    def _per_class(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return _ratio(2.0 * tp, 2.0 * tp + fp + fn)


# --------------------------------------------------------------------------- top-k
class _TopK(Metric):
    """Shared by the top-k accuracies: a hit when the true class scores at least the k-th best."""

    higher_is_better = True

    def __init__(self, k: int = 5) -> None:
        self.k = positive_int("k", k)

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k}

    @classmethod
    def example(cls) -> Metric:
        return cls(k=2)

    def _hits(self, truth: np.ndarray, y_pred: np.ndarray) -> float:
        if y_pred.ndim != 2:
            raise ShapeError(
                f"{type(self).__name__} takes predictions of shape (samples, classes); received {y_pred.shape}."
            )
        k = min(self.k, y_pred.shape[1])
        kth = np.partition(y_pred, -k, axis=1)[:, -k]
        # ties at the k-th score count as hits, as Keras's in_top_k does
        return float(np.mean(y_pred[np.arange(len(y_pred)), truth] >= kth)) if len(y_pred) else 0.0


@register("top_k_categorical_accuracy")
class TopKCategoricalAccuracy(_TopK):
    """The fraction of samples whose true class is among the ``k`` highest predictions (one-hot targets).

    A hit when the true class's score is at least the k-th highest score of its row (ties
    count, as Keras's ``in_top_k``); ``k`` at least the number of classes always hits.

    Args:
        k: how many of the best classes count (>= 1; Keras's default 5).

    Examples:
        >>> TopKCategoricalAccuracy(k=2)(np.eye(3)[[0, 1]], np.array([[0.5, 0.3, 0.2], [0.5, 0.2, 0.3]]))
        0.5
    """

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if np.shape(y_true) != np.shape(y_pred):
            raise ShapeError(
                f"top_k_categorical_accuracy takes one-hot targets shaped like the predictions; received "
                f"{np.shape(y_true)} and {np.shape(y_pred)}. For integer labels use 'sparse_top_k_categorical_accuracy'."
            )
        return self._hits(np.argmax(y_true, axis=1), np.asarray(y_pred))

    def example_batch(
        self, rng: np.random.Generator, batch: int, outputs: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One-hot targets and scores in (0.05, 0.95).

        Args:
            rng: the generator to draw from.
            batch: the number of samples.
            outputs: the number of outputs (classes).
        """
        return np.eye(outputs)[rng.integers(0, outputs, batch)], rng.uniform(0.05, 0.95, (batch, outputs))


@register("sparse_top_k_categorical_accuracy")
class SparseTopKCategoricalAccuracy(_TopK):
    """``TopKCategoricalAccuracy`` with integer class labels, shape ``(samples,)``.

    Args:
        k: how many of the best classes count (>= 1; Keras's default 5).

    Examples:
        >>> SparseTopKCategoricalAccuracy(k=2)(np.array([0, 1]), np.array([[0.5, 0.3, 0.2], [0.5, 0.2, 0.3]]))
        0.5
    """

    accepts_labels = True

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        labels = np.asarray(y_true).reshape(-1)
        if len(labels) != len(y_pred):
            raise ShapeError(
                f"sparse_top_k_categorical_accuracy takes one integer label per sample; received "
                f"{np.shape(y_true)} for predictions {np.shape(y_pred)}."
            )
        return self._hits(labels.astype(np.intp), np.asarray(y_pred))

    def example_batch(
        self, rng: np.random.Generator, batch: int, outputs: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integer labels and scores in (0.05, 0.95).

        Args:
            rng: the generator to draw from.
            batch: the number of samples.
            outputs: the number of outputs (classes).
        """
        return rng.integers(0, outputs, batch), rng.uniform(0.05, 0.95, (batch, outputs))


# --------------------------------------------------------------------------- regression, ranking
@register("r2")
class R2Score(Metric):
    """The coefficient of determination, ``1 - sum((y - y_pred)**2) / sum((y - mean(y))**2)``.

    Computed per output and averaged over outputs (scikit-learn's and Keras's
    ``"uniform_average"``). An output whose targets are all equal scores 1 when predicted
    exactly and 0 otherwise (scikit-learn's ``force_finite``).

    Examples:
        >>> R2Score()(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
        0.5
    """

    higher_is_better = True

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        truth = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
        predicted = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
        residual = np.sum((truth - predicted) ** 2, axis=0)
        total = np.sum((truth - truth.mean(axis=0)) ** 2, axis=0)
        exact = np.where(residual == 0.0, 1.0, 0.0)
        scores = np.where(total > 0, 1.0 - _ratio(residual, total), exact)
        return float(np.mean(scores))


@register("auc")
class AUC(Metric):
    """The area under the ROC curve, exact: the trapezoid rule over every distinct threshold.

    One output: positives are the targets ``> 0.5`` (0/1 or -1/+1 labels), scored by the
    output. Several outputs: one class against the rest for each class (its one-hot column, or
    its label), averaged over the classes that have both positives and negatives (scikit-learn's
    ``multi_class="ovr"``, ``average="macro"``). Tied scores form one threshold, so they count
    half, as in the Mann-Whitney statistic. Without both a positive and a negative the area is
    undefined; it is then 0.0, the value Keras gives. Sorting makes it ``O(n log n)``.

    Examples:
        >>> AUC()(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
        0.75
    """

    higher_is_better = True
    accepts_labels = True

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        scores = np.asarray(y_pred, dtype=np.float64)
        truth = np.asarray(y_true)
        if scores.ndim == 2 and scores.shape[1] > 1:
            classes = (
                truth.reshape(-1) if truth.ndim == 1 or truth.shape[1] == 1 else np.argmax(truth, axis=1)
            )
            areas = [_roc_area(classes == c, scores[:, c]) for c in range(scores.shape[1])]
        else:
            areas = [_roc_area(truth.reshape(-1) > 0.5, scores.reshape(-1))]
        defined = [a for a in areas if a is not None]
        return float(np.mean(defined)) if defined else 0.0


def _roc_area(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """The exact ROC area of ``scores`` for the boolean ``positive``, or None without both kinds."""
    positives = int(np.count_nonzero(positive))
    negatives = len(positive) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the end of each run of equal scores
    tp = np.cumsum(hits)[last]
    fp = last + 1 - tp
    tpr = np.r_[0.0, tp / positives]
    fpr = np.r_[0.0, fp / negatives]
    return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1])) / 2.0)
