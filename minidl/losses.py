"""Losses: a scalar ``L(y_true, y_pred)`` and its gradient dL/dy_pred.

A loss knows nothing of activations. Its reduction is explicit: ``"mean"`` divides the sum of
elementwise terms by the number of elements (batch size x outputs), ``"sum"`` does not. The
frameworks differ here by factors of 2 and N, so each loss states its exact formula.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, log_softmax

from ._checks import choice, number
from ._component import Described, ValueEquality
from .data import class_labels, sample_weights
from .errors import ConfigError, DataError, ShapeError
from .registry import Registry

__all__ = [
    "Loss",
    "MSE",
    "SSE",
    "HalfMSE",
    "MAE",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "registry",
    "register",
    "get",
    "REDUCTIONS",
]

REDUCTIONS = ("mean", "sum")


class Loss(Described, ValueEquality, ABC):
    """Base class of losses. ``loss(y_true, y_pred)`` returns a Python float.

    A subclass gives ``value_and_gradient``: the reduced loss and dL/dy_pred of arrays
    already in the loss's shapes, its formula written once. Called by a user, ``loss(y_true,
    y_pred)`` and ``gradient`` first convert and check their inputs (``check_inputs``,
    which a loss with other targets overrides); the training step calls ``value_and_gradient``
    directly, because the model validated the data once for the whole data set.
    ``sparse_targets = True`` declares that targets are integer class labels, one per sample,
    rather than arrays shaped like the predictions.

    Args:
        reduction: ``"mean"`` (over every element) or ``"sum"``.
    """

    sparse_targets: ClassVar[bool] = False

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = choice("reduction", reduction, REDUCTIONS)

    @abstractmethod
    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss, dL/dy_pred)`` of arrays in this loss's shapes, unchecked; the gradient has
        the shape and dtype of ``y_pred``.

        Args:
            y_true: the targets, already checked and in this loss's shape.
            y_pred: the predictions, already checked, of shape ``(samples, outputs)``.
        """

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """The reduced loss of array-likes (converted and checked first).

        Args:
            y_true: the targets.
            y_pred: the predictions.
            sample_weight: one weight (>= 0) per sample, or None; see ``weighted_value_and_gradient``.

        Returns:
            The loss, a float.
        """
        y_true, y_pred = self.check_inputs(y_true, y_pred)
        if sample_weight is None:
            return self.value_and_gradient(y_true, y_pred)[0]
        return self.weighted_value(y_true, y_pred, sample_weights(sample_weight, len(y_pred), y_pred.dtype))

    def gradient(
        self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> np.ndarray:
        """dL/dy_pred of array-likes (converted and checked first), shaped like ``y_pred``.

        Args:
            y_true: the targets.
            y_pred: the predictions.
            sample_weight: one weight (>= 0) per sample, or None.

        Returns:
            The gradient, shaped like ``y_pred``.
        """
        y_true, y_pred = self.check_inputs(y_true, y_pred)
        if sample_weight is None:
            return self.value_and_gradient(y_true, y_pred)[1]
        weights = sample_weights(sample_weight, len(y_pred), y_pred.dtype)
        return self.weighted_value_and_gradient(y_true, y_pred, weights)[1]

    # ------------------------------------------------------------------ sample weights
    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each sample's share of the reduced loss, shape ``(samples,)``: they sum to the loss.

        This default takes the loss of each sample alone, divided by the number of samples for
        ``"mean"``: right for any loss that is a sum, or a mean over samples or over elements,
        of per-sample terms (every built-in). It makes one call per sample; the built-ins give
        one vectorised expression instead, and the conformance kit checks that the shares sum
        to the loss.

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).

        Returns:
            The shares, float64.
        """
        share = 1.0 / (len(y_pred) or 1) if getattr(self, "reduction", "mean") == "mean" else 1.0
        values = [
            self.value_and_gradient(y_true[i : i + 1], y_pred[i : i + 1])[0] for i in range(len(y_pred))
        ]
        return np.array(values, dtype=np.float64) * share

    def weighted_value(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
        """``sum_i w_i * c_i``, where ``c_i`` are the ``sample_losses`` (see ``weighted_value_and_gradient``).

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
            sample_weight: one weight per sample, shape ``(samples,)`` (checked by the caller).

        Returns:
            The weighted loss.
        """
        return float(np.dot(self.sample_losses(y_true, y_pred), sample_weight))

    def weighted_value_and_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """The loss with each sample's terms multiplied by its weight, and its gradient.

        Keras's meaning of ``sample_weight`` (its default reduction, ``"sum_over_batch_size"``):
        the reduction is unchanged, so ``"mean"`` still divides by the number of samples (or
        elements), not by the sum of the weights: ``L = sum_i w_i * c_i`` with ``c_i`` the
        unweighted shares (``sample_losses``); all weights 1 give the unweighted loss. The
        gradient of sample ``i`` is ``w_i`` times its unweighted gradient, which holds for any
        loss whose samples do not interact (override both methods for one whose samples do).

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
            sample_weight: one weight per sample, shape ``(samples,)``, in ``y_pred``'s dtype.

        Returns:
            ``(loss, dL/dy_pred)``, the gradient shaped like ``y_pred``.
        """
        grad = self.value_and_gradient(y_true, y_pred)[1]
        rows = sample_weight.reshape((-1,) + (1,) * (grad.ndim - 1))
        return self.weighted_value(y_true, y_pred, sample_weight), (grad * rows).astype(
            grad.dtype, copy=False
        )

    def check_inputs(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``(y_true, y_pred)`` as numpy arrays this loss can use, or a clear error.

        Integer and boolean predictions become float64; integer and boolean targets take the
        predictions' float dtype. This base version requires both to have the same shape (the
        losses compare them element by element); losses with other targets override it.

        Args:
            y_true: the targets, array-like.
            y_pred: the predictions, array-like.
        """
        y_pred = _float_array(y_pred, "y_pred", np.float64)
        y_true = _float_array(y_true, "y_true", y_pred.dtype)
        if y_true.shape != y_pred.shape:
            raise ShapeError(
                f"{type(self).__name__} compares y_true and y_pred element by element, so they must have "
                f"the same shape; received y_true of shape {y_true.shape} and y_pred of shape "
                f"{y_pred.shape}. {_reshape_hint(y_true, y_pred)}"
            )
        return y_true, y_pred

    @classmethod
    def example(cls) -> Loss:
        """An instance for conformance tests; losses whose constructor needs arguments override it."""
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

    def reduction_scale(self, y_pred: np.ndarray) -> float:
        """The factor of the reduction over elements: ``1 / y_pred.size`` for "mean", 1 for "sum".

        The mean of no elements is taken as 0, as Keras does (it divides "no NaN"): an empty batch
        has loss 0 and an empty gradient, never a ZeroDivisionError.

        Args:
            y_pred: the predictions the loss is reduced over.
        """
        return 1.0 / (y_pred.size or 1) if self.reduction == "mean" else 1.0

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values."""
        return {"reduction": self.reduction}


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Loss] = Registry("loss", Loss, plural="losses")  # type: ignore[type-abstract]
register = registry.register
get = registry.get


def _float_array(values: ArrayLike, what: str, dtype: np.dtype[Any] | type[np.floating[Any]]) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind in "biu":
        return array.astype(dtype)  # a float loss of integer targets (the lecture's [1, 0, 0, 1])
    if array.dtype.kind != "f":
        raise DataError(f"{what} must hold real numbers; received an array of dtype {array.dtype}.")
    return array


def _reshape_hint(y_true: np.ndarray, y_pred: np.ndarray) -> str:
    if y_true.size == y_pred.size:
        return f"Reshape one to the other's shape, e.g. y_true.reshape{y_pred.shape}."
    return "Give exactly one target per prediction."


def _rows(a: np.ndarray) -> np.ndarray:
    # one row per sample, float64, whatever the shape of a sample
    return a.reshape(len(a), -1).astype(np.float64, copy=False)


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

    Examples:
        >>> MSE()(np.array([1.0, 0, 0, 1]), np.zeros(4))
        0.5
    """

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        # written out: on lecture 1 this runs every 12 us step, where each call counts
        d = y_pred - y_true if y_pred.dtype == y_true.dtype else _difference(y_pred, y_true)
        scale = 1.0 / (d.size or 1) if self.reduction == "mean" else 1.0  # as reduction_scale
        flat = d.ravel()  # a view: d is a new contiguous array
        value = float(flat.dot(flat)) * scale  # the method skips np.vdot's dispatch: 0.3 us, not 0.44
        d *= 2.0 * scale  # reused as the gradient
        return value, d

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each sample's share: ``s * sum over its outputs of (y_pred - y_true)**2``.

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
        """
        d = _rows(_difference(y_pred, y_true))
        return np.einsum("ij,ij->i", d, d) * self.reduction_scale(y_pred)


@register("sse")
class SSE(MSE):
    """Sum of squared errors ``L = sum((y_pred - y_true)**2)``; ``MSE`` with ``reduction="sum"``.

    Args:
        reduction: ``"sum"`` by default; ``"mean"`` makes it ``MSE``.
    """

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__(reduction)

    def get_config(self) -> dict[str, Any]:
        return {} if self.reduction == "sum" else {"reduction": self.reduction}


@register("half_mse")
class HalfMSE(MSE):
    """Half the squared error: ``L = s/2 * sum((y_pred - y_true)**2)``, ``dL/dy_pred = s (y_pred - y_true)``.

    ``s`` as for ``MSE``. With one output and ``"mean"`` it is the TensorFlow Playground's
    loss: ``(y_pred - y)**2 / 2`` per sample, gradients averaged over the batch.
    """

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        d = _difference(y_pred, y_true)
        scale = self.reduction_scale(y_pred)
        value = 0.5 * float(np.vdot(d, d)) * scale
        d *= scale
        return value, d

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Half of ``MSE``'s shares.

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
        """
        return 0.5 * super().sample_losses(y_true, y_pred)


