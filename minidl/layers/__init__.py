"""Layers: the ``Layer`` interface, its registry and the built-in layers.

``base`` holds the interface and the registry, ``activations`` the parameter-free activation
layers (with their own registry), ``dense`` the fully connected layer and ``Input``, ``conv``
the convolutions, ``normalization`` batch and layer normalization, ``pooling`` the pooling
layers on ``(height, width, channels)`` images, ``reshaping`` ``Flatten`` and ``Reshape``,
``regularization`` ``Dropout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import activations
from .base import Layer, Shape, as_shape, expect_rank, register, registry
from .conv import Conv1D, Conv2D
from .dense import Dense, Input
from .normalization import BatchNormalization, LayerNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D
from .regularization import Dropout
from .reshaping import Flatten, Reshape

__all__ = [
    "Layer",
    "Shape",
    "Dense",
    "Input",
    "Conv1D",
    "Conv2D",
    "BatchNormalization",
    "LayerNormalization",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "as_shape",
    "expect_rank",
    "registry",
    "register",
    "get",
]


def get(identifier: Any, **kwargs: Any) -> Layer:
    """Resolves a layer name, class, instance or config dict; activation names work too.

    An activation may stand as a layer in a model, so a name that is not a layer is looked up
    among the activations before the error is raised.

    Args:
        identifier: a layer or activation name, a class, an instance (returned as it is) or a ``{"type":
            name, ...}`` table.
        **kwargs: constructor arguments for a name or a class.
    """
    name = identifier.get("type") if isinstance(identifier, Mapping) else identifier
    if isinstance(name, str) and name not in registry and name in activations.registry:
        return activations.get(identifier, **kwargs)
    return registry.get(identifier, **kwargs)
