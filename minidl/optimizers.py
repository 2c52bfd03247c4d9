"""Optimizers: update parameters in place from their gradients.

An optimizer is a template method: ``Optimizer.step`` loops over parameters, creates each
one's state on first sight with ``Optimizer.init_state`` (state belongs to the optimizer,
keyed by the Parameter object) and applies ``Optimizer.update``. Optimizers never see layers.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from . import schedules
from ._checks import number
from ._component import Described
from .errors import ConfigError
from .parameter import Parameter
from .registry import Registry
from .schedules import Schedule

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "CLIPPING",
    "LearningRate",
    "axpy",
    "registry",
    "register",
    "get",
]


#: The clipping arguments every optimizer takes (base-class behaviour, plugins included).
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")

#: What ``learning_rate`` accepts: a number, a schedule, or a schedule's name or configuration.
LearningRate = float | Schedule | str | Mapping[str, Any]


class Optimizer(Described, ABC):
    """Base class of optimizers.

    ``elementwise = True`` (the default) declares that the update of each element depends only
    on that element's own value, gradient and state. A model may then hand the optimizer one
    Parameter spanning all of its parameters (a flat buffer), which gives the same result with
    one numpy call per step instead of one per array. Optimizers that look at whole arrays
    (norms, per-layer trust ratios) set it to False.

    Every optimizer, a plugin's included, takes ``clipnorm``, ``clipvalue`` and
    ``global_clipnorm`` (keyword arguments added to a subclass's constructor when it does not
    declare them) and a learning rate that may be a schedule; the base class applies both
    before the subclass's updates, so ``update`` always sees the clipped gradient in
    ``param.grad`` and the step's rate in ``self.learning_rate``.

    Args:
        learning_rate: a number (> 0), a ``minidl.schedules.Schedule``, or a schedule's
            name or configuration (``{"type": "cosine_decay", "decay_steps": 1000}``).
        clipnorm: clip each gradient array to this L2 norm: ``g * clipnorm / max(|g|, clipnorm)``.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm:
            ``g * c / max(sqrt(sum of |g|**2 over every array), c)``.

    At most one of the three clippings may be given (Keras applies only one).
    """

    elementwise: ClassVar[bool] = True

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        self.iterations = 0
        self._state: dict[Parameter, dict[str, Any]] = {}
        self._schedule: Schedule | None = None
        self._factor = 1.0  # what ReduceLROnPlateau multiplies a schedule by
        self._clipping: dict[str, float] = {}
        self._clipper: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None
        self.learning_rate = learning_rate
        self._set_clipping(clipnorm, clipvalue, global_clipnorm)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not _takes_clipping(init):
            cls.__init__ = _with_clipping(init)  # type: ignore[method-assign]  # the clipping arguments, added

    @classmethod
    def example(cls) -> Optimizer:
        """An instance for conformance tests (it must minimise a quadratic within 5000 steps)."""
        return cls()

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The rate of the next step (of the current one, inside ``update``).

        Set it to a number (> 0, replacing any schedule), a schedule, or a schedule's name or
        configuration. With a schedule it is ``schedule(iterations)`` times the factor
        ``scale_learning_rate`` keeps.
        """
        if self._schedule is None:
            return self._learning_rate
        return _scheduled(self._schedule, self._factor, self.iterations)

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if isinstance(value, str) and _is_number(value):  # "0.01" from a file or a command line
            raise ConfigError(
                f"learning_rate must be a number, a schedule, or a schedule's name; received the string "
                f"{value!r}: write it without quotes, learning_rate={value}."
            )
        if isinstance(value, (Schedule, str, Mapping, type)):
            schedule = schedules.get(value)
            rate = _scheduled(schedule, 1.0, self.iterations)  # a schedule failing now fails here
            self._schedule, self._factor, self._learning_rate = schedule, 1.0, rate
        else:
            self._learning_rate = number("learning_rate", value, low=0.0, low_open=True)
            self._schedule, self._factor = None, 1.0
        self._choose_step()

    @property
    def schedule(self) -> Schedule | None:
        """The learning-rate schedule, or None for a constant rate."""
        return self._schedule

    def scale_learning_rate(self, factor: float) -> None:
        """Multiplies the learning rate by ``factor``: a constant rate, or every later value of a schedule.

        ``ReduceLROnPlateau`` calls it for an optimizer with a schedule, so the schedule keeps
        its shape at a lower level; the factor is saved with the optimizer's state.

        Args:
            factor: the multiplier (> 0).
        """
        factor = number("factor", factor, low=0.0, low_open=True)
        if self._schedule is None:
            self.learning_rate = self._learning_rate * factor
        else:
            self._factor *= factor

    # ------------------------------------------------------------------ clipping
    @property
    def clipnorm(self) -> float | None:
        """The L2 norm each gradient array is clipped to, or None."""
        return self._clipping.get("clipnorm")

    @property
    def clipvalue(self) -> float | None:
        """The bound each gradient element is clipped to (both signs), or None."""
        return self._clipping.get("clipvalue")

    @property
    def global_clipnorm(self) -> float | None:
        """The L2 norm all gradients together are clipped to, or None."""
        return self._clipping.get("global_clipnorm")

    def _set_clipping(self, clipnorm: Any, clipvalue: Any, global_clipnorm: Any) -> None:
        given = {
            name: number(name, value, low=0.0, low_open=True)
            for name, value in zip(CLIPPING, (clipnorm, clipvalue, global_clipnorm), strict=True)
            if value is not None
        }
        if len(given) > 1:
            raise ConfigError(
                f"Pass at most one of clipnorm, clipvalue and global_clipnorm (Keras, too, applies only "
                f"one); received {', '.join(f'{k}={v:g}' for k, v in given.items())}."
            )
        self._clipping = given
        self._clipper = _clipper(given)
        self._choose_step()

    @property
    def updates_flat(self) -> bool:
        """True when stepping one Parameter spanning every parameter gives the same result as
        stepping each: an elementwise update, and no clipping array by array (``clipnorm``)."""
        return self.elementwise and self.clipnorm is None

    # ------------------------------------------------------------------ the step
    def step(self, parameters: Iterable[Parameter]) -> None:
        """Applies one update to every parameter from its current ``grad``.

        Args:
            parameters: the Parameters to update, in a stable order (their state is kept by object).
        """
        states, update = self._state, self.update
        for p in parameters:
            state = states.get(p)
            if state is None:
                state = states[p] = self.init_state(p)
            update(p, state)
        self.iterations += 1

    def _choose_step(self) -> None:
        # Decided when the rate or the clipping is set, never per step: without a schedule and
        # clipping, ``step`` is the class's own (nothing added to the hot path); otherwise the
        # instance's ``step`` is the extended one, which then runs the class's.
        if self._schedule is None and self._clipper is None:
            self.__dict__.pop("step", None)
        else:
            self.__dict__["step"] = self._extended_step

    def _extended_step(self, parameters: Iterable[Parameter]) -> None:
        params = list(parameters)
        if self._schedule is not None:
            self._learning_rate = _scheduled(self._schedule, self._factor, self.iterations)
        clip = self._clipper
        if clip is None:
            type(self).step(self, params)
            return
        # the update reads clipped copies; the gradients themselves are left as backward made them
        grads = [p.grad for p in params]
        for p, g in zip(params, clip(grads), strict=True):
            p.grad = g
        try:
            type(self).step(self, params)
        finally:
            for p, g in zip(params, grads, strict=True):
                p.grad = g

    def init_state(self, param: Parameter) -> dict[str, Any]:
        """The state a parameter starts with (e.g. zero moment buffers); none by default.

        Args:
            param: the parameter (its value gives the shape and dtype of the buffers).

        Returns:
            The state, by slot name.
        """
        return {}

    @abstractmethod
    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        """Updates ``param.value`` in place from ``param.grad`` and ``state``.

        Args:
            param: the parameter to update.
            state: its state (from ``init_state``), updated in place.
        """

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values (a schedule as its configuration)."""
        rate = self._learning_rate if self._schedule is None else schedules.registry.serialize(self._schedule)
        return {"learning_rate": rate, **self._clipping}

    # ------------------------------------------------------------------ state export/import
    # State is keyed by Parameter objects, which do not survive a save; these name it instead
    # by the parameter's position in the list the model hands to ``step`` ("<i>/<slot>").
    def get_state(self, parameters: Sequence[Parameter]) -> dict[str, Any]:
        """The state of ``parameters`` as named copies, in a stable order.

        Keys are ``"iterations"``, ``"learning_rate_factor"`` (only when
        ``scale_learning_rate`` scaled a schedule), then ``"<i>/<slot>"`` for the i-th
        parameter (in the order given) and each of its state slots (sorted); values are numpy
        arrays or Python numbers. A parameter never updated has no entries.

        Args:
            parameters: the parameters the optimizer is stepped with, in that order.

        Returns:
            The state by name.
        """
        state: dict[str, Any] = {"iterations": self.iterations}
        if self._factor != 1.0:
            state["learning_rate_factor"] = self._factor
        for i, p in enumerate(parameters):
            for slot, value in sorted(self._state.get(p, {}).items()):
                state[f"{i}/{slot}"] = value.copy() if isinstance(value, np.ndarray) else value
        return state

    def state_template(self, parameters: Sequence[Parameter]) -> dict[str, Any]:
        """What ``get_state`` would hold after one step: fresh ``init_state`` values by name.

        Args:
            parameters: the parameters the optimizer is stepped with, in that order.

        Returns:
            The slots' fresh values by name.
        """
        return {
            f"{i}/{slot}": value
            for i, p in enumerate(parameters)
            for slot, value in self.init_state(p).items()
        }

    def set_state(self, parameters: Sequence[Parameter], state: Mapping[str, Any]) -> None:
        """Replaces the state with ``get_state``'s output for the same parameters.

        Every name, shape, dtype and number type is checked against ``state_template``, and
        every number's range (integers, such as step counts, in ``[0, 2**63)``; reals finite),
        before anything changes, so a bad state raises ConfigError and leaves the optimizer as
        it was. A parameter is either fully present or absent (absent: fresh state next step).

        Args:
            parameters: the parameters the optimizer is stepped with, in the order of the save.
            state: the state by name.

        Raises:
            ConfigError: the state does not fit this optimizer and these parameters.
        """
        template = self.state_template(parameters)
        values = dict(state)
        iterations = _checked_number("iterations", values.pop("iterations", 0), 0)
        factor = _checked_number("learning_rate_factor", values.pop("learning_rate_factor", 1.0), 1.0)
        if factor <= 0.0 or (factor != 1.0 and self._schedule is None):
            raise ConfigError(
                f"Optimizer state 'learning_rate_factor' must be > 0 and scales a schedule; received "
                f"{factor!r} for {'a schedule' if self._schedule else 'a constant learning rate'}."
            )
        unknown = sorted(set(values) - set(template))
        if unknown:
            raise ConfigError(
                f"Unknown optimizer state entries {unknown} for {type(self).__name__}; expected some of "
                f"{sorted(template) or '(none)'}."
            )
        present = {name.split("/", 1)[0] for name in values}
        missing = sorted(n for n in template if n.split("/", 1)[0] in present and n not in values)
        if missing:
            raise ConfigError(f"Optimizer state is incomplete: missing {missing}.")
        restored: dict[Parameter, dict[str, Any]] = {}
        for name, value in values.items():
            index, slot = name.split("/", 1)
            restored.setdefault(parameters[int(index)], {})[slot] = _checked_slot(name, value, template[name])
        self.iterations = int(iterations)
        self._factor = factor
        self._state = restored


_BLOCK = 1 << 16  # elements per block of an in-place update (256 KiB in float32: stays in cache)


def _scheduled(schedule: Schedule, factor: float, step: int) -> float:
    """``factor * schedule(step)``, checked: a schedule giving a negative or non-finite rate is named."""
    rate = factor * schedule(step)
    if not 0.0 <= rate < math.inf:
        raise ConfigError(
            f"The learning-rate schedule {schedule!r} gave {rate!r} at step {step}; a rate must be "
            "a finite number >= 0."
        )
    return float(rate)


def _takes_clipping(init: Callable[..., None]) -> bool:
    params = inspect.signature(init).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True  # passes them on to the base class
    return all(name in params for name in CLIPPING)


def _with_clipping(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` taking ``clipnorm``, ``clipvalue`` and ``global_clipnorm`` too (set after it ran).

    So a plugin optimizer written before clipping existed, whose constructor names only its own
    arguments, gets clipping from the base class, in code, in configurations and in model files.
    """

    @functools.wraps(init)
    def __init__(
        self: Optimizer,
        *args: Any,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        **kwargs: Any,
    ) -> None:
        init(self, *args, **kwargs)
        self._set_clipping(clipnorm, clipvalue, global_clipnorm)

    signature = inspect.signature(init)
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in CLIPPING]
    __init__.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    return __init__


