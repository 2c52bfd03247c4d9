"""Runs the workloads in order, then checks and writes the results."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import impl_torch, report, sweeping, workloads
from .harness import blas_threads, machine_info

__all__ = ["run_suite", "WORKLOADS", "failed_checks"]

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "scaling", "memory", "sweep")


def run_suite(
    *,
    quick: bool = False,
    tiny: bool = False,
    only: tuple[str, ...] = WORKLOADS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Runs the selected workloads and returns every figure as plain values (JSON-ready).

    ``tiny`` shrinks every size to seconds for the test suite: its timings mean nothing, its
    correctness checks still run.
    """
    settings = workloads.Settings.make(quick, tiny)
    impl_torch.configure(blas_threads())  # same threads as numpy, before torch does any work
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    begin = time.perf_counter()
    done: dict[str, Any] = {}
    for key in WORKLOADS:
        if key not in only:
            continue
        log(f"running {key} ...")
        t0 = time.perf_counter()
        done[key] = _RUNNERS[key](settings)
        log(f"  {key} took {time.perf_counter() - t0:.1f} s")
    results = {
        "started": started,
        "seconds": time.perf_counter() - begin,
        "settings": vars(settings),
        "machine": machine_info(),
        "workloads": done,
    }
    results["targets"] = report.targets(done, quick=settings.quick)
    return results


_RUNNERS = {
    "W1": workloads.w1_lecture1,
    "W2": workloads.w2_lecture2,
    "W3": workloads.w3_small_classifier,
    "W4": workloads.w4_wide_mlp,
    "W5": workloads.w5_limits,
    "W6": workloads.w6_small_cnn,
    "scaling": workloads.scaling,
    "memory": workloads.memory,
    "sweep": sweeping.sweep_scaling,
}


def failed_checks(results: dict[str, Any]) -> list[str]:
    """Every row whose correctness check failed, as 'workload / implementation: reason'."""
    failures = []
    for key, w in results["workloads"].items():
        for row in w.get("rows", []):
            check = row.get("check", "ok")
            if check != "ok":
                failures.append(
                    f"{key} / {row['impl']}{' ' + row['dtype'] if 'dtype' in row else ''}: {check}"
                )
    return failures


def write_outputs(results: dict[str, Any], folder: Path) -> list[Path]:
    """Writes results.md, results.json and results.png into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "results.md", folder / "results.json"]
    paths[0].write_text(report.markdown(results), encoding="utf-8")
    report.write_json(results, paths[1])
    if report.write_chart(results, folder / "results.png"):
        paths.append(folder / "results.png")
    return paths
