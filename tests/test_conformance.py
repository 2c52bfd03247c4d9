"""The conformance kit over every registered component, and the kit's own ability to fail."""

from __future__ import annotations

import ast
import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from layer_support import Scale

import minidl
from minidl import SGD, Activation, Layer, Loss, Optimizer, Parameter, testing
from minidl.registry import iter_registries

CASES = [(r, name) for r in iter_registries() for name in r.names()]


@pytest.mark.parametrize("registry,name", CASES, ids=[f"{r.kind}:{n}" for r, n in CASES])
def test_every_registered_component_conforms(registry, name: str) -> None:
    testing.check_component(registry.get_class(name))  # a failure names its check id


def test_every_kind_is_checked() -> None:
    kinds = {r.kind for r, _ in CASES}
    assert {"layer", "activation", "loss", "optimizer", "initializer", "metric", "schedule"} <= kinds


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


class SharesOfTheSum(minidl.MSE):
    """Its per-sample shares forget the mean's division: they sum to the batch times the loss."""

    def sample_losses(self, y_true, y_pred):
        return super().sample_losses(y_true, y_pred) * len(y_pred)


class ForgetsWeightsInGradient(minidl.MSE):
    """Weighs the loss but not its gradient."""

    def weighted_value_and_gradient(self, y_true, y_pred, sample_weight):
        return self.weighted_value(y_true, y_pred, sample_weight), self.value_and_gradient(y_true, y_pred)[1]


class StatefulSchedule(minidl.Schedule):
    """Counts its own calls instead of reading the step."""

    def __call__(self, step):
        self.calls = getattr(self, "calls", 0) + 1
        return 0.1 / self.calls


class NegativeSchedule(minidl.Schedule):
    def __call__(self, step):
        return 0.1 - 0.01 * step


class NoisyOptimizer(SGD):
    """Adds noise from a fresh, unseeded generator to each step."""

    def update(self, param, state):
        param.value -= self.learning_rate * (
            param.grad + np.random.default_rng().standard_normal(param.value.shape)
        )


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


class NaNMetric(minidl.Metric):
    """A metric that returns NaN."""

    def __call__(self, y_true, y_pred):
        return float("nan")


#: (broken component, the check that must catch it, a piece of its message)
BROKEN = [
    (MeanOfNothingLoss, "empty_batch", "invalid value"),
    (NoisyOptimizer, "determinism", "same start, same gradients"),
    (GlobalStateInit, "own_generator", "global random state"),
    (CachedInit, "own_generator", "shared with the first"),
    (WrongMomentsInit, "statistics", "variance"),
    (MaskIgnoringDropout, "training_mode", "training mode: dL/dinput"),
    (GlobalRandomNoise, "training_mode", "same seed, different outputs"),
    (ArrayConfigLoss, "config", "not plain JSON"),
    (WrongSquare, "gradients", "dL/dinput"),
    (OverflowingExp, "large_inputs", "FloatingPointError: overflow"),
    (ChangesItsInput, "inputs_untouched", "ValueError: output array is read-only"),
    (Float64Only, "dtypes", "float32 in"),
    (HalfLoss, "gradients", "gradient"),
    (Ascent, "minimises_quadratic", "after 5000 steps"),
    (NotReallyElementwise, "elementwise_contract", "elementwise=True"),
    (WrongSquare, "registered", "not registered"),
    (NaNMetric, "values", "value nan is not a finite float"),
    (SharesOfTheSum, "sample_weights", "the sum of sample_losses"),
    (ForgetsWeightsInGradient, "sample_weights", "gradient with sample weights disagrees"),
    (StatefulSchedule, "values", "a schedule must keep no state"),
    (NegativeSchedule, "values", "is not a finite float >= 0"),
]


@pytest.mark.parametrize("cls,check,message", BROKEN, ids=[f"{c.__name__}-{n}" for c, n, _ in BROKEN])
def test_the_kit_catches_broken_components(cls: type, check: str, message: str) -> None:
    (target,) = [c for c in testing.checks(cls) if c.name == check]
    with np.errstate(all="ignore"), pytest.raises(testing.CheckFailure, match=message) as caught:
        target()
    assert caught.value.check_id == target.id
    assert str(caught.value).startswith(f"[{target.id}] ")


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


# --------------------------------------------------------------------------- failures are named
class FailsWithTypeError(Activation):
    """Its forward raises a TypeError (not an assertion) for every input."""

    def forward(self, x):
        return np.concatenate(x, 1.0)  # a TypeError: the axis must be an integer

    def backward(self, grad_output):
        return grad_output


@contextlib.contextmanager
def registered(registry, name: str, cls: type):
    registry.register(name)(cls)
    try:
        yield
    finally:
        registry.unregister(name)


def test_check_component_names_the_check_whatever_the_exception() -> None:
    with (
        registered(minidl.activations.registry, "kit_type_error", FailsWithTypeError),
        pytest.raises(testing.CheckFailure) as caught,
    ):
        testing.check_activation(FailsWithTypeError)
    assert caught.value.check_id == "activation:kit_type_error-shapes"
    assert str(caught.value).startswith("[activation:kit_type_error-shapes] TypeError: ")
    assert isinstance(caught.value.__cause__, TypeError)  # the original, with its traceback
    assert isinstance(caught.value, AssertionError)  # what pytest and unittest report as a failure