def _clipper(clipping: Mapping[str, float]) -> Callable[[list[np.ndarray]], list[np.ndarray]] | None:
    """The function that clips a step's gradients, chosen once (None: no clipping)."""
    # partials of module functions, not closures: an optimizer (and a model) must stay picklable
    if "clipvalue" in clipping:
        return functools.partial(_values_clipped, clipping["clipvalue"])
    if "clipnorm" in clipping:
        return functools.partial(_each_clipped, clipping["clipnorm"])
    if "global_clipnorm" in clipping:
        return functools.partial(_globally_clipped, clipping["global_clipnorm"])
    return None


def _values_clipped(bound: float, grads: list[np.ndarray]) -> list[np.ndarray]:
    return [np.clip(g, -bound, bound) for g in grads]


def _each_clipped(limit: float, grads: list[np.ndarray]) -> list[np.ndarray]:
    return [_scaled(g, limit, _norm(g)) for g in grads]


def _norm(g: np.ndarray) -> float:
    flat = g.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


def _scaled(g: np.ndarray, limit: float, norm: float) -> np.ndarray:
    # g * limit / max(norm, limit), Keras's formula; below the limit g itself, exactly
    return g * (limit / norm) if norm > limit else g


def _globally_clipped(limit: float, grads: list[np.ndarray]) -> list[np.ndarray]:
    norm = math.sqrt(sum(_norm(g) ** 2 for g in grads))
    return [_scaled(g, limit, norm) for g in grads]


