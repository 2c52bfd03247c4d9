"""The conformance kit: checks every minidl component must pass, for the core and for plugins.

Each ``check_*`` function takes a component class (registered or not) and raises
``AssertionError`` with a readable message on the first failure. :func:`checks` lists the
individual checks of one component and :func:`parametrize_with_checks` turns them into separate
pytest tests::

    from minidl.testing import parametrize_with_checks
    from my_plugin import Swish

    @parametrize_with_checks([Swish])
    def test_conformance(check):
        check()

Components are made with their class's ``example()`` method, so a class whose constructor needs
arguments overrides ``example``. Gradients are compared with central finite differences in
float64 at seeded random points at least 0.1 away from 0, where activations have their kinks;
layers are also checked in training mode, rebuilt from one seed for every evaluation so that a
stochastic layer (dropout) is deterministic. ``check_layer`` and the other typed checks also
accept a registered name.

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

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import Activation
from .initializers import Initializer
from .layers import Layer
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .parameter import Parameter
from .registry import Registry

__all__ = [
    "numerical_gradient",
    "check_activation",
    "check_layer",
    "check_loss",
    "check_optimizer",
    "check_initializer",
    "check_metric",
    "check_component",
    "checks",
    "parametrize_with_checks",
    "Check",
    "registered_components",
]

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-7
BATCHES = (1, 7, 0)
DTYPES = (np.float32, np.float64)
# Underflow to 0 is the right answer for exp(-large); every other floating-point event is a bug.
STRICT = {"all": "raise", "under": "ignore"}


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """d f / d x by central differences ``(f(x + eps) - f(x - eps)) / (2 eps)``, element by element.

    ``x`` (float64: in float32 the differences drown in rounding) is perturbed in place and
    restored; ``f`` reads it.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array; received {x.dtype}.")
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + eps
        up = f()
        x[i] = keep - eps
        down = f()
        x[i] = keep
        grad[i] = (up - down) / (2 * eps)
    return grad


@dataclass(frozen=True)
class Check:
    """One named check of one component; calling it runs the check."""

    kind: str
    component: str
    name: str
    run: Callable[[type], None]
    cls: type

    def __call__(self) -> None:
        self.run(self.cls)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.component}-{self.name}"


def _registry_for(cls: type) -> Registry[Any]:
    from . import activations, initializers, layers, losses, metrics, optimizers

    for base, module in (
        (Activation, activations),
        (Layer, layers),
        (Loss, losses),
        (Optimizer, optimizers),
        (Initializer, initializers),
        (Metric, metrics),
    ):
        if isinstance(cls, type) and issubclass(cls, base):
            return module.registry
    raise TypeError(f"{cls!r} is not a minidl component class (Layer, Activation, Loss, Optimizer, Initializer, Metric).")


