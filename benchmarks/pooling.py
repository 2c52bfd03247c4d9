"""``python -m benchmarks.pooling [--rounds N]``: ways of writing W6's max pooling, side by side.

W6 max-pools (64, 28, 28, 16) float32 batches 2x2 after a ReLU. Each alternative below computes
the forward pass and the backward pass (every window's gradient to its first maximum in
row-major order, as PyTorch's CPU kernel does; ties are everywhere after a ReLU) and must give
minidl's result exactly. Each figure is the CPU time of one forward and backward
(``time.process_time``: numpy runs these on one thread, and CPU time hides the waits of a
shared machine), the median and min of interleaved rounds in a new random order each round;
PyTorch runs after the numpy alternatives, apart, since its worker threads keep spinning after a
call and would slow whatever ran next. The minor page faults per call are shown too: a large
temporary that glibc took back from the process costs a fault per 4 KiB page when it is made
again, which can double a pooling's cost.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minidl import MaxPooling2D

__all__ = ["alternatives", "check", "measure", "main"]

Step = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (x, dL/dy) -> dL/dx, after computing y


def _minidl() -> Step:
    layer = MaxPooling2D(2)

    def step(x: np.ndarray, g: np.ndarray) -> np.ndarray:
        layer.forward(x)
        return layer.backward(g)

    return step


def _separable_via_temporaries(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """minidl's two passes, but each share made in a temporary and copied into place."""
    row_max = np.maximum(x[:, :, 0::2], x[:, :, 1::2])
    y = np.maximum(row_max[:, 0::2], row_max[:, 1::2])
    d_row_max = np.empty_like(row_max)
    taken = g * (row_max[:, 0::2] == y)
    d_row_max[:, 0::2] = taken
    d_row_max[:, 1::2] = g - taken
    dx = np.empty_like(x)
    taken = d_row_max * (x[:, :, 0::2] == row_max)
    dx[:, :, 0::2] = taken
    dx[:, :, 1::2] = d_row_max - taken
    return dx


