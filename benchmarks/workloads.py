"""The workloads W1-W6 and the scaling and memory runs.

Each workload returns a dict of plain values: its title, the implementations' rows (timing,
final loss, correctness check) and notes. A row's ``check`` compares the implementation's final
weights, scored by the same float64 judge (``problems``), with the numpy reference's (W6 also
compares the weights of a float64 run, see ``_w6_check``): an implementation that trained
differently (or less) fails the check and the suite exits non-zero.
"""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import impl_minidl, impl_numpy, impl_sklearn, impl_torch, problems
from .harness import Timing, time_interleaved
from .profiling import Profiler, profile_run

__all__ = [
    "Settings",
    "w1_lecture1",
    "w2_lecture2",
    "w3_small_classifier",
    "w4_wide_mlp",
    "w5_limits",
    "w6_small_cnn",
    "scaling",
    "memory",
    "W4_SIZES",
    "W6_PARTS",
    "cnn_conv_flops",
]

W3_SIZES = [64, 128, 10]
W4_SIZES = [784, 1024, 1024, 10]
NUMPY = "numpy reference"
LECTURE = "numpy, the lecture's code"  # the yardstick issue 6 sets for W1 and W2
UNGUARDED = "minidl, guard off"  # on_nonfinite="ignore": what the per-step non-finite check costs
GUARD_NOTE = (
    f"'{UNGUARDED}' is the same minidl run with fit(..., on_nonfinite='ignore'); the time it saves "
    "is what the per-step check for NaN and infinity costs."
)
LIMIT = "matrix products only"
TORCH = "PyTorch"
SKLEARN = "scikit-learn"


@dataclass
class Settings:
    """Sizes and repeat counts of one suite run (``quick`` for CI, full for the docs)."""

    quick: bool
    repeats: int
    warmup: int = 1
    w1_epochs: int = 1000
    w2_iterations: int = 1500
    w3_epochs: int = 20
    w4_samples: int = 8192
    w4_epochs: int = 1
    scaling_samples: tuple[int, ...] = (1_000, 10_000, 100_000)
    scaling_widths: tuple[int, ...] = (32, 128, 512, 2048)
    w6_samples: int = 2048
    w6_epochs: int = 1
    sweep_seeds: int = 20  # lecture 1 x 20 seeds, the digits MLP x 8 configurations
    sweep_lecture_epochs: int = 1000  # the lecture's own
    sweep_digits_epochs: int = 30  # the digits configuration's own; 0 leaves the batch out
    sweep_workers: tuple[int, ...] = (1, 2)  # the local backend's worker counts
    sweep_ray: bool = True

    @classmethod
    def make(cls, quick: bool, tiny: bool = False) -> Settings:
        if tiny:  # correctness only (the test suite): seconds, not minutes
            return cls(True, 1, 0, 20, 50, 1, 512, 1, (500,), (16,), w6_samples=128, w6_epochs=2,
                       sweep_seeds=2, sweep_lecture_epochs=5, sweep_digits_epochs=0, sweep_workers=(1,), sweep_ray=False)  # fmt: skip
        if quick:
            return cls(True, 3, 1, 200, 300, 3, 1024, 1, (1_000, 10_000), (32, 512), w6_samples=256,
                       sweep_seeds=6, sweep_lecture_epochs=200, sweep_digits_epochs=5)  # fmt: skip
        return cls(False, 7, 1)


def _peers() -> dict[str, bool]:
    return {TORCH: impl_torch.available(), SKLEARN: impl_sklearn.available()}


def _skipped_notes(wanted: list[str]) -> list[str]:
    peers = _peers()
    return [f"{name} is not installed: skipped." for name in wanted if not peers[name]]


def _check_weights(results: dict[str, Any], tolerance: float) -> dict[str, str]:
    # lecture networks: every implementation must end on the reference's weights
    reference = results[NUMPY]
    checks = {}
    for name, weights in results.items():
        worst = max(float(np.max(np.abs(np.asarray(a, np.float64) - b))) for a, b in zip(weights, reference))
        checks[name] = (
            "ok" if worst <= tolerance else f"FAILED: weights differ by {worst:.2e} (> {tolerance:g})"
        )
    return checks


def _lecture_rows(timings, results, steps: int, judge: Callable[[list[np.ndarray]], float], tolerance: float):
    checks = _check_weights(results, tolerance)
    return [
        {
            "impl": name,
            "time_per_step": timing.as_dict(),
            "steps": steps,
            "final_loss": judge(results[name]),
            "check": checks[name],
        }
        for name, timing in timings.items()
    ]


