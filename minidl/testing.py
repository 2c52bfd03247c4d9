"""The conformance kit: checks every minidl component must pass, for the core and for plugins.

Each ``check_*`` function takes a component class (registered or not) and raises
``CheckFailure`` (an ``AssertionError``) on the first failure, its message starting with
the failing check's id in brackets: ``[activation:mish-gradients] ...``. Whatever goes wrong
inside a check is a failure of that check: an exception the component raises (a TypeError, a
FloatingPointError...) becomes a CheckFailure naming the check, the exception's type and its
message, chained to the original. The kit uses no ``assert`` statement, so it checks the same
under ``python -O``. ``checks`` lists the individual checks of one component and
``parametrize_with_checks`` turns them into separate pytest tests::

    from minidl.testing import parametrize_with_checks
    from my_plugin import Swish

    @parametrize_with_checks([Swish])
    def test_conformance(check):
        check()

Components are made with their class's ``example()`` method, so a class whose constructor needs
arguments overrides ``example``. ``check_layer`` and the other typed checks also accept a
registered name.

Inputs. Layers and activations are fed seeded points spread over four bands of magnitude, each
as often, with both signs: ``|x|`` in [1e-3, 0.1] (close to the kinks at 0, never on them), [0.1,
2], [2, 5] and [5, 10] (where sigmoid and tanh saturate). A batch of 8 or more values covers every
band and sign, whatever the seed.

Gradients are compared with central differences in float64, element by element, with a step
``h = 1e-6 * max(1, |x|)`` (far below 1e-3, so a difference never straddles the kink at 0). For
each element the difference is taken with ``h`` and ``2h``: their gap estimates the truncation
and rounding error of the difference at that point, to which is added a bound on the rounding
of the outputs that moved. An analytic gradient passes where it is within ``1e-5`` of the
difference, relative, plus ten times that error estimate: the tolerance follows the size of the
gradient at each point, so a derivative wrong by 1% where it is 1e-4 (a saturated sigmoid)
fails as surely as one wrong near 0. ``backward`` must overwrite the gradients (not add to
them), and ``backward_parameters`` must give the same ones as ``backward``. Layers are also
checked in training mode, rebuilt from one seed for every evaluation so that a stochastic layer
(dropout) is deterministic. Losses are checked on their example batch and, when predictions are
unbounded (regression, logits), on one spread up to 12 times wider.

Layers are checked standalone and inside a ``Sequential`` model, as users use them: built by
the model from ``example_input_shape()`` (seed 0), followed by a ``Dense`` head when the layer
gives flat samples, compiled with ``mse`` and ``sgd``, trained by ``fit`` for 2 epochs (which
must change the layer's parameters), then ``predict``, ``save`` and ``minidl.load``; the loaded
model must predict bit for bit the same and hold equal weights. ``parameters()`` must return
every ``Parameter`` the layer holds, the same objects from the end of ``build`` on
(a parameter made later, in ``forward``, is never trained). An unregistered class is registered
under a temporary name for the save.

Floating-point checks run under ``np.errstate(all="raise", under="ignore")``: overflow, invalid
operations (NaN) and division by zero raise ``FloatingPointError``. Underflow alone is ignored
on purpose: a result too small for the dtype rounding to 0 (or to a subnormal) is the correctly
rounded answer, not an error. ``sigmoid(-800)``, ``softmax`` of a row with one large logit and
``exp(-0.5 * 40**2)`` in GELU's derivative all underflow exactly where their true value is below
the dtype's smallest number, and raising there would fail every numerically careful component.

Batch sizes 1, 7 and 0 are tried for layers and losses. A loss given an empty batch returns
0.0 (a sum over nothing; its mean is taken as 0, as Keras does, instead of dividing by zero) and
a gradient of shape ``(0, outputs)``. An initializer may declare ``expected_moments(shape) ->
(mean, variance)`` of its entries; the kit then compares a large seeded draw with them.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import Activation
from .errors import DuplicateNameError
from .initializers import Initializer
from .layers import Dense, Input, Layer
from .losses import Loss
from .metrics import Metric
from .model import Sequential, load
from .optimizers import SGD, Optimizer
from .parameter import Parameter
from .registry import Registry
from .schedules import Schedule

__all__ = [
    "numerical_gradient",
    "check_activation",
    "check_layer",
    "check_loss",
    "check_optimizer",
    "check_initializer",
    "check_metric",
    "check_schedule",
    "check_component",
    "checks",
    "parametrize_with_checks",
    "Check",
    "CheckFailure",
    "registered_components",
]

EPS = 1e-6
#: Relative tolerance of an analytic gradient against central differences.
RTOL = 1e-5
#: Bands of |x| the kit samples, each as often, with both signs: near the kinks at 0 (never on
#: them: 1e-3 is a thousand finite-difference steps away), the usual range, wide and saturated.
BANDS = ((1e-3, 0.1), (0.1, 2.0), (2.0, 5.0), (5.0, 10.0))
GRADIENT_BATCH = 8
BATCHES = (1, 7, 0)
DTYPES = (np.float32, np.float64)
# Underflow to 0 is the right answer for exp(-large); every other floating-point event is a bug.
STRICT = {"all": "raise", "under": "ignore"}


#: A check: runs on a component class and raises CheckFailure when the class fails it.
CheckFunction = Callable[[type[Any]], None]


def _strict() -> np.errstate:
    """``np.errstate`` with ``STRICT``'s settings (spelt out: numpy's stubs type each keyword)."""
    return np.errstate(all="raise", under="ignore")


_ULP = float(np.finfo(np.float64).eps)


class CheckFailure(AssertionError):
    """A component failed a check of the conformance kit.

    Raised by every check, the same under ``python -O`` (the kit uses no ``assert``). Run
    through ``Check`` (or ``check_component`` and the ``check_*`` functions), its
    message starts with the check's id in brackets and ``check_id`` holds that id
    (``"activation:mish-gradients"``); an exception of another type raised inside a check is
    reported as a CheckFailure naming that type, chained to the original.

    Args:
        message: what failed.
        check_id: the failing check's id (set when run through a ``Check``).
    """

    def __init__(self, message: str, *, check_id: str | None = None) -> None:
        self.message = message
        self.check_id = check_id
        super().__init__(f"[{check_id}] {message}" if check_id else message)

    def _named(self, check_id: str) -> CheckFailure:
        self.check_id = check_id
        self.args = (f"[{check_id}] {self.message}",)
        return self


def _expect(condition: Any, message: str) -> None:
    """Raises CheckFailure(message) unless ``condition`` holds (an ``assert`` that ``-O`` keeps)."""
    if not condition:
        raise CheckFailure(message)


def _describe_exception(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float | np.ndarray = EPS) -> np.ndarray:
    """d f / d x by central differences ``(f(x + eps) - f(x - eps)) / (2 eps)``, element by element.

    ``x`` (float64: in float32 the differences drown in rounding) is perturbed in place and
    restored; ``f`` reads it. ``eps`` is one step for every element or an array of steps, one
    per element (the kit's own checks use ``1e-6 * max(1, |x|)``).

    Args:
        f: a function of no arguments that reads ``x`` and returns a float.
        x: the float64 array to differentiate by, perturbed in place and restored.
        eps: the step, one for every element or an array of one per element.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array; received {x.dtype}.")
    steps = np.broadcast_to(np.asarray(eps, dtype=np.float64), x.shape)
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = up_at = keep + steps[i]
        up = f()
        x[i] = down_at = keep - steps[i]
        down = f()
        x[i] = keep
        grad[i] = (up - down) / (up_at - down_at)
    return grad


@dataclass(frozen=True)
class Check:
    """One named check of one component; calling it runs the check.

    A failure, of whatever type, is raised as a ``CheckFailure`` whose message starts with
    ``[id]``.

    Args:
        kind: the component's kind (``"activation"``, ``"layer"``, ...).
        component: the component's registered name.
        name: the check's name (``"gradients"``).
        run: the function that checks a class.
        cls: the component class it checks.
    """

    kind: str
    component: str
    name: str
    run: Callable[[type[Any]], None]
    cls: type[Any]

    def __call__(self) -> None:
        """Runs the check on the component; raises ``CheckFailure`` if it fails."""
        try:
            self.run(self.cls)
        except CheckFailure as exc:
            if exc.check_id is None:
                exc._named(self.id)
            raise
        except (Exception, SystemExit) as exc:  # a component that exits fails its check too
            raise CheckFailure(_describe_exception(exc), check_id=self.id) from exc

    @property
    def id(self) -> str:
        """The check's id, ``"<kind>:<component>-<name>"`` (``"activation:relu-gradients"``)."""
        return f"{self.kind}:{self.component}-{self.name}"


def _registry_for(cls: type[Any]) -> Registry[Any]:
    from . import activations, initializers, layers, losses, metrics, optimizers, schedules

    for base, module in (
        (Activation, activations),
        (Layer, layers),
        (Loss, losses),
        (Optimizer, optimizers),
        (Initializer, initializers),
        (Metric, metrics),
        (Schedule, schedules),
    ):
        if isinstance(cls, type) and issubclass(cls, base):
            return module.registry  # type: ignore[no-any-return]  # each module types its own registry
    raise TypeError(f"{cls!r} is not a minidl component class ({_KINDS}).")


def _points(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Seeded values of ``shape`` spread over ``BANDS``, log-uniform inside each band.

    Value ``k`` (before a shuffle) lies in band ``(k // 2) % 4`` with the sign ``(-1)**k``, so
    every band and sign gets a share of any 8 or more values.
    """
    k = np.arange(math.prod(shape))
    low, high = np.log(np.array(BANDS)).T
    band = (k // 2) % len(BANDS)
    magnitude = np.exp(low[band] + rng.uniform(size=k.size) * (high[band] - low[band]))
    x = rng.permutation(np.where(k % 2 == 0, magnitude, -magnitude))
    return x.reshape(shape).astype(dtype)


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


def _same(actual: Any, expected: Any, what: str) -> None:
    """Raises CheckFailure unless the two arrays are equal, bit for bit (NaN equal to NaN)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise CheckFailure(f"{what}: shapes {actual.shape} and {expected.shape} differ")
    differ = actual != expected
    if actual.dtype.kind in "fc" and expected.dtype.kind in "fc":
        differ &= ~(np.isnan(actual) & np.isnan(expected))
    if np.any(differ):
        i = tuple(int(n) for n in np.argwhere(differ)[0])
        raise CheckFailure(
            f"{what}: {int(np.count_nonzero(differ))} of {differ.size} values differ, e.g. at {list(i)}: "
            f"{actual[i]!r} and {expected[i]!r}"
        )


def _close(actual: Any, expected: Any, what: str, rtol: float, atol: float) -> None:
    """Raises CheckFailure unless ``|actual - expected| <= atol + rtol * |expected|`` everywhere."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise CheckFailure(f"{what}: shapes {actual.shape} and {expected.shape} differ")
    tolerance = atol + rtol * np.abs(expected)
    _report(actual, expected, tolerance, what, "expected", lambda i: f"at {list(i)}")


def _report(
    actual: np.ndarray,
    expected: np.ndarray,
    tolerance: np.ndarray,
    what: str,
    reference: str,
    where: Callable[[tuple[int, ...]], str],
) -> None:
    gap = np.abs(actual - expected)
    bad = ~(gap <= tolerance)  # NaN anywhere is bad
    if not np.any(bad):
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(bad, np.nan_to_num(gap / tolerance, nan=np.inf, posinf=np.inf), -1.0)
    i = tuple(int(n) for n in np.unravel_index(int(np.argmax(excess)), bad.shape))
    raise CheckFailure(
        f"{what} disagrees with {reference} at {int(np.count_nonzero(bad))} of {bad.size} points; worst "
        f"{where(i)}: {actual[i]:.6g} instead of {expected[i]:.6g} (tolerance {tolerance[i]:.2g})"
    )


# --------------------------------------------------------------------------- gradients
def _differences(evaluate: Callable[[], np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``sum(evaluate())`` in each element of ``x``, and their error.

    ``x`` (float64) is perturbed in place and restored; ``evaluate`` reads it and returns the
    array whose sum is the objective. Each difference is taken output by output before summing,
    so outputs that an element does not reach cancel exactly. The step is ``EPS * max(1, |x|)``;
    the error is the gap between the differences with steps ``h`` and ``2h`` (truncation and the
    rounding seen) plus a bound on the rounding of the outputs that moved.
    """
    numeric = np.zeros_like(x, dtype=np.float64)
    error = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        keep = float(x[i])
        step = EPS * max(1.0, abs(keep))
        slopes, noise = [], 0.0
        for k in (1.0, 2.0):
            x[i] = up_at = keep + k * step
            up = np.array(evaluate(), dtype=np.float64)
            x[i] = down_at = keep - k * step
            down = np.array(evaluate(), dtype=np.float64)
            width = up_at - down_at
            slopes.append(float(np.sum(up - down)) / width)
            if k == 1.0:
                moved = up != down
                noise = 4 * _ULP * float(np.sum(np.abs(up[moved]) + np.abs(down[moved]))) / width
        x[i] = keep
        numeric[i] = slopes[0]
        error[i] = abs(slopes[0] - slopes[1]) + noise
    return numeric, error


def _compare_gradient(
    analytic: Any, numeric: np.ndarray, error: np.ndarray, at: np.ndarray, what: str, name: str
) -> None:
    """Raises CheckFailure where ``analytic`` is off the central differences by more than their tolerance."""
    analytic = np.asarray(analytic)
    if analytic.shape != numeric.shape:
        raise CheckFailure(f"{what} has shape {analytic.shape}; expected {numeric.shape}")
    scale = float(np.max(np.abs(numeric), initial=0.0))
    tolerance = RTOL * np.abs(numeric) + 10.0 * error + 1e-12 * scale

    def where(i: tuple[int, ...]) -> str:
        index = ", ".join(map(str, i))
        return f"at {name}[{index}] = {at[i]:.4g}"

    _report(analytic.astype(np.float64), numeric, tolerance, what, "central differences", where)


def _gradient_check(
    evaluate: Callable[[], np.ndarray], x: np.ndarray, analytic: Any, what: str, name: str
) -> None:
    at = x.copy()
    numeric, error = _differences(evaluate, x)
    _compare_gradient(analytic, numeric, error, at, what, name)


# --------------------------------------------------------------------------- shared checks
def _check_registered(cls: type[Any]) -> None:
    registry = _registry_for(cls)
    name = registry.name_of(cls, default="")
    _expect(name, f"{cls.__qualname__} is not registered in the {registry.kind} registry.")
    _expect(
        registry.get_class(name) is cls,
        f"{registry.kind} {name!r} resolves to {registry.get_class(name)!r}, not {cls!r}.",
    )


def _check_config(cls: type[Any]) -> None:
    registry = _registry_for(cls)
    component = cls.example()
    config = component.get_config()
    try:
        text = json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckFailure(f"{cls.__qualname__}.get_config() is not plain JSON: {config!r} ({exc})") from exc
    rebuilt = registry.create(cls, json.loads(text))
    _expect(rebuilt.get_config() == config, f"rebuilt from {config!r}, got {rebuilt.get_config()!r}")
    _expect(
        repr(rebuilt) == repr(component),
        f"rebuilt from its configuration, {component!r} has the repr {rebuilt!r}",
    )
    if registry.name_of(cls, default=""):  # the path a saved model or a configuration file takes
        saved = json.loads(json.dumps(registry.serialize(component), allow_nan=False))
        loaded = registry.get(saved)
        _expect(type(loaded) is cls and loaded.get_config() == config, f"{saved!r} loads as {loaded!r}")


# --------------------------------------------------------------------------- layers
def _built(cls: type[Any], dtype: Any = np.float64, seed: int = 0) -> Layer:
    layer = cls.example()
    layer.build_for(layer.example_input_shape(), np.random.default_rng(seed), np.dtype(dtype))
    return layer  # type: ignore[no-any-return]  # cls.example() of a Layer subclass


def _input(layer: Layer, batch: int) -> tuple[int, ...]:
    """The shape of a batch of ``batch`` samples the layer takes."""
    return (batch, *layer.example_input_shape())


def _check_layer_shapes(cls: type[Any]) -> None:
    layer = _built(cls)
    out = layer.compute_output_shape(layer.example_input_shape())
    for batch in BATCHES:
        x = _points(np.random.default_rng(batch), _input(layer, batch))
        y = layer.forward(x)
        _expect(
            y.shape == (batch, *out),
            f"compute_output_shape says {out} per sample, forward of {x.shape} gave {y.shape}",
        )
        g = layer.backward(np.ones_like(y))
        _expect(
            isinstance(g, np.ndarray) and g.shape == x.shape,
            f"backward gave dL/dinput of shape {getattr(g, 'shape', type(g).__name__)} "
            f"for an input {x.shape}",
        )
        for p in layer.parameters():
            _expect(p.grad.shape == p.value.shape, f"{p!r}: grad shape {p.grad.shape}")
            if batch == 0:
                _expect(not np.any(p.grad), f"{p!r}: an empty batch must give a zero gradient")


def _check_layer_dtypes(cls: type[Any]) -> None:
    for dtype in DTYPES:
        layer = _built(cls, dtype)
        x = _points(np.random.default_rng(1), _input(layer, 3), dtype)
        y = layer.forward(x)
        g = layer.backward(np.ones_like(y))
        _expect(
            y.dtype == dtype and g.dtype == dtype,
            f"{np.dtype(dtype)} in, forward {y.dtype}, backward {g.dtype}",
        )
        for p in layer.parameters():
            _expect(
                p.value.dtype == dtype and p.grad.dtype == dtype,
                f"{p!r} is {p.value.dtype}/{p.grad.dtype} in a layer built for {np.dtype(dtype)}",
            )


def _check_layer_inputs_untouched(cls: type[Any]) -> None:
    layer = _built(cls)
    x = _read_only(_points(np.random.default_rng(2), _input(layer, 4)))
    keep = x.copy()
    y = layer.forward(x)  # a write to x would raise: it is read-only
    g = _read_only(np.random.default_rng(3).standard_normal(y.shape))
    layer.backward(g)
    _same(x, keep, "the input after forward and backward")


def _held_parameters(layer: Layer) -> Iterator[tuple[str, Parameter]]:
    """Every Parameter among the layer's attributes (and inside its lists, tuples and dicts)."""
    for attribute, value in vars(layer).items():
        if isinstance(value, Parameter):
            yield attribute, value
        elif isinstance(value, (list, tuple)):
            yield from ((f"{attribute}[{i}]", v) for i, v in enumerate(value) if isinstance(v, Parameter))
        elif isinstance(value, dict):
            yield from ((f"{attribute}[{k!r}]", v) for k, v in value.items() if isinstance(v, Parameter))


def _check_layer_parameters(cls: type[Any]) -> None:
    """``parameters()`` returns every Parameter the layer holds, the same objects from ``build`` on."""
    layer = _built(cls)
    params = list(layer.parameters())
    for i, p in enumerate(params):
        _expect(
            isinstance(p, Parameter),
            f"parameters() must return minidl.Parameter objects; item {i} is {type(p).__name__}",
        )
    _expect(len({id(p) for p in params}) == len(params), "parameters() returns one Parameter twice")
    x = _points(np.random.default_rng(16), _input(layer, 4))
    for when in ("once built", "after forward and backward"):
        listed = {id(p) for p in params}
        for attribute, p in _held_parameters(layer):
            _expect(
                id(p) in listed,
                f"{cls.__qualname__}.{attribute} is a Parameter but parameters() does not return it "
                f"({when}): a model would neither train nor save it",
            )
        if when == "once built":
            layer.backward(np.ones_like(layer.forward(x)))
            again = list(layer.parameters())
            _expect(
                [id(p) for p in again] == [id(p) for p in params],
                f"parameters() gave {len(params)} parameters once built and {len(again)} (or other "
                "objects) after forward and backward: create every parameter in build(input_shape, rng, "
                "dtype), which the model calls before the first forward, and return the same objects",
            )


def _check_layer_gradients(cls: type[Any]) -> None:
    """dL/dinput and dL/dparameter of ``L = sum(w * forward(x))`` against central differences;
    ``backward`` overwrites the gradients and ``backward_parameters`` fills the same ones."""
    layer = _built(cls)
    rng = np.random.default_rng(42)
    x = _points(rng, _input(layer, GRADIENT_BATCH))
    weights = rng.standard_normal(layer.forward(x).shape)
    params = layer.parameters()
    for p in params:
        p.grad[...] = 0.0
    layer.forward(x)
    grad_x = np.array(layer.backward(weights.copy()))
    analytic = [p.grad.copy() for p in params]
    for p in params:  # stale values: backward must overwrite them, as the training step relies on
        p.grad[...] = 7.0
    layer.forward(x)
    layer.backward(weights.copy())
    for p, grad in zip(params, analytic, strict=False):
        _close(
            p.grad,
            grad,
            f"{cls.__qualname__}: dL/d{p.name or 'parameter'} with stale values in p.grad "
            "beforehand (backward must overwrite p.grad, not add to it)",
            rtol=1e-12,
            atol=0.0,
        )
        p.grad[...] = 7.0
    layer.forward(x)
    layer.backward_parameters(weights.copy())
    for p, grad in zip(params, analytic, strict=False):
        _close(
            p.grad,
            grad,
            f"{cls.__qualname__}: dL/d{p.name or 'parameter'} of backward_parameters against backward's",
            rtol=1e-12,
            atol=0.0,
        )

    def evaluate() -> np.ndarray:
        return np.asarray(weights * layer.forward(x))

    _gradient_check(evaluate, x, grad_x, f"{cls.__qualname__}: dL/dinput", "x")
    for p, grad in zip(params, analytic, strict=False):
        label = p.name or "parameter"
        _gradient_check(evaluate, p.value, grad, f"{cls.__qualname__}: dL/d{label}", label)


def _check_layer_large_inputs(cls: type[Any]) -> None:
    for dtype, scale in ((np.float64, 100.0), (np.float32, 10.0)):  # |x| up to 1000 and 100
        layer = _built(cls, dtype)
        x = (_points(np.random.default_rng(4), _input(layer, 6)) * scale).astype(dtype)
        with _strict():
            y = layer.forward(x)
            layer.backward(np.ones_like(y))
        _expect(np.all(np.isfinite(y)), f"forward of inputs up to {10 * scale:g} gave non-finite values")


def _check_layer_determinism(cls: type[Any]) -> None:
    x = _points(np.random.default_rng(5), _input(_built(cls), 3))
    a, b = _built(cls, seed=7), _built(cls, seed=7)
    for p, q in zip(a.parameters(), b.parameters(), strict=False):
        _same(p.value, q.value, "same seed, different initial parameters")
    _same(a.forward(x), b.forward(x), "same seed, different outputs")


def _check_layer_training_mode(cls: type[Any]) -> None:
    """In training mode (as inside ``fit``): same seed, same output; backward matches finite differences.

    Each evaluation rebuilds the layer from the same seed, so a stochastic layer (dropout) draws
    the same random numbers every time and its gradient is well defined.
    """
    x = _points(np.random.default_rng(10), _input(_built(cls), GRADIENT_BATCH))

    def fresh() -> Layer:
        layer = _built(cls, seed=11)
        layer.training = True
        return layer

    layer = fresh()
    y = layer.forward(x)
    _same(fresh().forward(x), y, "training mode: same seed, different outputs")
    weights = np.random.default_rng(12).standard_normal(y.shape)
    grad_x = layer.backward(weights.copy())
    what = f"{cls.__qualname__} in training mode: dL/dinput"
    _gradient_check(lambda: weights * fresh().forward(x), x, grad_x, what, "x")


@contextmanager
def _saved_by_name(cls: type[Any]) -> Iterator[None]:
    """A registered name for ``cls`` while the block runs (a temporary one if it has none)."""
    registry = _registry_for(cls)
    if registry.name_of(cls, default=""):
        yield
        return
    name = _temporary_name(registry, cls)
    try:
        yield
    finally:
        registry.unregister(name)


def _temporary_name(registry: Registry[Any], cls: type[Any]) -> str:
    for n in range(100):
        name = f"minidl_testing_unregistered_{n}"
        try:
            registry.register(name)(cls)
        except DuplicateNameError:
            continue
        return name
    raise CheckFailure(f"could not register {cls.__qualname__} under a temporary name to save a model of it")


def _check_layer_in_sequential(cls: type[Any]) -> None:
    """Inside a ``Sequential``, as users use a layer: built by the model, ``fit`` for 2 epochs,
    ``predict``, ``save`` and ``load``: the loaded model predicts bit for bit the same."""
    layer = cls.example()
    input_shape = layer.example_input_shape()
    entries: list[Layer] = [layer]
    if len(layer.compute_output_shape(input_shape)) == 1:
        entries.append(Dense(2))  # a trainable output, fed by the layer
    with _saved_by_name(cls):
        model = Sequential(entries, input_shape=input_shape, seed=0)
        first = model.layers[0] if model.layers else None
        _expect(
            layer.built and (first is layer or isinstance(layer, Input)),  # an Input is not one of the layers
            f"Sequential([{cls.__qualname__}.example(), ...], input_shape={input_shape}) did not build "
            "the layer",
        )
        model.compile(loss="mse", optimizer="sgd")
        rng = np.random.default_rng(15)
        x = _points(rng, (8, *input_shape))
        y = rng.standard_normal((8, *(model.output_shape or ())))
        params = list(layer.parameters())
        before = [p.value.copy() for p in params]
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        after = list(layer.parameters())
        _expect(
            [id(p) for p in after] == [id(p) for p in params],
            f"parameters() gave {len(params)} parameters when the model was built and {len(after)} (or other "
            "objects) after fit: create every parameter in build(input_shape, rng, dtype)",
        )
        _expect(
            not before or any(not np.array_equal(b, p.value) for b, p in zip(before, params, strict=False)),
            "2 epochs of fit left every parameter of the layer unchanged: the model steps the arrays "
            "p.value and p.grad of the Parameters (which it may move), so backward must write each "
            "gradient into p.grad in place (p.grad[...] = g), never rebind p.grad",
        )
        predicted = model.predict(x)
        _expect(np.all(np.isfinite(predicted)), "the trained model predicts non-finite values")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.minidl")
            model.save(path)
            loaded = load(path)
        _same(
            loaded.predict(x),
            predicted,
            "predictions of the model saved and loaded back (a layer must read its parameters' current "
            "values, p.value, at each forward, and keep nothing else that save does not store)",
        )
        weights, loaded_weights = model.get_weights(), loaded.get_weights()
        _expect(
            len(weights) == len(loaded_weights),
            f"the model had {len(weights)} weight arrays; loaded back, {len(loaded_weights)}",
        )
        for i, (w, v) in enumerate(zip(weights, loaded_weights, strict=False)):
            _same(v, w, f"weight array {i} of the model saved and loaded back")


LAYER_CHECKS: dict[str, CheckFunction] = {
    "registered": _check_registered,
    "config": _check_config,
    "shapes": _check_layer_shapes,
    "dtypes": _check_layer_dtypes,
    "inputs_untouched": _check_layer_inputs_untouched,
    "parameters": _check_layer_parameters,
    "gradients": _check_layer_gradients,
    "large_inputs": _check_layer_large_inputs,
    "determinism": _check_layer_determinism,
    "training_mode": _check_layer_training_mode,
    "in_sequential": _check_layer_in_sequential,
}


def _check_activation_shape_kept(cls: type[Any]) -> None:
    act = _built(cls)
    x = _points(np.random.default_rng(6), (4, 3))
    _expect(act.forward(x).shape == x.shape, "an activation must keep its input's shape")


ACTIVATION_CHECKS: dict[str, CheckFunction] = {**LAYER_CHECKS, "shape_kept": _check_activation_shape_kept}


# --------------------------------------------------------------------------- losses
def _loss_batch(loss: Loss, batch: int = 6, outputs: int = 3, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    return loss.example_batch(np.random.default_rng(seed), batch, outputs)


def _unbounded(loss: Loss) -> bool:
    """True for a loss whose predictions may take any real value (regression, logits)."""
    return bool(getattr(loss, "from_logits", True))


def _check_loss_gradients(cls: type[Any]) -> None:
    for loss in _loss_variants(cls):
        y_true, y_pred = _loss_batch(loss)
        batches = [("", y_pred)]
        if _unbounded(loss):  # wide predictions too: saturated logits, the far branch of a Huber loss
            spread = np.random.default_rng(17).uniform(1.0, 12.0, y_pred.shape)
            batches.append((" on wide predictions", y_pred * spread))
        for where, pred in batches:
            analytic = loss.gradient(y_true, pred)
            what = f"{loss!r}.gradient{where}"
            _gradient_check(_loss_value(loss, y_true, pred), pred, analytic, what, "y_pred")
            value, grad = loss.value_and_gradient(y_true, pred)
            what = f"{loss!r}.value_and_gradient"
            _close(value, loss(y_true, pred), f"{what} value{where}", rtol=1e-5, atol=1e-7)
            _close(grad, analytic, f"{what} gradient{where}", rtol=1e-5, atol=1e-7)


def _loss_value(loss: Loss, y_true: np.ndarray, y_pred: np.ndarray) -> Callable[[], np.ndarray]:
    """The loss of ``(y_true, y_pred)`` as a one-element array, read afresh at each call."""
    return lambda: np.array([loss(y_true, y_pred)])


def _loss_variants(cls: type[Any]) -> list[Loss]:
    """The example, and one variant per reduction and per flipped boolean option (from_logits)."""
    loss = cls.example()
    config = loss.get_config()
    registry = _registry_for(cls)
    variants = [loss]
    if "reduction" in config:
        other = "sum" if config["reduction"] == "mean" else "mean"
        variants.append(registry.create(cls, {**config, "reduction": other}))
    for key, value in config.items():
        if isinstance(value, bool):
            variants.append(registry.create(cls, {**config, key: not value}))
    return variants


def _check_loss_shapes_dtypes(cls: type[Any]) -> None:
    for loss in _loss_variants(cls):
        for batch in (1, 7):
            for dtype in DTYPES:
                y_true, y_pred = _loss_batch(loss, batch)
                y_pred = y_pred.astype(dtype)
                value = loss(y_true, y_pred)
                grad = loss.gradient(y_true, y_pred)
                _expect(
                    isinstance(value, float) and np.isfinite(value),
                    f"{loss!r}: value {value!r} is not a finite float",
                )
                _expect(
                    grad.shape == y_pred.shape and grad.dtype == dtype,
                    f"{loss!r}: gradient {grad.shape} {grad.dtype} for predictions {y_pred.shape} "
                    f"{y_pred.dtype}",
                )


def _check_loss_empty_batch(cls: type[Any]) -> None:
    for loss in _loss_variants(cls):
        for dtype in DTYPES:
            y_true, y_pred = _loss_batch(loss, 0)
            y_pred = y_pred.astype(dtype)
            with _strict():
                value = loss(y_true, y_pred)
                grad = loss.gradient(y_true, y_pred)
                both = loss.value_and_gradient(y_true, y_pred)
            _expect(
                isinstance(value, float) and value == 0.0, f"{loss!r}: an empty batch gave {value!r}, not 0.0"
            )
            _expect(both[0] == 0.0, f"{loss!r}.value_and_gradient: an empty batch gave {both[0]!r}, not 0.0")
            for g in (grad, both[1]):
                _expect(
                    g.shape == y_pred.shape and g.dtype == dtype,
                    f"{loss!r}: empty-batch gradient {g.shape} {g.dtype} for predictions {y_pred.shape} "
                    f"{np.dtype(dtype)}",
                )


def _check_loss_inputs_untouched(cls: type[Any]) -> None:
    for loss in _loss_variants(cls):
        y_true, y_pred = (_read_only(a) for a in _loss_batch(loss))
        keep = y_true.copy(), y_pred.copy()
        loss(y_true, y_pred)
        loss.gradient(y_true, y_pred)
        loss.value_and_gradient(y_true, y_pred)
        _same(y_true, keep[0], f"{loss!r}: y_true afterwards")
        _same(y_pred, keep[1], f"{loss!r}: y_pred afterwards")


def _check_loss_large_inputs(cls: type[Any]) -> None:
    for loss in _loss_variants(cls):
        y_true, y_pred = _loss_batch(loss)
        if _unbounded(loss):
            y_pred = y_pred * 300.0  # unbounded predictions (logits, regression): try large ones
        with _strict():
            value, grad = loss.value_and_gradient(y_true, y_pred)
        _expect(np.isfinite(value) and np.all(np.isfinite(grad)), f"{loss!r}: non-finite loss or gradient")


def _check_loss_sample_weights(cls: type[Any]) -> None:
    """Per-sample shares sum to the loss; weights of 1 change nothing; the weighted gradient
    agrees with central differences of the weighted loss (weights spread over [0, 3], one 0)."""
    for loss in _loss_variants(cls):
        y_true, y_pred = _loss_batch(loss)
        shares = np.asarray(loss.sample_losses(y_true, y_pred))
        _expect(
            shares.shape == (len(y_pred),),
            f"{loss!r}.sample_losses has shape {shares.shape}; expected ({len(y_pred)},)",
        )
        value = loss(y_true, y_pred)
        _close(float(np.sum(shares)), value, f"{loss!r}: the sum of sample_losses", rtol=1e-10, atol=1e-12)
        _close(
            loss(y_true, y_pred, np.ones(len(y_pred))),
            value,
            f"{loss!r} with weights 1",
            rtol=1e-12,
            atol=1e-14,
        )
        weights = np.random.default_rng(21).uniform(0.0, 3.0, len(y_pred))
        weights[1] = 0.0
        pred = y_pred.copy()
        analytic = loss.gradient(y_true, pred, weights)
        evaluate = functools.partial(_weighted_loss_value, loss, y_true, pred, weights)  # reads pred afresh
        _gradient_check(evaluate, pred, analytic, f"{loss!r}.gradient with sample weights", "y_pred")


def _weighted_loss_value(
    loss: Loss, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    return np.array([loss(y_true, y_pred, weights)])


LOSS_CHECKS: dict[str, CheckFunction] = {
    "registered": _check_registered,
    "config": _check_config,
    "gradients": _check_loss_gradients,
    "shapes_dtypes": _check_loss_shapes_dtypes,
    "empty_batch": _check_loss_empty_batch,
    "inputs_untouched": _check_loss_inputs_untouched,
    "large_inputs": _check_loss_large_inputs,
    "sample_weights": _check_loss_sample_weights,
}


# --------------------------------------------------------------------------- optimizers
def _quadratic_grad(p: Parameter, scale: np.ndarray, target: np.ndarray) -> None:
    # f(p) = 0.5 * sum(scale * (p - target)**2), so df/dp = scale * (p - target)
    np.multiply(scale, p.value - target, out=p.grad)


def _check_optimizer_minimises(cls: type[Any]) -> None:
    for dtype in DTYPES:
        opt = cls.example()
        rng = np.random.default_rng(8)
        scale, target = rng.uniform(0.5, 2.0, 6), rng.uniform(-1, 1, 6)
        p = Parameter(rng.uniform(-2, 2, 6).astype(dtype))
        start = float(np.abs(p.value - target).max())
        for _ in range(5000):
            _quadratic_grad(p, scale, target)
            opt.step([p])
        _expect(
            p.value.dtype == dtype, f"the update changed the dtype from {np.dtype(dtype)} to {p.value.dtype}"
        )
        error = float(np.abs(p.value - target).max())
        _expect(
            error < 1e-2 * start,
            f"{opt!r} left |p - minimum| = {error:.3g} (from {start:.3g}) after 5000 steps on a quadratic",
        )


def _check_optimizer_elementwise(cls: type[Any]) -> None:
    """An elementwise optimizer must give the same result on one flat array as on its pieces."""
    if not getattr(cls, "elementwise", False):
        return
    rng = np.random.default_rng(9)
    values = [rng.standard_normal(s) for s in ((3, 2), (4,))]
    separate = [Parameter(v.copy()) for v in values]
    flat = Parameter(np.concatenate([v.ravel() for v in values]))
    a, b = cls.example(), cls.example()
    for _ in range(5):
        grads = [rng.standard_normal(v.shape) for v in values]
        for p, g in zip(separate, grads, strict=False):
            p.grad[...] = g
        flat.grad[...] = np.concatenate([g.ravel() for g in grads])
        a.step(separate)
        b.step([flat])
    joined = np.concatenate([p.value.ravel() for p in separate])
    _close(
        flat.value,
        joined,
        f"{cls.__qualname__} declares elementwise=True but a flat update differs",
        rtol=1e-12,
        atol=1e-15,
    )


def _check_optimizer_grad_untouched(cls: type[Any]) -> None:
    opt = cls.example()
    p = Parameter(np.ones(4))
    p.grad[...] = np.arange(4.0)
    keep = p.grad.copy()
    opt.step([p])
    _same(p.grad, keep, "an optimizer must not modify the gradient")


def _check_optimizer_determinism(cls: type[Any]) -> None:
    """Two optimizers built alike, fed the same gradients, give bit-identical parameters."""
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(13)
        opt = cls.example()
        params = [Parameter(rng.standard_normal(s)) for s in ((3, 2), (4,))]
        for _ in range(20):
            for p in params:
                p.grad[...] = rng.standard_normal(p.value.shape)
            opt.step(params)
        runs.append([p.value.copy() for p in params])
    for a, b in zip(*runs, strict=False):
        _same(a, b, "same start, same gradients, different parameters")


OPTIMIZER_CHECKS: dict[str, CheckFunction] = {
    "registered": _check_registered,
    "config": _check_config,
    "minimises_quadratic": _check_optimizer_minimises,
    "elementwise_contract": _check_optimizer_elementwise,
    "grad_untouched": _check_optimizer_grad_untouched,
    "determinism": _check_optimizer_determinism,
}


# --------------------------------------------------------------------------- initializers
def _check_initializer_arrays(cls: type[Any]) -> None:
    init = cls.example()
    for dtype in DTYPES:
        for shape in ((3, 4), (4, 3), (5,), (0, 2)):
            a = init(shape, np.random.default_rng(0), dtype)
            b = init(shape, np.random.default_rng(0), dtype)
            _expect(
                a.shape == shape and a.dtype == dtype,
                f"{init!r}{shape} gave {a.shape} {a.dtype} for {shape} {np.dtype(dtype)}",
            )
            _expect(np.all(np.isfinite(a)), f"{init!r} gave non-finite values")
            _same(a, b, "same generator seed, different values")


def _check_initializer_own_generator(cls: type[Any]) -> None:
    """Randomness comes only from the generator passed in; each call returns a new array."""
    init = cls.example()
    before = np.asarray(np.random.get_state(legacy=False)["state"]["key"]).copy()
    a = init((4, 3), np.random.default_rng(0), np.float64)
    _expect(
        np.array_equal(np.random.get_state(legacy=False)["state"]["key"], before),
        f"{init!r} drew from numpy's global random state",
    )
    keep = a.copy()
    a[...] = 123.0  # a caller owns (and may train) what it got
    _same(
        init((4, 3), np.random.default_rng(0), np.float64),
        keep,
        "a second call returned an array shared with the first",
    )


def _check_initializer_statistics(cls: type[Any]) -> None:
    """The declared mean and variance of the entries (``expected_moments``) hold for a large seeded draw."""
    init = cls.example()
    moments = getattr(init, "expected_moments", None)
    if moments is None:
        return
    for shape in ((200, 120), (120, 200)):
        mean, variance = moments(shape)
        w = init(shape, np.random.default_rng(14), np.float64)
        # 6 standard errors of the mean; a relative 6% (about 6 sigma for ~24000 normal draws) on the variance
        _expect(
            abs(w.mean() - mean) <= 6 * np.sqrt(variance / w.size) + 1e-12,
            f"{init!r}{shape}: mean {w.mean():.4g}, declared {mean:.4g}",
        )
        _expect(
            abs(w.var() - variance) <= 0.06 * variance + 1e-12,
            f"{init!r}{shape}: variance {w.var():.4g}, declared {variance:.4g}",
        )


INITIALIZER_CHECKS: dict[str, CheckFunction] = {
    "registered": _check_registered,
    "config": _check_config,
    "arrays": _check_initializer_arrays,
    "own_generator": _check_initializer_own_generator,
    "statistics": _check_initializer_statistics,
}


# --------------------------------------------------------------------------- metrics
def _check_metric_values(cls: type[Any]) -> None:
    metric = cls.example()
    for batch in (1, 7):
        for dtype in DTYPES:
            batch_arrays = metric.example_batch(np.random.default_rng(batch), batch, 3)
            y_true, y_pred = (_read_only(a) for a in batch_arrays)
            keep = y_true.copy(), y_pred.copy()
            value = metric(y_true, y_pred.astype(dtype))
            _expect(
                isinstance(value, float) and np.isfinite(value),
                f"{metric!r}: value {value!r} is not a finite float",
            )
            _expect(
                value == metric(y_true, y_pred.astype(dtype)), f"{metric!r}: two calls gave different values"
            )
            _same(y_true, keep[0], f"{metric!r} changed y_true")
            _same(y_pred, keep[1], f"{metric!r} changed y_pred")


def _check_metric_direction(cls: type[Any]) -> None:
    # None is allowed (the metric does not say), but anything else than a bool would be read
    # as a direction by mistake: mode="auto" callbacks trust it.
    direction = cls.higher_is_better
    _expect(
        direction is None or isinstance(direction, bool),
        f"{cls.__name__}.higher_is_better must be True, False or None; received {direction!r}",
    )


METRIC_CHECKS: dict[str, CheckFunction] = {
    "registered": _check_registered,
    "config": _check_config,
    "values": _check_metric_values,
    "direction": _check_metric_direction,
}


# --------------------------------------------------------------------------- schedules
#: Steps a schedule is asked for: the first ones, around common boundaries, and far (a long run).
SCHEDULE_STEPS = (*range(50), 99, 100, 101, 999, 1000, 1001, 10**4, 10**5, 10**6, 10**9)


def _check_schedule_values(cls: type[Any]) -> None:
    """Every value a finite float >= 0, the same whatever the order the steps are asked in."""
    schedule = cls.example()
    forward = [schedule(step) for step in SCHEDULE_STEPS]
    for step, value in zip(SCHEDULE_STEPS, forward, strict=True):
        _expect(
            isinstance(value, float) and math.isfinite(value) and value >= 0.0,
            f"{schedule!r}({step}) = {value!r} is not a finite float >= 0",
        )
    backward = [schedule(step) for step in reversed(SCHEDULE_STEPS)][::-1]
    _same(backward, forward, f"{schedule!r}: values asked in reverse order (a schedule must keep no state)")


def _check_schedule_in_optimizer(cls: type[Any]) -> None:
    """An optimizer given the schedule steps with ``schedule(step)``, and a saved configuration
    (and step count) brings the same rates back."""
    schedule = cls.example()
    opt = SGD(learning_rate=schedule)
    p = Parameter(np.zeros(1))
    p.grad[...] = -1.0  # so each step adds its learning rate to p
    for step in range(12):
        before = float(p.value[0])
        opt.step([p])
        _close(float(p.value[0]) - before, schedule(step), f"SGD's step {step} with {schedule!r}", 1e-12, 0.0)
    with _saved_by_name(cls):  # an unregistered class gets a temporary name for the save
        saved = json.loads(json.dumps(opt.get_config(), allow_nan=False))
        resumed = SGD(**saved)
    resumed.iterations = opt.iterations
    _expect(
        resumed.schedule == schedule, f"saved as {saved!r}, the schedule came back as {resumed.schedule!r}"
    )
    _same(resumed.learning_rate, opt.learning_rate, "the learning rate after reloading the configuration")


SCHEDULE_CHECKS: dict[str, CheckFunction] = {
    "registered": _check_registered,
    "config": _check_config,
    "values": _check_schedule_values,
    "in_optimizer": _check_schedule_in_optimizer,
}

_KINDS = "Layer, Activation, Loss, Optimizer, Initializer, Metric, Schedule"


# --------------------------------------------------------------------------- public entry points
def _table(cls: type[Any]) -> dict[str, Callable[[type[Any]], None]]:
    for base, table in (
        (Activation, ACTIVATION_CHECKS),
        (Layer, LAYER_CHECKS),
        (Loss, LOSS_CHECKS),
        (Optimizer, OPTIMIZER_CHECKS),
        (Initializer, INITIALIZER_CHECKS),
        (Metric, METRIC_CHECKS),
        (Schedule, SCHEDULE_CHECKS),
    ):
        if isinstance(cls, type) and issubclass(cls, base):
            return table
    raise TypeError(f"{cls!r} is not a minidl component class ({_KINDS}).")


def checks(cls: type[Any]) -> list[Check]:
    """The individual checks that apply to the component class ``cls``.

    Args:
        cls: the component class.
    """
    registry = _registry_for(cls)
    name = registry.name_of(cls, default=cls.__qualname__)
    return [Check(registry.kind, name, check_name, run, cls) for check_name, run in _table(cls).items()]


def check_component(cls: type[Any]) -> None:
    """Runs every check that applies to ``cls``; raises ``CheckFailure`` on the first failure,
    its message prefixed with the check's id (``[kind:name-check]``), whatever went wrong.

    Args:
        cls: the component class to check.
    """
    for check in checks(cls):
        check()


def _typed(base: type, kind: str) -> Callable[[type | str], None]:
    def run(cls: type[Any] | str) -> None:
        if isinstance(cls, str):
            cls = _registry_named(kind).get_class(cls)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"expected a subclass of minidl.{base.__name__}; received {cls!r}")
        check_component(cls)

    run.__doc__ = (
        f"Runs every check for a {base.__name__} subclass (or its registered name); raises CheckFailure "
        "on the first failure."
    )
    return run


def _registry_named(kind: str) -> Registry[Any]:
    from .registry import iter_registries

    return next(r for r in iter_registries() if r.kind == kind)


check_layer = _typed(Layer, "layer")
check_activation = _typed(Activation, "activation")
check_loss = _typed(Loss, "loss")
check_optimizer = _typed(Optimizer, "optimizer")
check_initializer = _typed(Initializer, "initializer")
check_metric = _typed(Metric, "metric")
check_schedule = _typed(Schedule, "schedule")


def parametrize_with_checks(components: Iterable[type]) -> Any:
    """A ``pytest.mark.parametrize("check", ...)`` over every check of every component class.

    Args:
        components: the component classes to check.
    """
    import pytest  # only needed by the test suites that call this

    all_checks = [c for cls in components for c in checks(cls)]
    return pytest.mark.parametrize("check", all_checks, ids=[c.id for c in all_checks])


def registered_components(registries: Iterable[Registry[Any]] | None = None) -> list[type]:
    """Every class registered (built-in, in-process or plugin), loading plugins as needed.

    Args:
        registries: the registries to list (None: all of them).
    """
    from .registry import iter_registries

    return [r.get_class(name) for r in (registries or iter_registries()) for name in r.names()]
