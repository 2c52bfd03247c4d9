"""The workloads W1-W5 and the scaling runs. Each returns a plain dict for the report.

Every implementation of a workload starts from the same initial weights and visits the samples
in the same order; afterwards one numpy function computes each one's loss on the whole data set
from its final weights, and the suite checks they agree, so no one is timed doing less work.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from minidl import Dense, Sequential, config

from . import peers, reference
from .harness import measure

__all__ = ["Settings", "w1", "w2", "w3", "w4", "w5", "scaling", "memory", "AgreementError"]


class AgreementError(AssertionError):
    """Two implementations of one workload ended at different losses."""


class Settings:
    """Sizes and repeats; ``quick`` keeps the whole suite under a minute."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.repeats = 3 if quick else 7
        self.w1_epochs = 100 if quick else 1000
        self.w2_iterations = 300 if quick else 1500
        self.w3_epochs = 2 if quick else 10
        self.w4_samples = 1024 if quick else 8192
        self.w4_epochs = 1 if quick else 2
        self.scale_samples = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
        self.scale_widths = [32, 128, 512] if quick else [32, 128, 512, 1024]


# --------------------------------------------------------------------------- shared pieces
def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _mlp_logits(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    h = x.astype(np.float64)
    pairs = list(zip(weights[0::2], weights[1::2]))
    for i, (w, b) in enumerate(pairs):
        h = h @ w + b
        if i < len(pairs) - 1:
            h = np.maximum(h, 0)
    return h


def mlp_loss(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    z = _mlp_logits(weights, x)
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), labels]))


def _glorot(rng: np.random.Generator, sizes: list[int], dtype: Any) -> list[np.ndarray]:
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        out += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype), np.zeros(fan_out, dtype)]
    return out


def _row(impl: str, timing: Any, loss: float, **extra: Any) -> dict[str, Any]:
    return {"impl": impl, "timing": timing.as_dict(), "loss": loss, **extra}


def _check_agreement(name: str, rows: list[dict[str, Any]], rtol: float) -> None:
    base = rows[0]["loss"]
    for row in rows:
        row["agrees"] = bool(abs(row["loss"] - base) <= rtol * max(abs(base), 1e-12))
    bad = [f"{r['impl']}: {r['loss']:.10g}" for r in rows if not r["agrees"]]
    if bad:
        raise AgreementError(f"{name}: implementations disagree with minidl's loss {base:.10g}: {', '.join(bad)}")


def _time(run: Callable[[], list[np.ndarray]], units: int, repeats: int) -> tuple[Any, list[np.ndarray]]:
    """Times ``run`` (which resets the weights, trains and returns them); setup happened before."""
    result: list[list[np.ndarray]] = []
    timing = measure(lambda: result.append(run()), units, repeats=repeats)
    return timing, result[-1]


# --------------------------------------------------------------------------- W1, W2: the lectures
def _minidl_lecture(name: str, weights: list[np.ndarray], epochs: int) -> Callable[[], list[np.ndarray]]:
    cfg = config.load(name)
    model = cfg.build(seed=0)
    x, y = cfg.arrays()

    def run() -> list[np.ndarray]:
        model.set_weights(weights)
        model.fit(x, y, **{**cfg.fit, "epochs": epochs})
        return model.get_weights()

    return run


def _lecture1_loss(weights: list[np.ndarray]) -> float:
    w1, b1, w2, b2 = weights
    out = _sigmoid(_sigmoid(reference.LECTURE1_X @ w1 + b1) @ w2 + b2).ravel()
    return float(np.mean((out - reference.LECTURE1_Y) ** 2))


def w1(s: Settings) -> dict[str, Any]:
    """Lecture 1: 2-2-1 sigmoid, per-sample SGD, time per training step."""
    rng = np.random.default_rng(1)
    p = rng.standard_normal(9)
    weights = [np.array([[p[0], p[2]], [p[1], p[3]]]), p[6:8].copy(), p[4:6].reshape(2, 1), p[8:9].copy()]
    steps = 4 * s.w1_epochs
    impls: dict[str, Callable[[], list[np.ndarray]]] = {
        "minidl": _minidl_lecture("lecture1", weights, s.w1_epochs),
        "numpy (lecture, scalar)": lambda: _scalar_as_matrices(reference.lecture1_scalar(list(p), s.w1_epochs)),
        "numpy (matrices)": lambda: reference.lecture1_matrix(weights, s.w1_epochs),
    }
    if peers.torch:
        impls["pytorch"] = peers.torch["lecture1"](weights, s.w1_epochs)
    rows = []
    for impl, run in impls.items():
        timing, final = _time(run, steps, s.repeats)
        rows.append(_row(impl, timing, _lecture1_loss(final)))
    _check_agreement("W1", rows, 1e-9)
    return {"name": "W1 lecture 1 (2-2-1 sigmoid, per-sample SGD)", "unit": "s/step", "rows": rows,
            "notes": ["scikit-learn cannot express this network (per-sample MSE on a sigmoid output)."]}