def axpy(a: float, x: np.ndarray, y: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray | None:
    """``y += a * x`` in place, block by block through ``scratch``: no temporary the size of ``y``.

    On the 1.9 million float32 parameters of a 784-1024-1024-10 network this takes 0.59 ms
    instead of 1.06 ms for ``y += a * x`` (whose 7 MB temporary is allocated, faulted in and freed
    every step). It is numpy only on purpose: SciPy's BLAS axpy is faster alone, but it runs in
    SciPy's own OpenBLAS thread pool, whose spinning threads then made numpy's matrix products,
    and so a whole W4 step, 3x slower (0.33 s instead of 0.11 s an epoch, measured).
    Returns the scratch buffer to pass to the next call (made here when needed and missing).

    Args:
        a: the scalar factor.
        x: the array to add, of ``y``'s shape.
        y: the array updated in place.
        scratch: a float buffer to work through, block by block (None: one is made).
    """
    size = y.size
    if size <= _BLOCK or not (y.flags.c_contiguous and x.flags.c_contiguous):
        # small arrays: numpy recycles small temporaries, and two calls is the least there is
        y += a * x
        return scratch
    if scratch is None or scratch.dtype != y.dtype or scratch.size < _BLOCK:
        scratch = np.empty(_BLOCK, dtype=y.dtype)
    flat_y, flat_x = y.reshape(-1), x.reshape(-1)
    for start in range(0, size, _BLOCK):
        end = min(start + _BLOCK, size)
        out = scratch[: end - start]
        np.multiply(flat_x[start:end], a, out=out)
        np.add(flat_y[start:end], out, out=flat_y[start:end])
    return scratch


def _checked_slot(name: str, value: Any, expected: Any) -> Any:
    # A restored slot must look exactly like a fresh one: same array shape and dtype, or a
    # number of the same kind (bool, int or float) in a range the update can use.
    if isinstance(expected, np.ndarray):
        if (
            not isinstance(value, np.ndarray)
            or value.shape != expected.shape
            or value.dtype != expected.dtype
        ):
            got = (
                f"{value.dtype} array of shape {value.shape}"
                if isinstance(value, np.ndarray)
                else repr(value)
            )
            raise ConfigError(
                f"Optimizer state {name!r} must be a {expected.dtype} array of shape {expected.shape}; received {got}."
            )
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            raise ConfigError(f"Optimizer state {name!r} must hold finite numbers; it holds NaN or infinity.")
        return value.copy()
    return _checked_number(name, value, expected)


_MAX_COUNT = 2**63  # integer slots are counts (steps); past int64 numpy arithmetic on them overflows
# most specific first: a bool is an Integral, an Integral a Real
_NUMBER_KINDS: tuple[tuple[type[Any], str], ...] = (
    (bool, "a bool"),
    (numbers.Integral, "an integer"),
    (numbers.Real, "a real number"),
)


def _checked_number(name: str, value: Any, expected: Any) -> Any:
    for kind, label in _NUMBER_KINDS:
        if isinstance(expected, kind):
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ConfigError(
                    f"Optimizer state {name!r} must be {label} like {expected!r}; received {_shown(value)}."
                )
            if kind is numbers.Integral and not 0 <= value < _MAX_COUNT:
                raise ConfigError(
                    f"Optimizer state {name!r} is a count, so it must lie in [0, 2**63); received {_shown(value)}."
                )
            if kind is numbers.Real and not _finite(value):
                raise ConfigError(
                    f"Optimizer state {name!r} must be a finite number; received {_shown(value)}."
                )
            return type(expected)(value)
    raise ConfigError(
        f"Optimizer state {name!r} holds a {type(expected).__name__}, which cannot be restored."
    )


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float (10**400) is no usable real either
        return False


def _shown(value: Any) -> str:
    # A number read from a file may have thousands of digits (too many for int's str, even).
    if isinstance(value, numbers.Integral) and abs(int(value)) >= 2**64:
        return f"an integer of {int(value).bit_length()} bits"
    return repr(value)


# the base is abstract on purpose: a registry never instantiates it (mypy issue 4717)
registry: Registry[Optimizer] = Registry("optimizer", Optimizer)  # type: ignore[type-abstract]
register = registry.register
get = registry.get


@register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and weight decay.

    With ``g = grad + weight_decay * p`` and velocity ``v`` (zero at start):
    plain ``p -= lr * g``; momentum ``v = momentum * v - lr * g; p += v``;
    Nesterov ``p += momentum * v - lr * g`` (after updating ``v``), as in Keras.

    Args:
        learning_rate: the step size ``lr``, > 0.
        momentum: the momentum, in [0, 1); 0 is plain SGD.
        nesterov: use Nesterov momentum (needs ``momentum > 0``).
        weight_decay: the L2 factor added to the gradient, >= 0.

    Examples:
        >>> opt = SGD(learning_rate=0.1)
        >>> p = Parameter(np.array([1.0])); p.grad[:] = 2.0
        >>> opt.step([p]); p.value
        array([0.8])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        *,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.weight_decay = number("weight_decay", weight_decay, low=0.0)
        if not isinstance(nesterov, bool):
            raise ConfigError(f"nesterov must be True or False; received nesterov={nesterov!r}.")
        if nesterov and self.momentum == 0.0:
            raise ConfigError("nesterov=True needs a momentum > 0; received momentum=0.0.")
        self.nesterov = nesterov

    def init_state(self, param: Parameter) -> dict[str, Any]:
        return {"velocity": np.zeros_like(param.value)} if self.momentum else {}

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        p, g, lr = param.value, param.grad, self._learning_rate
        if self.weight_decay:
            g = g + self.weight_decay * p
        if not self.momentum and p.size <= _BLOCK:
            p -= lr * g  # the lecture-sized case, written out: a function call is 5% of its step
            return
        # the scratch buffer is working memory, not state: it is not saved with the optimizer
        scratch = self.__dict__.get("_scratch")
        if not self.momentum:
            self._scratch = axpy(-lr, g, p, scratch)
            return
        v = state["velocity"]
        v *= self.momentum
        scratch = axpy(-lr, g, v, scratch)
        if self.nesterov:
            scratch = axpy(self.momentum, v, p, scratch)
            scratch = axpy(-lr, g, p, scratch)
        else:
            scratch = axpy(1.0, v, p, scratch)
        self._scratch = scratch

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.momentum or self.weight_decay:
            config.update(momentum=self.momentum, nesterov=self.nesterov, weight_decay=self.weight_decay)
        return config


@register("adam")
class Adam(Optimizer):
    """Adam (Kingma and Ba): with ``t`` the step number of the parameter,

    ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g**2``,
    ``p -= learning_rate * m_hat / (sqrt(v_hat) + epsilon)``, where
    ``m_hat = m / (1 - beta_1**t)`` and ``v_hat = v / (1 - beta_2**t)``.

    Args:
        learning_rate: the step size, > 0.
        beta_1: the decay of the first moment ``m``, in [0, 1).
        beta_2: the decay of the second moment ``v``, in [0, 1).
        epsilon: added to ``sqrt(v_hat)``, > 0.
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        *,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = number("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = number("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = number("epsilon", epsilon, low=0.0, low_open=True)

    def init_state(self, param: Parameter) -> dict[str, Any]:
        return {"t": 0, "m": np.zeros_like(param.value), "v": np.zeros_like(param.value)}

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        g, m, v = param.grad, state["m"], state["v"]
        state["t"] = t = state["t"] + 1
        m *= self.beta_1
        m += (1.0 - self.beta_1) * g
        v *= self.beta_2
        v += (1.0 - self.beta_2) * (g * g)
        # fold both bias corrections into the step size and epsilon: one array expression less
        correction = np.sqrt(1.0 - self.beta_2**t)
        step = self._learning_rate * correction / (1.0 - self.beta_1**t)
        param.value -= step * m / (np.sqrt(v) + self.epsilon * correction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


@register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), PyTorch's and Keras's formula.

    Each step first shrinks the weights, ``p -= learning_rate * weight_decay * p``, then takes
    the ``Adam`` step from the gradient alone (the decay never enters the moments, unlike
    an L2 penalty added to the loss). With ``learning_rate`` a schedule, the decay follows it.

    Args:
        learning_rate: the step size (a number, a schedule, or a schedule's name or configuration).
        weight_decay: the decay rate (>= 0); Keras's default 0.004 (PyTorch's is 0.01).
        beta_1: the decay of the first moment, in [0, 1).
        beta_2: the decay of the second moment, in [0, 1).
        epsilon: added to ``sqrt(v_hat)`` (> 0); Keras's default (PyTorch's is 1e-8).

    Examples:
        >>> opt = AdamW(learning_rate=0.1, weight_decay=0.5)
        >>> p = Parameter(np.array([1.0])); p.grad[:] = 0.0
        >>> opt.step([p]); p.value
        array([0.95])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        *,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
        self.weight_decay = number("weight_decay", weight_decay, low=0.0)

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        if self.weight_decay:
            param.value *= 1.0 - self._learning_rate * self.weight_decay
        super().update(param, state)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