def _points(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    x = rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return x.astype(dtype)


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


# --------------------------------------------------------------------------- shared checks
def _check_registered(cls: type) -> None:
    registry = _registry_for(cls)
    name = registry.name_of(cls, default="")
    assert name, f"{cls.__qualname__} is not registered in the {registry.kind} registry."
    assert registry.get_class(name) is cls, f"{registry.kind} {name!r} resolves to {registry.get_class(name)!r}, not {cls!r}."


def _check_config(cls: type) -> None:
    registry = _registry_for(cls)
    component = cls.example()
    config = component.get_config()
    try:
        text = json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{cls.__qualname__}.get_config() is not plain JSON: {config!r} ({exc})") from exc
    rebuilt = registry.create(cls, json.loads(text))
    assert rebuilt.get_config() == config, f"rebuilt from {config!r}, got {rebuilt.get_config()!r}"
    assert repr(rebuilt) == repr(component)
    if registry.name_of(cls, default=""):  # the path a saved model or a configuration file takes
        saved = json.loads(json.dumps(registry.serialize(component), allow_nan=False))
        loaded = registry.get(saved)
        assert type(loaded) is cls and loaded.get_config() == config, f"{saved!r} loads as {loaded!r}"


# --------------------------------------------------------------------------- layers
def _built(cls: type, dtype: Any = np.float64, seed: int = 0) -> Layer:
    layer = cls.example()
    layer.build_for(layer.example_input_shape(), np.random.default_rng(seed), np.dtype(dtype))
    return layer


def _input(layer: Layer, batch: int) -> tuple[int, ...]:
    """The shape of a batch of ``batch`` samples the layer takes."""
    return (batch, *layer.example_input_shape())


def _check_layer_shapes(cls: type) -> None:
    layer = _built(cls)
    out = layer.compute_output_shape(layer.example_input_shape())
    for batch in BATCHES:
        x = _points(np.random.default_rng(batch), _input(layer, batch))
        y = layer.forward(x)
        assert y.shape == (batch, *out), f"compute_output_shape says {out} per sample, forward of {x.shape} gave {y.shape}"
        g = layer.backward(np.ones_like(y))
        assert g.shape == x.shape, f"backward gave dL/dinput of shape {g.shape} for an input {x.shape}"
        for p in layer.parameters():
            assert p.grad.shape == p.value.shape, f"{p!r}: grad shape {p.grad.shape}"
            if batch == 0:
                assert not np.any(p.grad), f"{p!r}: an empty batch must give a zero gradient"


def _check_layer_dtypes(cls: type) -> None:
    for dtype in DTYPES:
        layer = _built(cls, dtype)
        x = _points(np.random.default_rng(1), _input(layer, 3), dtype)
        y = layer.forward(x)
        g = layer.backward(np.ones_like(y))
        assert y.dtype == dtype and g.dtype == dtype, f"{np.dtype(dtype)} in, forward {y.dtype}, backward {g.dtype}"
        for p in layer.parameters():
            assert p.value.dtype == dtype and p.grad.dtype == dtype, f"{p!r} is {p.value.dtype}/{p.grad.dtype}"


def _check_layer_inputs_untouched(cls: type) -> None:
    layer = _built(cls)
    x = _read_only(_points(np.random.default_rng(2), _input(layer, 4)))
    keep = x.copy()
    y = layer.forward(x)  # a write to x would raise: it is read-only
    g = _read_only(np.random.default_rng(3).standard_normal(y.shape))
    layer.backward(g)
    np.testing.assert_array_equal(x, keep)


def _check_layer_gradients(cls: type) -> None:
    layer = _built(cls)
    rng = np.random.default_rng(42)
    x = _points(rng, _input(layer, 4))
    weights = rng.standard_normal(layer.forward(x).shape)

    def objective() -> float:
        return float(np.sum(weights * layer.forward(x)))

    layer.forward(x)
    grad_x = layer.backward(weights.copy()).copy()
    analytic = [p.grad.copy() for p in layer.parameters()]
    _close(grad_x, numerical_gradient(objective, x), f"{cls.__qualname__}: dL/dinput")
    for p, grad in zip(layer.parameters(), analytic):
        _close(grad, numerical_gradient(objective, p.value), f"{cls.__qualname__}: dL/d{p.name or 'parameter'}")


def _check_layer_large_inputs(cls: type) -> None:
    for dtype, scale in ((np.float64, 500.0), (np.float32, 50.0)):
        layer = _built(cls, dtype)
        x = (_points(np.random.default_rng(4), _input(layer, 6)) * scale).astype(dtype)
        with np.errstate(**STRICT):
            y = layer.forward(x)
            layer.backward(np.ones_like(y))
        assert np.all(np.isfinite(y)), f"forward of inputs of magnitude {scale} gave non-finite values"


def _check_layer_determinism(cls: type) -> None:
    x = _points(np.random.default_rng(5), _input(_built(cls), 3))
    a, b = _built(cls, seed=7), _built(cls, seed=7)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value, err_msg="same seed, different initial parameters")
    np.testing.assert_array_equal(a.forward(x), b.forward(x), err_msg="same seed, different outputs")


def _check_layer_training_mode(cls: type) -> None:
    """In training mode (as inside ``fit``): same seed, same output; backward matches finite differences.

    Each evaluation rebuilds the layer from the same seed, so a stochastic layer (dropout) draws
    the same random numbers every time and its gradient is well defined.
    """
    x = _points(np.random.default_rng(10), _input(_built(cls), 4))

    def fresh() -> Layer:
        layer = _built(cls, seed=11)
        layer.training = True
        return layer

    layer = fresh()
    y = layer.forward(x)
    np.testing.assert_array_equal(fresh().forward(x), y, err_msg="training mode: same seed, different outputs")
    weights = np.random.default_rng(12).standard_normal(y.shape)
    grad_x = layer.backward(weights.copy())
    numeric = numerical_gradient(lambda: float(np.sum(weights * fresh().forward(x))), x)
    _close(grad_x, numeric, f"{cls.__qualname__} in training mode: dL/dinput")