def _scalar_as_matrices(p: list[float]) -> list[np.ndarray]:
    w1, w2, w3, w4, w5, w6, b1, b2, b3 = (float(v) for v in p)
    return [np.array([[w1, w3], [w2, w4]]), np.array([b1, b2]), np.array([[w5], [w6]]), np.array([b3])]


def w2(s: Settings) -> dict[str, Any]:
    """Lecture 2: 3-4-1 bias-free sigmoid, full batch, time per iteration."""
    rng = np.random.default_rng(2)
    weights = [rng.random((3, 4)), rng.random((4, 1))]
    impls: dict[str, Callable[[], list[np.ndarray]]] = {
        "minidl": _minidl_lecture("lecture2", weights, s.w2_iterations),
        "numpy (lecture)": lambda: reference.lecture2(weights, s.w2_iterations),
    }
    if peers.torch:
        impls["pytorch"] = peers.torch["lecture2"](weights, s.w2_iterations)

    def loss(w: list[np.ndarray]) -> float:
        out = _sigmoid(_sigmoid(reference.LECTURE2_X @ w[0]) @ w[1])
        return float(np.sum((out - reference.LECTURE2_Y) ** 2))

    rows = []
    for impl, run in impls.items():
        timing, final = _time(run, s.w2_iterations, s.repeats)
        rows.append(_row(impl, timing, loss(final)))
    _check_agreement("W2", rows, 1e-9)
    return {"name": "W2 lecture 2 (3-4-1 bias-free sigmoid, full batch)", "unit": "s/step", "rows": rows,
            "notes": ["scikit-learn cannot express this network (no bias-free layers, summed loss)."]}


# --------------------------------------------------------------------------- W3, W4: classifiers
def _minidl_mlp(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float) -> Callable[[], list[np.ndarray]]:
    sizes = [w.shape for w in weights[0::2]]
    layers = [Dense(i, o, activation="relu") for i, o in sizes[:-1]] + [Dense(*sizes[-1])]
    model = Sequential(layers, seed=0, dtype=x.dtype.name)
    model.compile(loss={"type": "sparse_categorical_crossentropy", "from_logits": True}, optimizer={"type": "sgd", "learning_rate": lr})

    def run() -> list[np.ndarray]:
        model.set_weights(weights)
        model.fit(x, labels, epochs=epochs, batch_size=batch_size, shuffle=False)
        return model.get_weights()

    return run


def mlp_implementations(include_sklearn: bool = True) -> dict[str, Callable[..., list[np.ndarray]]]:
    impls: dict[str, Callable[..., list[np.ndarray]]] = {
        "minidl": _minidl_mlp,
        "numpy": lambda w, *a: lambda: reference.mlp_train([v.copy() for v in w], *a),
    }
    if peers.torch:
        impls["pytorch"] = peers.torch["mlp"]
    if include_sklearn and peers.sklearn_mlp:
        impls["scikit-learn"] = peers.sklearn_mlp
    return impls


def _digits(dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(3)
        centers = rng.standard_normal((10, 64)) * 4
        labels = rng.integers(0, 10, 1797)
        x = centers[labels] + rng.standard_normal((1797, 64)) * 3
        source = "synthetic 8x8-digits-shaped data (scikit-learn not installed)"
    else:
        data = load_digits()
        x, labels = data.data, data.target
        source = "scikit-learn's digits (1797 8x8 images)"
    x = (x / np.abs(x).max()).astype(dtype)
    order = np.random.default_rng(4).permutation(len(x))
    split = int(0.8 * len(x))
    train, test = order[:split], order[split:]
    return x[train], labels[train], x[test], labels[test], source


def _mlp_workload(name: str, x, labels, sizes, epochs, batch, lr, s: Settings, test=None, rtol=1e-7) -> dict[str, Any]:
    weights = _glorot(np.random.default_rng(5), sizes, x.dtype)
    flops = 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))  # 3 matrix products per layer
    rows = []
    for impl, make in mlp_implementations().items():
        timing, final = _time(make(weights, x, labels, epochs, batch, lr), epochs * len(x), s.repeats)
        extra = {"samples_per_s": 1.0 / timing.median, "gflops": flops / timing.median / 1e9}
        if test is not None:
            extra["accuracy"] = float(np.mean(_mlp_logits(final, test[0]).argmax(axis=1) == test[1]))
        rows.append(_row(impl, timing, mlp_loss(final, x, labels), **extra))
    _check_agreement(name, rows, rtol)
    return {"name": name, "unit": "s/sample", "rows": rows, "notes": []}


def w3(s: Settings) -> list[dict[str, Any]]:
    """64-128-10 ReLU, softmax cross-entropy, SGD 0.1, batch 32, float64 and float32."""
    results = []
    for dtype, rtol in ((np.float64, 1e-7), (np.float32, 1e-3)):
        xtr, ytr, xte, yte, source = _digits(dtype)
        result = _mlp_workload(f"W3 small classifier, {np.dtype(dtype).name}", xtr, ytr, [64, 128, 10], s.w3_epochs, 32, 0.1, s, (xte, yte), rtol)
        result["notes"].append(f"data: {source}; {s.w3_epochs} epochs; accuracy on a held-out 20%.")
        results.append(result)
    return results


