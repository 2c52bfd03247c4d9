"""Optimizers: update parameters in place from their gradients.

An optimizer is a template method: :meth:`Optimizer.step` loops over parameters, creates each
one's state on first sight with :meth:`Optimizer.init_state` (state belongs to the optimizer,
keyed by the Parameter object) and applies :meth:`Optimizer.update`. Optimizers never see layers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ._checks import number
from .errors import ConfigError
from .parameter import Parameter
from .registry import Registry

__all__ = ["Optimizer", "SGD", "Adam", "registry", "register", "get"]


class Optimizer(ABC):
    """Base class of optimizers.

    ``elementwise = True`` (the default) declares that the update of each element depends only
    on that element's own value, gradient and state. A model may then hand the optimizer one
    Parameter spanning all of its parameters (a flat buffer), which gives the same result with
    one numpy call per step instead of one per array. Optimizers that look at whole arrays
    (norms, per-layer trust ratios) set it to False.
    """

    elementwise: ClassVar[bool] = True

    def __init__(self, learning_rate: float = 0.01) -> None:
        self.learning_rate = learning_rate
        self.iterations = 0
        self._state: dict[Parameter, dict[str, Any]] = {}

    @classmethod
    def example(cls) -> Optimizer:
        """An instance for conformance tests (it must minimise a quadratic within 5000 steps)."""
        return cls()

    @property
    def learning_rate(self) -> float:
        """The step size; may be changed between steps (schedules); must be finite and > 0."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = number("learning_rate", value, low=0.0, low_open=True)

    def step(self, parameters: Iterable[Parameter]) -> None:
        """Applies one update to every parameter from its current ``grad``."""
        self.iterations += 1
        states = self._state
        for p in parameters:
            state = states.get(p)
            if state is None:
                state = states[p] = self.init_state(p)
            self.update(p, state)

    def init_state(self, param: Parameter) -> dict[str, Any]:
        """The state a parameter starts with (e.g. zero moment buffers); none by default."""
        return {}

    @abstractmethod
    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        """Updates ``param.value`` in place from ``param.grad`` and ``state``."""

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values."""
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


registry: Registry[Optimizer] = Registry("optimizer", Optimizer)
register = registry.register
get = registry.get


@register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and weight decay.

    With ``g = grad + weight_decay * p`` and velocity ``v`` (zero at start):
    plain ``p -= lr * g``; momentum ``v = momentum * v - lr * g; p += v``;
    Nesterov ``p += momentum * v - lr * g`` (after updating ``v``), as in Keras.

    Example:
        >>> opt = SGD(learning_rate=0.1)
        >>> p = Parameter(np.array([1.0])); p.grad[:] = 2.0
        >>> opt.step([p]); p.value
        array([0.8])
    """

    def __init__(
        self,
        learning_rate: float = 0.01,
        *,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.weight_decay = number("weight_decay", weight_decay, low=0.0)
        if not isinstance(nesterov, bool):
            raise ConfigError(f"nesterov must be True or False; received nesterov={nesterov!r}.")
        if nesterov and self.momentum == 0.0:
            raise ConfigError("nesterov=True needs a momentum > 0; received momentum=0.0.")
        self.nesterov = nesterov

    def init_state(self, param: Parameter) -> dict[str, Any]:
        if self.momentum:
            return {"velocity": np.zeros_like(param.value)}
        # shaped like the parameter when small; one block of a blocked update when large
        small = param.size <= _BLOCK
        return {"scratch": np.empty_like(param.value) if small else np.empty(_BLOCK, dtype=param.value.dtype)}

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.value
        if not self.momentum:
            _subtract_scaled(param.value, self._learning_rate, g, state["scratch"])
            return
        v = state["velocity"]
        v *= self.momentum
        v -= self.learning_rate * g
        if self.nesterov:
            param.value += self.momentum * v - self.learning_rate * g
        else:
            param.value += v

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.momentum or self.weight_decay:
            config.update(momentum=self.momentum, nesterov=self.nesterov, weight_decay=self.weight_decay)
        return config


_BLOCK = 1 << 16  # elements per block of an in-place update (256 KiB in float32: stays in cache)


def _subtract_scaled(target: np.ndarray, scale: float, source: np.ndarray, scratch: np.ndarray) -> None:
    """``target -= scale * source`` in place, through ``scratch``, without a model-sized temporary.

    Large arrays go block by block: on the 1.9 million float32 parameters of a 784-1024-1024-10
    network this takes 0.59 ms instead of 1.06 ms for ``target -= scale * source`` (whose 7 MB
    temporary is allocated, faulted in and freed every step), and keeps peak memory down.
    """
    if scratch.shape == target.shape:
        np.multiply(source, scale, out=scratch)
        np.subtract(target, scratch, out=target)
        return
    size = target.size
    if not (target.flags.c_contiguous and source.flags.c_contiguous):
        target -= scale * source  # blocks need flat views; such arrays are rare (parameters are contiguous)
        return
    flat_target, flat_source = target.reshape(-1), source.reshape(-1)
    block = scratch.size
    for start in range(0, size, block):
        end = min(start + block, size)
        out = scratch[: end - start]
        np.multiply(flat_source[start:end], scale, out=out)
        np.subtract(flat_target[start:end], out, out=flat_target[start:end])


@register("adam")
class Adam(Optimizer):
    """Adam (Kingma and Ba): with ``t`` the step number of the parameter,

    ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g**2``,
    ``p -= learning_rate * m_hat / (sqrt(v_hat) + epsilon)``, where
    ``m_hat = m / (1 - beta_1**t)`` and ``v_hat = v / (1 - beta_2**t)``.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        *,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = number("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = number("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = number("epsilon", epsilon, low=0.0, low_open=True)

    def init_state(self, param: Parameter) -> dict[str, Any]:
        return {"t": 0, "m": np.zeros_like(param.value), "v": np.zeros_like(param.value)}

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        g, m, v = param.grad, state["m"], state["v"]
        state["t"] = t = state["t"] + 1
        m *= self.beta_1
        m += (1.0 - self.beta_1) * g
        v *= self.beta_2
        v += (1.0 - self.beta_2) * (g * g)
        # fold both bias corrections into the step size and epsilon: one array expression less
        correction = np.sqrt(1.0 - self.beta_2**t)
        step = self.learning_rate * correction / (1.0 - self.beta_1**t)
        param.value -= step * m / (np.sqrt(v) + self.epsilon * correction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
