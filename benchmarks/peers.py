"""PyTorch and scikit-learn versions of the workloads they can express. Each is optional: its
functions are None when the library is not installed."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .reference import LECTURE1_X, LECTURE1_Y, LECTURE2_X, LECTURE2_Y

__all__ = ["torch", "sklearn_mlp", "torch_available", "sklearn_available"]

try:
    import torch as _torch
except ImportError:  # optional peer
    _torch = None

try:
    from sklearn.neural_network import MLPClassifier as _MLPClassifier
except ImportError:  # optional peer
    _MLPClassifier = None

torch_available = _torch is not None
sklearn_available = _MLPClassifier is not None


def _torch_setup(dtype: Any) -> Any:
    _torch.set_num_threads(os.cpu_count() or 1)  # the same threads numpy's BLAS may use
    return {np.float32: _torch.float32, np.float64: _torch.float64}[dtype]


def _linear(w: np.ndarray, b: np.ndarray | None, dtype: Any) -> Any:
    layer = _torch.nn.Linear(w.shape[0], w.shape[1], bias=b is not None, dtype=dtype)
    with _torch.no_grad():
        layer.weight.copy_(_torch.from_numpy(np.ascontiguousarray(w.T)))  # torch stores (out, in)
        if b is not None:
            layer.bias.copy_(_torch.from_numpy(b))
    return layer


def _export(model: Any) -> list[np.ndarray]:
    out = []
    for layer in model:
        if isinstance(layer, _torch.nn.Linear):
            out.append(layer.weight.detach().numpy().T.copy())
            if layer.bias is not None:
                out.append(layer.bias.detach().numpy().copy())
    return out


def _load(model: Any, weights: list[np.ndarray]) -> None:
    params = [p for layer in model if isinstance(layer, _torch.nn.Linear) for p in (layer.weight, layer.bias) if p is not None]
    with _torch.no_grad():
        for p, w in zip(params, weights):
            p.copy_(_torch.from_numpy(np.ascontiguousarray(w.T if w.ndim == 2 else w)))


def _trainer(model: Any, weights: list[np.ndarray], batches: list[tuple[Any, Any]], epochs: int, lr: float, loss_fn: Any) -> Any:
    """A function that resets the weights, trains ``epochs`` passes and returns the weights."""
    opt = _torch.optim.SGD(model.parameters(), lr=lr)

    def run() -> list[np.ndarray]:
        _load(model, weights)
        for _ in range(epochs):
            for xb, yb in batches:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
        return _export(model)

    return run


def torch_lecture1(weights: list[np.ndarray], epochs: int) -> Any:
    dt = _torch_setup(np.float64)
    model = _torch.nn.Sequential(
        _linear(weights[0], weights[1], dt), _torch.nn.Sigmoid(), _linear(weights[2], weights[3], dt), _torch.nn.Sigmoid()
    )
    x = _torch.from_numpy(LECTURE1_X)
    y = _torch.from_numpy(LECTURE1_Y.reshape(-1, 1))
    rows = [(x[i : i + 1], y[i : i + 1]) for i in range(len(y))]
    return _trainer(model, weights, rows, epochs, 0.1, _torch.nn.MSELoss())


def torch_lecture2(weights: list[np.ndarray], iterations: int) -> Any:
    dt = _torch_setup(np.float64)
    model = _torch.nn.Sequential(
        _linear(weights[0], None, dt), _torch.nn.Sigmoid(), _linear(weights[1], None, dt), _torch.nn.Sigmoid()
    )
    batch = [(_torch.from_numpy(LECTURE2_X), _torch.from_numpy(LECTURE2_Y))]
    return _trainer(model, weights, batch, iterations, 1.0, lambda out, y: ((out - y) ** 2).sum())


def torch_mlp(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float) -> Any:
    dt = _torch_setup(x.dtype.type)
    layers: list[Any] = []
    pairs = list(zip(weights[0::2], weights[1::2]))
    for i, (w, b) in enumerate(pairs):
        layers.append(_linear(w, b, dt))
        if i < len(pairs) - 1:
            layers.append(_torch.nn.ReLU())
    model = _torch.nn.Sequential(*layers)
    xt, yt = _torch.from_numpy(x), _torch.from_numpy(labels.astype(np.int64))
    batches = [(xt[s : s + batch_size], yt[s : s + batch_size]) for s in range(0, len(x), batch_size)]
    return _trainer(model, weights, batches, epochs, lr, _torch.nn.CrossEntropyLoss())


def sklearn_mlp(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float) -> Any:
    """scikit-learn's MLPClassifier with plain SGD, no momentum, no L2, batches in order."""
    hidden = tuple(w.shape[1] for w in weights[0:-2:2])
    clf = _MLPClassifier(
        hidden_layer_sizes=hidden, activation="relu", solver="sgd", alpha=0.0, batch_size=batch_size,
        learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False, shuffle=False,
    )
    classes = np.arange(weights[-1].shape[0])
    clf.partial_fit(x[:batch_size], labels[:batch_size], classes=classes)  # allocates; weights are reset in run

    def run() -> list[np.ndarray]:
        clf.coefs_ = [w.copy() for w in weights[0::2]]
        clf.intercepts_ = [b.copy() for b in weights[1::2]]
        for _ in range(epochs):
            clf.partial_fit(x, labels)
        return [a for pair in zip(clf.coefs_, clf.intercepts_) for a in pair]

    return run


torch = {"lecture1": torch_lecture1, "lecture2": torch_lecture2, "mlp": torch_mlp} if torch_available else None
if not sklearn_available:
    sklearn_mlp = None  # type: ignore[assignment]