def w1_lecture1(s: Settings) -> dict[str, Any]:
    """Lecture 1: 2-2-1 sigmoid network, per-sample SGD on the four people."""
    p = problems.lecture1()
    epochs = s.w1_epochs
    prepares = {
        NUMPY: lambda: lambda: impl_numpy.lecture1_scalar(p.weights, p.x, p.y, epochs),
        LECTURE: lambda: lambda: impl_numpy.lecture1_as_published(p.weights, p.x, p.y, epochs),
        "numpy, weight matrices": lambda: lambda: impl_numpy.lecture1_matrices(p.weights, p.x, p.y, epochs),
        "minidl": lambda: impl_minidl.lecture("lecture1", p.weights, epochs),
        UNGUARDED: lambda: impl_minidl.lecture("lecture1", p.weights, epochs, guard=False),
    }
    if impl_torch.available():
        prepares[TORCH] = lambda: impl_torch.lecture(p.weights, p.x, p.y, epochs, lecture=1)
    steps = epochs * len(p.x)
    timings, results = time_interleaved(prepares, repeats=s.repeats, warmup=s.warmup, units=steps)
    judge = lambda w: problems.lecture_loss(w, p.x, p.y, biases=True, reduction="mean")  # noqa: E731
    notes = [
        f"{epochs} epochs x 4 samples = {steps} steps per run; the {NUMPY} is the lecture's scalar style "
        "written for speed (nine named parameters, numpy rows, np.exp, each slope taken once from its "
        f"sigmoid's output: 3 exponentials a step); '{LECTURE}' has the published code's cost structure "
        "(each partial derivative its own product, each slope recomputed from the weighted input: "
        "14 exponentials a step); 'numpy, weight matrices' is the same network with arrays.",
        "scikit-learn cannot express this network (no squared error on a sigmoid output): skipped.",
        GUARD_NOTE,
        *_skipped_notes([TORCH]),
    ]
    return {
        "id": "W1",
        "title": "Lecture 1: 2-2-1 sigmoid, per-sample SGD",
        "unit": "step",
        "rows": _lecture_rows(timings, results, steps, judge, 1e-9),
        "notes": notes,
    }


def w2_lecture2(s: Settings) -> dict[str, Any]:
    """Lecture 2: 3-4-1 bias-free sigmoid network, full-batch gradient descent."""
    p = problems.lecture2()
    n = s.w2_iterations
    prepares = {
        NUMPY: lambda: lambda: impl_numpy.lecture2(p.weights, p.x, p.y, n),
        LECTURE: lambda: lambda: impl_numpy.lecture2_as_published(p.weights, p.x, p.y, n),
        "minidl": lambda: impl_minidl.lecture("lecture2", p.weights, n),
    }
    if impl_torch.available():
        prepares[TORCH] = lambda: impl_torch.lecture(p.weights, p.x, p.y, n, lecture=2)
    timings, results = time_interleaved(prepares, repeats=s.repeats, warmup=s.warmup, units=n)
    judge = lambda w: problems.lecture_loss(w, p.x, p.y, biases=False, reduction="sum")  # noqa: E731
    notes = [
        f"{n} full-batch iterations per run; '{LECTURE}' has the published code's cost structure "
        "(the output error term formed once per weight gradient, transposes on the fly); the "
        f"{NUMPY} forms it once.",
        "scikit-learn cannot express this network (no squared error on a sigmoid output): skipped.",
        *_skipped_notes([TORCH]),
    ]
    return {
        "id": "W2",
        "title": "Lecture 2: 3-4-1 bias-free sigmoid, full batch",
        "unit": "step",
        "rows": _lecture_rows(timings, results, n, judge, 1e-9),
        "notes": notes,
    }


def _classifier_prepares(p: problems.Problem, epochs: int, batch: int, lr: float, peers: bool = True):
    args = (p.weights, p.x, p.y, epochs, batch, lr)
    prepares = {
        NUMPY: lambda: lambda: impl_numpy.mlp_classifier(*args),
        "minidl": lambda: impl_minidl.mlp_classifier(*args),
    }
    if peers and impl_torch.available():
        prepares[TORCH] = lambda: impl_torch.mlp_classifier(*args)
    if peers and impl_sklearn.available():
        prepares[SKLEARN] = lambda: impl_sklearn.mlp_classifier(*args)
    return prepares