# --------------------------------------------------------------------------- wide inputs
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class SoftplusShortcut(Activation):
    """softplus, whose derivative takes exp(x) for sigmoid(x) below x = -2.5 (8% off there, 5e-5 at -10)."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0.0, x)

    def backward(self, grad_output):
        return grad_output * np.where(self.x < -2.5, np.exp(self.x), _sigmoid(self.x))


class SigmoidFlatWhenSaturated(Activation):
    """sigmoid, whose derivative is taken as 0 beyond |x| = 4 (where it is still 0.018 to 4.5e-5)."""

    def forward(self, x):
        self.x, self.y = x, _sigmoid(x)
        return self.y

    def backward(self, grad_output):
        return grad_output * np.where(np.abs(self.x) > 4, 0.0, self.y * (1 - self.y))


class SigmoidOffByOnePercentWhenSaturated(SigmoidFlatWhenSaturated):
    """sigmoid, whose derivative is 1% too large beyond |x| = 5, where it is 6.6e-3 down to 4.5e-5."""

    def backward(self, grad_output):
        return grad_output * np.where(np.abs(self.x) > 5, 1.01, 1.0) * self.y * (1 - self.y)


class TanhOffWhenDeepInSaturation(Activation):
    """tanh, whose derivative is 10% too large beyond |x| = 8, where it is below 4.5e-7: a fixed
    absolute tolerance of 1e-7 would not see it."""

    def forward(self, x):
        self.x, self.y = x, np.tanh(x)
        return self.y

    def backward(self, grad_output):
        return grad_output * np.where(np.abs(self.x) > 8, 1.1, 1.0) * (1 - self.y * self.y)


class ReLUWithKinkMoved(Activation):
    """max(x, 0), whose derivative says 1 from x = -0.05 on instead of from 0."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, grad_output):
        return grad_output * (self.x > -0.05)


WIDE = [
    # (broken activation, its true derivative, where it is wrong)
    (SoftplusShortcut, _sigmoid, lambda x: x < -2.5),
    (SigmoidFlatWhenSaturated, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), lambda x: np.abs(x) > 4),
    (SigmoidOffByOnePercentWhenSaturated, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), lambda x: np.abs(x) > 5),
    (TanhOffWhenDeepInSaturation, lambda x: 1 - np.tanh(x) ** 2, lambda x: np.abs(x) > 8),
    (ReLUWithKinkMoved, lambda x: (x > 0).astype(float), lambda x: (x > -0.05) & (x <= 0)),
]


@pytest.mark.parametrize("cls,derivative,wrong", WIDE, ids=[c.__name__ for c, _, _ in WIDE])
def test_a_derivative_wrong_only_far_from_the_usual_range_fails(cls, derivative, wrong) -> None:
    # right wherever the kit used to look (0.1 <= |x| <= 2), so only the wide sampling can see it
    usual = np.concatenate([np.linspace(-2, -0.1, 400), np.linspace(0.1, 2, 400)])[None, :]
    act = cls()
    act.forward(usual)
    np.testing.assert_allclose(act.backward(np.ones_like(usual)), derivative(usual), rtol=1e-12)
    for name in ("gradients", "training_mode"):
        (check,) = [c for c in testing.checks(cls) if c.name == name]
        with pytest.raises(testing.CheckFailure, match="disagrees with central differences") as caught:
            check()
        # the message points at an input where the derivative is wrong
        at = float(re.search(r"worst at x\[[\d, ]+\] = (\S+):", str(caught.value)).group(1))
        assert wrong(np.array(at)), str(caught.value)


def test_the_sampled_inputs_cover_every_band_and_sign_and_avoid_zero() -> None:
    for seed in range(20):
        x = testing._points(np.random.default_rng(seed), (8, 5))
        assert np.abs(x).min() >= 1e-3 and np.abs(x).max() <= 10
        for low, high in testing.BANDS:
            for sign in (1, -1):
                inside = (low <= sign * x) & (sign * x <= high)
                assert np.count_nonzero(inside) == 5, (seed, low, sign)


class CubeWrittenDifferently(Activation):
    """x**3 / 3 + 1 with its derivative written as x * x: right everywhere, values up to 334."""

    def forward(self, x):
        self.x = x
        return x**3 / 3 + 1.0

    def backward(self, grad_output):
        return grad_output * self.x * self.x


def test_a_right_derivative_of_large_values_passes() -> None:
    for check in testing.checks(CubeWrittenDifferently):
        if check.name != "registered":
            check()


# --------------------------------------------------------------------------- layers with weights
class ForgetsItsParameters(Scale):
    def parameters(self):
        return []


