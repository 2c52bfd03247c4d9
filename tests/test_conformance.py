"""The conformance kit over every registered component, and the kit's own ability to fail."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import SGD, Activation, Layer, Loss, Optimizer, testing
from minidl.registry import iter_registries

CASES = [(r, name) for r in iter_registries() for name in r.names()]



@pytest.mark.parametrize("registry,name", CASES, ids=[f"{r.kind}:{n}" for r, n in CASES])
def test_every_registered_component_conforms(registry, name: str) -> None:
    testing.check_component(registry.get_class(name))  # a failure names its check id


def test_every_kind_is_checked() -> None:
    kinds = {r.kind for r, _ in CASES}
    assert {"layer", "activation", "loss", "optimizer", "initializer"} <= kinds




# --------------------------------------------------------------------------- the kit can fail
class WrongSquare(Activation):
    """x**2 with a derivative off by 10%."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad_output):
        return grad_output * 2.2 * self.x


class OverflowingExp(Activation):
    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, grad_output):
        return grad_output * self.y


class ChangesItsInput(Activation):
    def forward(self, x):
        np.abs(x, out=x)
        return x

    def backward(self, grad_output):
        return grad_output * 1.0


class Float64Only(Activation):
    def forward(self, x):
        return np.asarray(x, dtype=np.float64) * 1.0

    def backward(self, grad_output):
        return np.asarray(grad_output, dtype=np.float64) * 1.0


class HalfLoss(Loss):
    """sum of squares with a gradient missing its factor 2."""

    def value_and_gradient(self, y_true, y_pred):
        return float(np.sum((y_pred - y_true) ** 2)), y_pred - y_true


class Ascent(SGD):
    """Climbs instead of descending."""

    def update(self, param, state):
        param.value += self.learning_rate * param.grad


class NotReallyElementwise(Optimizer):
    """Normalises by the whole array's norm but claims to be elementwise."""

    def update(self, param, state):
        param.value -= self.learning_rate * param.grad / (np.linalg.norm(param.grad) + 1e-12)


class MaskIgnoringDropout(Layer):
    """Drops half its inputs in training but forgets the mask (and the scaling) in backward."""

    def build(self, input_shape, rng, dtype):
        self._rng = rng

    def forward(self, x):
        return x * (self._rng.random(x.shape) < 0.5) * 2.0 if self.training else x

    def backward(self, grad_output):
        return grad_output


class GlobalRandomNoise(Layer):
    """Adds noise from a fresh, unseeded generator: not reproducible."""

    def forward(self, x):
        return x + np.random.default_rng().standard_normal(x.shape) if self.training else x

    def backward(self, grad_output):
        return grad_output


class ArrayConfigLoss(HalfLoss):
    """Its configuration holds a numpy array, which is not plain JSON."""

    def value_and_gradient(self, y_true, y_pred):
        return float(np.sum((y_pred - y_true) ** 2)), 2 * (y_pred - y_true)

    def get_config(self):
        return {"weights": np.ones(2)}


class MeanOfNothingLoss(HalfLoss):
    """A mean that divides 0 by 0 on an empty batch: NaN (and an 'invalid' floating-point event)."""

    def __call__(self, y_true, y_pred):
        return float(np.sum((y_pred - y_true) ** 2) / np.float64(y_pred.size))

    def gradient(self, y_true, y_pred):
        return 2 * (y_pred - y_true) / y_pred.size


class NoisyOptimizer(SGD):
    """Adds noise from a fresh, unseeded generator to each step."""

    def update(self, param, state):
        param.value -= self.learning_rate * (param.grad + np.random.default_rng().standard_normal(param.value.shape))


class GlobalStateInit(minidl.Initializer):
    def __call__(self, shape, rng, dtype=np.float64):
        np.random.seed(0)  # even a fixed global seed changes everybody else's random stream
        return np.random.standard_normal(shape).astype(dtype)


class CachedInit(minidl.Initializer):
    """Hands every caller the same array."""

    def __call__(self, shape, rng, dtype=np.float64):
        cache = self.__dict__.setdefault("_cache", {})
        return cache.setdefault((tuple(shape), np.dtype(dtype)), np.zeros(shape, dtype))


class WrongMomentsInit(minidl.Initializer):
    """Draws N(0, 4) but declares a variance of 1."""

    def __call__(self, shape, rng, dtype=np.float64):
        return (2.0 * rng.standard_normal(shape)).astype(dtype)

    def expected_moments(self, shape):
        return 0.0, 1.0


@pytest.mark.parametrize(
    "cls,check,message",
    [
        (MeanOfNothingLoss, "empty_batch", "invalid value"),
        (NoisyOptimizer, "determinism", "same start, same gradients"),
        (GlobalStateInit, "own_generator", "global random state"),
        (CachedInit, "own_generator", "shared with the first"),
        (WrongMomentsInit, "statistics", "variance"),
        (MaskIgnoringDropout, "training_mode", "training mode: dL/dinput"),
        (GlobalRandomNoise, "training_mode", "same seed, different outputs"),
        (ArrayConfigLoss, "config", "not plain JSON"),
        (WrongSquare, "gradients", "dL/dinput"),
        (OverflowingExp, "large_inputs", "overflow"),
        (ChangesItsInput, "inputs_untouched", "read-only"),
        (Float64Only, "dtypes", "float32 in"),
        (HalfLoss, "gradients", "gradient"),
        (Ascent, "minimises_quadratic", "after 5000 steps"),
        (NotReallyElementwise, "elementwise_contract", "elementwise=True"),
        (WrongSquare, "registered", "not registered"),
    ],
)
def test_the_kit_catches_broken_components(cls: type, check: str, message: str) -> None:
    (target,) = [c for c in testing.checks(cls) if c.name == check]
    with np.errstate(all="ignore"), pytest.raises((AssertionError, FloatingPointError, ValueError), match=message):
        target()


def test_check_component_names_the_failing_check() -> None:
    with pytest.raises(AssertionError, match=r"\[activation:WrongSquare-registered\]"):
        testing.check_activation(WrongSquare)
    with pytest.raises(TypeError, match=r"subclass of minidl\.Loss"):
        testing.check_loss(WrongSquare)


def test_numerical_gradient_of_a_known_function() -> None:
    x = np.array([0.5, -1.5, 2.0])
    grad = testing.numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    np.testing.assert_allclose(grad, np.cos([0.5, -1.5, 2.0]), rtol=1e-9)
    np.testing.assert_array_equal(x, [0.5, -1.5, 2.0])  # restored
    with pytest.raises(TypeError, match="float64"):
        testing.numerical_gradient(lambda: 0.0, x.astype(np.float32))


def test_typed_checks_accept_a_registered_name() -> None:
    testing.check_loss("mse")
    with pytest.raises(minidl.UnknownComponentError, match="Unknown loss 'nope'"):
        testing.check_loss("nope")


@testing.parametrize_with_checks([SGD])
def test_parametrize_with_checks_makes_one_test_per_check(check: testing.Check) -> None:
    assert check.kind == "optimizer" and check.component == "sgd"
    check()


def test_the_kit_exports_what_it_documents() -> None:
    assert "registered_components" in testing.__all__ and "check_initializer" in testing.__all__
    assert all(callable(getattr(testing, name)) for name in testing.__all__)
    components = testing.registered_components()
    assert minidl.SGD in components and minidl.initializers.registry.get_class("glorot_uniform") in components
