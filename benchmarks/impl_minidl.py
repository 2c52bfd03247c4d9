"""minidl as a user writes it: the bundled lecture configurations, and Sequential for the MLPs."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

import minidl
from minidl import config

__all__ = ["cnn_missing", "lecture", "mlp_classifier", "small_cnn", "small_cnn_model"]

CNN_LAYERS = ("Conv2D", "MaxPooling2D", "Flatten")


def lecture(name: str, weights: list[np.ndarray], epochs: int, *, guard: bool = True):
    """Prepares the bundled configuration ``name`` ("lecture1"/"lecture2") from ``weights``.

    ``guard=False`` trains with ``on_nonfinite="ignore"``, to measure what the per-step
    non-finite check costs.
    """
    cfg = config.load(name)
    model = cfg.build(seed=0)
    model.set_weights(weights)
    x, y = cfg.arrays()
    fit = {**cfg.fit, "verbose": 0, "epochs": epochs, "on_nonfinite": "raise" if guard else "ignore"}

    def run() -> list[np.ndarray]:
        model.fit(x, y, **fit)
        return model.get_weights()

    return run


def mlp_classifier(
    weights: list[np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    *,
    guard: bool = True,
):
    """A ReLU MLP with a linear last layer and a from-logits sparse cross-entropy, plain SGD.

    ``guard=False`` trains with ``on_nonfinite="ignore"`` (no per-step non-finite check).
    """
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights[0::2]]
    layers = [
        minidl.Dense(n_in, n_out, activation="relu" if i < len(sizes) - 2 else None)
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes))
    ]
    model = minidl.Sequential(layers, seed=0, dtype=str(x.dtype))
    model.compile(
        loss=minidl.losses.get("sparse_categorical_crossentropy", from_logits=True),
        optimizer=minidl.optimizers.get("sgd", learning_rate=lr),
    )
    model.set_weights(weights)

    def run() -> tuple[list[np.ndarray], float]:
        history = model.fit(
            x,
            labels,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=False,
            verbose=0,
            on_nonfinite="raise" if guard else "ignore",
        )
        return model.get_weights(), history.history["loss"][-1]

    return run


def cnn_missing() -> list[str]:
    """The layers W6 needs that this minidl lacks (empty when it can run W6)."""
    return [name for name in CNN_LAYERS if not hasattr(minidl, name)]


def small_cnn_model(weights: list[np.ndarray], size: int, dtype: str, lr: float):
    """W6's network as a user writes it, compiled, with the shared weights set (Keras layout)."""
    model = minidl.Sequential(
        [
            minidl.Conv2D(16, 3, padding="same", activation="relu"),
            minidl.MaxPooling2D(2),
            minidl.Conv2D(32, 3, padding="same", activation="relu"),
            minidl.MaxPooling2D(2),
            minidl.Flatten(),
            minidl.Dense(10),
        ],
        input_shape=(size, size, 1),
        seed=0,
        dtype=dtype,
    )
    model.compile(
        loss=minidl.losses.get("sparse_categorical_crossentropy", from_logits=True),
        optimizer=minidl.optimizers.get("sgd", learning_rate=lr),
    )
    model.set_weights(weights)
    return model


def small_cnn(
    weights: list[np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    *,
    instrument: Callable[[Any], None] | None = None,
):
    """W6: prepares the model (untimed); the returned run trains it with ``fit`` and returns its weights.

    ``instrument(model)``, when given, is called on the compiled model before the run (the profiler).
    """
    model = small_cnn_model(weights, x.shape[1], str(x.dtype), lr)
    if instrument is not None:
        instrument(model)

    def run() -> tuple[list[np.ndarray], float]:
        history = model.fit(x, labels, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
        return model.get_weights(), history.history["loss"][-1]

    return run
