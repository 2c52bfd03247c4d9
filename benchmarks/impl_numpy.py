"""Hand-written numpy references, written for speed: the yardstick minidl is measured against.

Each function trains from copies of the given weights and returns the final weights in the
suite's layout. They use in-place updates, views instead of copies, float32 throughout when
given float32 data, and skip work a careful hand-written loop would skip (the gradient of the
input data). Like minidl's ``fit``, the classifier loop computes every batch's loss and the
epoch's mean loss, as any training loop that reports its progress does.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = [
    "lecture1_as_published", "lecture1_scalar", "lecture1_matrices", "lecture2_as_published", "lecture2",
    "mlp_classifier",
]


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _sigmoid_slope_of_input(v):
    # the lecture's derivative helper: it takes the weighted input and evaluates the sigmoid again
    s = _sigmoid(v)
    return s * (1.0 - s)


class _Lecture1Network:
    """The lecture's network object: the nine parameters are attributes, read and written as such."""

    def __init__(self, weights: list[np.ndarray]) -> None:
        (self.w1, self.w3), (self.w2, self.w4) = weights[0].tolist()
        self.b1, self.b2 = weights[1].tolist()
        (self.w5,), (self.w6,) = weights[2].tolist()
        (self.b3,) = weights[3].tolist()

    def train(self, x: np.ndarray, y: np.ndarray, epochs: int, lr: float) -> list[float]:
        losses = []
        for epoch in range(epochs):
            for row, target in zip(x, y[:, 0]):
                self._step(row, target, lr)
            if epoch % 10 == 0:  # the lecture's progress report, printing left out
                predictions = np.apply_along_axis(self.predict, 1, x)
                losses.append(float(((y[:, 0] - predictions) ** 2).mean()))
        return losses

    def predict(self, row: np.ndarray) -> float:
        h1 = _sigmoid(self.w1 * row[0] + self.w2 * row[1] + self.b1)
        h2 = _sigmoid(self.w3 * row[0] + self.w4 * row[1] + self.b2)
        return _sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)

    def _step(self, row: np.ndarray, target: float, lr: float) -> None:
        z1 = self.w1 * row[0] + self.w2 * row[1] + self.b1
        z2 = self.w3 * row[0] + self.w4 * row[1] + self.b2
        h1, h2 = _sigmoid(z1), _sigmoid(z2)
        z3 = self.w5 * h1 + self.w6 * h2 + self.b3
        dl_dout = -2.0 * (target - _sigmoid(z3))
        # the output neuron's partials, each with a fresh slope
        dout_dw5, dout_dw6 = h1 * _sigmoid_slope_of_input(z3), h2 * _sigmoid_slope_of_input(z3)
        dout_db3 = _sigmoid_slope_of_input(z3)
        dout_dh1, dout_dh2 = self.w5 * _sigmoid_slope_of_input(z3), self.w6 * _sigmoid_slope_of_input(z3)
        # the hidden neurons' partials
        dh1_dw1, dh1_dw2 = row[0] * _sigmoid_slope_of_input(z1), row[1] * _sigmoid_slope_of_input(z1)
        dh1_db1 = _sigmoid_slope_of_input(z1)
        dh2_dw3, dh2_dw4 = row[0] * _sigmoid_slope_of_input(z2), row[1] * _sigmoid_slope_of_input(z2)
        dh2_db2 = _sigmoid_slope_of_input(z2)
        # every partial above used the old weights; now the nine updates
        self.w1 -= lr * dl_dout * dout_dh1 * dh1_dw1
        self.w2 -= lr * dl_dout * dout_dh1 * dh1_dw2
        self.b1 -= lr * dl_dout * dout_dh1 * dh1_db1
        self.w3 -= lr * dl_dout * dout_dh2 * dh2_dw3
        self.w4 -= lr * dl_dout * dout_dh2 * dh2_dw4
        self.b2 -= lr * dl_dout * dout_dh2 * dh2_db2
        self.w5 -= lr * dl_dout * dout_dw5
        self.w6 -= lr * dl_dout * dout_dw6
        self.b3 -= lr * dl_dout * dout_db3

    def weights(self) -> list[np.ndarray]:
        return [np.array([[self.w1, self.w3], [self.w2, self.w4]]), np.array([self.b1, self.b2]),
                np.array([[self.w5], [self.w6]]), np.array([self.b3])]


def lecture1_as_published(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 0.1):
    """Lecture 1 with the cost structure of the lecture's published code: the yardstick of issue 6.

    A network object whose nine parameters are attributes, one method call per step, numpy rows;
    every partial derivative is its own product and every use of a sigmoid's slope calls the
    derivative helper on the weighted input, which runs ``np.exp`` again (14 exponentials a step
    where :func:`lecture1_scalar` needs 3). Every 10 epochs, as the lecture does, it feeds the
    whole data set forward (``np.apply_along_axis``) for the MSE it reports; minidl's ``fit``
    reports a loss every epoch. Same arithmetic, same updates; only the work differs.
    """
    network = _Lecture1Network(weights)
    network.train(x, y, epochs, lr)
    return network.weights()

