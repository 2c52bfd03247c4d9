"""Small helpers for preparing data, named as Keras names them (``keras.utils``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError, DataError

__all__ = ["to_categorical"]


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float64") -> np.ndarray:
    """One-hot rows from integer class labels: ``out[..., k] = 1`` where ``y == k``, else 0.

    As Keras's ``to_categorical``: labels of shape ``(samples,)`` give ``(samples, num_classes)``;
    a trailing axis of size 1 (``(samples, 1)``) is dropped first. Labels may be integers or
    floats holding whole numbers.

    Args:
        y: class labels, each in ``0 .. num_classes - 1``.
        num_classes: the number of classes; ``max(y) + 1`` when None.
        dtype: the dtype of the result.

    Returns:
        An array of shape ``y.shape + (num_classes,)`` of zeros and ones.

    Raises:
        DataError: labels that are not whole non-negative numbers, or not below ``num_classes``.
        ConfigError: a ``num_classes`` that is not a positive integer.

    Examples:
        >>> to_categorical([0, 2, 1]).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    labels = _labels(y)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer; received num_classes={num_classes!r}.")
    if labels.size and labels.max() >= num_classes:
        raise DataError(
            f"to_categorical received the label {int(labels.max())}, but num_classes={num_classes} "
            f"allows labels 0 to {num_classes - 1}."
        )
    out = np.zeros((*labels.shape, int(num_classes)), dtype=dtype)
    np.put_along_axis(out, labels[..., np.newaxis], 1, axis=-1)
    return out


def _labels(y: Any) -> np.ndarray:
    array = np.asarray(y)
    if array.ndim > 1 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype.kind not in "biuf":
        raise DataError(f"to_categorical needs integer class labels; received dtype {array.dtype}.")
    if array.dtype.kind == "f" and not (np.isfinite(array).all() and (array == np.round(array)).all()):
        raise DataError("to_categorical needs whole-number class labels; received fractions or NaN.")
    if array.size and array.min() < 0:
        raise DataError(f"to_categorical needs labels >= 0; received {array.min().item()!r}.")
    return array.astype(np.intp)