def _classifier_rows(
    p: problems.Problem, timings: dict[str, Timing], results, samples_per_run: int, tolerance: float
):
    judged = {name: problems.classifier_loss(w, p.x, p.y) for name, (w, _) in results.items()}
    reference = judged[NUMPY]
    rows = []
    for name, timing in timings.items():
        weights, reported = results[name]
        gap = abs(judged[name] - reference) / max(abs(reference), 1e-12)
        rows.append(
            {
                "impl": name,
                "time_per_run": timing.as_dict(),
                "samples_per_second": samples_per_run / timing.median,
                "final_loss": judged[name],
                "last_epoch_loss": reported,
                "test_accuracy": problems.classifier_accuracy(weights, p.x_test, p.y_test),
                "check": "ok"
                if gap <= tolerance
                else f"FAILED: final loss {judged[name]:.6g} vs {reference:.6g} "
                f"(relative gap {gap:.1e} > {tolerance:g})",
            }
        )
    return rows


# float32 sums in a different order drift apart a little over many steps; float64 must agree closely
LOSS_TOLERANCE = {"float64": 1e-7, "float32": 1e-2}


def w3_small_classifier(s: Settings) -> dict[str, Any]:
    """64-128-10 ReLU classifier, softmax cross-entropy, SGD lr 0.1, batch 32, both dtypes."""
    base = problems.digits_like()
    epochs, batch = s.w3_epochs, 32
    rows = []
    for dtype in ("float64", "float32"):
        p = base.astype(dtype)
        timings, results = time_interleaved(
            _classifier_prepares(p, epochs, batch, 0.1), repeats=s.repeats, warmup=s.warmup
        )
        for row in _classifier_rows(p, timings, results, epochs * len(p.x), LOSS_TOLERANCE[dtype]):
            rows.append({"dtype": dtype, **row})
    notes = [
        f"Data: {base.source}, {len(base.x)} training and {len(base.x_test)} test samples, shuffled once "
        f"beforehand and visited in that order by everyone; {epochs} epochs per run. Accuracy is on the test samples.",
        "minidl: Dense(64, 128, relu), Dense(128, 10) and sparse_categorical_crossentropy(from_logits=True).",
        *_skipped_notes([TORCH, SKLEARN]),
    ]
    return {"id": "W3", "title": "Small classifier 64-128-10", "unit": "run", "rows": rows, "notes": notes}


def _flops_per_sample(sizes: list[int]) -> int:
    # 3 matrix products per dense layer per step (forward, weight gradient, input gradient)
    return 3 * 2 * sum(a * b for a, b in itertools.pairwise(sizes))