def lecture1_scalar(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 0.1):
    """Lecture 1 in the lecture's own style: nine named scalars, one neuron at a time.

    The rows stay numpy arrays and the sigmoid is ``1 / (1 + np.exp(-v))``, as in the lecture;
    each sigmoid's derivative is taken once, from its output. The array references use np.dot,
    as the lectures do (it is also a little faster than ``@`` on tiny arrays).
    """
    (w1, w3), (w2, w4) = weights[0].tolist()
    b1, b2 = weights[1].tolist()
    (w5,), (w6,) = weights[2].tolist()
    (b3,) = weights[3].tolist()
    targets = y[:, 0]
    total = 0.0
    for _ in range(epochs):
        for row, target in zip(x, targets):
            x0, x1 = row[0], row[1]
            h1 = 1.0 / (1.0 + np.exp(-(w1 * x0 + w2 * x1 + b1)))
            h2 = 1.0 / (1.0 + np.exp(-(w3 * x0 + w4 * x1 + b2)))
            o1 = 1.0 / (1.0 + np.exp(-(w5 * h1 + w6 * h2 + b3)))
            total += (target - o1) ** 2
            d_o = -2.0 * (target - o1) * o1 * (1.0 - o1)  # dL/d(sum_o1)
            d_h1 = d_o * w5 * h1 * (1.0 - h1)  # dL/d(sum_h1), with w5 before its update
            d_h2 = d_o * w6 * h2 * (1.0 - h2)
            w5 -= lr * d_o * h1
            w6 -= lr * d_o * h2
            b3 -= lr * d_o
            w1 -= lr * d_h1 * x0
            w2 -= lr * d_h1 * x1
            b1 -= lr * d_h1
            w3 -= lr * d_h2 * x0
            w4 -= lr * d_h2 * x1
            b2 -= lr * d_h2
    return [np.array([[w1, w3], [w2, w4]]), np.array([b1, b2]), np.array([[w5], [w6]]), np.array([b3])]


def lecture1_matrices(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 0.1):
    """Lecture 1 with weight matrices: one sample (a vector) per step, updates in place."""
    w1, b1, w2, b2 = (w.copy() for w in weights)
    rows = list(zip(x, y))  # views of the data, made once
    for _ in range(epochs):
        for row, target in rows:
            h = expit(np.dot(row, w1) + b1)
            o = expit(np.dot(h, w2) + b2)
            d_o = 2.0 * (o - target) * o * (1.0 - o)  # dL/d(sum_o) with L = (o - y)^2
            d_h = np.dot(w2, d_o) * h * (1.0 - h)  # before w2 changes
            w2 -= lr * h[:, None] * d_o
            b2 -= lr * d_o
            w1 -= lr * row[:, None] * d_h
            b1 -= lr * d_h
    return [w1, b1, w2, b2]


def lecture2_as_published(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, iterations: int):
    """Lecture 2 with the cost structure of the lecture's published code: the yardstick of issue 6.

    The sigmoid is ``1 / (1 + np.exp(-v))``, its slope is taken from its output, the output
    error term ``2 (y - out) out (1 - out)`` is formed once for each weight matrix's gradient,
    transposes are taken on the fly, and the steps are added to the weights as they are (the
    lecture's learning rate is 1).
    """
    w1, w2 = (w.copy() for w in weights)
    for _ in range(iterations):
        hidden = _sigmoid(np.dot(x, w1))
        out = _sigmoid(np.dot(hidden, w2))
        step2 = np.dot(hidden.T, 2 * (y - out) * (out * (1.0 - out)))
        step1 = np.dot(x.T, np.dot(2 * (y - out) * (out * (1.0 - out)), w2.T) * (hidden * (1.0 - hidden)))
        w1 += step1
        w2 += step2
    return [w1, w2]


def lecture2(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, iterations: int, lr: float = 1.0):
    """Lecture 2: full-batch gradient descent on the summed squared error, no biases."""
    w1, w2 = (w.copy() for w in weights)
    xt = x.T.copy()
    for _ in range(iterations):
        h = expit(np.dot(x, w1))
        out = expit(np.dot(h, w2))
        d_out = 2.0 * (out - y) * out * (1.0 - out)
        d_h = np.dot(d_out, w2.T) * h * (1.0 - h)
        w2 -= lr * np.dot(h.T, d_out)
        w1 -= lr * np.dot(xt, d_h)
    return [w1, w2]


def mlp_classifier(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float
) -> tuple[list[np.ndarray], float]:
    """A ReLU MLP with a softmax cross-entropy (mean over the batch) trained by plain SGD.

    Batches are visited in data-set order. Returns the final weights and the last epoch's mean
    batch loss.
    """
    ws = [w.copy() for w in weights[0::2]]
    bs = [b.copy() for b in weights[1::2]]
    last = len(ws) - 1
    batches = [
        (x[s : s + batch_size], labels[s : s + batch_size], np.arange(min(batch_size, len(x) - s)))
        for s in range(0, len(x), batch_size)
    ]
    epoch_loss = 0.0
    for _ in range(epochs):
        total = 0.0
        for xb, yb, rows in batches:
            acts = [xb]
            h = xb
            for i, (w, b) in enumerate(zip(ws, bs)):
                h = np.dot(h, w)
                h += b
                if i < last:
                    np.maximum(h, 0, out=h)
                acts.append(h)
            # softmax cross-entropy on the logits, in place: h becomes dL/dlogits
            h -= h.max(axis=1, keepdims=True)
            picked = h[rows, yb]
            np.exp(h, out=h)
            sums = np.add.reduce(h, axis=1)
            total += float(np.add.reduce(np.log(sums) - picked)) / len(xb)
            h /= sums[:, None]
            h[rows, yb] -= 1.0
            h *= 1.0 / len(xb)
            g = h
            for i in range(last, -1, -1):
                grad_w = np.dot(acts[i].T, g)
                grad_b = np.add.reduce(g, axis=0)
                if i:  # the data needs no gradient
                    g_prev = np.dot(g, ws[i].T)
                    g_prev *= acts[i] > 0  # ReLU's slope, read from its output
                grad_w *= lr
                ws[i] -= grad_w
                grad_b *= lr
                bs[i] -= grad_b
                if i:
                    g = g_prev
        epoch_loss = total / len(batches)
    return [a for pair in zip(ws, bs) for a in pair], epoch_loss
