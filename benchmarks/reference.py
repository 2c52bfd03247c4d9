"""Hand-written numpy implementations of every workload, written for speed: in-place updates,
no needless copies, the requested dtype throughout. They are what minidl is measured against."""

from __future__ import annotations

import numpy as np

__all__ = ["lecture1_scalar", "lecture1_matrix", "lecture2", "mlp_train", "LECTURE1_X", "LECTURE1_Y", "LECTURE2_X", "LECTURE2_Y"]

LECTURE1_X = np.array([[-2.0, -1.0], [25.0, 6.0], [17.0, 4.0], [-15.0, -6.0]])
LECTURE1_Y = np.array([1.0, 0.0, 0.0, 1.0])
LECTURE2_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
LECTURE2_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lecture1_scalar(params: list[float], epochs: int, lr: float = 0.1) -> list[float]:
    """Lecture 1 as the lecture writes it: nine named parameters, one neuron at a time.

    ``params`` is ``[w1, w2, w3, w4, w5, w6, b1, b2, b3]``; returns them after training.
    """
    w1, w2, w3, w4, w5, w6, b1, b2, b3 = params
    for _ in range(epochs):
        for x, y_true in zip(LECTURE1_X, LECTURE1_Y):
            sum_h1 = w1 * x[0] + w2 * x[1] + b1
            h1 = _sigmoid(sum_h1)
            sum_h2 = w3 * x[0] + w4 * x[1] + b2
            h2 = _sigmoid(sum_h2)
            sum_o1 = w5 * h1 + w6 * h2 + b3
            y_pred = _sigmoid(sum_o1)
            d_l_d_ypred = -2 * (y_true - y_pred)
            d_ypred = y_pred * (1 - y_pred)  # the sigmoid's derivative from its output
            d_h1 = h1 * (1 - h1)
            d_h2 = h2 * (1 - h2)
            g_h1 = d_l_d_ypred * d_ypred * w5
            g_h2 = d_l_d_ypred * d_ypred * w6
            w1 -= lr * g_h1 * d_h1 * x[0]
            w2 -= lr * g_h1 * d_h1 * x[1]
            b1 -= lr * g_h1 * d_h1
            w3 -= lr * g_h2 * d_h2 * x[0]
            w4 -= lr * g_h2 * d_h2 * x[1]
            b2 -= lr * g_h2 * d_h2
            w5 -= lr * d_l_d_ypred * d_ypred * h1
            w6 -= lr * d_l_d_ypred * d_ypred * h2
            b3 -= lr * d_l_d_ypred * d_ypred
    return [w1, w2, w3, w4, w5, w6, b1, b2, b3]


def lecture1_matrix(weights: list[np.ndarray], epochs: int, lr: float = 0.1) -> list[np.ndarray]:
    """Lecture 1 with weight matrices, one sample per update, updated in place."""
    w1, b1, w2, b2 = (w.copy() for w in weights)
    y = LECTURE1_Y.reshape(-1, 1)
    rows = [(LECTURE1_X[i : i + 1], y[i : i + 1]) for i in range(len(y))]
    for _ in range(epochs):
        for x, t in rows:
            h = _sigmoid(x @ w1 + b1)
            o = _sigmoid(h @ w2 + b2)
            g2 = 2.0 * (o - t) * o * (1.0 - o)
            g1 = (g2 @ w2.T) * h * (1.0 - h)
            w2 -= lr * (h.T @ g2)
            b2 -= lr * g2[0]
            w1 -= lr * (x.T @ g1)
            b1 -= lr * g1[0]
    return [w1, b1, w2, b2]


def lecture2(weights: list[np.ndarray], iterations: int, lr: float = 1.0) -> list[np.ndarray]:
    """Lecture 2: full-batch descent on the summed squared error, no biases."""
    w1, w2 = (w.copy() for w in weights)
    x, y = LECTURE2_X, LECTURE2_Y
    for _ in range(iterations):
        h = _sigmoid(x @ w1)
        o = _sigmoid(h @ w2)
        g2 = 2.0 * (o - y) * o * (1.0 - o)
        g1 = (g2 @ w2.T) * h * (1.0 - h)
        w2 -= lr * (h.T @ g2)
        w1 -= lr * (x.T @ g1)
    return [w1, w2]


def mlp_train(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float
) -> list[np.ndarray]:
    """A ReLU MLP with a linear last layer, softmax cross-entropy on integer labels, plain SGD.

    ``weights`` alternates W, b per layer and is updated in place (pass copies); batches are taken
    in data-set order. Each step computes the batch loss, as a framework's training loop does.
    """
    layers = list(zip(weights[0::2], weights[1::2]))
    last = len(layers) - 1
    n = len(x)
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            xb = x[start : start + batch_size]
            lb = labels[start : start + batch_size]
            rows = np.arange(len(xb))
            acts = [xb]
            h = xb
            for i, (w, b) in enumerate(layers):
                z = h @ w
                z += b
                if i < last:
                    np.maximum(z, 0, out=z)
                acts.append(z)
                h = z
            h -= h.max(axis=1, keepdims=True)
            np.exp(h, out=h)
            sums = h.sum(axis=1)
            _ = np.log(sums).sum() - np.log(h[rows, lb]).sum()  # the batch loss, as minidl reports it
            h /= sums[:, None]
            h[rows, lb] -= 1.0
            g = h
            g *= 1.0 / len(xb)
            for i in range(last, -1, -1):
                w, b = layers[i]
                dw = acts[i].T @ g
                db = g.sum(axis=0)
                if i > 0:
                    g = g @ w.T
                    g *= acts[i] > 0
                dw *= lr
                w -= dw
                db *= lr
                b -= db
    return weights
