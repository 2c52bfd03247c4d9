"""The data, initial weights and the common judge of every workload.

Every implementation of a workload starts from the weights made here and returns its final
weights in one layout (per dense layer: ``W`` of shape ``(in, out)``, then ``b`` if it has one);
:func:`classifier_loss` and :func:`lecture_loss` then score them all with the same float64
arithmetic, so the suite can check that nobody was timed doing less work.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import expit, log_softmax

__all__ = [
    "Problem",
    "lecture1",
    "lecture2",
    "digits_like",
    "synthetic_classification",
    "glorot_weights",
    "classifier_loss",
    "classifier_accuracy",
    "lecture_loss",
    "small_cnn",
    "CNN_FILTERS",
    "cnn_logits",
    "cnn_loss",
    "cnn_accuracy",
]

LECTURE1_X = [[-2.0, -1.0], [25.0, 6.0], [17.0, 4.0], [-15.0, -6.0]]
LECTURE1_Y = [1.0, 0.0, 0.0, 1.0]
LECTURE2_X = [[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
LECTURE2_Y = [0.0, 1.0, 1.0, 0.0]


@dataclass
class Problem:
    """Training data (and held-out data for classifiers) with the shared initial weights."""

    x: np.ndarray
    y: np.ndarray
    weights: list[np.ndarray]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    source: str = ""

    def astype(self, dtype: str) -> Problem:
        cast = [w.astype(dtype) for w in self.weights]
        x_test = None if self.x_test is None else self.x_test.astype(dtype)
        return Problem(self.x.astype(dtype), self.y, cast, x_test, self.y_test, self.source)


def lecture1(seed: int = 0) -> Problem:
    """Lecture 1's four people; nine N(0, 1) parameters as 2x2, 2, 2x1, 1 arrays."""
    p = np.random.default_rng(seed).standard_normal(9)
    weights = [p[0:4].reshape(2, 2), p[4:6], p[6:8].reshape(2, 1), p[8:9]]
    return Problem(np.array(LECTURE1_X), np.array(LECTURE1_Y).reshape(-1, 1), weights, source="lecture 1")


def lecture2(seed: int = 0) -> Problem:
    """Lecture 2's XOR-like data; W1 (3x4) and W2 (4x1) drawn from U[0, 1)."""
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(0.0, 1.0, (3, 4)), rng.uniform(0.0, 1.0, (4, 1))]
    return Problem(np.array(LECTURE2_X), np.array(LECTURE2_Y).reshape(-1, 1), weights, source="lecture 2")


