"""Activations by name: the activation registry and the built-in activations.

They live in ``minidl.layers.activations`` (an activation is a layer); this module is their
public home, as ``minidl.activations.get("relu")`` and ``minidl.activations.register``.
"""

from __future__ import annotations

from .layers.activations import Activation, Identity, ReLU, Sigmoid, Softmax, Tanh, get, register, registry

__all__ = ["Activation", "Sigmoid", "Tanh", "ReLU", "Identity", "Softmax", "registry", "register", "get"]
