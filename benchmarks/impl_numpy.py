"""Hand-written numpy references, written for speed: the yardstick minidl is measured against.

Each function trains from copies of the given weights and returns the final weights in the
suite's layout. They use in-place updates, views instead of copies, float32 throughout when
given float32 data, and skip work a careful hand-written loop would skip (the gradient of the
input data). Like minidl's ``fit``, the classifier loop computes every batch's loss and the
epoch's mean loss, as any training loop that reports its progress does.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.special import expit

__all__ = [
    "lecture1_as_published",
    "lecture1_scalar",
    "lecture1_matrices",
    "lecture2_as_published",
    "lecture2",
    "mlp_classifier",
    "SmallCnn",
    "small_cnn",
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
        return [
            np.array([[self.w1, self.w3], [self.w2, self.w4]]),
            np.array([self.b1, self.b2]),
            np.array([[self.w5], [self.w6]]),
            np.array([self.b3]),
        ]


def lecture1_as_published(
    weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 0.1
):
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


# ---------------------------------------------------------------------------------------------
# W6: the small CNN, channels-last, written for speed (the measurements behind each choice are in
# docs/benchmarks.md). Two ideas carry most of it:
#
# - Pool-major rows. A convolution followed by a 2x2 max pool computes its output rows grouped by
#   their place in the pooling window: four contiguous blocks (window offset (0, 0), (0, 1),
#   (1, 0), (1, 1)), each (n, h/2, w/2, channels). Pooling, its masks and its backward are then
#   elementwise operations on contiguous blocks instead of strided ones (numpy pays per inner
#   loop, and channels-last strided pooling has inner loops of one pixel's 16 or 32 channels).
# - Every buffer a step needs is allocated once and reused (a fresh multi-megabyte array costs its
#   page faults on every step); a shorter last batch uses the leading part of each.


class _Workspace:
    """Named flat buffers, grown when needed; ``get`` returns a C-contiguous view of the asked shape."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type | None = None) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = self.buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[name] = np.empty(size, dtype or self.dtype)
        return buffer[:size].reshape(shape)


