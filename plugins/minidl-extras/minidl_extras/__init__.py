"""A loss, an optimizer, a layer and an initializer for minidl, one per entry-point group they use.

- ``huber`` (group ``minidl.losses``): squared near the target, linear far from it;
- ``rmsprop`` (group ``minidl.optimizers``): steps scaled by a running mean of squared gradients;
- ``gaussian_noise`` (group ``minidl.layers``): adds zero-mean normal noise to its inputs in training;
- ``orthogonal`` (group ``minidl.initializers``): a random (semi-)orthogonal matrix times a gain.

Only minidl's public API is used (``minidl.validation`` for the hyper-parameter checks).

The package offered ``dropout`` until minidl took it into its core (``minidl.Dropout``); a
plugin must not offer a name the core owns, so the layer group now shows ``gaussian_noise``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from minidl import Initializer, Layer, Loss, NotCompiledError, Optimizer, Parameter
from minidl.validation import number

__all__ = ["Huber", "RMSprop", "GaussianNoise", "Orthogonal"]


class Huber(Loss):
    """``L = s * sum(h(d))``, ``d = y_pred - y_true``, ``h(d) = d**2 / 2`` if ``|d| <= delta``
    else ``delta * (|d| - delta / 2)``; ``dL/dy_pred = s * clip(d, -delta, delta)``.

    ``s = 1 / y_pred.size`` for ``reduction="mean"``, 1 for ``"sum"`` (as in Keras and PyTorch).
    Called directly it takes array-likes and checks their shapes (``Loss`` does that for it).
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.delta = number("delta", delta, low=0.0, low_open=True)

    def value_and_gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
        d = np.subtract(y_pred, y_true, dtype=y_pred.dtype)
        small = np.clip(
            d, -self.delta, self.delta
        )  # d inside the band, +-delta outside: the gradient's shape
        # = d**2/2 inside the band; outside, delta*(|d| - delta/2) = small**2/2 + delta*(|d| - |small|)
        value = float(np.sum(0.5 * small * small + self.delta * (np.abs(d) - np.abs(small))))
        scale = self.reduction_scale(y_pred)
        return value * scale, small * scale

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta, **super().get_config()}


class RMSprop(Optimizer):
    """``v = rho * v + (1 - rho) * g**2``; ``p -= learning_rate * g / (sqrt(v) + epsilon)``.

    The update of each element uses only that element's history, so it is elementwise.
    """

    def __init__(self, learning_rate: float = 0.001, *, rho: float = 0.9, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho = number("rho", rho, low=0.0, high=1.0, high_open=True)
        self.epsilon = number("epsilon", epsilon, low=0.0, low_open=True)

    @classmethod
    def example(cls) -> RMSprop:
        return cls(learning_rate=0.01)

    def init_state(self, param: Parameter) -> dict[str, np.ndarray]:
        return {"v": np.zeros_like(param.value)}

    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        g, v = param.grad, state["v"]
        v *= self.rho
        v += (1.0 - self.rho) * (g * g)
        param.value -= self.learning_rate * g / (np.sqrt(v) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class GaussianNoise(Layer):
    """During training, ``y = x + stddev * z`` with ``z`` standard normal, drawn anew for every
    element at every call; outside training, the identity (as Keras's ``GaussianNoise``).

    The noise does not depend on ``x``, so ``dL/dx = dL/dy``. It comes from the generator the model
    gives the layer in ``build``: a seeded model adds the same noise on every run, and a run
    resumed from a model file adds the noise the uninterrupted run would have (the model saves
    the generator's state).
    """

    def __init__(self, stddev: float, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.stddev = number("stddev", stddev, low=0.0)
        self._rng: np.random.Generator | None = None

    @classmethod
    def example(cls) -> GaussianNoise:
        return cls(0.5)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> None:
        self._rng = rng

    def parameter_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """No parameters (minidl checks a model file against this before reading it)."""
        return []

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.stddev == 0.0:
            return x  # nothing drawn: the generator's stream is left as it was
        if self._rng is None:
            raise NotCompiledError(
                "GaussianNoise needs a random generator: add it to a model, or call "
                "layer.build_for(input_shape, numpy.random.default_rng(seed), dtype) first."
            )
        # normal draws in x's own dtype: float32 ones cost half the random bits
        kind = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        noise = self._rng.standard_normal(x.shape, dtype=kind)
        noise *= self.stddev
        noise += x
        return noise

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output

    def get_config(self) -> dict[str, Any]:
        return {"stddev": self.stddev}

    def describe(self) -> str:
        return f"GaussianNoise {self.stddev:g}"


class Orthogonal(Initializer):
    """``gain * Q``, Q from the QR decomposition of a standard normal matrix, signs fixed so that R's
    diagonal is positive (as Keras's and PyTorch's ``orthogonal``; Saxe et al., 2014).

    The shape is read as a matrix of ``rows = prod(shape[:-1])`` by ``cols = shape[-1]`` (a Dense
    weight ``(in_features, out_features)`` as it is). With ``rows >= cols`` the columns are
    orthonormal, ``W.T @ W = gain**2 * I``; otherwise the rows are, ``W @ W.T = gain**2 * I``. A
    vector is one row: a random direction of length ``gain``. The sign fix makes Q a function of
    the normal draws alone, so Q is uniformly (Haar) distributed (Mezzadri, 2007).
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = number("gain", gain, low=0.0, low_open=True)

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        shape = tuple(shape)
        rows, cols = _matrix_of(shape)
        if rows * cols == 0:
            return np.zeros(shape, dtype=dtype)
        a = rng.standard_normal((rows, cols))
        tall = a if rows >= cols else a.T  # QR gives orthonormal columns: factor the tall way round
        q, r = np.linalg.qr(tall)
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # diag(r) is 0 with probability 0: count it as +
        q = q if rows >= cols else q.T
        return (self.gain * q).reshape(shape).astype(dtype, copy=False)

    def expected_moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        """Mean and variance of the entries (read by minidl's kit): 0 and ``gain**2 / max(rows, cols)``.

        Each orthonormal column (or row) has a squared length of ``gain**2``, spread over its entries.
        """
        rows, cols = _matrix_of(tuple(shape))
        return 0.0, self.gain**2 / max(rows, cols, 1)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


def _matrix_of(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(rows, cols)`` of the matrix an array of ``shape`` is read as; a vector is one row."""
    if not shape:
        return 1, 1
    return math.prod(shape[:-1]), shape[-1]
