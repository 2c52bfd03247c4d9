"""A loss, an optimizer and a layer for minidl, one per entry-point group they use.

- ``huber`` (group ``minidl.losses``): squared near the target, linear far from it;
- ``rmsprop`` (group ``minidl.optimizers``): steps scaled by a running mean of squared gradients;
- ``dropout`` (group ``minidl.layers``): zeroes a random fraction of its inputs during training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import Layer, Loss, Optimizer
from minidl._checks import number
from minidl.errors import NotCompiledError

__all__ = ["Huber", "RMSprop", "Dropout"]


class Huber(Loss):
    """``L = s * sum(h(d))``, ``d = y_pred - y_true``, ``h(d) = d**2 / 2`` if ``|d| <= delta``
    else ``delta * (|d| - delta / 2)``; ``dL/dy_pred = s * clip(d, -delta, delta)``.

    ``s = 1 / y_pred.size`` for ``reduction="mean"``, 1 for ``"sum"`` (as in Keras and PyTorch).
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.delta = number("delta", delta, low=0.0, low_open=True)

    def __call__(self, y_true, y_pred):
        d = np.abs(np.subtract(y_pred, y_true, dtype=y_pred.dtype))
        small = np.minimum(d, self.delta)
        # = d**2/2 inside the band; outside, delta*(|d| - delta/2) = small**2/2 + delta*(d - small)
        return float(np.sum(0.5 * small * small + self.delta * (d - small))) * self._scale(y_pred)

    def gradient(self, y_true, y_pred):
        d = np.subtract(y_pred, y_true, dtype=y_pred.dtype)
        return np.clip(d, -self.delta, self.delta) * self._scale(y_pred)

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

    def init_state(self, param):
        return {"v": np.zeros_like(param.value)}

    def update(self, param, state):
        g, v = param.grad, state["v"]
        v *= self.rho
        v += (1.0 - self.rho) * (g * g)
        param.value -= self.learning_rate * g / (np.sqrt(v) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Dropout(Layer):
    """During training, zeroes each input with probability ``rate`` and scales the rest by
    ``1 / (1 - rate)`` (so the expected output equals the input); outside training, the identity.

    The masks come from the generator the model gives the layer in ``build``, so a seeded model
    drops the same units on every run.
    """

    def __init__(self, rate: float = 0.5, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.rate = number("rate", rate, low=0.0, high=1.0, high_open=True)
        self._rng: np.random.Generator | None = None
        self._mask: np.ndarray | None = None

    def build(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        self._rng = rng

    @property
    def built(self) -> bool:
        return self._rng is not None

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            self._mask = None
            return x
        if self._rng is None:
            raise NotCompiledError("Dropout needs a random generator: add it to a model, or call build(rng, dtype).")
        keep = self._rng.random(x.shape) >= self.rate
        self._mask = keep * np.asarray(1.0 / (1.0 - self.rate), dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_output):
        return grad_output if self._mask is None else grad_output * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate}

    def describe(self) -> str:
        return f"Dropout {self.rate:g}"