LAYER_CHECKS = {
    "registered": _check_registered,
    "config": _check_config,
    "shapes": _check_layer_shapes,
    "dtypes": _check_layer_dtypes,
    "inputs_untouched": _check_layer_inputs_untouched,
    "gradients": _check_layer_gradients,
    "large_inputs": _check_layer_large_inputs,
    "determinism": _check_layer_determinism,
    "training_mode": _check_layer_training_mode,
}


def _check_activation_shape_kept(cls: type) -> None:
    act = _built(cls)
    x = _points(np.random.default_rng(6), (4, 3))
    assert act.forward(x).shape == x.shape, "an activation must keep its input's shape"


ACTIVATION_CHECKS = {**LAYER_CHECKS, "shape_kept": _check_activation_shape_kept}


# --------------------------------------------------------------------------- losses
def _loss_batch(loss: Loss, batch: int = 6, outputs: int = 3, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    return loss.example_batch(np.random.default_rng(seed), batch, outputs)


def _check_loss_gradients(cls: type) -> None:
    for loss in _loss_variants(cls):
        y_true, y_pred = _loss_batch(loss)
        numeric = numerical_gradient(lambda: loss(y_true, y_pred), y_pred)
        _close(loss.gradient(y_true, y_pred), numeric, f"{loss!r}.gradient")
        value, grad = loss.value_and_gradient(y_true, y_pred)
        _close(np.array(value), np.array(loss(y_true, y_pred)), f"{loss!r}.value_and_gradient value")
        _close(grad, numeric, f"{loss!r}.value_and_gradient gradient")


def _loss_variants(cls: type) -> list[Loss]:
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


def _check_loss_shapes_dtypes(cls: type) -> None:
    for loss in _loss_variants(cls):
        for batch in (1, 7):
            for dtype in DTYPES:
                y_true, y_pred = _loss_batch(loss, batch)
                y_pred = y_pred.astype(dtype)
                value = loss(y_true, y_pred)
                grad = loss.gradient(y_true, y_pred)
                assert isinstance(value, float) and np.isfinite(value), f"{loss!r}: value {value!r} is not a finite float"
                assert grad.shape == y_pred.shape and grad.dtype == dtype, f"{loss!r}: gradient {grad.shape} {grad.dtype}"


def _check_loss_empty_batch(cls: type) -> None:
    for loss in _loss_variants(cls):
        for dtype in DTYPES:
            y_true, y_pred = _loss_batch(loss, 0)
            y_pred = y_pred.astype(dtype)
            with np.errstate(**STRICT):
                value = loss(y_true, y_pred)
                grad = loss.gradient(y_true, y_pred)
                both = loss.value_and_gradient(y_true, y_pred)
            assert isinstance(value, float) and value == 0.0, f"{loss!r}: an empty batch gave {value!r}, not 0.0"
            assert both[0] == 0.0, f"{loss!r}.value_and_gradient: an empty batch gave {both[0]!r}, not 0.0"
            for g in (grad, both[1]):
                assert g.shape == y_pred.shape and g.dtype == dtype, f"{loss!r}: empty-batch gradient {g.shape} {g.dtype}"


def _check_loss_inputs_untouched(cls: type) -> None:
    for loss in _loss_variants(cls):
        y_true, y_pred = (_read_only(a) for a in _loss_batch(loss))
        keep = y_true.copy(), y_pred.copy()
        loss(y_true, y_pred)
        loss.gradient(y_true, y_pred)
        loss.value_and_gradient(y_true, y_pred)
        np.testing.assert_array_equal(y_true, keep[0])
        np.testing.assert_array_equal(y_pred, keep[1])


def _check_loss_large_inputs(cls: type) -> None:
    for loss in _loss_variants(cls):
        y_true, y_pred = _loss_batch(loss)
        if getattr(loss, "from_logits", True):
            y_pred = y_pred * 300.0  # unbounded predictions (logits, regression): try large ones
        with np.errstate(**STRICT):
            value, grad = loss.value_and_gradient(y_true, y_pred)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), f"{loss!r}: non-finite loss or gradient"


