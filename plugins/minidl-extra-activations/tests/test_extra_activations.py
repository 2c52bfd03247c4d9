"""minidl's conformance kit on every activation of this package, plus each formula's values."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

if os.environ.get("MINIDL_REQUIRE_PLUGINS") != "1":
    pytest.importorskip("minidl_extra_activations", reason="minidl-extra-activations is not installed")

from minidl import activations
from minidl.testing import parametrize_with_checks
from minidl_extra_activations import ELU, GELU, LeakyReLU, SiLU, Softplus, Swish

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


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype,big", [(np.float64, 1e300), (np.float32, 3e37)], ids=["float64", "float32"])
def test_no_floating_point_event_near_the_end_of_the_range(cls, dtype, big: float) -> None:
    """Bounded-slope functions must stay finite everywhere (the kit only tries inputs up to 1000)."""
    act = cls()
    x = np.array([[-big, -1e4, -40.5, 0.5, 40.5, 1e4, big]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = act.forward(x)
        g = act.backward(np.ones_like(y))
    assert y.dtype == dtype and np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    # far from 0 every one of them is the identity or a constant, with slope 1 or 0 (or alpha)
    assert g[0, -1] == 1.0 and 0.0 <= g[0, 0] <= 0.01


def test_gelu_derivative_against_its_formula() -> None:
    x = np.array([[-3.0, -0.7, 0.0, 1.3, 39.0]])
    act = GELU()
    act.forward(x)
    phi = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(act.backward(np.ones_like(x)), cdf + x * phi, rtol=1e-13)
