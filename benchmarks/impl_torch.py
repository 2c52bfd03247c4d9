"""PyTorch (CPU) written idiomatically: nn.Sequential, a loss module, torch.optim.SGD.

Optional: the suite skips it when torch is not installed. It runs on as many threads as numpy's
BLAS, so both libraries get the same cores.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "available",
    "cnn_weights_from_torch",
    "cnn_weights_to_torch",
    "configure",
    "lecture",
    "mlp_classifier",
    "small_cnn",
    "tiny_call",
]

try:
    import torch
    from torch import nn
except ImportError:  # an optional peer
    torch = None  # type: ignore[assignment]


def available() -> bool:
    return torch is not None


def configure(threads: int | None) -> None:
    """Gives torch the same number of threads as numpy's BLAS."""
    if torch is not None and threads:
        torch.set_num_threads(threads)


def _dense_stack(weights: list[np.ndarray], biases: bool, hidden: type, last: type | None) -> nn.Sequential:
    ws = weights[0::2] if biases else weights
    bs = weights[1::2] if biases else [None] * len(ws)
    modules: list[nn.Module] = []
    for i, (w, b) in enumerate(zip(ws, bs)):
        linear = nn.Linear(w.shape[0], w.shape[1], bias=biases, dtype=torch.from_numpy(w).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            if biases:
                linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        activation = hidden if i < len(ws) - 1 else last
        if activation is not None:
            modules.append(activation())
    return nn.Sequential(*modules)


def _weights_of(model: nn.Sequential) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for module in model:
        if isinstance(module, nn.Linear):
            out.append(module.weight.detach().numpy().T.copy())
            if module.bias is not None:
                out.append(module.bias.detach().numpy().copy())
    return out


def _train(model, loss_fn, batches, epochs: int, lr: float) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    epoch_loss = 0.0
    for _ in range(epochs):
        total = 0.0
        for xb, yb in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item()
        epoch_loss = total / len(batches)
    return epoch_loss


def lecture(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, *, lecture: int):
    """Lecture 1 (per-sample, MSE, lr 0.1, biases) or lecture 2 (full batch, summed, lr 1, none)."""
    biases = lecture == 1
    model = _dense_stack(weights, biases, nn.Sigmoid, nn.Sigmoid)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if lecture == 1:
        batches = [(xt[i : i + 1], yt[i : i + 1]) for i in range(len(x))]
        loss_fn, lr = nn.MSELoss(), 0.1
    else:
        batches = [(xt, yt)]
        loss_fn, lr = nn.MSELoss(reduction="sum"), 1.0

    def run() -> list[np.ndarray]:
        _train(model, loss_fn, batches, epochs, lr)
        return _weights_of(model)

    return run


def mlp_classifier(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float
):
    """ReLU MLP, linear last layer, nn.CrossEntropyLoss (mean), plain SGD, batches in order."""
    model = _dense_stack(weights, True, nn.ReLU, None)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))
    batches = [(xt[s : s + batch_size], yt[s : s + batch_size]) for s in range(0, len(x), batch_size)]
    loss_fn = nn.CrossEntropyLoss()

    def run() -> tuple[list[np.ndarray], float]:
        loss = _train(model, loss_fn, batches, epochs, lr)
        return _weights_of(model), loss

    return run


def _cnn_module(dtype, features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(features, 10, dtype=dtype),
    )


def cnn_weights_to_torch(weights: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The shared W6 weights (Keras layout, channels-last) in PyTorch's layout (NCHW), converted explicitly.

    A kernel ``(kh, kw, in, out)`` becomes ``(out, in, kh, kw)``. The dense weight ``(features, 10)``,
    its rows in channels-last flattening order ``(h, w, c)``, becomes ``(10, features)`` with its
    columns in PyTorch's flattening order ``(c, h, w)``.
    """
    k1, b1, k2, b2, w, b = weights
    side, channels = size // 4, k2.shape[-1]
    dense = w.reshape(side, side, channels, -1).transpose(3, 2, 0, 1).reshape(w.shape[1], -1)
    arrays = (k1.transpose(3, 2, 0, 1), b1, k2.transpose(3, 2, 0, 1), b2, dense, b)
    return [np.ascontiguousarray(a) for a in arrays]


def cnn_weights_from_torch(arrays: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The inverse of :func:`cnn_weights_to_torch`."""
    k1, b1, k2, b2, dense, b = arrays
    side, channels = size // 4, k2.shape[0]
    w = dense.reshape(-1, channels, side, side).transpose(2, 3, 1, 0).reshape(-1, dense.shape[0])
    arrays = (k1.transpose(2, 3, 1, 0), b1, k2.transpose(2, 3, 1, 0), b2, w, b)
    return [np.ascontiguousarray(a) for a in arrays]


def small_cnn(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float
):
    """W6 in PyTorch: NCHW, its default CPU convolution and pooling kernels, CrossEntropyLoss, plain SGD.

    The images are converted to NCHW and the weights to PyTorch's layout here, before the timed run.
    """
    size = x.shape[1]
    dtype = torch.from_numpy(x[:1]).dtype
    model = _cnn_module(dtype, weights[4].shape[0])
    params = [model[0].weight, model[0].bias, model[3].weight, model[3].bias, model[7].weight, model[7].bias]
    with torch.no_grad():
        for param, array in zip(params, cnn_weights_to_torch(weights, size)):
            param.copy_(torch.from_numpy(array))
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(labels.astype(np.int64))
    batches = [(xt[s : s + batch_size], yt[s : s + batch_size]) for s in range(0, len(x), batch_size)]
    loss_fn = nn.CrossEntropyLoss()

    def run() -> tuple[list[np.ndarray], float]:
        loss = _train(model, loss_fn, batches, epochs, lr)
        arrays = [p.detach().numpy().copy() for p in params]
        return cnn_weights_from_torch(arrays, size), loss

    return run


def tiny_call():
    """A callable doing one torch addition of two 2-element tensors (the cost of a call)."""
    a, b = torch.ones(2), torch.ones(2)
    return lambda: torch.add(a, b)
