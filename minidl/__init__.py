"""minidl: a small, plugin-based deep-learning framework on numpy.

Build a model with :class:`Sequential` and the built-in components, or name any component
(built-in or from an installed plugin package) by its registry name.

Example:
    >>> import minidl
    >>> model = minidl.Sequential([minidl.Dense(2, 1, activation="sigmoid")], seed=0)
    >>> model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.1))
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import activations, callbacks, initializers, layers, losses, optimizers
from .activations import Activation, Identity, ReLU, Sigmoid, Tanh
from . import checkpoint, io
from .callbacks import Callback, History
from .checkpoint import ModelCheckpoint
from .errors import (
    ComponentTypeError,
    ConfigError,
    DataError,
    DivergenceError,
    FormatError,
    MinidlError,
    NotCompiledError,
    PluginError,
    ShapeError,
    UnknownComponentError,
)
from .initializers import Initializer
from .layers import Dense, Layer
from .losses import MSE, SSE, Loss
from .model import Sequential
from .optimizers import SGD, Optimizer
from .io import load
from .parameter import Parameter
from .registry import Registry

__all__ = [
    "__version__",
    # modules holding each registry
    "activations",
    "callbacks",
    "initializers",
    "layers",
    "losses",
    "optimizers",
    "io",
    "checkpoint",
    # interfaces
    "Layer",
    "Activation",
    "Loss",
    "Optimizer",
    "Initializer",
    "Parameter",
    "Registry",
    "Callback",
    # components
    "Dense",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Identity",
    "MSE",
    "SSE",
    "SGD",
    # model
    "Sequential",
    "History",
    # files and checkpoints
    "load",
    "ModelCheckpoint",
    # errors
    "MinidlError",
    "ShapeError",
    "DataError",
    "ConfigError",
    "ComponentTypeError",
    "UnknownComponentError",
    "NotCompiledError",
    "PluginError",
    "FormatError",
    "DivergenceError",
]
