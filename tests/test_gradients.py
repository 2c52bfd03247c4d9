"""Analytic gradients of every registered layer, activation and loss against central finite
differences in float64. Parametrized over the registries: a component is checked the moment it
is registered (plugins included)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from minidl import activations, layers, losses

EPS = 1e-6


def central_difference(f: Callable[[], float], x: np.ndarray) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place one element at a time."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + EPS
        up = f()
        x[i] = keep - EPS
        down = f()
        x[i] = keep
        grad[i] = (up - down) / (2 * EPS)
    return grad


def away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # |x| >= 0.1 keeps every point clear of the kinks at 0 (ReLU and similar) by far more than EPS.
    x = rng.uniform(0.1, 2.0, size=shape)
    return x * rng.choice([-1.0, 1.0], size=shape)


def _layer(registry, name):
    cls = registry.get_class(name)
    layer = cls.example()
    layer.build(np.random.default_rng(0), np.dtype("float64"))
    return layer


LAYER_CASES = [(layers.registry, n) for n in layers.registry.names()] + [
    (activations.registry, n) for n in activations.registry.names()
]


@pytest.mark.parametrize("registry,name", LAYER_CASES, ids=[f"{r.kind}:{n}" for r, n in LAYER_CASES])
def test_layer_gradients(registry, name: str) -> None:
    """backward(w) equals d sum(w * forward(x)) / dx, and each parameter's grad likewise."""
    rng = np.random.default_rng(42)
    layer = _layer(registry, name)
    width = getattr(layer, "in_features", 5)
    x = away_from_kinks(rng, (4, width))
    weights = rng.standard_normal(layer.forward(x).shape)

    def objective() -> float:
        return float(np.sum(weights * layer.forward(x)))

    layer.forward(x)
    grad_x = layer.backward(weights.copy())
    analytic = {p.name or str(i): p.grad.copy() for i, p in enumerate(layer.parameters())}
    np.testing.assert_allclose(grad_x, central_difference(objective, x), rtol=1e-6, atol=1e-7)
    for i, p in enumerate(layer.parameters()):
        numeric = central_difference(objective, p.value)
        np.testing.assert_allclose(analytic[p.name or str(i)], numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", losses.registry.names())
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_gradients(name: str, reduction: str) -> None:
    rng = np.random.default_rng(7)
    loss = losses.get(name, reduction=reduction)
    y_true = rng.uniform(0.05, 0.95, size=(6, 3))
    y_pred = rng.uniform(0.05, 0.95, size=(6, 3))
    numeric = central_difference(lambda: loss(y_true, y_pred), y_pred)
    np.testing.assert_allclose(loss.gradient(y_true, y_pred), numeric, rtol=1e-6, atol=1e-8)
    value, grad = loss.value_and_gradient(y_true, y_pred)
    assert value == pytest.approx(loss(y_true, y_pred), rel=1e-12)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_the_check_catches_a_wrong_gradient() -> None:
    """The finite-difference check itself must be able to fail."""
    x = away_from_kinks(np.random.default_rng(1), (3, 2))
    wrong = 2.0 * x  # derivative of x**2 is 2x; claim 2.2x instead
    numeric = central_difference(lambda: float(np.sum(x**2)), x)
    np.testing.assert_allclose(wrong, numeric, rtol=1e-6)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(1.1 * wrong, numeric, rtol=1e-6)