def glorot_weights(sizes: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Glorot-uniform weights and zero biases for dense layers of the given widths (float64)."""
    weights: list[np.ndarray] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights += [rng.uniform(-limit, limit, (fan_in, fan_out)), np.zeros(fan_out)]
    return weights


def _split(x: np.ndarray, labels: np.ndarray, rng: np.random.Generator, test_fraction: float = 0.2):
    # shuffled once here, so every implementation sees the same batches in the same order
    order = rng.permutation(len(x))
    x, labels = x[order], labels[order]
    n_test = int(len(x) * test_fraction)
    return x[n_test:], labels[n_test:], x[:n_test], labels[:n_test]


def digits_like(seed: int = 0, samples: int | None = None) -> Problem:
    """scikit-learn's 8x8 digits (scaled to [0, 1]) when installed, else synthetic data of that shape.

    ``samples`` forces synthetic data of that many samples (for the scaling runs).
    """
    rng = np.random.default_rng(seed)
    x = labels = None
    source = "synthetic, 8x8-digits-sized"
    if samples is None:
        try:
            from sklearn.datasets import load_digits

            digits = load_digits()
            x, labels, source = digits.data / 16.0, digits.target.astype(np.intp), "scikit-learn digits"
        except ImportError:
            samples = 1797
    if x is None:
        x, labels = _teacher_data(rng, samples or 1797, 64, 10)
    x_train, y_train, x_test, y_test = _split(x, labels, rng)
    return Problem(x_train, y_train, glorot_weights([64, 128, 10], rng), x_test, y_test, source)


def _teacher_data(rng: np.random.Generator, samples: int, features: int, classes: int):
    # inputs in [0, 1) labelled by a random linear teacher: learnable, so the loss falls
    x = rng.random((samples, features))
    teacher = rng.standard_normal((features, classes))
    return x, np.argmax((x - 0.5) @ teacher, axis=1).astype(np.intp)


def synthetic_classification(sizes: list[int], samples: int, seed: int = 0) -> Problem:
    """Teacher-labelled synthetic data for an MLP of layer widths ``sizes`` (W4, scaling)."""
    rng = np.random.default_rng(seed)
    x, labels = _teacher_data(rng, samples + samples // 4, sizes[0], sizes[-1])
    x_train, y_train, x_test, y_test = _split(x, labels, rng)
    return Problem(
        x_train, y_train, glorot_weights(sizes, rng), x_test, y_test, f"synthetic, {sizes[0]} features"
    )


def _logits(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    h = np.asarray(x, dtype=np.float64)
    pairs = list(zip(weights[0::2], weights[1::2]))
    for i, (w, b) in enumerate(pairs):
        h = h @ np.asarray(w, dtype=np.float64) + np.asarray(b, dtype=np.float64)
        if i < len(pairs) - 1:
            h = np.maximum(h, 0.0)
    return h


def classifier_loss(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of a ReLU MLP with a softmax output, in float64."""
    logp = log_softmax(_logits(weights, x), axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def classifier_accuracy(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose largest logit is the true class."""
    return float((np.argmax(_logits(weights, x), axis=1) == labels).mean())


def lecture_loss(
    weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, biases: bool, reduction: str
) -> float:
    """Squared error of a sigmoid network (lecture 1: mean, with biases; lecture 2: sum, none)."""
    h = x
    step = 2 if biases else 1
    for i in range(0, len(weights), step):
        h = h @ weights[i] + (weights[i + 1] if biases else 0.0)
        h = expit(h)
    errors = (h - y) ** 2
    return float(errors.mean() if reduction == "mean" else errors.sum())


#: W6's two convolutions: (input channels, filters) of each 3x3 'same' convolution
CNN_FILTERS = ((1, 16), (16, 32))
CNN_CLASSES = 10


def small_cnn(samples: int, seed: int = 0, size: int = 28) -> Problem:
    """W6: seeded synthetic ``(size, size, 1)`` images in [0, 1] of 10 classes, and the CNN's weights.

    Each class has a blocky template (a random 7x7 pattern scaled up to the image size); a sample
    is its class's template plus uniform noise, so the network has something to learn. The
    weights are Keras's layout: per convolution a kernel ``(3, 3, in, out)`` (Glorot-uniform) and
    a zero bias, then the dense layer's ``W`` ``(features, 10)`` and ``b``, its rows in the order
    in which a channels-last ``(height, width, channels)`` map flattens. ``size`` must divide by 4.
    """
    if size % 4 or size <= 0:
        raise ValueError(f"the image size must be a positive multiple of 4; received {size}")
    rng = np.random.default_rng(seed)
    total = samples + samples // 4
    labels = rng.integers(0, CNN_CLASSES, total).astype(np.intp)
    block = size // 7 if size % 7 == 0 else 1
    cells = size // block
    templates = np.kron(rng.random((CNN_CLASSES, cells, cells)), np.ones((block, block)))
    x = 0.5 * templates[labels] + 0.5 * rng.random((total, size, size))
    weights: list[np.ndarray] = []
    for c_in, c_out in CNN_FILTERS:
        limit = np.sqrt(6.0 / (9 * c_in + 9 * c_out))  # Keras's fans for a kernel: field size x channels
        weights += [rng.uniform(-limit, limit, (3, 3, c_in, c_out)), np.zeros(c_out)]
    features = (size // 4) ** 2 * CNN_FILTERS[-1][1]
    weights += glorot_weights([features, CNN_CLASSES], rng)
    x_train, y_train, x_test, y_test = _split(x[..., None], labels, rng)
    return Problem(x_train, y_train, weights, x_test, y_test, f"synthetic {size}x{size}x1 images, 10 classes")


def cnn_logits(weights: list[np.ndarray], x: np.ndarray, chunk: int = 256) -> np.ndarray:
    """W6's network in float64, written plainly (the judge): conv-ReLU-pool twice, flatten, dense."""
    if len(x) > chunk:
        return np.concatenate([cnn_logits(weights, x[s : s + chunk], chunk) for s in range(0, len(x), chunk)])
    h = np.asarray(x, dtype=np.float64)
    for kernel, bias in zip(weights[0:4:2], weights[1:4:2]):
        padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
        windows = sliding_window_view(padded, (3, 3), axis=(1, 2))  # (n, h, w, in, 3, 3)
        columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(*h.shape[:3], -1)  # (n, h, w, 3 * 3 * in)
        kernel = np.asarray(kernel, np.float64)
        h = np.maximum(columns @ kernel.reshape(-1, kernel.shape[-1]) + bias, 0.0)
        n, rows, cols, channels = h.shape
        h = h.reshape(n, rows // 2, 2, cols // 2, 2, channels).max(axis=(2, 4))
    h = h.reshape(len(h), -1)
    return h @ np.asarray(weights[4], np.float64) + np.asarray(weights[5], np.float64)


def cnn_loss(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy of W6's network, in float64."""
    logp = log_softmax(cnn_logits(weights, x), axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def cnn_accuracy(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose largest logit is the true class."""
    return float((np.argmax(cnn_logits(weights, x), axis=1) == labels).mean())
