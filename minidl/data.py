"""Input validation and mini-batching.

Validation runs once per ``fit``/``predict`` call, before any computation, so a bad input never
leaves a model half-trained; the training loop itself checks nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, ShapeError

__all__ = [
    "DTYPES",
    "all_finite",
    "as_inputs",
    "as_targets",
    "batch_slices",
    "class_labels",
    "sample_weights",
    "class_weights",
]

#: The dtypes a model computes in.
DTYPES = ("float32", "float64")
_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def _as_numeric_array(data: Any, what: str, dtype: np.dtype | None) -> np.ndarray:
    if isinstance(data, np.ma.MaskedArray):
        # its masked entries hold arbitrary values that np.asarray would silently use as data
        masked = int(np.count_nonzero(np.ma.getmaskarray(data)))
        raise DataError(
            f"{what} is a numpy masked array ({masked} of {data.size} entries masked); minidl does not "
            f"use masks: fill them first, e.g. {what.lower()}.filled(0.0), or drop the masked rows."
        )
    if type(data) is np.ndarray:
        array = data
    elif isinstance(data, np.ndarray):
        array = np.asarray(data)  # a subclass such as np.matrix, whose operators differ: a plain view
    else:
        try:
            array = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{what} could not be read as a rectangular numeric array ({exc}); ragged "
                "lists are not supported: give every row the same length."
            ) from exc
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise DataError(
            f"{what} must hold real numbers (bool, int or float); received dtype {array.dtype}"
            + (" (complex numbers are not supported)." if array.dtype.kind == "c" else ".")
        )
    if array.size == 0:  # (a 0-d array has size 1 and no len; the shape checks refuse it)
        raise DataError(f"{what} is empty (shape {array.shape}); pass at least one sample.")
    original = array
    if dtype is not None:
        with np.errstate(over="ignore"):  # an overflowing cast is reported below, by value
            array = array.astype(dtype, copy=False)  # no copy when the dtype already matches
    if not all_finite(array):
        bad = _first_non_finite(array)
        if np.isfinite(original[bad]):
            raise DataError(
                f"{what} holds {original[bad]} at index {bad}, which overflows the model's dtype "
                f"{array.dtype} (largest {np.finfo(array.dtype).max:.4g}); scale the data, or use a "
                "float64 model (Sequential(..., dtype='float64'))."
            )
        raise DataError(
            f"{what} contains NaN or infinity (first at index {bad}, value {array[bad]}); "
            "clean or impute the data first."
        )
    return array


def all_finite(array: np.ndarray) -> bool:
    """True if no element is NaN or infinite, without a boolean temporary the size of ``array``.

    A NaN or infinity makes the sum non-finite, so a finite sum proves every element finite;
    only when the sum itself overflows (huge but finite values) are the elements tested, in
    blocks of a million.

    Args:
        array: the array to test.
    """
    if array.dtype.kind != "f":
        return True  # integers and booleans are always finite
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None)):
            return True
    return _first_non_finite(array) is None


#: Values tested at a time when looking for a NaN or infinity: the temporary booleans stay
#: within this many bytes, whatever the size of the data.
_BLOCK = 1 << 20


def _first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or infinity (in C order), or None; tested in blocks of rows,
    so the extra memory is about ``_BLOCK`` bytes (never an index per bad value, never a
    flattened copy of a non-contiguous array)."""
    if array.ndim == 0:
        return None if np.isfinite(array) else ()
    rows = max(1, _BLOCK // max(1, math.prod(array.shape[1:])))
    for start in range(0, len(array), rows):
        block = np.isfinite(array[start : start + rows])
        if not block.all():
            first = np.unravel_index(int(np.argmin(block)), block.shape)
            return (start + int(first[0]), *(int(i) for i in first[1:]))
    return None


def as_inputs(
    x: Any, dtype: np.dtype, input_shape: tuple[int, ...] | None, first_layer: str = ""
) -> np.ndarray:
    """``x`` as a finite array of ``dtype`` shaped ``(samples, *input_shape)``, else a clear error.

    With ``input_shape`` None (a model that learns it from the data) any shape with a sample
    axis and at least one more is taken.

    Args:
        x: the inputs, array-like.
        dtype: the model's dtype.
        input_shape: the shape of one sample the model takes (None: any).
        first_layer: the first layer's name, for error messages.
    """
    array = _as_numeric_array(x, "X", dtype)
    if input_shape is None or len(input_shape) == 1:
        if array.ndim != 2 and (input_shape is not None or array.ndim < 2):
            hint = (
                " For one feature per sample use x.reshape(-1, 1); for a single sample, x.reshape(1, -1)."
                if array.ndim == 1
                else ""
            )
            raise ShapeError(
                f"X must be 2-D, shaped (samples, features); received {array.ndim}-D data of shape "
                f"{array.shape}.{hint}"
            )
        if input_shape is not None and array.shape[1] != input_shape[0]:
            raise ShapeError(
                f"X has {array.shape[1]} features, but the first layer, {first_layer}, expects {input_shape[0]}."
            )
        return array
    if array.shape[1:] != tuple(input_shape):
        raise ShapeError(
            f"X must be shaped (samples, {', '.join(map(str, input_shape))}) for the first layer, {first_layer}; "
            f"received data of shape {array.shape}."
        )
    return array


def as_targets(
    y: Any,
    dtype: np.dtype,
    output_shape: tuple[int, ...] | None,
    samples: int,
    last_layer: str = "",
    *,
    labels: bool = False,
) -> np.ndarray:
    """``y`` checked against the model: ``samples`` rows, and either of ``dtype`` shaped like the
    outputs (``labels=False``), or one integer class index in ``[0, classes)`` per sample, where
    ``classes`` is the last axis of ``output_shape``.

    A 1-D ``y`` is accepted for a one-output model and becomes one column.

    Args:
        y: the targets, array-like.
        dtype: the model's dtype.
        output_shape: the shape of one output sample.
        samples: the number of input samples, which ``y`` must match.
        last_layer: the last layer's name, for error messages.
        labels: whether the loss takes integer class labels (a sparse loss).
    """
    array = _as_numeric_array(y, "y", None if labels else dtype)
    if array.ndim == 0:
        raise ShapeError(
            f"y must hold one target per sample, shaped (samples, outputs) or (samples,); received "
            f"a single number ({array.item()!r}). For {samples} samples pass an array of {samples} targets."
        )
    if len(array) != samples:
        raise DataError(f"X and y must have the same number of samples; received {samples} and {len(array)}.")
    if labels:
        return _as_labels(array, None if output_shape is None else output_shape[-1], last_layer)
    if output_shape is not None and len(output_shape) > 1:
        if array.shape[1:] != tuple(output_shape):
            raise ShapeError(
                f"y must be shaped (samples, {', '.join(map(str, output_shape))}) like the outputs of the last "
                f"layer, {last_layer}; received shape {array.shape}."
            )
        return array
    outputs = None if output_shape is None else output_shape[0]
    if array.ndim == 1 and outputs in (1, None):
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ShapeError(
            f"y must be 2-D, shaped (samples, outputs) (or 1-D for a one-output model); "
            f"received shape {array.shape} for a model with {outputs} outputs."
        )
    if outputs is not None and array.shape[1] != outputs:
        hint = (
            " (for integer class labels use a sparse loss, e.g. 'sparse_categorical_crossentropy')"
            if array.shape[1] == 1
            else ""
        )
        raise ShapeError(
            f"y has {array.shape[1]} columns, but the last layer, {last_layer}, outputs {outputs}{hint}."
        )
    return array


def _as_labels(array: np.ndarray, classes: int | None, last_layer: str) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ShapeError(
            f"This loss takes integer class labels, shape (samples,); received shape {array.shape}. "
            "For one-hot targets use 'categorical_crossentropy'."
        )
    return class_labels(array, classes, f"the last layer, {last_layer}, with {classes} outputs")


def class_labels(labels: np.ndarray, classes: int | None, owner: str) -> np.ndarray:
    """``labels`` as ``intp``, checked to be whole numbers in ``[0, classes)`` (``owner`` names the outputs).

    Checked because numpy would index with them silently: a label of -1 picks the last class.

    Args:
        labels: the labels, array-like.
        classes: the number of classes.
        owner: what the outputs belong to, for error messages.
    """
    if labels.dtype.kind not in "biuf" or (
        labels.dtype.kind == "f" and not np.array_equal(labels, np.floor(labels))
    ):
        raise DataError(
            f"Class labels must be whole numbers; received {labels[:5].tolist()} (dtype {labels.dtype})."
        )
    if labels.size and (labels.min() < 0 or (classes is not None and labels.max() >= classes)):
        raise DataError(
            f"Class labels must lie in [0, {classes}) for {owner}; "
            f"received labels from {labels.min():g} to {labels.max():g}."
        )
    return labels.astype(np.intp, copy=False)


def sample_weights(weights: Any, samples: int, dtype: Any) -> np.ndarray:
    """``weights`` as a finite, non-negative array of ``dtype`` shaped ``(samples,)``, else a clear error.

    Args:
        weights: one weight per sample (a 1-D array-like, or one column).
        samples: the number of samples the weights must match.
        dtype: the dtype to give them (the model's).

    Returns:
        The weights as a new or converted array.

    Raises:
        DataError: not numbers, not finite, negative, or not one per sample.
        ShapeError: not one weight per sample in a row or a column.
    """
    array = _as_numeric_array(weights, "sample_weight", dtype)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ShapeError(
            f"sample_weight must hold one weight per sample, shape ({samples},); received shape {array.shape}."
        )
    if len(array) != samples:
        raise DataError(f"sample_weight must hold one weight per sample: {samples}; received {len(array)}.")
    if np.any(array < 0):
        i = int(np.argmax(array < 0))
        raise DataError(f"sample_weight must be >= 0; received {array[i]} at index {i}.")
    return array


def _classes_of(y: np.ndarray, labels: bool) -> np.ndarray:
    """Each sample's class for ``class_weight``; targets that are not classes are refused."""
    if labels:
        return y.reshape(-1).astype(np.intp)
    if not np.isin(y, (0, 1)).all():  # probabilities or a regression's values: no class to weigh
        example = y.reshape(-1)[~np.isin(y.reshape(-1), (0, 1))][0]
        raise DataError(
            f"class_weight weighs samples by their class, but these targets are not class labels: "
            f"they hold {float(example)!r}, where one-hot rows or 0/1 targets (or integer labels with "
            "a sparse loss) were expected. For other targets, pass sample_weight instead."
        )
    return (
        np.argmax(y, axis=1)
        if y.ndim == 2 and y.shape[1] > 1
        else y.reshape(len(y), -1)[:, 0].astype(np.intp)
    )


def class_weights(class_weight: Any, y: np.ndarray, labels: bool, dtype: Any) -> np.ndarray:
    """The sample weights ``class_weight`` gives the targets ``y``, as Keras computes them.

    A sample's class is its label (integer labels), the argmax of its one-hot row (several
    outputs), or its 0/1 target (one output); a class missing from ``class_weight`` weighs 1, as
    in Keras. Targets that are not classes (a regression's, probabilities) and classes the
    targets cannot have are refused.

    Args:
        class_weight: a dict from class index (int >= 0) to weight (finite, >= 0).
        y: the validated targets.
        labels: True when ``y`` holds integer class labels.
        dtype: the dtype of the weights (the model's).

    Returns:
        One weight per sample.

    Raises:
        ConfigError: ``class_weight`` is not such a dict, or names a class these targets cannot have.
        DataError: the targets are not class labels, one-hot rows or 0/1.
    """
    if not isinstance(class_weight, dict):
        raise ConfigError(
            f"class_weight must be a dict from class index to weight, e.g. {{0: 1.0, 1: 5.0}}; "
            f"received {type(class_weight).__name__}."
        )
    table: dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) or key < 0:
            raise ConfigError(f"class_weight keys must be class indices (integers >= 0); received {key!r}.")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not np.isfinite(value)
            or value < 0
        ):
            raise ConfigError(f"class_weight[{key}] must be a finite number >= 0; received {value!r}.")
        table[int(key)] = float(value)
    classes = _classes_of(y, labels)
    known = None if labels else int(y.shape[1]) if y.ndim == 2 and y.shape[1] > 1 else 2
    unknown = sorted(k for k in table if known is not None and k >= known)
    if unknown and known is not None:
        raise ConfigError(
            f"class_weight names class(es) {unknown}, but these targets have {known} classes "
            f"(0 to {known - 1})."
        )
    weights = np.ones(len(y), dtype=dtype)
    for key, value in table.items():  # one pass per listed class: a table, not a range of classes
        weights[classes == key] = value
    return weights


def batch_slices(
    samples: int, batch_size: int, rng: np.random.Generator | None
) -> Iterator[slice | np.ndarray]:
    """Yields the row selectors of one epoch: slices in order, or index arrays if shuffled.

    Shuffling permutes indices, never the data, so no copy of the data set is made per epoch.
    The last batch may be smaller; it is yielded, never dropped.

    Args:
        samples: the number of samples.
        batch_size: the samples per batch.
        rng: the generator to shuffle with; None keeps the data set's order.
    """
    if rng is None:
        for start in range(0, samples, batch_size):
            yield slice(start, start + batch_size)
        return
    # The smallest unsigned type that holds every index (4 bytes a sample up to 2**32 samples,
    # not permutation's 8), shuffled in place: the same order, and the same draws from ``rng``,
    # as rng.permutation(samples).
    order = np.arange(samples, dtype=np.min_scalar_type(max(samples - 1, 0)))
    rng.shuffle(order)
    for start in range(0, samples, batch_size):
        yield order[start : start + batch_size]
