"""Extra activations for minidl, found through the ``minidl.activations`` entry-point group.

After ``pip install minidl-extra-activations`` they are usable by name
(``Dense(4, activation="swish")``) with no import. Each is written so that no input of any
magnitude overflows or produces NaN, and writes its formula once: ``forward`` keeps what
``backward`` needs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf, expit

from minidl import Activation
from minidl.validation import number

__all__ = ["LeakyReLU", "ELU", "Softplus", "Swish", "SiLU", "GELU"]


class LeakyReLU(Activation):
    """``x`` for ``x > 0``, ``alpha * x`` otherwise; derivative 1 or ``alpha``."""

    def __init__(self, alpha: float = 0.01, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.alpha = number("alpha", alpha, low=0.0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._slope = np.where(x > 0, 1.0, self.alpha).astype(x.dtype, copy=False)
        return x * self._slope

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * self._slope

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class ELU(Activation):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise; derivative 1 or ``y + alpha``."""

    def __init__(self, alpha: float = 1.0, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.alpha = number("alpha", alpha, low=0.0, low_open=True)

    def forward(self, x: np.ndarray) -> np.ndarray:
        # expm1 of min(x, 0): the positive branch never reaches exp, so it cannot overflow
        y = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
        self._slope = np.where(x > 0, 1.0, y + self.alpha).astype(x.dtype, copy=False)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * self._slope

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Softplus(Activation):
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))``; derivative ``sigmoid(x)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * expit(self._x)


class Swish(Activation):
    """``x * sigmoid(x)`` (also called SiLU); derivative ``s + x s (1 - s)`` with ``s = sigmoid(x)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        s = expit(x)
        self._x, self._s = x, s
        return x * s

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x, s = self._x, self._s
        return grad_output * (s + x * s * (1 - s))


class SiLU(Swish):
    """The same function as :class:`Swish`, under the name PyTorch uses."""


_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Activation):
    """Exact GELU ``x * Phi(x)``, Phi the standard normal CDF; derivative ``Phi(x) + x * phi(x)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        cdf = self._cdf = 0.5 * (1.0 + erf(x * _SQRT_HALF))
        self._x = x
        return x * cdf

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x = self._x
        # x*x overflows past |x| ~ 1e154; phi(x) is already exactly 0 beyond |x| = 40
        z = np.minimum(np.abs(x), 40.0)
        return grad_output * (self._cdf + x * (np.exp(-0.5 * z * z) * _INV_SQRT_2PI))
