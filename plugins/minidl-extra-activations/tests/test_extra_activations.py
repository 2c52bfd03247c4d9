"""minidl's conformance kit on every activation of this package, plus each formula's values."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

if os.environ.get("MINIDL_REQUIRE_PLUGINS") != "1":
    pytest.importorskip("minidl_extra_activations", reason="minidl-extra-activations is not installed")

from minidl import activations  # noqa: E402
from minidl.testing import parametrize_with_checks  # noqa: E402
from minidl_extra_activations import ELU, GELU, LeakyReLU, SiLU, Softplus, Swish  # noqa: E402

ALL = [LeakyReLU, ELU, Softplus, Swish, SiLU, GELU]


@parametrize_with_checks(ALL)
def test_conformance(check) -> None:
    check()


@pytest.mark.parametrize(
    "name,x,expected",
    [
        ("leaky_relu", -2.0, -0.02),
        ("elu", -1.0, math.exp(-1.0) - 1.0),
        ("softplus", 0.0, math.log(2.0)),
        ("softplus", 800.0, 800.0),
        ("swish", 1.0, 1.0 / (1.0 + math.exp(-1.0))),
        ("silu", -800.0, -0.0),
        ("gelu", 1.0, 0.5 * (1.0 + math.erf(1.0 / math.sqrt(2.0)))),
    ],
)
def test_values_by_name(name: str, x: float, expected: float) -> None:
    """Found by name through the entry points (no import of this package needed)."""
    with np.errstate(over="raise", invalid="raise"):
        got = activations.get(name).forward(np.array([[x]]))
    assert got[0, 0] == pytest.approx(expected, rel=1e-12, abs=1e-300)