LOSS_CHECKS = {
    "registered": _check_registered,
    "config": _check_config,
    "gradients": _check_loss_gradients,
    "shapes_dtypes": _check_loss_shapes_dtypes,
    "empty_batch": _check_loss_empty_batch,
    "inputs_untouched": _check_loss_inputs_untouched,
    "large_inputs": _check_loss_large_inputs,
}


# --------------------------------------------------------------------------- optimizers
def _quadratic_grad(p: Parameter, scale: np.ndarray, target: np.ndarray) -> None:
    # f(p) = 0.5 * sum(scale * (p - target)**2), so df/dp = scale * (p - target)
    np.multiply(scale, p.value - target, out=p.grad)


def _check_optimizer_minimises(cls: type) -> None:
    for dtype in DTYPES:
        opt = cls.example()
        rng = np.random.default_rng(8)
        scale, target = rng.uniform(0.5, 2.0, 6), rng.uniform(-1, 1, 6)
        p = Parameter(rng.uniform(-2, 2, 6).astype(dtype))
        start = float(np.abs(p.value - target).max())
        for _ in range(5000):
            _quadratic_grad(p, scale, target)
            opt.step([p])
        assert p.value.dtype == dtype, f"the update changed the dtype to {p.value.dtype}"
        error = float(np.abs(p.value - target).max())
        assert error < 1e-2 * start, f"{opt!r} left |p - minimum| = {error:.3g} (from {start:.3g}) after 5000 steps"


def _check_optimizer_elementwise(cls: type) -> None:
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
        for p, g in zip(separate, grads):
            p.grad[...] = g
        flat.grad[...] = np.concatenate([g.ravel() for g in grads])
        a.step(separate)
        b.step([flat])
    joined = np.concatenate([p.value.ravel() for p in separate])
    _close(flat.value, joined, f"{cls.__qualname__} declares elementwise=True but a flat update differs", rtol=1e-12, atol=1e-15)


def _check_optimizer_grad_untouched(cls: type) -> None:
    opt = cls.example()
    p = Parameter(np.ones(4))
    p.grad[...] = np.arange(4.0)
    keep = p.grad.copy()
    opt.step([p])
    np.testing.assert_array_equal(p.grad, keep, err_msg="an optimizer must not modify the gradient")


def _check_optimizer_determinism(cls: type) -> None:
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
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b, err_msg="same start, same gradients, different parameters")


OPTIMIZER_CHECKS = {
    "registered": _check_registered,
    "config": _check_config,
    "minimises_quadratic": _check_optimizer_minimises,
    "elementwise_contract": _check_optimizer_elementwise,
    "grad_untouched": _check_optimizer_grad_untouched,
    "determinism": _check_optimizer_determinism,
}


# --------------------------------------------------------------------------- initializers
def _check_initializer_arrays(cls: type) -> None:
    init = cls.example()
    for dtype in DTYPES:
        for shape in ((3, 4), (4, 3), (5,), (0, 2)):
            a = init(shape, np.random.default_rng(0), dtype)
            b = init(shape, np.random.default_rng(0), dtype)
            assert a.shape == shape and a.dtype == dtype, f"{init!r}{shape} gave {a.shape} {a.dtype}"
            assert np.all(np.isfinite(a)), f"{init!r} gave non-finite values"
            np.testing.assert_array_equal(a, b, err_msg="same generator seed, different values")


def _check_initializer_own_generator(cls: type) -> None:
    """Randomness comes only from the generator passed in; each call returns a new array."""
    init = cls.example()
    before = np.random.get_state()[1].copy()
    a = init((4, 3), np.random.default_rng(0), np.float64)
    assert np.array_equal(np.random.get_state()[1], before), f"{init!r} drew from numpy's global random state"
    keep = a.copy()
    a[...] = 123.0  # a caller owns (and may train) what it got
    np.testing.assert_array_equal(init((4, 3), np.random.default_rng(0), np.float64), keep,
                                  err_msg="a second call returned an array shared with the first")


