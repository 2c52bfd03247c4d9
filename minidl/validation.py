"""Public checks for hyper-parameters, for plugin authors and the core alike.

Each returns the value (as a float or an int) when it is acceptable and raises
``minidl.ConfigError`` (a ``ValueError``) otherwise, naming the argument, the range that
would work and the value received, before the component is built:

>>> from minidl.validation import number
>>> number("rate", 0.25, low=0.0, high=1.0, high_open=True)
0.25
>>> number("rate", 1.5, low=0.0, high=1.0, high_open=True)
Traceback (most recent call last):
...
minidl.errors.ConfigError: rate must be a finite number >= 0 and < 1; received rate=1.5.

- ``number(name, value, *, low=None, high=None, low_open=False, high_open=False) -> float``:
  a finite real number (not a bool) in ``[low, high]``, either end open on request;
- ``positive_int(name, value, *, allow_zero=False) -> int``: an integer >= 1 (or >= 0);
- ``choice(name, value, options) -> str``: one of the given strings.
"""

from __future__ import annotations

from ._checks import choice, number, positive_int

__all__ = ["number", "positive_int", "choice"]