def _offsets_2d(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """A loop over the 4 offsets of the 2-D window; the first maximum found by a 'taken' mask."""
    n, h, w, c = x.shape
    windows = x.reshape(n, h // 2, 2, w // 2, 2, c)
    y = np.maximum(windows[:, :, 0, :, 0], windows[:, :, 0, :, 1])
    np.maximum(y, windows[:, :, 1, :, 0], out=y)
    np.maximum(y, windows[:, :, 1, :, 1], out=y)
    dx = np.empty_like(x)
    d = dx.reshape(windows.shape)
    taken = None
    for i in range(2):
        for j in range(2):
            hit = windows[:, :, i, :, j] == y
            if taken is None:
                taken = hit
            else:
                hit &= ~taken
                taken |= hit
            np.multiply(g, hit, out=d[:, :, i, :, j])
    return dx


def _first_max_of_windows(windows: np.ndarray, g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """dL/dx from (n, oh, ow, c, 2, 2) windows: argmax (the first maximum) of a copy of them."""
    n, oh, ow, c = g.shape
    where = windows.reshape(n, oh, ow, c, 4).argmax(axis=-1)  # the reshape copies the windows
    d = np.zeros((n, oh, ow, c, 4), g.dtype)
    np.put_along_axis(d, where[..., None], g[..., None], axis=-1)
    return d.reshape(n, oh, ow, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(shape)


def _reshape_max(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The (n, h/2, 2, w/2, 2, c) reshape, reduced with max(axis=(2, 4))."""
    n, h, w, c = x.shape
    windows = x.reshape(n, h // 2, 2, w // 2, 2, c)
    windows.max(axis=(2, 4))
    return _first_max_of_windows(windows.transpose(0, 1, 3, 5, 2, 4), g, x.shape)


def _sliding_windows(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``sliding_window_view`` windows taken every 2 pixels, reduced with max(axis=(-2, -1))."""
    windows = sliding_window_view(x, (2, 2), axis=(1, 2))[:, ::2, ::2]
    windows.max(axis=(-2, -1))
    return _first_max_of_windows(windows, g, x.shape)


def _all_ties(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Another rule, for scale only: every tied maximum of a window receives its whole gradient."""
    n, h, w, c = x.shape
    row_max = np.maximum(x[:, :, 0::2], x[:, :, 1::2])
    y = np.maximum(row_max[:, 0::2], row_max[:, 1::2])
    windows = x.reshape(n, h // 2, 2, w // 2, 2, c)
    return ((windows == y[:, :, None, :, None]) * g[:, :, None, :, None]).reshape(x.shape)


def alternatives() -> dict[str, Step]:
    """Every numpy way measured, by name; the first is minidl's ``MaxPooling2D(2)``."""
    return {
        "minidl MaxPooling2D: width pass then height pass": _minidl(),
        "the same two passes, shares copied from temporaries": _separable_via_temporaries,
        "loop over the 4 offsets of the 2-D window": _offsets_2d,
        "reshape to (n, h/2, 2, w/2, 2, c), max(axis)": _reshape_max,
        "sliding_window_view, max(axis)": _sliding_windows,
        "every tied maximum gets the gradient (another rule)": _all_ties,
    }


def _torch_steps(threads: tuple[int, ...]) -> dict[str, Step]:
    """PyTorch's max_pool2d, NCHW and channels_last; each batch is converted once, untimed."""
    try:
        import torch
    except ImportError:
        return {}
    steps: dict[str, Step] = {}
    for layout, name in ((torch.contiguous_format, "NCHW"), (torch.channels_last, "channels_last")):
        for count in threads:
            converted: dict[int, tuple[object, object]] = {}

            def step(
                x: np.ndarray,
                g: np.ndarray,
                layout: object = layout,
                count: int = count,
                converted: dict[int, tuple[object, object]] = converted,
            ) -> np.ndarray:
                if id(x) not in converted:  # the conversion is done once, outside the timed calls
                    xt = torch.from_numpy(x.transpose(0, 3, 1, 2)).contiguous(memory_format=layout)
                    gt = torch.from_numpy(g.transpose(0, 3, 1, 2)).contiguous(memory_format=layout)
                    converted[id(x)] = (xt.requires_grad_(), gt)
                xt, gt = converted[id(x)]
                torch.set_num_threads(count)
                xt.grad = None  # type: ignore[attr-defined]
                torch.nn.functional.max_pool2d(xt, 2).backward(gt)
                return xt.grad.numpy().transpose(0, 2, 3, 1)  # type: ignore[attr-defined]

            steps[f"PyTorch max_pool2d, {name}, {count} thread(s)"] = step
    return steps


def _data(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal(shape, dtype=np.float32), 0)  # after a ReLU: ties at 0
    n, h, w, c = shape
    return x, rng.standard_normal((n, h // 2, w // 2, c), dtype=np.float32)


Shape4 = tuple[int, int, int, int]


def check(shape: Shape4 = (4, 6, 8, 3), torch_threads: tuple[int, ...] = (1,)) -> list[str]:
    """The names of the alternatives whose dL/dx differs from minidl's (none, when all agree)."""
    x, g = _data(shape)
    steps = {**alternatives(), **_torch_steps(torch_threads)}
    reference = next(iter(steps.values()))(x, g)
    compared = [name for name in steps if "another rule" not in name]
    return [name for name in compared if not np.array_equal(steps[name](x, g), reference)]


def _page_faults() -> int:
    """Minor page faults of this process so far (0 where the resource module is missing)."""
    if sys.platform == "win32":
        return 0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(rounds: int = 30, shape: Shape4 = (64, 28, 28, 16)) -> dict[str, tuple[list[float], float]]:
    """Per alternative: milliseconds of CPU time per forward and backward (one figure per round),
    and the minor page faults per call (a fresh page from the system for a large temporary)."""
    x, g = _data(shape)
    groups = [alternatives(), _torch_steps((1, 2))]
    times: dict[str, list[float]] = {name: [] for group in groups for name in group}
    faults = dict.fromkeys(times, 0)
    order = np.random.default_rng(1)
    for group in groups:
        for step in group.values():
            step(x, g)  # warm-up
        for _ in range(rounds):
            for name in order.permutation(list(group)):
                before = _page_faults()
                start = time.process_time()
                for _ in range(5):
                    group[name](x, g)
                times[name].append((time.process_time() - start) / 5 * 1e3)
                faults[name] += _page_faults() - before
    return {name: (times[name], faults[name] / (5 * rounds)) for name in times}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pooling", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default: %(default)s)")
    args = parser.parse_args(argv)
    disagree = check()
    if disagree:
        print(f"these differ from minidl's gradient: {disagree}")
        return 1
    print("CPU ms per forward + backward of a (64, 28, 28, 16) float32 batch, 2x2 max pooling")
    for name, (values, faults) in measure(args.rounds).items():
        figures = f"median {np.median(values):6.2f}  min {min(values):6.2f}  page faults {faults:7.1f}"
        print(f"  {name:55s} {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