def w4_wide_mlp(s: Settings) -> dict[str, Any]:
    """784-1024-1024-10 ReLU MLP in float32, batch 256, synthetic data."""
    p = problems.synthetic_classification(W4_SIZES, s.w4_samples).astype("float32")
    epochs, batch = s.w4_epochs, 256
    prepares = _classifier_prepares(p, epochs, batch, 0.01)
    args = (p.weights, p.x, p.y, epochs, batch, 0.01)
    prepares[UNGUARDED] = lambda: impl_minidl.mlp_classifier(*args, guard=False)
    steps = epochs * -(-len(p.x) // batch)
    # the limit is timed in the same rounds as the implementations, so it sees the same load
    prepares[LIMIT] = lambda: _products_only(W4_SIZES, batch, steps)
    timings, results = time_interleaved(prepares, repeats=s.repeats, warmup=s.warmup)
    limit = timings.pop(LIMIT)
    limit_time = limit.median
    results.pop(LIMIT)
    samples = epochs * len(p.x)
    rows = _classifier_rows(p, timings, results, samples, LOSS_TOLERANCE["float32"])
    flops = _flops_per_sample(W4_SIZES)
    for row in rows:
        row["gflops"] = row["samples_per_second"] * flops / 1e9
        row["fraction_of_matmul_limit"] = limit_time / row["time_per_run"]["median"]
    notes = [
        f"{len(p.x)} synthetic samples, {epochs} epoch(s) per run, learning rate 0.01. GFLOP/s counts 3 matrix "
        f"products per dense layer per step ({flops / 1e6:.2f} MFLOP per sample).",
        f"Matmul limit: the {steps} steps' matrix products alone (8 per step, no other work), timed in the same "
        f"rounds: {limit_time * 1e3:.0f} ms per run, {samples / limit_time:,.0f} samples/s, "
        f"{samples * flops / limit_time / 1e9:.1f} GFLOP/s. 'of matmul limit' = limit time / run time.",
        GUARD_NOTE,
        *_skipped_notes([TORCH, SKLEARN]),
    ]
    return {
        "id": "W4",
        "title": "Wide MLP 784-1024-1024-10, float32",
        "unit": "run",
        "rows": rows,
        "matmul_limit": limit.as_dict(),
        "notes": notes,
    }


def _matmul_shapes(sizes: list[int], batch: int) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    # the products one training step needs: forward, weight gradient, and input gradient
    # (except for the first layer, whose input is the data)
    shapes = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        shapes.append((f"forward {n_in}->{n_out}", (batch, n_in), (n_in, n_out)))
        shapes.append((f"weight grad {n_in}->{n_out}", (n_in, batch), (batch, n_out)))
        if i:
            shapes.append((f"input grad {n_in}->{n_out}", (batch, n_out), (n_out, n_in)))
    return shapes


def _products_only(sizes: list[int], batch: int, steps: int):
    """A run doing only the matrix products of ``steps`` training steps, into preallocated outputs."""
    rng = np.random.default_rng(0)
    work = []
    for _, a_shape, b_shape in _matmul_shapes(sizes, batch):
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        work.append((a, b, np.empty((a_shape[0], b_shape[1]), dtype=np.float32)))

    def run() -> None:
        for _ in range(steps):
            for a, b, out in work:
                np.dot(a, b, out=out)

    return run


def _best_time(fn: Callable[[], Any], repeats: int, number: int) -> Timing:
    seconds = []
    fn()
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        seconds.append((time.perf_counter() - start) / number)
    return Timing.of(seconds)


def w5_limits(s: Settings, sizes: list[int] = W4_SIZES, batch: int = 256) -> dict[str, Any]:
    """The matrix-multiply speed of W4's products, and the cost of one tiny numpy (and torch) call."""
    rng = np.random.default_rng(0)
    products = []
    total_median = 0.0
    for label, a_shape, b_shape in _matmul_shapes(sizes, batch):
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        out = np.empty((a_shape[0], b_shape[1]), dtype=np.float32)
        timing = _best_time(
            lambda a=a, b=b, out=out: np.matmul(a, b, out=out), max(3, s.repeats), 5 if s.quick else 20
        )
        flops = 2 * a_shape[0] * a_shape[1] * b_shape[1]
        total_median += timing.min
        products.append(
            {
                "product": label,
                "shape": f"{a_shape} @ {b_shape}",
                "time": timing.as_dict(),
                "gflops": flops / timing.median / 1e9,
            }
        )
    step_flops = _flops_per_sample(sizes) * batch
    tiny_a, tiny_b = np.ones(2), np.ones(2)
    calls = {"numpy add, 2 elements": _best_time(lambda: np.add(tiny_a, tiny_b), s.repeats, 20000).as_dict()}
    if impl_torch.available():
        torch_add = impl_torch.tiny_call()
        calls["torch add, 2 elements"] = _best_time(torch_add, s.repeats, 20000).as_dict()
    return {
        "id": "W5",
        "title": "Limits: matrix products of W4 (float32) and tiny calls",
        "products": products,
        "limit": {
            "step_seconds": total_median,
            "samples_per_second": batch / total_median,
            "gflops": step_flops / total_median / 1e9,
        },
        "tiny_calls": calls,
        "notes": [
            f"The limit of a W4 step here is the sum of its {len(products)} matrix products' best times (batch {batch}), "
            "with W4's flop count (3 products per layer). W4's own 'of matmul limit' column uses the same products "
            "timed in W4's rounds, under the same load.",
        ],
    }


W6_BATCH = 64
W6_LR = 0.05
W6_SIZE = 28
#: W6's layers, in order: the profile's parts (then the loss and the update)
W6_PARTS = ("conv 1", "pool 1", "conv 2", "pool 2", "flatten", "dense")
#: the float64 check run: every implementation's final weights equal the reference's to this
#: fraction of the largest change training made to each array (they agree to about 1e-15)
W6_WEIGHT_TOLERANCE = 1e-9
W6_CHECK_SAMPLES = 512  # samples (8 steps) of the float64 check run, at most
W6_JUDGED_SAMPLES = 512  # training samples the float64 judge scores the timed runs' final weights on


def cnn_conv_flops(size: int = W6_SIZE) -> int:
    """Floating-point operations of W6's two convolutions in one training step, per sample.

    Each convolution costs ``2 * h * w * out * 9 * in`` a product; a step makes three (forward,
    kernel gradient, input gradient), the first layer two (its input is the data).
    """
    total = 0
    side = size
    for i, (c_in, c_out) in enumerate(problems.CNN_FILTERS):
        product = 2 * side * side * c_out * 9 * c_in
        total += product * (3 if i else 2)
        side //= 2
    return total


def cnn_weight_gaps(initial: list[np.ndarray], results: dict[str, Any]) -> dict[str, float]:
    """Each implementation's final weights against the reference's: the largest difference in an
    array as a fraction of the largest change training made to that array (inf if one never moved).

    An implementation that trained less or differently is off by a sizeable fraction.
    """
    reference = [np.asarray(w, np.float64) for w in results[NUMPY][0]]
    moved = [float(np.max(np.abs(r - np.asarray(w0, np.float64)))) for r, w0 in zip(reference, initial)]
    gaps = {}
    for name, (weights, _) in results.items():
        gaps[name] = max(
            float(np.max(np.abs(np.asarray(a, np.float64) - r))) / m if m > 0 else float("inf")
            for a, r, m in zip(weights, reference, moved)
        )
    return gaps


def _w6_prepares(p: problems.Problem, epochs: int) -> dict[str, Callable[[], Callable[[], Any]]]:
    args = (p.weights, p.x, p.y, epochs, W6_BATCH, W6_LR)
    prepares: dict[str, Callable[[], Callable[[], Any]]] = {
        NUMPY: lambda: lambda: impl_numpy.small_cnn(*args),
    }
    if not impl_minidl.cnn_missing():
        prepares["minidl"] = lambda: impl_minidl.small_cnn(*args)
    if impl_torch.available():
        prepares[TORCH] = lambda: impl_torch.small_cnn(*args)
    return prepares


def _w6_check(p: problems.Problem, epochs: int, timed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """W6's correctness check: a float64 run, and the timed float32 run's final loss.

    In float32 this network's training is too sensitive to compare weights closely: a max-pooling
    window whose two largest values differ in the last bits picks another element in one order of
    summation than in another, and its gradient goes elsewhere; after 32 steps float32 runs of
    correct implementations (PyTorch's, minidl's, the reference's, and the reference's on one or
    two threads) end 1e-6 to 4e-2 of training's change apart. So every implementation is run
    again in float64 (untimed, up to W6_CHECK_SAMPLES samples), where they must agree to
    W6_WEIGHT_TOLERANCE; the timed run's final weights must give the reference's loss to a
    relative 1e-2, as W3's and W4's float32 runs must.
    """
    p64 = p.astype("float64")
    p64.x, p64.y = p64.x[:W6_CHECK_SAMPLES], p64.y[:W6_CHECK_SAMPLES]
    checked = {name: prepare()() for name, prepare in _w6_prepares(p64, epochs).items() if name in timed}
    gaps64 = cnn_weight_gaps(p64.weights, checked)
    gaps32 = cnn_weight_gaps(p.weights, timed)
    x, y = p.x[:W6_JUDGED_SAMPLES], p.y[:W6_JUDGED_SAMPLES]
    losses = {name: problems.cnn_loss(weights, x, y) for name, (weights, _) in timed.items()}
    out = {}
    for name in timed:
        loss_gap = abs(losses[name] - losses[NUMPY]) / max(abs(losses[NUMPY]), 1e-12)
        if not gaps64[name] <= W6_WEIGHT_TOLERANCE:
            check = (
                f"FAILED: float64 weights differ by {gaps64[name]:.1e} of training's change "
                f"(> {W6_WEIGHT_TOLERANCE:g})"
            )
        elif not loss_gap <= LOSS_TOLERANCE["float32"]:
            check = (
                f"FAILED: final loss {losses[name]:.6g} vs {losses[NUMPY]:.6g} "
                f"(relative gap {loss_gap:.1e} > {LOSS_TOLERANCE['float32']:g})"
            )
        else:
            check = "ok"
        out[name] = {
            "final_loss": losses[name],
            "weight_gap_float64": gaps64[name],
            "weight_gap_float32": gaps32[name],
            "check": check,
        }
    return out


def _instrument_minidl(profiler: Profiler):
    def instrument(model: Any) -> None:
        if len(model.layers) != len(W6_PARTS):
            raise RuntimeError(f"W6's minidl model has {len(model.layers)} layers, expected {len(W6_PARTS)}")
        for part, layer in zip(W6_PARTS, model.layers):
            profiler.wrap(layer, "forward", part, "forward")
            profiler.wrap(layer, "backward", part, "backward")
            profiler.wrap(layer, "backward_parameters", part, "backward")  # the first layer's
        profiler.wrap(model.loss, "value_and_gradient", "loss", "forward")
        profiler.wrap(model.optimizer, "step", "update", "forward")

    return instrument


def _numpy_cnn_profiled(p: problems.Problem, epochs: int):
    def prepare(profiler: Profiler):
        net = impl_numpy.SmallCnn(p.weights, W6_BATCH, p.x.shape[1], W6_LR)
        for part, layer in net.layers.items():
            profiler.wrap(layer, "forward", part, "forward")
            profiler.wrap(layer, "backward", part, "backward")
        profiler.wrap(net.loss, "value_and_gradient", "loss", "forward")
        profiler.wrap(net.optimizer, "step", "update", "forward")
        return lambda: net.train(p.x, p.y, epochs)

    return prepare


def _peak_memory(prepare: Callable[[], Callable[[], Any]], data_and_weights: int) -> dict[str, int]:
    # as the memory workload measures: what building and training allocate (tracemalloc), plus
    # the data and the initial weights, alive throughout
    tracemalloc.start()
    try:
        prepare()()
        allocated = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"allocated_bytes": allocated, "peak_bytes": data_and_weights + allocated}


def w6_small_cnn(s: Settings) -> dict[str, Any]:
    """W6: a small CNN on 28x28x1 images, float32, batch 64, plain SGD: speed, profile, memory."""
    p = problems.small_cnn(s.w6_samples, size=W6_SIZE).astype("float32")
    epochs = s.w6_epochs
    args = (p.weights, p.x, p.y, epochs, W6_BATCH, W6_LR)
    prepares = _w6_prepares(p, epochs)
    missing = impl_minidl.cnn_missing()
    timings, results = time_interleaved(prepares, repeats=s.repeats, warmup=s.warmup)
    samples = epochs * len(p.x)
    steps = epochs * -(-len(p.x) // W6_BATCH)
    flops = cnn_conv_flops(p.x.shape[1])
    checks = _w6_check(p, epochs, results)
    rows = []
    for name, timing in timings.items():
        weights, reported = results[name]
        rows.append(
            {
                "impl": name,
                "time_per_run": timing.as_dict(),
                "samples_per_second": samples / timing.median,
                "gflops": samples * flops / timing.median / 1e9,
                "last_epoch_loss": reported,
                "test_accuracy": problems.cnn_accuracy(weights, p.x_test, p.y_test),
                **checks[name],
            }
        )
    profile_repeats = 1 if s.quick else 3
    profiles = {NUMPY: profile_run(_numpy_cnn_profiled(p, epochs), steps, profile_repeats)}
    if not missing:
        profiles["minidl"] = profile_run(
            lambda profiler: impl_minidl.small_cnn(*args, instrument=_instrument_minidl(profiler)),
            steps,
            profile_repeats,
        )
    fixed = p.x.nbytes + p.y.nbytes + sum(w.nbytes for w in p.weights)
    memory_rows = [
        {"impl": name, **_peak_memory(prepares[name], fixed)}
        for name in (NUMPY, "minidl")
        if name in prepares
    ]
    notes = [
        (
            f"Data: {p.source}; {len(p.x)} training samples ({steps} steps of {W6_BATCH}) per run, "
            f"{epochs} epoch(s), learning rate {W6_LR}; the test accuracy is on {len(p.x_test)} held-out "
            f"samples, the final loss (float64 judge) on the first {min(len(p.x), W6_JUDGED_SAMPLES)} training "
            "samples."
        ),
        (
            "Network: conv 3x3 (1 -> 16, same) + ReLU + max-pool 2, conv 3x3 (16 -> 32, same) + ReLU + "
            "max-pool 2, flatten, dense to 10, softmax cross-entropy from logits; everyone starts from the same "
            "weights (PyTorch's converted to NCHW explicitly)."
        ),
        (
            f"GFLOP/s counts the convolutions only: forward, kernel gradient and input gradient (none for the "
            f"first layer, whose input is the data), {flops / 1e6:.2f} MFLOP per sample."
        ),
        (
            f"check: the same training in float64 (untimed, {min(len(p.x), W6_CHECK_SAMPLES)} samples) ends on "
            f"the {NUMPY}'s weights to {W6_WEIGHT_TOLERANCE:g} of the largest change training made to each "
            "array ('float64 gap'), and the timed run's final loss is the reference's to a relative "
            f"{LOSS_TOLERANCE['float32']:g}. The timed float32 runs' weights differ by more ('float32 gap'): "
            "a pooling window whose largest values tie to the last bits picks another element in another "
            "order of summation, and training amplifies the difference."
        ),
        (
            "Peak memory is measured as the memory workload does: data and initial weights, plus the peak that "
            "building and training allocate (tracemalloc; it cannot see PyTorch's allocations)."
        ),
    ]
    if missing:
        notes.append(f"minidl: skipped, this minidl has no {', '.join(missing)} (the layers of issue 13).")
    notes += _skipped_notes([TORCH])
    return {
        "id": "W6",
        "title": "Small CNN on 28x28x1 images, float32, batch 64",
        "unit": "run",
        "rows": rows,
        "profile": profiles,
        "memory": memory_rows,
        "steps": steps,
        "notes": notes,
    }


def scaling(s: Settings) -> dict[str, Any]:
    """Time per epoch as the data set grows and as the hidden layer widens (float32, batch 32)."""
    rows = []
    for samples in s.scaling_samples:
        rows += _scaling_point(s, [64, 128, 10], samples, "samples", samples)
    for width in s.scaling_widths:
        rows += _scaling_point(s, [64, width, 10], 10_000 if not s.quick else 2_000, "width", width)
    return {
        "id": "scaling",
        "title": "Scaling: time per epoch (float32, batch 32, 1 epoch per run)",
        "rows": rows,
        "notes": ["Synthetic data; widths use a 64-W-10 network on 10,000 samples (2,000 in quick mode)."],
    }


def _scaling_point(
    s: Settings, sizes: list[int], samples: int, axis: str, value: int
) -> list[dict[str, Any]]:
    p = problems.synthetic_classification(sizes, samples).astype("float32")
    prepares = _classifier_prepares(p, 1, 32, 0.1)
    prepares.pop(SKLEARN, None)  # the peers' speed is compared in W3/W4; here PyTorch gives the slope
    timings, results = time_interleaved(prepares, repeats=max(1, s.repeats // 2), warmup=s.warmup)
    rows = _classifier_rows(p, timings, results, len(p.x), LOSS_TOLERANCE["float32"])
    return [
        {
            "axis": axis,
            "value": value,
            "samples": len(p.x),
            "impl": r["impl"],
            "time_per_epoch": r["time_per_run"],
            "check": r["check"],
        }
        for r in rows
    ]


def memory(s: Settings) -> dict[str, Any]:
    """Peak memory while training W4 for one epoch: data and initial weights, plus what training allocates.

    The data and the initial weights exist before and are counted by size; tracemalloc (which
    sees numpy's allocations) measures everything allocated from building the model to the end
    of training.
    """
    p = problems.synthetic_classification(W4_SIZES, s.w4_samples).astype("float32")
    data_bytes = p.x.nbytes + p.y.nbytes
    param_bytes = sum(w.nbytes for w in p.weights)
    activation_bytes = 256 * sum(W4_SIZES[1:]) * 4
    rows = []
    for name, prepare in _classifier_prepares(p, 1, 256, 0.01, peers=False).items():
        tracemalloc.start()
        try:
            run = prepare()
            run()
            allocated = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        rows.append(
            {"impl": name, "allocated_bytes": allocated, "peak_bytes": data_bytes + param_bytes + allocated}
        )
    return {
        "id": "memory",
        "title": "Peak memory of training W4 (one epoch)",
        "data_bytes": data_bytes,
        "parameter_bytes": param_bytes,
        "batch_activation_bytes": activation_bytes,
        "rows": rows,
        "notes": [
            "peak = data + initial weights (alive throughout) + the peak of what building the model and training "
            "allocate (tracemalloc). tracemalloc cannot see PyTorch's allocations, so only the numpy-based "
            "implementations are compared.",
        ],
    }
