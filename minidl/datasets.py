"""Small data sets that need no download: the TensorFlow Playground's generators, and a split.

The four classification generators follow the definitions of the TensorFlow Playground
(https://playground.tensorflow.org): points in the plane, two classes, and a ``noise`` given in
the Playground's own units (its slider, 0 to 50, read as a percentage). Each returns
``(x, y)``: ``x`` of shape ``(samples, 2)`` in float64 and ``y`` of shape ``(samples,)`` holding
``labels[0]`` for the negative class and ``labels[1]`` for the positive one (0 and 1 by
default; the Playground itself uses -1 and +1). Points come in a random order, drawn like
everything else from a generator seeded by ``seed``.

``digits`` wraps scikit-learn's bundled 8x8 digits (an optional extra, never required).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._checks import number, positive_int
from .errors import ConfigError, DataError
from .registry import check_arguments

__all__ = ["xor", "circle", "gaussians", "spiral", "digits", "train_test_split", "GENERATORS", "load"]

Labels = Sequence[float]


def _rng(seed: int | None) -> np.random.Generator:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer or None; received seed={seed!r}.")
    return np.random.default_rng(seed)


def _noise(noise: Any) -> float:
    # The Playground's slider runs from 0 to 50 and its generators receive the value / 100.
    return number("noise", noise, low=0.0, high=100.0) / 100.0


def _finish(
    x: np.ndarray, positive: np.ndarray, labels: Labels, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if len(labels) != 2:
        raise ConfigError(f"labels must be two values (negative, positive); received labels={labels!r}.")
    y = np.where(positive, labels[1], labels[0])
    order = rng.permutation(len(x))
    return x[order], y[order]


def _halves(samples: Any) -> tuple[int, int]:
    samples = positive_int("samples", samples)
    if samples < 2:
        raise ConfigError(f"samples must be at least 2 (one point per class); received samples={samples}.")
    return samples // 2, samples - samples // 2


def xor(
    samples: int = 500, noise: float = 0.0, *, seed: int | None = None, labels: Labels = (0, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """The Playground's "exclusive or": the class is whether ``x1 * x2 >= 0``.

    Each coordinate is uniform in [-5, 5) and then pushed 0.3 away from 0; the label is computed
    from the point shifted by uniform noise in [-5, 5) * noise/100 on each axis, while the point
    returned is the unshifted one, so noise mislabels points near the axes.

    Args:
        samples: the number of points.
        noise: the Playground's noise slider, 0 to 50.
        seed: the generator's seed (None: fresh entropy).
        labels: the labels of the negative and positive class.
    """
    noise_level = _noise(noise)
    samples = positive_int("samples", samples)
    rng = _rng(seed)
    x = rng.uniform(-5.0, 5.0, (samples, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shifted = x + rng.uniform(-5.0, 5.0, (samples, 2)) * noise_level
    return _finish(x, shifted[:, 0] * shifted[:, 1] >= 0, labels, rng)


def circle(
    samples: int = 500, noise: float = 0.0, *, seed: int | None = None, labels: Labels = (0, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """The Playground's circle: half the points at radius < 2.5, half at radius in [3.5, 5).

    A point is positive when its noisy copy (shifted by uniform [-5, 5) * noise/100 per axis)
    lies within radius 2.5 of the origin.

    Args:
        samples: the number of points.
        noise: the Playground's noise slider, 0 to 50.
        seed: the generator's seed (None: fresh entropy).
        labels: the labels of the negative and positive class.
    """
    noise_level = _noise(noise)
    inner, outer = _halves(samples)
    rng = _rng(seed)
    radius = np.concatenate([rng.uniform(0.0, 2.5, inner), rng.uniform(3.5, 5.0, outer)])
    angle = rng.uniform(0.0, 2 * math.pi, inner + outer)
    x = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    shifted = x + rng.uniform(-5.0, 5.0, x.shape) * noise_level
    return _finish(x, np.hypot(shifted[:, 0], shifted[:, 1]) < 2.5, labels, rng)


def gaussians(
    samples: int = 500, noise: float = 0.0, *, seed: int | None = None, labels: Labels = (0, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """The Playground's two Gaussians, centred at (2, 2) (positive) and (-2, -2) (negative).

    Both have the variance ``0.5 + 7 * noise/100`` on each axis (0.5 without noise, 4 at the
    slider's maximum of 50).

    Args:
        samples: the number of points.
        noise: the Playground's noise slider, 0 to 50.
        seed: the generator's seed (None: fresh entropy).
        labels: the labels of the negative and positive class.
    """
    noise_level = _noise(noise)
    negatives, positives = _halves(samples)
    rng = _rng(seed)
    std = math.sqrt(0.5 + 7.0 * noise_level)
    centres = np.repeat([[-2.0, -2.0], [2.0, 2.0]], [negatives, positives], axis=0)
    x = centres + rng.standard_normal(centres.shape) * std
    return _finish(x, np.arange(len(x)) >= negatives, labels, rng)


def spiral(
    samples: int = 500, noise: float = 0.0, *, seed: int | None = None, labels: Labels = (0, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """The Playground's two interleaved spirals, 1.75 turns each, out to radius 5.

    Point ``i`` of ``n`` on an arm lies at radius ``5 i / n`` and angle ``3.5 pi i / n`` (plus
    pi for the negative arm), as ``(r sin t, r cos t)``, shifted by uniform [-1, 1) * noise/100.

    Args:
        samples: the number of points.
        noise: the Playground's noise slider, 0 to 50.
        seed: the generator's seed (None: fresh entropy).
        labels: the labels of the negative and positive class.
    """
    noise_level = _noise(noise)
    positives, negatives = _halves(samples)
    rng = _rng(seed)
    arms = []
    for count, turn in ((positives, 0.0), (negatives, math.pi)):
        i = np.arange(count)
        r = i / count * 5.0
        t = 1.75 * i / count * 2 * math.pi + turn
        arms.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    x = np.concatenate(arms)
    x += rng.uniform(-1.0, 1.0, x.shape) * noise_level
    return _finish(x, np.arange(len(x)) < positives, labels, rng)


def digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 images), scaled to [0, 1], and their labels 0-9.

    ``x`` has shape (1797, 64), or (1797, 8, 8, 1) with ``images=True`` (height, width,
    channels, as a Conv2D layer takes them). Needs scikit-learn (``pip install
    minidl[datasets]``); raises ConfigError saying so otherwise.

    Args:
        images: return images ``(8, 8, 1)`` instead of 64 features.
    """
    if not isinstance(images, bool):
        raise ConfigError(f"images must be True or False; received images={images!r}.")
    try:  # imported here: scikit-learn is an optional extra, and slow to import
        from sklearn.datasets import load_digits
    except ImportError:
        raise ConfigError(
            "The digits data set comes with scikit-learn, which is not installed; "
            "install it with: pip install 'minidl[datasets]' (or pip install scikit-learn)."
        ) from None
    bunch = load_digits()
    x = bunch.data / 16.0
    return (x.reshape(-1, 8, 8, 1) if images else x), bunch.target.astype(np.int64)


#: The data sets a configuration's ``[data] dataset`` may name.
GENERATORS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "xor": xor,
    "circle": circle,
    "gaussians": gaussians,
    "spiral": spiral,
    "digits": digits,
}


