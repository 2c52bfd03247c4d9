"""The sweep workload: how many small trials per second each ``minidl sweep`` backend runs.

Two batches of small trials (lecture 1 over several seeds, the digits MLP over a grid of eight
configurations) are run five ways: as a plain loop of the trial function in this process (the
yardstick), and through ``minidl.sweeps.sweep`` with the serial backend (the sweep's own
bookkeeping: files written per trial), one and two local worker processes, and a local Ray of
two CPUs. Every backend runs the same trial function, so each backend's
final figures must equal the loop's bit for bit; a backend that differs fails its check.

The per-trial overhead is what a backend costs beyond the loop, in worker-seconds:
``(wall time - start-up) x workers - loop time``, divided by the trials. With two workers on a
two-core machine it also holds whatever the two processes cost each other (memory bandwidth,
caches). Ray's start-up (``ray.init``) is reported on its own row, not spread over the trials.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from minidl import sweeps

from .harness import optional
from .workloads import Settings

__all__ = ["sweep_scaling", "LOOP"]

LOOP = "plain loop"


def _batches(s: Settings) -> list[dict[str, Any]]:
    """The trial batches of this run's size: lecture 1 over seeds, the digits MLP over a grid."""
    epochs = {"fit.epochs": [s.sweep_digits_epochs]}
    batches = [
        {
            "name": f"lecture 1 x {s.sweep_seeds} seeds",
            "config": "lecture1",
            "grid": {"fit.epochs": [s.sweep_lecture_epochs]},
            "seeds": list(range(s.sweep_seeds)),
            "needs": None,
        },
        {
            "name": "digits MLP x 8 configurations",
            "config": "digits",
            # four learning rates x two batch sizes: eight different fits of one seed
            "grid": {"optimizer.learning_rate": [0.0005, 0.001, 0.003, 0.01], "fit.batch_size": [16, 64]}
            | epochs,
            "seeds": None,
            "needs": "sklearn",  # the digits data set comes from scikit-learn
        },
    ]
    return batches if s.sweep_digits_epochs else batches[:1]


def _backends(s: Settings) -> list[tuple[str, str, int]]:
    """(row name, backend, workers) for every backend this run measures."""
    rows = [("serial (in the sweep's process)", "serial", 1)]
    rows += [(f"local, {k} worker{'s' if k > 1 else ''}", "local", k) for k in s.sweep_workers]
    if s.sweep_ray and optional("ray") is not None:
        rows.append(("Ray, 2 CPUs", "ray", 2))
    return rows


# The sweep runs in a fresh interpreter started with -c, as `minidl sweep` would: worker processes
# are spawned, and a spawned worker imports the parent's main module, which here would be the
# benchmark suite with PyTorch and scikit-learn (seconds per worker that no user pays).
_SWEEP = """
import json, sys, tempfile
from minidl import sweeps
batch, backend, workers = json.loads(sys.argv[1])
with tempfile.TemporaryDirectory() as out:
    result = sweeps.sweep(batch["config"], out=out, grid=batch["grid"], seeds=batch["seeds"],
                          backend=backend, workers=workers, plot=False)
print(json.dumps({"seconds": result.seconds, "startup_seconds": result.startup_seconds, "rows": result.rows}))
"""


def _sweep(batch: dict[str, Any], backend: str, workers: int) -> dict[str, Any]:
    argument = json.dumps([batch, backend, workers])
    done = subprocess.run(
        [sys.executable, "-c", _SWEEP, argument], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {backend} sweep of {batch['name']} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _loop(plan: list[sweeps.Trial], source: str) -> tuple[float, dict[str, dict[str, float]]]:
    """The yardstick: the same trial function over the same tasks, in this process."""
    start = time.perf_counter()
    figures = {}
    for trial in plan:
        task = {"id": trial.id, "seed": trial.seed, "config": trial.config, "source": source, "threads": 1}
        figures[trial.id] = sweeps.run_trial(task)["figures"]
    return time.perf_counter() - start, figures


def _check(rows: list[dict[str, Any]], expected: dict[str, dict[str, float]]) -> str:
    """'ok' when every trial succeeded with the loop's figures, bit for bit."""
    for row in rows:
        if row["status"] != "ok":
            return f"FAILED: trial {row['trial']} {row['status']}: {row['error']}"
        want = expected[row["trial"]]
        got = {k: row[k] for k in want}
        if got != want:
            return f"FAILED: trial {row['trial']} ended on {got}, the plain loop on {want}"
    return "ok"


def _row(batch: str, impl: str, trials: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {"batch": batch, "impl": impl, "trials": trials, "seconds": seconds,
            "trials_per_second": trials / seconds if seconds > 0 else None, **extra}  # fmt: skip


def _measure(batch: dict[str, Any], s: Settings) -> list[dict[str, Any]]:
    plan, source = sweeps.plan_trials(batch["config"], batch["grid"], batch["seeds"])
    n = len(plan)
    loop_seconds, expected = _loop(plan, source)
    rows = [_row(batch["name"], LOOP, n, loop_seconds, startup_seconds=0.0, overhead_per_trial=0.0,
                 check="ok")]  # fmt: skip
    for name, backend, workers in _backends(s):
        result = _sweep(batch, backend, workers)
        running = result["seconds"] - result["startup_seconds"]
        rows.append(
            _row(
                batch["name"], name, n, running,
                startup_seconds=result["startup_seconds"],
                overhead_per_trial=(running * workers - loop_seconds) / n,
                speedup=loop_seconds / running,
                check=_check(result["rows"], expected),
            )
        )  # fmt: skip
    return rows


def sweep_scaling(s: Settings) -> dict[str, Any]:
    """Trials per second of a plain loop and of each sweep backend, on two batches of small trials."""
    rows: list[dict[str, Any]] = []
    notes = [
        "Every backend runs minidl.sweeps.run_trial, the function the plain loop calls; its final figures "
        "must equal the loop's bit for bit (check). Time is the sweep's wall time without the backend's "
        "start-up, which includes starting worker processes, sending each trial and writing its files.",
        "overhead per trial = ((time - start-up) x workers - loop time) / trials, in worker-seconds; with "
        "two workers it includes what two processes on this machine's cores cost each other.",
    ]
    for batch in _batches(s):
        if batch["needs"] and optional(batch["needs"]) is None:
            notes.append(f"{batch['name']}: skipped ({batch['needs']} is not installed).")
            continue
        rows += _measure(batch, s)
    if not s.sweep_ray or optional("ray") is None:
        notes.append("Ray: skipped (" + ("not installed" if s.sweep_ray else "not in this run's size") + ").")
    return {
        "id": "sweep",
        "title": "Sweeps: trials per second, plain loop vs minidl sweep's backends",
        "rows": rows,
        "notes": notes,
    }