def w4(s: Settings) -> dict[str, Any]:
    """784-1024-1024-10 ReLU, float32, batch 256, synthetic data."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((s.w4_samples, 784)).astype(np.float32)
    labels = rng.integers(0, 10, s.w4_samples)
    result = _mlp_workload("W4 wide MLP, float32", x, labels, [784, 1024, 1024, 10], s.w4_epochs, 256, 0.01, s, rtol=1e-3)
    result["notes"].append(f"{s.w4_samples} synthetic samples, {s.w4_epochs} epochs; GFLOP/s counts 3 matrix products per layer.")
    return result


# --------------------------------------------------------------------------- W5: the limits
def w5(s: Settings) -> dict[str, Any]:
    """The matrix-multiply rate for W4's shapes, and the cost of one tiny numpy call."""
    rng = np.random.default_rng(7)
    batch, sizes = 256, [784, 1024, 1024, 10]
    products = []  # one W4 step: forward, weight gradient and input gradient of every layer
    for a, b in zip(sizes[:-1], sizes[1:]):
        products += [((batch, a), (a, b)), ((a, batch), (batch, b)), ((batch, b), (b, a))]
    limits = {}
    for dtype in (np.float32, np.float64):
        mats = [(rng.standard_normal(p).astype(dtype), rng.standard_normal(q).astype(dtype)) for p, q in products]
        flops = sum(2 * p[0] * p[1] * q[1] for p, q in products)

        def run() -> None:
            for a, b in mats:
                a @ b

        timing = measure(run, 1, repeats=s.repeats * 3)
        limits[np.dtype(dtype).name] = flops / timing.median / 1e9
    a, b, c = np.ones(2), np.ones(2), np.empty(2)
    tiny = measure(lambda: [np.add(a, b, out=c) for _ in range(10_000)], 10_000, repeats=s.repeats)
    result = {"name": "W5 limits", "matmul_gflops": limits, "numpy_call_s": tiny.median, "notes": []}
    if peers.torch_available:
        import torch

        ta, tb = torch.ones(2), torch.ones(2)
        result["torch_call_s"] = measure(lambda: [torch.add(ta, tb) for _ in range(10_000)], 10_000, repeats=s.repeats).median
    return result


# --------------------------------------------------------------------------- scaling and memory
def scaling(s: Settings) -> dict[str, Any]:
    """Seconds per epoch as the data set and the width grow (64-H-10 ReLU, float32, batch 32)."""
    rng = np.random.default_rng(8)
    impls = {k: v for k, v in mlp_implementations(include_sklearn=False).items() if k in ("minidl", "numpy")}
    rows = []
    for n, width in [(n, 128) for n in s.scale_samples] + [(4096, w) for w in s.scale_widths]:
        x = rng.standard_normal((n, 64)).astype(np.float32)
        labels = rng.integers(0, 10, n)
        weights = _glorot(rng, [64, width, 10], np.float32)
        row = {"samples": n, "width": width}
        for impl, make in impls.items():
            row[impl] = measure(make(weights, x, labels, 1, 32, 0.05), 1, repeats=max(2, s.repeats // 2)).median
        rows.append(row)
    return {"name": "Scaling (seconds per epoch)", "rows": rows}


def memory(s: Settings) -> dict[str, Any]:
    """Peak memory of one epoch of ``fit`` on W4's network, against the numpy reference's loop."""
    n, batch, sizes = s.w4_samples, 256, [784, 1024, 1024, 10]
    rng = np.random.default_rng(9)
    x = rng.standard_normal((n, 784)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    weights = _glorot(rng, sizes, np.float32)
    model = Sequential([Dense(784, 1024, activation="relu"), Dense(1024, 1024, activation="relu"), Dense(1024, 10)], dtype="float32")
    model.compile(loss={"type": "sparse_categorical_crossentropy", "from_logits": True}, optimizer={"type": "sgd", "learning_rate": 0.01})
    model.set_weights(weights)
    model.fit(x[:batch], labels[:batch], epochs=1, batch_size=batch)  # packs the parameters, as any first fit does
    copies = [w.copy() for w in weights]
    runs = {
        "minidl": lambda: model.fit(x, labels, epochs=1, batch_size=batch, shuffle=True),
        "numpy": lambda: reference.mlp_train(copies, x, labels, 1, batch, 0.01),
    }
    peaks = {}
    for impl, run in runs.items():
        tracemalloc.start()
        run()
        peaks[impl] = {"peak_bytes": tracemalloc.get_traced_memory()[1]}
        tracemalloc.stop()
    return {
        "name": "Peak memory of one epoch (W4 network, float32)",
        "peaks": peaks,
        "data_bytes": x.nbytes + labels.nbytes,
        "param_bytes": sum(w.nbytes for w in weights),
        "batch_activation_bytes": batch * sum(sizes) * 4,
        "notes": [
            "tracemalloc peak of the allocations made during one epoch (minidl: one fit call, shuffled; "
            "numpy: its training loop, in data-set order); the data and the parameters exist before.",
        ],
    }