@register("mae")
class MAE(Loss):
    """Absolute error: ``L = s * sum(|y_pred - y_true|)``, ``dL/dy_pred = s * sign(y_pred - y_true)``.

    ``s = 1 / y_pred.size`` for ``"mean"`` (the default), 1 for ``"sum"``; the gradient at 0 is 0.
    """

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        d = _difference(y_pred, y_true)
        scale = self.reduction_scale(y_pred)
        return float(np.sum(np.abs(d))) * scale, np.sign(d) * scale

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each sample's share: ``s * sum over its outputs of |y_pred - y_true|``.

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
        """
        return np.abs(_rows(_difference(y_pred, y_true))).sum(axis=1) * self.reduction_scale(y_pred)


class _Crossentropy(Loss):
    """Shared by the cross-entropies: ``from_logits`` and the clipping of probabilities."""

    def __init__(self, from_logits: bool = False, reduction: str = "mean", epsilon: float = 1e-7) -> None:
        super().__init__(reduction)
        if not isinstance(from_logits, bool):
            raise ConfigError(f"from_logits must be True or False; received from_logits={from_logits!r}.")
        self.from_logits = from_logits
        self.epsilon = number("epsilon", epsilon, low=0.0, high=0.5, low_open=True, high_open=True)

    def _clipped(self, p: np.ndarray) -> np.ndarray:
        return np.clip(p, self.epsilon, 1.0 - self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "reduction": self.reduction, "epsilon": self.epsilon}


@register("binary_crossentropy")
class BinaryCrossentropy(_Crossentropy):
    """``L = -s * sum(y log p + (1 - y) log(1 - p))``, ``s = 1 / y_pred.size`` for ``"mean"``.

    On probabilities (the default) ``p = clip(y_pred, epsilon, 1 - epsilon)`` and
    ``dL/dy_pred = s (p - y) / (p (1 - p))``. With ``from_logits=True``, ``y_pred`` is a logit
    ``z``, ``L = s * sum(max(z, 0) - z y + log(1 + exp(-|z|)))``, exact for any ``z``, and
    ``dL/dz = s (sigmoid(z) - y)``.
    """

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        scale = self.reduction_scale(y_pred)
        terms, grad = self._terms(y_true, y_pred)
        return float(np.sum(terms)) * scale, (grad * scale).astype(y_pred.dtype, copy=False)

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each sample's share: ``s`` times the sum of its terms.

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
        """
        return _rows(self._terms(y_true, y_pred)[0]).sum(axis=1) * self.reduction_scale(y_pred)

    def _terms(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the elementwise terms and their derivatives, before the reduction
        if self.from_logits:
            z = y_pred
            terms = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
            return terms, expit(z) - y_true
        p = self._clipped(y_pred)
        terms = -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
        inside = (y_pred > self.epsilon) & (y_pred < 1 - self.epsilon)  # clip has zero slope outside
        return terms, (p - y_true) / (p * (1 - p)) * inside


def _per_sample(loss: Loss, y_pred: np.ndarray) -> float:
    # cross-entropies average over samples (rows), as Keras and PyTorch do, not over elements
    return 1.0 / max(len(y_pred), 1) if loss.reduction == "mean" else 1.0


@register("categorical_crossentropy")
class CategoricalCrossentropy(_Crossentropy):
    """``L = -s * sum(y * log p)`` over samples and classes, ``y`` one-hot (or any distribution).

    ``s = 1 / samples`` for ``"mean"``. On probabilities ``p = clip(y_pred, epsilon, 1 - epsilon)``
    and ``dL/dy_pred = -s y / p``. With ``from_logits=True``, ``log p = log_softmax(z)`` (computed
    with log-sum-exp, never overflowing) and ``dL/dz = s (softmax(z) * sum(y) - y)``.
    """

    def check_inputs(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Targets and predictions both shaped ``(samples, classes)``, or a ShapeError.

        Args:
            y_true: one-hot (or probability) targets, array-like.
            y_pred: the predictions, array-like.
        """
        y_pred = _float_array(y_pred, "y_pred", np.float64)
        y_true = _float_array(y_true, "y_true", y_pred.dtype)
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            sparse = (
                " For integer class labels, shape (samples,), use 'sparse_categorical_crossentropy'."
                if y_true.ndim == 1
                else ""
            )
            raise ShapeError(
                "categorical_crossentropy takes one-hot targets and predictions both shaped (samples, classes); "
                f"received y_true of shape {y_true.shape} and y_pred of shape {y_pred.shape}.{sparse}"
            )
        return y_true, y_pred

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        scale = _per_sample(self, y_pred)
        if self.from_logits:
            logp = log_softmax(y_pred, axis=1)
            grad = np.exp(logp) * y_true.sum(axis=1, keepdims=True) - y_true
        else:
            p = self._clipped(y_pred)
            logp = np.log(p)
            inside = (y_pred > self.epsilon) & (y_pred < 1 - self.epsilon)
            grad = -y_true / p * inside
        value = -float(np.vdot(y_true, logp)) * scale
        return value, (grad * scale).astype(y_pred.dtype, copy=False)

    def _log_probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        return log_softmax(y_pred, axis=1) if self.from_logits else np.log(self._clipped(y_pred))

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each sample's share: ``-s * sum over classes of y * log p``.

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
        """
        return -np.einsum("ij,ij->i", y_true, self._log_probabilities(y_pred)) * _per_sample(self, y_pred)

    def example_batch(
        self, rng: np.random.Generator, batch: int, outputs: int
    ) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, outputs, batch)
        y_pred = rng.uniform(0.05, 0.95, (batch, outputs))
        if not self.from_logits:
            y_pred /= y_pred.sum(axis=1, keepdims=True)
        return np.eye(outputs)[labels], y_pred


@register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(_Crossentropy):
    """Categorical cross-entropy with integer labels: ``L = -s * sum_i log p[i, y_i]``.

    Targets are class indices, shape ``(samples,)``. ``s = 1 / samples`` for ``"mean"``. With
    ``from_logits=True``: ``dL/dz = s (softmax(z) - onehot(y))``; on probabilities:
    ``dL/dp[i, y_i] = -s / p[i, y_i]``, 0 elsewhere.
    """

    sparse_targets = True

    def check_inputs(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Integer labels of shape ``(samples,)`` (or ``(samples, 1)``) in ``[0, classes)``
        against predictions of shape ``(samples, classes)``, or a ShapeError or DataError.

        Args:
            y_true: integer class labels, array-like.
            y_pred: the predictions, array-like.
        """
        y_pred = _float_array(y_pred, "y_pred", np.float64)
        labels = np.asarray(y_true)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if y_pred.ndim != 2 or labels.shape != y_pred.shape[:1]:
            onehot = " For one-hot targets use 'categorical_crossentropy'." if labels.ndim == 2 else ""
            raise ShapeError(
                "sparse_categorical_crossentropy takes integer class labels of shape (samples,) and "
                f"predictions of shape (samples, classes); received y_true of shape {np.shape(y_true)} "
                f"and y_pred of shape {y_pred.shape}.{onehot}"
            )
        classes = y_pred.shape[1]
        return class_labels(labels, classes, f"predictions with {classes} classes"), y_pred

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        rows = np.arange(len(y_pred))
        labels = y_true.astype(np.intp, copy=False).reshape(-1)
        scale = _per_sample(self, y_pred)
        if self.from_logits:
            # one pass: softmax from the shifted exponentials, the loss from their log-sum;
            # ufunc reductions instead of the .max/.sum/np.sum wrappers (about 1 us each a step)
            shifted = y_pred - np.maximum.reduce(y_pred, axis=1, keepdims=True)
            grad = np.exp(shifted)
            sums = np.add.reduce(grad, axis=1)
            value = float(np.add.reduce(np.log(sums) - shifted[rows, labels])) * scale
            grad /= sums[:, None]
            grad[rows, labels] -= 1.0
            grad *= scale
            return value, grad
        picked = y_pred[rows, labels]
        clipped = self._clipped(picked)
        grad = np.zeros_like(y_pred)
        grad[rows, labels] = -scale / clipped * ((picked > self.epsilon) & (picked < 1 - self.epsilon))
        return -float(np.sum(np.log(clipped))) * scale, grad

    def sample_losses(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Each sample's share: ``-s * log p[i, y_i]`` (``log_softmax`` of logits).

        Args:
            y_true: the targets, in this loss's shapes (unchecked).
            y_pred: the predictions (unchecked).
        """
        rows, labels = np.arange(len(y_pred)), y_true.astype(np.intp, copy=False).reshape(-1)
        if self.from_logits:
            picked = log_softmax(y_pred, axis=1)[rows, labels]
        else:
            picked = np.log(self._clipped(y_pred[rows, labels]))
        return -picked.astype(np.float64) * _per_sample(self, y_pred)

    def example_batch(
        self, rng: np.random.Generator, batch: int, outputs: int
    ) -> tuple[np.ndarray, np.ndarray]:
        y_pred = rng.uniform(0.05, 0.95, (batch, outputs))
        if not self.from_logits:
            y_pred /= y_pred.sum(axis=1, keepdims=True)
        return rng.integers(0, outputs, batch), y_pred