def _pool_major_windows(padded: np.ndarray) -> np.ndarray:
    """(n, h + 2, w + 2, c) -> the read-only view (2, 2, n, h/2, w/2, 3, 3, c) of its 3x3 windows.

    Axis 0 and 1 are the window's place (p, q) in its 2x2 pooling window, so the output pixel
    (2 * ph + p, 2 * pw + q) reads the window at [p, q, :, ph, pw].
    """
    n, hp, wp, c = padded.shape
    s0, s1, s2, s3 = padded.strides
    shape = (2, 2, n, (hp - 2) // 2, (wp - 2) // 2, 3, 3, c)
    return as_strided(padded, shape, (s1, s2, s0, 2 * s1, 2 * s2, s1, s2, s3), writeable=False)


def _windows3x3(padded: np.ndarray) -> np.ndarray:
    # (n, h + 2, w + 2, c) -> the read-only view (n, h, w, 3, 3, c) of every 3x3 window
    n, hp, wp, c = padded.shape
    s = padded.strides
    shape = (n, hp - 2, wp - 2, 3, 3, c)
    return as_strided(padded, shape, (s[0], s[1], s[2], s[1], s[2], s[3]), writeable=False)


#: rows of the window matrix per product in the kernel gradient, the products then summed: one
#: product over all 12544 rows of conv 2 (144 x 12544 by 12544 x 32) took 6.5 ms on 2 threads and
#: 9-11 ms on one; products of 784 rows took 2.7 ms and 6.4 ms (the block of the window matrix
#: stays in the cache)
KERNEL_GRAD_ROWS = 784
#: samples per chunk of the input gradient's window matrix (8 x 14 x 14 x 288 floats: 1.8 MB)
GRADIENT_WINDOW_SAMPLES = 8


class _Conv3x3:
    """A 3x3 'same' convolution without its bias (added after pooling, see _PoolBiasReLU).

    im2col, pool-major: the padded input's windows are copied into one matrix, its rows in
    pool-major order, and one matrix product with the kernel gives the output as four
    contiguous blocks (2, 2, n, h/2, w/2, out). With one input channel the matrix is kept
    transposed, (9, rows): its copy then moves runs of pixels instead of runs of 3 values. The
    window matrix is kept for the kernel's gradient (products over blocks of rows, summed).
    The input gradient (not needed for the first layer) is the 'full' convolution of the output
    gradient with the flipped kernel: the gradient is placed into a zero-bordered image, its
    windows copied, and one product gives dL/dinput directly, channels-last, with no col2im.
    """

    def __init__(self, kernel: np.ndarray, batch: int, size: int, input_gradient: bool) -> None:
        self.kernel = kernel.copy()
        self.grad = np.empty_like(self.kernel)
        self.c_in, self.c_out = kernel.shape[2:]
        self.size, self.input_gradient = size, input_gradient
        dtype = kernel.dtype
        self.work = _Workspace(dtype)
        self.padded = np.zeros((batch, size + 2, size + 2, self.c_in), dtype)  # the border stays zero
        if input_gradient:
            self.grad_padded = np.zeros((batch, size + 2, size + 2, self.c_out), dtype)
        self._partial = np.empty((9 * self.c_in, self.c_out), dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, size, c_in, c_out = len(x), self.size, self.c_in, self.c_out
        half = size // 2
        rows = n * size * size
        padded = self.padded[:n]
        padded[:, 1:-1, 1:-1, :] = x
        windows = _pool_major_windows(padded)
        kernel = self.kernel.reshape(-1, c_out)
        out = self.work.get("out", (2, 2, n, half, half, c_out))
        if c_in == 1:
            columns = self.work.get("columns", (3, 3, 2, 2, n, half, half))
            np.copyto(columns, windows[..., 0].transpose(5, 6, 0, 1, 2, 3, 4))
            self._columns_t = columns.reshape(9, rows)
            np.matmul(self._columns_t.T, kernel, out=out.reshape(rows, c_out))
        else:
            columns = self.work.get("columns", (2, 2, n, half, half, 3, 3, c_in))
            block = rows // 4
            flat_columns, flat_out = columns.reshape(4, block, 9 * c_in), out.reshape(4, block, c_out)
            for k in range(4):  # each block's product right after its copy, while it is in the cache
                np.copyto(columns[k // 2, k % 2], windows[k // 2, k % 2])
                np.matmul(flat_columns[k], kernel, out=flat_out[k])
            self._columns_t = columns.reshape(rows, 9 * c_in).T
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        # grad_out: (2, 2, n, h/2, w/2, out), pool-major, as forward returned
        n, size, c_in, c_out = grad_out.shape[2], self.size, self.c_in, self.c_out
        rows = n * size * size
        g = grad_out.reshape(rows, c_out)
        columns_t = self._columns_t
        kernel_grad = self.grad.reshape(-1, c_out)
        np.matmul(columns_t[:, :KERNEL_GRAD_ROWS], g[:KERNEL_GRAD_ROWS], out=kernel_grad)
        for start in range(KERNEL_GRAD_ROWS, rows, KERNEL_GRAD_ROWS):
            stop = start + KERNEL_GRAD_ROWS
            np.matmul(columns_t[:, start:stop], g[start:stop], out=self._partial)
            kernel_grad += self._partial
        if not self.input_gradient:
            return None
        grad_padded = self.grad_padded[:n]  # border zero; the interior is written whole below
        for p in range(2):
            for q in range(2):
                grad_padded[:, 1 + p : size + 1 : 2, 1 + q : size + 1 : 2, :] = grad_out[p, q]
        flipped = self.work.get("flipped", (3, 3, c_out, c_in))
        np.copyto(flipped, self.kernel[::-1, ::-1].transpose(0, 1, 3, 2))
        flipped_matrix = flipped.reshape(-1, c_in)
        grad_in = self.work.get("grad_in", (n, size, size, c_in))
        # in chunks of samples whose window matrix (about 1.8 MB) stays in the cache for its product
        step = GRADIENT_WINDOW_SAMPLES
        columns = self.work.get("grad_columns", (step, size, size, 3, 3, c_out))
        for start in range(0, n, step):
            stop = min(start + step, n)
            part = columns[: stop - start]
            np.copyto(part, _windows3x3(grad_padded[start:stop]))
            chunk_rows = (stop - start) * size * size
            np.matmul(
                part.reshape(chunk_rows, 9 * c_out),
                flipped_matrix,
                out=grad_in[start:stop].reshape(chunk_rows, c_in),
            )
        return grad_in


class _PoolBiasReLU:
    """2x2 max pooling of a convolution's pool-major output, then its bias and ReLU, on the pooled map.

    The same as the bias and ReLU before pooling (a per-channel constant and a monotone function
    commute with the max), on a quarter of the values. Backward sends each pooled gradient to the
    first maximum of its window (row by row, as PyTorch does), so ties are settled alike.
    """

    def __init__(self, bias: np.ndarray) -> None:
        self.bias = bias.copy()
        self.grad = np.empty_like(self.bias)
        self.work = _Workspace(bias.dtype)

    def forward(self, z: np.ndarray) -> np.ndarray:
        # z: (2, 2, n, h, w, c) pool-major -> (n, h, w, c)
        blocks = z.reshape(4, *z.shape[2:])
        m = self.work.get("max", blocks.shape[1:])
        np.maximum(blocks[0], blocks[1], out=m)
        np.maximum(m, blocks[2], out=m)
        np.maximum(m, blocks[3], out=m)
        out = self.work.get("out", m.shape)
        np.add(m, self.bias, out=out)
        np.maximum(out, 0.0, out=out)
        self._blocks, self._max, self._out = blocks, m, out
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        blocks, m, out = self._blocks, self._max, self._out
        shape = m.shape
        g = self.work.get("g", shape)
        np.multiply(grad_out, out > 0, out=g)  # ReLU's slope, read from its output
        ones = self.work.get("ones", (g.size // shape[-1],))
        if ones[0] != 1:
            ones.fill(1.0)
        np.matmul(
            ones, g.reshape(-1, shape[-1]), out=self.grad
        )  # the bias gradient; 10x np.add.reduce's speed
        hit = self.work.get("hit", shape, bool)
        taken = self.work.get("taken", shape, bool)
        grad_in = self.work.get("grad_in", (2, 2, *shape))
        grad_blocks = grad_in.reshape(4, *shape)
        for k in range(4):
            np.equal(blocks[k], m, out=hit)
            if k:
                np.greater(hit, taken, out=hit)  # a maximum, and no earlier one in its window
            if k == 0:
                np.copyto(taken, hit)
            elif k < 3:
                np.logical_or(taken, hit, out=taken)
            np.multiply(g, hit, out=grad_blocks[k])
        return grad_in


class _Flatten:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._shape)


class _DenseOut:
    """The last layer: logits = x @ W + b."""

    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        self.w, self.b = w.copy(), b.copy()
        self.grad_w, self.grad_b = np.empty_like(self.w), np.empty_like(self.b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        z = np.dot(x, self.w)
        z += self.b
        return z

    def backward(self, g: np.ndarray) -> np.ndarray:
        np.dot(self._x.T, g, out=self.grad_w)
        np.add.reduce(g, axis=0, out=self.grad_b)
        return np.dot(g, self.w.T)


class _SoftmaxCrossEntropy:
    """Mean softmax cross-entropy from logits and integer labels; the logits become dL/dlogits."""

    def value_and_gradient(self, labels: np.ndarray, h: np.ndarray) -> tuple[float, np.ndarray]:
        rows = np.arange(len(h))
        h -= h.max(axis=1, keepdims=True)
        picked = h[rows, labels]
        np.exp(h, out=h)
        sums = np.add.reduce(h, axis=1)
        value = float(np.add.reduce(np.log(sums) - picked)) / len(h)
        h /= sums[:, None]
        h[rows, labels] -= 1.0
        h *= 1.0 / len(h)
        return value, h


class _PlainSGD:
    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
        self.pairs, self.lr = pairs, lr

    def step(self) -> None:
        for value, grad in self.pairs:
            grad *= self.lr
            value -= grad


class SmallCnn:
    """W6 by hand: conv(16)-pool-conv(32)-pool-flatten-dense(10), softmax cross-entropy, plain SGD.

    ``layers`` (name -> object with ``forward`` and ``backward``), ``loss`` and ``optimizer`` are
    separate objects so the suite's profiler can time each; :meth:`train` runs the epochs.
    """

    def __init__(self, weights: list[np.ndarray], batch_size: int, size: int, lr: float) -> None:
        k1, b1, k2, b2, w, b = weights
        self.layers = {
            "conv 1": _Conv3x3(k1, batch_size, size, input_gradient=False),
            "pool 1": _PoolBiasReLU(b1),
            "conv 2": _Conv3x3(k2, batch_size, size // 2, input_gradient=True),
            "pool 2": _PoolBiasReLU(b2),
            "flatten": _Flatten(),
            "dense": _DenseOut(w, b),
        }
        self.loss = _SoftmaxCrossEntropy()
        c1, p1, c2, p2, _, d = self.layers.values()
        self.optimizer = _PlainSGD(
            [
                (c1.kernel, c1.grad),
                (p1.bias, p1.grad),
                (c2.kernel, c2.grad),
                (p2.bias, p2.grad),
                (d.w, d.grad_w),
                (d.b, d.grad_b),
            ],
            lr,
        )
        self.batch_size = batch_size

    def train(self, x: np.ndarray, labels: np.ndarray, epochs: int) -> float:
        """Trains on the batches in data-set order; returns the last epoch's mean batch loss."""
        layers = list(self.layers.values())
        first, rest = layers[0], layers[:0:-1]
        batches = [
            (x[s : s + self.batch_size], labels[s : s + self.batch_size])
            for s in range(0, len(x), self.batch_size)
        ]
        epoch_loss = 0.0
        for _ in range(epochs):
            total = 0.0
            for xb, yb in batches:
                h = xb
                for layer in layers:
                    h = layer.forward(h)
                value, g = self.loss.value_and_gradient(yb, h)
                total += value
                for layer in rest:
                    g = layer.backward(g)
                first.backward(g)
                self.optimizer.step()
            epoch_loss = total / len(batches)
        return epoch_loss

    def weights(self) -> list[np.ndarray]:
        return [p[0].copy() for p in self.optimizer.pairs]


def small_cnn(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float
) -> tuple[list[np.ndarray], float]:
    """W6: trains :class:`SmallCnn` from copies of ``weights``; returns the final weights and last loss."""
    net = SmallCnn(weights, batch_size, x.shape[1], lr)
    loss = net.train(x, labels, epochs)
    return net.weights(), loss
