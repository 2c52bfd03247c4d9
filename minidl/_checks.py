"""Validation helpers for hyper-parameters; each error names the argument and the value received."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import ConfigError

__all__ = ["number", "positive_int", "choice"]


def number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within [low, high] (or open at either end), else ConfigError.

    Args:
        name: the argument's name, for the error.
        value: the value received.
        low: the lowest value accepted (None: no bound).
        high: the highest value accepted (None: no bound).
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ConfigError(
            f"{name} must be {_describe(low, high, low_open, high_open)}; received {name}={value!r}."
        )
    return float(value)


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return "a finite number" + (" " + " and ".join(parts) if parts else "")


def positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    """``value`` as an int >= 1 (or >= 0 with ``allow_zero``), else ConfigError.

    Args:
        name: the argument's name, for the error.
        value: the value received.
        allow_zero: accept 0 too.
    """
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lowest:
        kind = "a non-negative integer" if allow_zero else "a positive integer"
        raise ConfigError(f"{name} must be {kind}; received {name}={value!r}.")
    return int(value)


def choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else ConfigError listing them.

    Args:
        name: the argument's name, for the error.
        value: the value received.
        options: the values accepted.
    """
    if not isinstance(value, str) or value not in options:
        raise ConfigError(
            f"{name} must be one of {', '.join(map(repr, options))}; received {name}={value!r}."
        )
    return value