def _check_initializer_statistics(cls: type) -> None:
    """The declared mean and variance of the entries (``expected_moments``) hold for a large seeded draw."""
    init = cls.example()
    moments = getattr(init, "expected_moments", None)
    if moments is None:
        return
    for shape in ((200, 120), (120, 200)):
        mean, variance = moments(shape)
        w = init(shape, np.random.default_rng(14), np.float64)
        # 6 standard errors of the mean; a relative 6% (about 6 sigma for ~24000 normal draws) on the variance
        assert abs(w.mean() - mean) <= 6 * np.sqrt(variance / w.size) + 1e-12, (
            f"{init!r}{shape}: mean {w.mean():.4g}, declared {mean:.4g}"
        )
        assert abs(w.var() - variance) <= 0.06 * variance + 1e-12, (
            f"{init!r}{shape}: variance {w.var():.4g}, declared {variance:.4g}"
        )


INITIALIZER_CHECKS = {
    "registered": _check_registered,
    "config": _check_config,
    "arrays": _check_initializer_arrays,
    "own_generator": _check_initializer_own_generator,
    "statistics": _check_initializer_statistics,
}


# --------------------------------------------------------------------------- metrics
def _check_metric_values(cls: type) -> None:
    metric = cls.example()
    for batch in (1, 7):
        for dtype in DTYPES:
            y_true, y_pred = (_read_only(a) for a in metric.example_batch(np.random.default_rng(batch), batch, 3))
            keep = y_true.copy(), y_pred.copy()
            value = metric(y_true, y_pred.astype(dtype))
            assert isinstance(value, float) and np.isfinite(value), f"{metric!r}: value {value!r} is not a finite float"
            assert value == metric(y_true, y_pred.astype(dtype)), f"{metric!r}: two calls gave different values"
            np.testing.assert_array_equal(y_true, keep[0], err_msg=f"{metric!r} changed y_true")
            np.testing.assert_array_equal(y_pred, keep[1], err_msg=f"{metric!r} changed y_pred")


METRIC_CHECKS = {
    "registered": _check_registered,
    "config": _check_config,
    "values": _check_metric_values,
}


def _close(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


# --------------------------------------------------------------------------- public entry points
def _table(cls: type) -> dict[str, Callable[[type], None]]:
    for base, table in (
        (Activation, ACTIVATION_CHECKS),
        (Layer, LAYER_CHECKS),
        (Loss, LOSS_CHECKS),
        (Optimizer, OPTIMIZER_CHECKS),
        (Initializer, INITIALIZER_CHECKS),
        (Metric, METRIC_CHECKS),
    ):
        if isinstance(cls, type) and issubclass(cls, base):
            return table
    raise TypeError(f"{cls!r} is not a minidl component class (Layer, Activation, Loss, Optimizer, Initializer, Metric).")


def checks(cls: type) -> list[Check]:
    """The individual checks that apply to the component class ``cls``."""
    registry = _registry_for(cls)
    name = registry.name_of(cls, default=cls.__qualname__)
    return [Check(registry.kind, name, check_name, run, cls) for check_name, run in _table(cls).items()]


def check_component(cls: type) -> None:
    """Runs every check that applies to ``cls``; raises AssertionError on the first failure."""
    for check in checks(cls):
        try:
            check()
        except AssertionError as exc:
            raise AssertionError(f"[{check.id}] {exc}") from exc


def _typed(base: type, kind: str) -> Callable[[type | str], None]:
    def run(cls: type | str) -> None:
        if isinstance(cls, str):
            cls = _registry_named(kind).get_class(cls)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"expected a subclass of minidl.{base.__name__}; received {cls!r}")
        check_component(cls)

    run.__doc__ = (
        f"Runs every check for a {base.__name__} subclass (or its registered name); raises AssertionError on failure."
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


def parametrize_with_checks(components: Iterable[type]) -> Any:
    """A ``pytest.mark.parametrize("check", ...)`` over every check of every component class."""
    import pytest  # only needed by the test suites that call this

    all_checks = [c for cls in components for c in checks(cls)]
    return pytest.mark.parametrize("check", all_checks, ids=[c.id for c in all_checks])


def registered_components(registries: Iterable[Registry[Any]] | None = None) -> list[type]:
    """Every class registered (built-in, in-process or plugin), loading plugins as needed."""
    from .registry import iter_registries

    return [r.get_class(name) for r in (registries or iter_registries()) for name in r.names()]