class MakesWeightsInForward(Scale):
    """Creates its weight on the first forward, from the first input's shape (not in build)."""

    def build(self, input_shape, rng, dtype):
        self.w = None

    def parameters(self):
        return [] if self.w is None else [self.w]

    def forward(self, x):
        if self.w is None:
            self.w = Parameter(np.ones(x.shape[1:], dtype=x.dtype), name="scale")
        return super().forward(x)


class RebindsItsGradient(Scale):
    """Assigns a new array to w.grad instead of writing into it: right standalone, untrained in a model."""

    def backward(self, grad_output):
        self.w.grad = np.sum(grad_output * self.x, axis=0)
        return grad_output * self.w.value


class KeepsACopyOfItsWeights(Scale):
    """Reads a reference to w's array taken in build: a model that moves w's values is not seen."""

    def build(self, input_shape, rng, dtype):
        super().build(input_shape, rng, dtype)
        self.values = self.w.value

    def forward(self, x):
        self.x = x
        return x * self.values

    def backward(self, grad_output):
        np.add.reduce(grad_output * self.x, axis=0, out=self.w.grad)
        return grad_output * self.values


class AddsToItsGradient(Scale):
    def backward(self, grad_output):
        self.w.grad += np.sum(grad_output * self.x, axis=0)
        return grad_output * self.w.value


class HalvesBackwardParameters(Scale):
    """Its shortcut for the first layer of a model fills half the gradient."""

    def backward_parameters(self, grad_output):
        self.backward(grad_output)
        self.w.grad *= 0.5


def _run(cls: type, name: str) -> None:
    (check,) = [c for c in testing.checks(cls) if c.name == name]
    check()


def test_a_plugin_layer_with_weights_passes_standalone_and_in_a_model() -> None:
    with registered(minidl.layers.registry, "kit_scale", Scale):
        testing.check_layer(Scale)
        testing.check_layer("kit_scale")
    for check in testing.checks(Scale):  # unregistered: saved under a temporary name, then forgotten
        if check.name != "registered":
            check()
    assert "kit_scale" not in minidl.layers.registry.names()
    assert not [n for n in minidl.layers.registry.names() if n.startswith("minidl_testing")]


@pytest.mark.parametrize(
    "cls,check,message",
    [
        (ForgetsItsParameters, "parameters", r"ForgetsItsParameters\.w is a Parameter but parameters\(\)"),
        (MakesWeightsInForward, "parameters", r"0 parameters once built and 1 .* create every parameter in"),
        (MakesWeightsInForward, "in_sequential", r"0 parameters when the model was built and 1 .* after fit"),
        (RebindsItsGradient, "in_sequential", r"left every parameter of the layer unchanged.*never rebind"),
        (KeepsACopyOfItsWeights, "in_sequential", r"predictions of the model saved and loaded back"),
        (AddsToItsGradient, "gradients", r"must overwrite p\.grad, not add to it"),
        (HalvesBackwardParameters, "gradients", r"backward_parameters against backward's"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_layer_broken_for_models_fails_its_check(cls: type, check: str, message: str) -> None:
    with pytest.raises(testing.CheckFailure, match=message):
        _run(cls, check)


@pytest.mark.parametrize("cls", [RebindsItsGradient, KeepsACopyOfItsWeights], ids=lambda c: c.__name__)
def test_only_the_model_shows_some_bugs(cls: type) -> None:
    for name in ("gradients", "training_mode", "parameters", "determinism"):
        _run(cls, name)  # standalone they look right


# --------------------------------------------------------------------------- the kit under python -O
O_SCRIPT = """
import importlib.util, json, sys
import numpy as np
from minidl import testing

sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])  # the tests' support modules, as pytest finds them
spec = importlib.util.spec_from_file_location("conformance_cases", sys.argv[1])
cases = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cases)
results = []
for cls, name, message in cases.BROKEN + [(c, "gradients", "") for c, _, _ in cases.WIDE]:
    (check,) = [c for c in testing.checks(cls) if c.name == name]
    try:
        with np.errstate(all="ignore"):
            check()
    except testing.CheckFailure as exc:
        results.append([check.id, message, exc.check_id, str(exc)])
    else:
        results.append([check.id, message, None, "passed"])
try:
    assert False
except AssertionError:
    optimized = False
else:
    optimized = True
print(json.dumps({"optimize": sys.flags.optimize, "asserts_stripped": optimized, "results": results}))
"""


def test_the_kit_fails_broken_components_under_python_dash_O() -> None:
    done = subprocess.run(
        [sys.executable, "-O", "-c", O_SCRIPT, __file__],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["optimize"] == 1 and report["asserts_stripped"]  # bare asserts really are off there
    assert len(report["results"]) == len(BROKEN) + len(WIDE)
    for check_id, message, failed_id, text in report["results"]:
        assert failed_id == check_id, f"{check_id} passed under -O: {text}"
        assert text.startswith(f"[{check_id}] ") and message in text, text


def test_no_bare_assert_in_the_package() -> None:
    package = Path(minidl.__file__).parent
    found = [
        f"{path.relative_to(package.parent)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert not found, f"assert statements vanish under python -O; raise a named error instead: {found}"
