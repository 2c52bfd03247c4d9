"""Initializers: how a new parameter array is filled.

Each initializer is called as ``init(shape, rng, dtype)`` with an explicit
``numpy.random.Generator``; none touches global random state. For a weight of shape
``(fan_in, fan_out)`` the variance-scaling initializers use those two numbers.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._checks import number
from ._component import Described, ValueEquality
from .errors import ConfigError
from .registry import Registry

__all__ = [
    "Initializer",
    "registry",
    "register",
    "get",
    "Normal",
    "Uniform",
    "Zeros",
    "Ones",
    "Constant",
    "GlorotUniform",
    "GlorotNormal",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
]


class Initializer(Described, ValueEquality, ABC):
    """Fills a new array: ``init(shape, rng, dtype) -> ndarray``."""

    @abstractmethod
    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        """Returns a new array of ``shape`` and ``dtype``, drawing from ``rng`` if random.

        Args:
            shape: the shape of the array to make.
            rng: the generator to draw from (unused by constant initializers).
            dtype: the dtype of the array.
        """

    @classmethod
    def example(cls) -> Initializer:
        """An instance for conformance tests."""
        return cls()


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Initializer] = Registry("initializer", Initializer)  # type: ignore[type-abstract]
register = registry.register
get = registry.get


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    # (in, out) for a dense weight; a vector counts as both fans.
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


@register("normal")
class Normal(Initializer):
    """Draws from N(mean, std**2); the lecture-1 initialisation with the defaults.

    Args:
        mean: the mean of the distribution.
        std: its standard deviation, > 0.
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        self.mean = number("mean", mean)
        self.std = number("std", std, low=0, low_open=True)

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        return (rng.standard_normal(shape) * self.std + self.mean).astype(dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}


@register("uniform")
class Uniform(Initializer):
    """Draws from U[low, high); the lecture-2 initialisation with the defaults.

    Args:
        low: the lower bound (included).
        high: the upper bound (excluded), > ``low``.
    """

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        self.low = number("low", low)
        self.high = number("high", high)
        if not self.low < self.high:
            raise ConfigError(f"uniform needs low < high; received low={low!r}, high={high!r}.")

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=shape).astype(dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


@register("constant")
class Constant(Initializer):
    """Fills with one value.

    Args:
        value: the value every element takes.
    """

    def __init__(self, value: float = 0.0) -> None:
        self.value = number("value", value)

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


@register("zeros")
class Zeros(Constant):
    """Fills with 0 (the default for biases)."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def get_config(self) -> dict[str, Any]:
        return {}


@register("ones")
class Ones(Constant):
    """Fills with 1."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def get_config(self) -> dict[str, Any]:
        return {}


class _VarianceScaling(Initializer):
    """Zero-mean draws with variance ``scale / fan``, fan chosen by the subclass."""

    scale: float = 1.0
    mode: str = "fan_in"  # "fan_in" or "fan_avg"
    distribution: str = "normal"  # "normal" or "uniform"

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        fan_in, fan_out = _fans(tuple(shape))
        fan = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2
        variance = self.scale / max(fan, 1)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)  # U[-a, a) has variance a**2 / 3
            out = rng.uniform(-limit, limit, size=shape)
        else:
            out = rng.standard_normal(shape) * math.sqrt(variance)
        return out.astype(dtype, copy=False)


@register("glorot_uniform")
class GlorotUniform(_VarianceScaling):
    """U[-a, a) with a = sqrt(6 / (fan_in + fan_out)); the default for Dense weights."""

    mode, distribution = "fan_avg", "uniform"


@register("glorot_normal")
class GlorotNormal(_VarianceScaling):
    """N(0, 2 / (fan_in + fan_out)) (not truncated)."""

    mode, distribution = "fan_avg", "normal"


@register("he_normal")
class HeNormal(_VarianceScaling):
    """N(0, 2 / fan_in) (not truncated); suits ReLU layers."""

    scale = 2.0


@register("he_uniform")
class HeUniform(_VarianceScaling):
    """U[-a, a) with a = sqrt(6 / fan_in)."""

    scale, distribution = 2.0, "uniform"


@register("lecun_normal")
class LecunNormal(_VarianceScaling):
    """N(0, 1 / fan_in) (not truncated)."""
