"""Layers: the ``Layer`` interface and the built-in ``Dense`` layer.

A layer maps a batch ``x`` of shape ``(batch, features)`` to an output batch. ``forward`` caches
what ``backward`` needs (the last call only); ``backward`` receives dL/doutput, writes the
gradients of the layer's parameters in place and returns dL/dinput.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._component import Described
from ._checks import positive_int
from .errors import ComponentTypeError, NotCompiledError, ShapeError, UnknownComponentError
from .parameter import Parameter
from .registry import Registry

__all__ = ["Layer", "Dense", "registry", "register", "get"]


class Layer(Described, ABC):
    """Base class of every layer.

    Subclasses implement :meth:`forward` and :meth:`backward`; a layer with parameters creates
    them in :meth:`build` and returns them from :meth:`parameters`. ``training`` is set by the
    model: True inside ``fit``, False otherwise (layers such as dropout read it).
    """

    training: bool = False
    #: Whether ``backward`` must return dL/dinput. The model sets it False on its first layer
    #: during ``fit`` (nothing needs the gradient of the data), and such a layer may return None.
    input_grad: bool = True
    #: Input width the layer requires, or None if it takes any width (Dense sets it).
    in_features: int | None = None

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name

    @classmethod
    def example(cls) -> Layer:
        """A small instance for conformance tests; layers whose constructor needs arguments override it."""
        return cls()

    def build(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """Creates the layer's parameters with ``rng`` and ``dtype``; a no-op by default."""

    @property
    def built(self) -> bool:
        """True once the layer can run (layers without parameters are always built)."""
        return True

    @abstractmethod
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Computes the output for the batch ``x`` and caches what ``backward`` needs."""

    @abstractmethod
    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Given dL/doutput of the last forward call, fills parameter gradients; returns dL/dinput."""

    def parameters(self) -> list[Parameter]:
        """The layer's trainable parameters, in a fixed order (none by default)."""
        return []

    def output_features(self, input_features: int | None) -> int | None:
        """Width of the output for an input of ``input_features`` (None: unknown).

        Raises ShapeError when the layer cannot take that width. Keeps the width by default.
        """
        return input_features

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain JSON values (``name`` excluded)."""
        return {}

    def describe(self) -> str:
        """A short description used in messages and summaries, e.g. ``Dense 2 -> 2``."""
        return type(self).__name__

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)



registry: Registry[Layer] = Registry("layer", Layer)
register = registry.register


def get(identifier: Any, **kwargs: Any) -> Layer:
    """Resolves a layer name, class, instance or config dict; activation names work too.

    An activation may stand as a layer in a model, so a name that is not a layer is looked up
    among the activations before the error is raised.
    """
    from . import activations

    name = identifier.get("type") if isinstance(identifier, Mapping) else identifier
    if isinstance(name, str) and name not in registry._classes:
        try:
            registry.get_class(name)
        except UnknownComponentError:
            if name in activations.registry:
                return activations.get(identifier, **kwargs)
            raise
    return registry.get(identifier, **kwargs)


@register("dense")
class Dense(Layer):
    """Fully connected layer: ``y = activation(x @ W + b)``.

    ``W`` has shape ``(in_features, out_features)`` and ``b`` shape ``(out_features,)``.
    Parameters are created by :meth:`build` (a ``Sequential`` model calls it).

    Example:
        >>> layer = Dense(2, 3, activation="tanh")
        >>> layer.build(np.random.default_rng(0), np.dtype("float64"))
        >>> layer.forward(np.ones((5, 2))).shape
        (5, 3)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        weight_init: Any = "glorot_uniform",
        bias_init: Any = "zeros",
        activation: Any = None,
        name: str | None = None,
    ) -> None:
        from . import activations, initializers

        super().__init__(name=name)
        self.in_features = positive_int("in_features", in_features)
        self.out_features = positive_int("out_features", out_features)
        if not isinstance(bias, bool):
            raise ComponentTypeError(f"bias must be True or False; received bias={bias!r}.")
        self.bias = bias
        self.weight_init = initializers.get(weight_init)
        self.bias_init = initializers.get(bias_init)
        self.activation = None if activation is None else activations.get(activation)
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        self._x: np.ndarray | None = None

    @classmethod
    def example(cls) -> Dense:
        return cls(3, 4, activation="tanh", bias_init="normal")

    def build(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        shape = (self.in_features, self.out_features)
        self.W = Parameter(self.weight_init(shape, rng, dtype), name="weight")
        if self.bias:
            self.b = Parameter(self.bias_init((self.out_features,), rng, dtype), name="bias")

    @property
    def built(self) -> bool:
        return self.W is not None

    def parameters(self) -> list[Parameter]:
        if self.W is None:
            return []
        return [self.W] if self.b is None else [self.W, self.b]

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.W is None:
            raise NotCompiledError(
                f"{self.describe()} has no weights yet: add it to a Sequential model, or call "
                "layer.build(numpy.random.default_rng(seed), numpy.dtype('float64')) first."
            )
        self._x = x
        # ndarray.dot rather than @ or np.dot in this layer: the same BLAS product, but on tiny
        # arrays 0.25 us less per call than @ and 0.12 us less than np.dot (which goes through
        # numpy's function dispatch); five calls make a lecture-1 step, which takes about 12 us
        z = x.dot(self.W.value)
        if self.b is not None:
            z += self.b.value
        return z if self.activation is None else self.activation.forward(z)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        g = grad_output if self.activation is None else self.activation.backward(grad_output)
        self._x.T.dot(g, out=self.W.grad)
        if self.b is not None:
            if len(g) == 1:  # one sample (per-sample SGD): the sum over the batch is that row,
                # copied in 0.15 us instead of reduced in 0.6 us; assigning the (1, n) row itself
                # (numpy drops the leading 1) saves making the view g[0]
                self.b.grad[...] = g
            else:
                # np.add.reduce, not np.sum: the wrapper of np.sum costs about 1 us a call, which
                # is a tenth of a whole lecture-1 step
                np.add.reduce(g, axis=0, out=self.b.grad)
        return g.dot(self.W.value.T) if self.input_grad else None

    def output_features(self, input_features: int | None) -> int | None:
        if input_features is not None and input_features != self.in_features:
            raise ShapeError(
                f"{self.describe()} expects {self.in_features} input features, "
                f"but receives {input_features}."
            )
        return self.out_features

    def get_config(self) -> dict[str, Any]:
        from . import activations, initializers

        config: dict[str, Any] = {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "weight_init": initializers.registry.serialize(self.weight_init),
            "bias_init": initializers.registry.serialize(self.bias_init),
        }
        if self.activation is not None:
            config["activation"] = activations.registry.serialize(self.activation)
        return config

    def describe(self) -> str:
        act = f", {type(self.activation).__name__}" if self.activation is not None else ""
        return f"Dense {self.in_features} -> {self.out_features}{act}"
