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
    return Problem(x_train, y_train, glorot_weights(sizes, rng), x_test, y_test, f"synthetic, {sizes[0]} features")


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


def lecture_loss(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, biases: bool, reduction: str) -> float:
    """Squared error of a sigmoid network (lecture 1: mean, with biases; lecture 2: sum, none)."""
    h = x
    step = 2 if biases else 1
    for i in range(0, len(weights), step):
        h = h @ weights[i] + (weights[i + 1] if biases else 0.0)
        h = expit(h)
    errors = (h - y) ** 2
    return float(errors.mean() if reduction == "mean" else errors.sum())