def load(name: str, **arguments: Any) -> tuple[np.ndarray, np.ndarray]:
    """The data set ``name`` (one of ``GENERATORS``) made with ``arguments``.

    Args:
        name: a data set's name.
        **arguments: its generator's keyword arguments.
    """
    if name not in GENERATORS:
        raise ConfigError(f"Unknown data set {name!r}; available: {', '.join(GENERATORS)}.")
    generator = GENERATORS[name]
    check_arguments(generator, arguments, f"data set {name!r}")
    return generator(**arguments)


def train_test_split(
    x: Any, y: Any, *, test_size: float = 0.25, seed: int | None = None, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, x_test, y_train, y_test)``, with ``ceil(samples * test_size)`` samples for testing.

    The count is scikit-learn's (1797 digits at 0.25: 450 for testing, 1347 for training).

    With ``shuffle=True`` (the default) the samples are first permuted by a generator seeded by
    ``seed``; with ``shuffle=False`` the test samples are the last ones. The order of the
    returned arrays is scikit-learn's.

    Args:
        x: the inputs.
        y: the targets, as many as the inputs.
        test_size: the fraction of samples to test on, in (0, 1).
        seed: the seed of the permutation.
        shuffle: permute before splitting (False: the last samples are the test ones).
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise DataError(f"x and y must have the same number of samples; received {len(x)} and {len(y)}.")
    fraction = number("test_size", test_size, low=0.0, high=1.0, low_open=True, high_open=True)
    held = math.ceil(fraction * len(x))  # scikit-learn's expression, so its float rounding too
    if not 1 <= held < len(x):
        raise DataError(
            f"test_size={fraction:g} of {len(x)} samples leaves {held} for testing and "
            f"{len(x) - held} for training; both need at least one sample."
        )
    order = _rng(seed).permutation(len(x)) if shuffle else np.arange(len(x))
    train, test = order[: len(x) - held], order[len(x) - held :]
    return x[train], x[test], y[train], y[test]
