"""Timing and machine description: the measuring instruments of the suite.

Implementations of one workload are timed side by side and interleaved (one run of each in
turn, repeated), so a burst of load on a shared machine hits all of them alike. Each figure is
the median of the repeats after the warm-up runs, reported with its min and max.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

__all__ = ["Timing", "time_interleaved", "machine_info", "blas_threads", "optional"]


@dataclass
class Timing:
    """Seconds per unit of work (a step, an epoch, a call): median, min and max over repeats."""

    median: float
    min: float
    max: float
    repeats: int

    @classmethod
    def of(cls, seconds: list[float], units: int = 1) -> Timing:
        per_unit = [s / units for s in seconds]
        return cls(statistics.median(per_unit), min(per_unit), max(per_unit), len(per_unit))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# prepare() builds a fresh run (untimed: model construction, data conversion, initial weights);
# the run it returns is timed and returns what the correctness check needs.
Prepare = Callable[[], Callable[[], Any]]


def time_interleaved(
    prepares: dict[str, Prepare],
    *,
    repeats: int,
    warmup: int = 1,
    units: int = 1,
    settle: float | None = None,
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Times every implementation ``repeats`` times, in turn; returns timings and last results.

    ``settle`` seconds of sleep before each timed run let the worker threads of the library
    that ran before (OpenBLAS and OpenMP threads spin for a while after their work) go idle,
    so they do not compete for the cores with the next one. By default it is 0.1 s when
    PyTorch is loaded alongside numpy's BLAS, else 0.

    The garbage collector is paused inside a timed run, as ``timeit`` does, so a collection
    triggered by one implementation's garbage is not billed to another.
    """
    if settle is None:
        settle = 0.1 if "torch" in sys.modules else 0.0
    seconds: dict[str, list[float]] = {name: [] for name in prepares}
    results: dict[str, Any] = {}
    for round_ in range(warmup + repeats):
        for name, prepare in prepares.items():
            run = prepare()
            if settle:
                time.sleep(settle)
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                result = run()
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            results[name] = result
            if round_ >= warmup:
                seconds[name].append(elapsed)
    return {name: Timing.of(s, units) for name, s in seconds.items()}, results


def optional(module: str) -> Any | None:
    """The module if it imports, else None (peers are optional)."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None


def blas_threads() -> int | None:
    """numpy's BLAS thread count (threadpoolctl), or None when it cannot be read."""
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is None:
        return None
    pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    return pools[0]["num_threads"] if pools else None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, memory, BLAS and thread counts, and the version of every library involved."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in (
                "minidl",
                "numpy",
                "scipy",
                "torch",
                "scikit-learn",
                "threadpoolctl",
                "psutil",
                "matplotlib",
            )
        },
        "blas": None,
        "blas_threads": blas_threads(),
        # Reported, never changed: it selects OpenBLAS's kernels and so its speed.
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "thread_env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }
    psutil = optional("psutil")
    if psutil is not None:
        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["physical_cpus"] = psutil.cpu_count(logical=False)
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is not None:
        info["blas"] = [
            {
                k: pool.get(k)
                for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")
            }
            for pool in threadpoolctl.threadpool_info()
        ]
    torch = optional("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
    return info
