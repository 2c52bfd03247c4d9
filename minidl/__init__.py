"""minidl: a small, plugin-based deep-learning framework on numpy.

Build a model with ``Sequential`` and the built-in components, or name any component
(built-in or from an installed plugin package) by its registry name.

Examples:
    >>> import minidl
    >>> model = minidl.Sequential([minidl.Dense(2, 1, activation="sigmoid")], seed=0)
    >>> model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.1))
"""

from __future__ import annotations

from . import (
    activations,
    callbacks,
    checkpoint,
    datasets,
    guard,
    initializers,
    io,
    layers,
    losses,
    metrics,
    optimizers,
    schedules,
    sweeps,
    testing,
    training,
    utils,
    validation,
)
from ._version import __version__
from .activations import Activation, Identity, ReLU, Sigmoid, Softmax, Tanh
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
)
from .checkpoint import BackupAndRestore, ModelCheckpoint
from .errors import (
    ComponentTypeError,
    ConfigError,
    DataError,
    DivergenceError,
    DuplicateNameError,
    FormatError,
    MinidlError,
    NotCompiledError,
    PluginError,
    ProtectedFileError,
    ShapeError,
    UnknownComponentError,
)
from .initializers import Initializer
from .layers import (
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    Layer,
    LayerNormalization,
    MaxPooling2D,
    Reshape,
)
from .losses import (
    MAE,
    MSE,
    SSE,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    HalfMSE,
    Loss,
    SparseCategoricalCrossentropy,
)
from .metrics import Metric
from .model import Sequential, load
from .optimizers import SGD, Adam, AdamW, Optimizer
from .parameter import Buffer, Parameter
from .registry import Registry
from .schedules import Schedule
from .sweeps import sweep

__all__ = [
    "__version__",
    # modules holding each registry
    "activations",
    "callbacks",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "schedules",
    "testing",
    "io",
    "checkpoint",
    "validation",
    "training",
    "guard",
    "sweeps",
    "utils",
    # interfaces
    "Layer",
    "Activation",
    "Loss",
    "Optimizer",
    "Initializer",
    "Parameter",
    "Buffer",
    "Registry",
    "Callback",
    "Metric",
    "Schedule",
    # components
    "Dense",
    "Conv2D",
    "Conv1D",
    "Input",
    "BatchNormalization",
    "LayerNormalization",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Identity",
    "Softmax",
    "MSE",
    "SSE",
    "HalfMSE",
    "MAE",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "SGD",
    "Adam",
    "AdamW",
    # model
    "Sequential",
    "History",
    "EarlyStopping",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
    # files and checkpoints
    "load",
    "ModelCheckpoint",
    "BackupAndRestore",
    # many fits
    "sweep",
    # errors
    "MinidlError",
    "ShapeError",
    "DataError",
    "ConfigError",
    "DuplicateNameError",
    "ComponentTypeError",
    "UnknownComponentError",
    "NotCompiledError",
    "PluginError",
    "FormatError",
    "ProtectedFileError",
    "DivergenceError",
]
