"""PyTorch (CPU) written idiomatically: nn.Sequential, a loss module, torch.optim.SGD.

Optional: the suite skips it when torch is not installed. It runs on as many threads as numpy's
BLAS, so both libraries get the same cores.
"""

from __future__ import annotations

import numpy as np

__all__ = ["available", "configure", "lecture", "mlp_classifier", "tiny_call"]

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


def mlp_classifier(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float):
    """ReLU MLP, linear last layer, nn.CrossEntropyLoss (mean), plain SGD, batches in order."""
    model = _dense_stack(weights, True, nn.ReLU, None)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))
    batches = [(xt[s : s + batch_size], yt[s : s + batch_size]) for s in range(0, len(x), batch_size)]
    loss_fn = nn.CrossEntropyLoss()

    def run() -> tuple[list[np.ndarray], float]:
        loss = _train(model, loss_fn, batches, epochs, lr)
        return _weights_of(model), loss

    return run


def tiny_call():
    """A callable doing one torch addition of two 2-element tensors (the cost of a call)."""
    a, b = torch.ones(2), torch.ones(2)
    return lambda: torch.add(a, b)
