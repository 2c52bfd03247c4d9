"""Learning-rate schedules: the step size as a function of the optimizer's step count.

A ``Schedule`` maps ``step`` (the number of updates made before this one: 0 for the first)
to a learning rate, as a Keras ``LearningRateSchedule`` does. An optimizer given a schedule as
its ``learning_rate`` asks it once per step; a schedule holds no state of its own, so saving the
optimizer's step count (which model files do) is enough to resume it bit for bit. Installed
packages add schedules through the entry-point group ``minidl.schedules``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ._checks import number, positive_int
from ._component import Described, ValueEquality
from .errors import ConfigError
from .registry import Registry

__all__ = [
    "Schedule",
    "Constant",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "registry",
    "register",
    "get",
]


class Schedule(Described, ValueEquality, ABC):
    """Base class of learning-rate schedules: ``schedule(step) -> float``, finite and >= 0.

    A subclass gives ``__call__`` (a pure function of ``step``) and, when its constructor
    takes arguments, ``get_config`` and ``example``.
    """

    @abstractmethod
    def __call__(self, step: int) -> float:
        """The learning rate of the update made after ``step`` earlier updates.

        Args:
            step: the number of updates made before this one (0 for the first).

        Returns:
            The learning rate, a finite float >= 0 (0 makes the step change nothing).
        """

    @classmethod
    def example(cls) -> Schedule:
        """An instance for conformance tests; schedules whose constructor needs arguments override it."""
        return cls()


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Schedule] = Registry("schedule", Schedule)  # type: ignore[type-abstract]
register = registry.register
get = registry.get


def _rate(name: str, value: Any) -> float:
    return number(name, value, low=0.0, low_open=True)


@register("constant")
class Constant(Schedule):
    """The same rate at every step: ``lr(step) = learning_rate``.

    Args:
        learning_rate: the rate (> 0).

    Examples:
        >>> Constant(0.1)(1000)
        0.1
    """

    def __init__(self, learning_rate: float = 0.01) -> None:
        self.learning_rate = _rate("learning_rate", learning_rate)

    def __call__(self, step: int) -> float:
        return self.learning_rate

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate}


@register("exponential_decay")
class ExponentialDecay(Schedule):
    """``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)`` (Keras's formula).

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``: the rate drops by
    ``decay_rate`` every ``decay_steps`` steps, which is PyTorch's ``StepLR(step_size=decay_steps,
    gamma=decay_rate)`` counted in steps; ``decay_steps=1`` is PyTorch's ``ExponentialLR``.

    Args:
        initial_learning_rate: the rate at step 0 (> 0).
        decay_steps: the steps over which the rate is multiplied by ``decay_rate`` (>= 1).
        decay_rate: the factor per ``decay_steps`` steps (> 0).
        staircase: decay in whole periods (a step function) instead of continuously.

    Examples:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def __init__(
        self,
        initial_learning_rate: float = 0.01,
        decay_steps: int = 1000,
        decay_rate: float = 0.96,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = _rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.decay_rate = _rate("decay_rate", decay_rate)
        if not isinstance(staircase, bool):
            raise ConfigError(f"staircase must be True or False; received staircase={staircase!r}.")
        self.staircase = staircase

    def __call__(self, step: int) -> float:
        periods = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate**periods

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


@register("piecewise_constant")
class PiecewiseConstantDecay(Schedule):
    """A rate per interval of steps: ``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``.

    Keras's convention: ``values[0]`` up to and including step ``boundaries[0]``, ``values[-1]``
    after the last boundary. PyTorch's ``MultiStepLR(milestones)`` changes the rate *at* each
    milestone, so its milestone ``m`` is the boundary ``m - 1`` here.

    Args:
        boundaries: increasing step counts (integers >= 0).
        values: the rates (> 0), one more than there are boundaries.

    Examples:
        >>> schedule = PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
        >>> schedule(100), schedule(101), schedule(5000)
        (0.1, 0.01, 0.001)
    """

    def __init__(self, boundaries: Sequence[int] = (1000,), values: Sequence[float] = (0.01, 0.001)) -> None:
        self.boundaries = [
            positive_int("a boundary", b, allow_zero=True) for b in _sequence("boundaries", boundaries)
        ]
        self.values = [_rate("a value", v) for v in _sequence("values", values)]
        if len(self.values) != len(self.boundaries) + 1:
            raise ConfigError(
                f"values must hold one rate more than boundaries; received {len(self.boundaries)} "
                f"boundaries and {len(self.values)} values."
            )
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:], strict=False)):
            raise ConfigError(f"boundaries must increase strictly; received boundaries={self.boundaries}.")

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


def _sequence(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{name} must be a list; received {name}={value!r}.")
    return list(value)


@register("cosine_decay")
class CosineDecay(Schedule):
    """Cosine decay with an optional linear warm-up, as Keras 3's ``CosineDecay``.

    Without warm-up (``warmup_steps=0``), with ``s = min(step, decay_steps)``:
    ``lr(step) = initial_learning_rate * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2 + alpha)``,
    which is PyTorch's closed-form ``CosineAnnealingLR(T_max=decay_steps, eta_min=alpha * lr0)``
    up to ``decay_steps`` (after it Keras, and minidl, stay at ``alpha * lr0``).
    With ``warmup_steps > 0`` the rate first rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps`` steps, ``lr = initial + (target - initial) * step /
    warmup_steps``, then decays as above from ``warmup_target``, with ``s = min(step -
    warmup_steps, decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0 (> 0).
        decay_steps: the steps of the cosine (>= 1).
        alpha: the final rate as a fraction of the decay's starting rate, in [0, 1] (0: the
            rate ends at 0, and later steps change nothing).
        warmup_steps: the steps of the linear warm-up (>= 0).
        warmup_target: the rate the warm-up reaches (> 0); needed when ``warmup_steps > 0``.

    Examples:
        >>> schedule = CosineDecay(0.1, decay_steps=100)
        >>> schedule(0), round(schedule(50), 12)
        (0.1, 0.05)
    """

    def __init__(
        self,
        initial_learning_rate: float = 0.01,
        decay_steps: int = 1000,
        alpha: float = 0.0,
        warmup_steps: int = 0,
        warmup_target: float | None = None,
    ) -> None:
        self.initial_learning_rate = _rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.alpha = number("alpha", alpha, low=0.0, high=1.0)
        self.warmup_steps = positive_int("warmup_steps", warmup_steps, allow_zero=True)
        self.warmup_target = None if warmup_target is None else _rate("warmup_target", warmup_target)
        if self.warmup_steps and self.warmup_target is None:
            raise ConfigError(
                f"warmup_steps={self.warmup_steps} needs the rate the warm-up reaches: pass warmup_target=..."
            )

    def __call__(self, step: int) -> float:
        start = self.initial_learning_rate
        target = start if self.warmup_target is None else self.warmup_target
        if step < self.warmup_steps:
            return start + (target - start) * step / self.warmup_steps
        done = min(step - self.warmup_steps, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * done / self.decay_steps))
        return target * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
        }
        if self.warmup_steps:
            config.update(warmup_steps=self.warmup_steps, warmup_target=self.warmup_target)
        return config
