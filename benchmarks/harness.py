"""Timing and environment: warm-up, repeats, median with min and max, and what machine ran it."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

__all__ = ["Timing", "measure", "environment"]


@dataclass(frozen=True)
class Timing:
    """Seconds per unit of work over ``repeats`` runs: median, fastest and slowest."""

    median: float
    min: float
    max: float
    repeats: int

    def scaled(self, factor: float) -> Timing:
        return Timing(self.median * factor, self.min * factor, self.max * factor, self.repeats)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def measure(run: Callable[[], Any], units: int, *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Times ``run()`` (which does ``units`` units of work) ``repeats`` times after ``warmup`` runs.

    Returns seconds per unit. Each repeat is one call timed with ``time.perf_counter``.
    """
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) / units)
    return Timing(statistics.median(samples), min(samples), max(samples), repeats)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed (pip install minidl[bench])"}]
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "filepath")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def environment() -> dict[str, Any]:
    """The machine, the BLAS numpy uses and its threads, and every relevant library's version."""
    return {
        "machine": f"{platform.system()} {platform.machine()}",
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "blas": _blas(),
        "versions": {d: _version(d) for d in ("minidl", "numpy", "scipy", "torch", "scikit-learn", "threadpoolctl")},
    }
