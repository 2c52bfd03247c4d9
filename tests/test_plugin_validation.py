"""minidl.validation, the public hyper-parameter checks plugins use instead of minidl's private ones."""

from __future__ import annotations

import doctest

import pytest

import minidl
from minidl import validation


def test_the_module_docstring_examples_hold() -> None:
    result = doctest.testmod(validation)
    assert result.attempted >= 3 and result.failed == 0


def test_public_and_exported() -> None:
    assert minidl.validation is validation and "validation" in minidl.__all__
    assert sorted(validation.__all__) == ["choice", "number", "positive_int"]


@pytest.mark.parametrize(
    "value,bounds,message",
    [
        (0.0, {"low": 0.0, "low_open": True}, r"rho must be a finite number > 0; received rho=0\.0"),
        (1.0, {"low": 0.0, "high": 1.0, "high_open": True}, r">= 0 and < 1; received rho=1\.0"),
        (float("nan"), {}, r"a finite number; received rho=nan"),
        (True, {}, r"received rho=True"),
        ("0.5", {}, r"received rho='0\.5'"),
    ],
)
def test_number_refuses_with_the_value_received(value: object, bounds: dict, message: str) -> None:
    with pytest.raises(minidl.ConfigError, match=message):
        validation.number("rho", value, **bounds)


def test_accepted_values_come_back_as_plain_numbers() -> None:
    assert validation.number("rho", 1, low=0.0) == 1.0 and type(validation.number("rho", 1)) is float
    assert validation.positive_int("units", 3) == 3
    assert validation.positive_int("units", 0, allow_zero=True) == 0
    with pytest.raises(minidl.ConfigError, match="units must be a positive integer; received units=0"):
        validation.positive_int("units", 0)
    assert validation.choice("mode", "fan_in", ("fan_in", "fan_out")) == "fan_in"
    with pytest.raises(minidl.ConfigError, match="one of 'fan_in', 'fan_out'; received mode='fan'"):
        validation.choice("mode", "fan", ("fan_in", "fan_out"))
