"""Sweeps: many fits of one training configuration, on local processes or a Ray cluster.

A sweep takes a configuration (bundled or a TOML file), a grid of values for keys of that
configuration (``optimizer.learning_rate=0.01,0.1``) and a list of seeds. Every combination of
grid values (or N random draws of them) with every seed is a *trial*: one ``fit`` of the
configuration with those values, recorded with its History, final figures, time and trained
model. ``minidl sweep`` is the command line; ``sweep`` is the same from Python.

Trials run on a backend: ``"local"`` (worker processes of this machine), ``"ray"`` (Ray core
tasks, on a cluster or a Ray started for the run; Ray is imported only there) or ``"serial"``
(this process, one after the other). A trial's result depends only on its configuration and
seed: the trial function is the same on every backend, its data and weights come from seeded
generators, and its BLAS thread count is fixed per trial (``threads``, 1 by default), never
derived from the number of workers, so 1 or 2 workers and Ray give the same bits.

The output folder holds one record per finished trial (``trials/<id>.json`` and
``trials/<id>.minidl``), ``results.csv`` and ``results.md`` (rebuilt after every trial),
``best.minidl`` and ``sweep.png`` (with matplotlib). Every file is written atomically. A trial
that raises is recorded as failed and the sweep goes on; a trial whose worker died is recorded
as lost. Running the same sweep again reads the finished trials back and runs only the rest
(and the lost ones). See docs/guide-sweeps.md.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io as _io
import itertools
import json
import math
import os
import socket
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import config as config_module
from . import io, metrics
from ._threads import blas_threads, check_threads
from .errors import ConfigError, MinidlError

__all__ = [
    "sweep",
    "SweepResult",
    "Trial",
    "Backend",
    "SerialBackend",
    "LocalBackend",
    "RayBackend",
    "BACKENDS",
    "RESULTS_EVERY",
    "make_backend",
    "parse_grid",
    "parse_values",
    "parse_seeds",
    "resolve_key",
    "plan_trials",
    "run_trial",
]

#: The backends a sweep can name.
BACKENDS = ("local", "ray", "serial")
#: While a sweep runs, results.csv and results.md are rewritten at most this often (seconds);
#: each trial's own record is written the moment it finishes, and the files are complete at the
#: end. Rewriting them after every trial read every record each time: quadratic in the trials.
RESULTS_EVERY = 2.0
_SECTIONS = ("model", "compile", "fit", "data")
# Where a key without its section lives (``epochs`` is ``fit.epochs``), for keys that may be
# absent from a configuration; keys present in one section only are found there too.
_SECTION_OF = {
    "layers": "model", "dtype": "model", "input_shape": "model",
    "loss": "compile", "optimizer": "compile", "metrics": "compile",
    "epochs": "fit", "batch_size": "fit", "shuffle": "fit", "validation_split": "fit",
}  # fmt: skip
_STATUSES = ("ok", "failed", "lost")


# ------------------------------------------------------------------------------------- parsing
def parse_values(text: str) -> list[Any]:
    """``"0.01,0.1"`` as ``[0.01, 0.1]``: each comma-separated item read as a TOML value (numbers,
    booleans, quoted strings, inline tables and arrays), or as a bare string (``relu``).

    Args:
        text: the comma-separated values.
    """
    items, depth, quoted, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quoted:
            quoted = "" if char == quoted else quoted
        elif char in "\"'":
            quoted = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    values = []
    for item in (item.strip() for item in items):
        if not item:
            raise ConfigError(f"Empty value in {text!r}: give values separated by commas, e.g. 0.01,0.1.")
        try:
            values.append(tomllib.loads(f"v = {item}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(item)
    return values


def parse_grid(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """The grid as ``{key: [values]}``, from ``["key=v1,v2", ...]`` (the command line's
    ``--grid``) or from a mapping of keys to a value or a list of values.

    Args:
        items: ``["key=v1,v2", ...]`` or a mapping of keys to a value or a list of values.
    """
    if items is None:
        return {}
    grid: dict[str, list[Any]] = {}
    if isinstance(items, Mapping):
        for key, values in items.items():
            grid[str(key)] = list(values) if isinstance(values, (list, tuple)) else [values]
            if not grid[str(key)]:
                raise ConfigError(f"The grid key {key!r} has no values.")
        return grid
    for item in items:
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"A grid entry must be KEY=V1,V2,...; received {item!r}.")
        if key.strip() in grid:
            raise ConfigError(
                f"The grid key {key.strip()!r} is given twice; list all its values in one entry."
            )
        grid[key.strip()] = parse_values(text)
    return grid


def parse_seeds(seeds: str | int | Iterable[int] | None) -> list[int] | None:
    """``"0-19"``, ``"0,3,5-7"``, an int or a list of ints as a list of distinct seeds (None stays None).

    Args:
        seeds: ``"0-19"``, ``"0,3,5-7"``, an int, a list of ints or None.
    """
    if seeds is None:
        return None
    values: list[Any]
    if isinstance(seeds, (int, np.integer)):
        values = [seeds]  # a bool is refused below, with the other bad values
    elif isinstance(seeds, str):
        values = []
        for part in seeds.split(","):
            low, dash, high = part.strip().partition("-")
            try:
                values += list(range(int(low), int(high) + 1)) if dash else [int(low)]
            except ValueError:
                raise ConfigError(f"Seeds are written 0-19 or 0,3,5-7; received {seeds!r}.") from None
    else:
        values = list(seeds)
    bad = [s for s in values if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0]
    if bad or not values:
        raise ConfigError(f"Seeds must be non-negative integers (at least one); received {seeds!r}.")
    if len(set(values)) != len(values):
        raise ConfigError(f"Seeds must be distinct; received {seeds!r}.")
    return [int(s) for s in values]


# --------------------------------------------------------------------------------- configuration
def _raw(config: str | os.PathLike[str] | config_module.TrainingConfig) -> tuple[dict[str, Any], str]:
    """The configuration as the plain dict of its TOML, and where it came from."""
    if not isinstance(config, config_module.TrainingConfig):
        config = config_module.load(config if isinstance(config, str) else Path(config))
    raw: dict[str, Any] = {
        "model": config.model, "compile": config.compile, "fit": config.fit, "data": config.data
    }  # fmt: skip
    if config.predict:
        raw["predict"] = config.predict
    if config.description:
        raw["description"] = config.description
    return copy.deepcopy(raw), config.source


def _leaves(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{prefix}{key}.")]
    if isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, f"{prefix}{i}.")]
    return [prefix[:-1]]


def _components(raw: dict[str, Any]) -> list[str]:
    """The places whose component takes more arguments than the file gives (``compile.optimizer``)."""
    places = [f"model.layers.{i}" for i in range(len(raw["model"].get("layers", [])))]
    places += [f"compile.{key}" for key in ("loss", "optimizer") if key in raw["compile"]]
    return places


def _unknown_key(key: str, raw: dict[str, Any], why: str) -> ConfigError:
    leaves = _leaves({s: raw[s] for s in _SECTIONS})
    known = [leaf for leaf in leaves if not leaf.startswith(("data.x", "data.y"))]  # arrays, not keys
    return ConfigError(
        f"Unknown sweep key {key!r}: {why}. Keys of this configuration: {', '.join(known)}; and any "
        f"argument of the components at {', '.join(_components(raw))} "
        "(e.g. compile.optimizer.learning_rate), "
        "of [fit] and of the data set. A key may leave out its section when that is unambiguous "
        "(optimizer.learning_rate, layers.0.units, epochs)."
    )


def resolve_key(key: str, raw: dict[str, Any]) -> tuple[str, ...]:
    """The full path of ``key`` in ``raw``, its section first (``epochs`` -> ``fit.epochs``).

    Args:
        key: a grid key, with or without its section.
        raw: the configuration as a dict.
    """
    parts = tuple(part.strip() for part in key.split("."))
    if not all(parts):
        raise _unknown_key(key, raw, "it has an empty part")
    if parts[0] not in _SECTIONS:
        sections = [s for s in _SECTIONS if parts[0] in raw[s]] or [_SECTION_OF.get(parts[0], "")]
        if len(sections) > 1:
            choices = " or ".join(f"{s}.{key}" for s in sections)
            raise ConfigError(f"The sweep key {key!r} is ambiguous: say {choices}.")
        if not sections[0]:
            raise _unknown_key(key, raw, f"no section of the configuration has {parts[0]!r}")
        parts = (sections[0], *parts)
    if parts[:2] == ("model", "seed"):
        raise ConfigError(
            "The model's seed is not a grid key: give the seeds with --seeds (seeds= in Python)."
        )
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise _unknown_key(key, raw, f"{'.'.join(parts[:depth])} has entries 0 to {len(node) - 1}")
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif last and (isinstance(node, (dict, str)) and depth >= 1):
            return parts  # a new key of a section or an argument of a component: checked when built
        else:
            raise _unknown_key(key, raw, f"{'.'.join(parts[: depth + 1])} is not in it")
    return parts


def _with_value(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    parent: Any = raw
    for i, part in enumerate(path[:-1]):
        child = parent[int(part)] if isinstance(parent, list) else parent[part]
        if isinstance(child, str) and i == len(path) - 2:  # a component by name gains an argument
            child = {"type": child}
            if isinstance(parent, list):
                parent[int(part)] = child
            else:
                parent[part] = child
        parent = child
    last = path[-1]
    if isinstance(parent, list):
        parent[int(last)] = copy.deepcopy(value)
    else:
        parent[last] = copy.deepcopy(value)


# -------------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Trial:
    """One fit: the grid values (by the keys as given), the seed, and the configuration they make.

    ``id`` is a digest of the configuration and the seed, so a trial is recognised in an output
    folder whatever the order or the backend of the run that made it.

    Args:
        id: a digest of the configuration and the seed.
        values: the grid values, by the keys as given.
        seed: the model seed.
        config: the configuration they make, as a dict.
    """

    id: str
    values: dict[str, Any]
    seed: int
    config: dict[str, Any]


def plan_trials(
    config: str | os.PathLike[str] | config_module.TrainingConfig,
    grid: Iterable[str] | Mapping[str, Any] | None = None,
    seeds: str | int | Iterable[int] | None = None,
    *,
    trials: int | None = None,
    random: bool = False,
    sample_seed: int = 0,
) -> tuple[list[Trial], str]:
    """Every trial of a sweep, in order (grid points, each with every seed), and the source.

    Each distinct grid point's configuration is built once here, so an unknown key or a value
    the configuration refuses stops the sweep before any trial runs. ``trials`` keeps that many
    grid points: the first ones, or with ``random=True`` a draw without replacement by a
    generator seeded by ``sample_seed``.

    Args:
        config: the configuration: a bundled name, a TOML file or a ``TrainingConfig``.
        grid: the grid, as ``parse_grid`` takes it (None: the configuration alone).
        seeds: the model seeds, as ``parse_seeds`` takes them (None: the configuration's).
        trials: keep this many grid points (None: all of them).
        random: with ``trials``, draw them at random instead of keeping the first ones.
        sample_seed: the seed of that random draw.
    """
    raw, source = _raw(config)
    points = parse_grid(grid)
    seed_list = parse_seeds(seeds) or [int(raw["model"].get("seed") or 0)]
    paths = {key: resolve_key(key, raw) for key in points}
    combos = [dict(zip(points, values, strict=True)) for values in itertools.product(*points.values())]
    if trials is not None:
        if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= len(combos):
            raise ConfigError(f"trials must be 1 to {len(combos)} (the grid's points); received {trials!r}.")
        if random:
            picked = np.random.default_rng(sample_seed).choice(len(combos), size=trials, replace=False)
            combos = [combos[i] for i in sorted(picked)]
        else:
            combos = combos[:trials]
    elif random:
        raise ConfigError("random=True (--random) draws `trials` grid points: give trials (--trials N) too.")
    planned = []
    for combo in combos:
        point = copy.deepcopy(raw)
        for key, value in combo.items():
            _with_value(point, paths[key], value)
        _check_point(point, source, combo)
        for seed in seed_list:
            digest = hashlib.sha256(json.dumps([point, seed], sort_keys=True).encode()).hexdigest()
            planned.append(Trial(digest[:16], combo, seed, point))
    return planned, source


def _check_point(point: dict[str, Any], source: str, combo: dict[str, Any]) -> None:
    where = ", ".join(f"{k}={v!r}" for k, v in combo.items()) or "the configuration"
    try:
        parsed = config_module.TrainingConfig.from_dict(point, source)
        parsed.build(seed=0)
    except MinidlError as exc:
        raise type(exc)(f"With {where}: {exc}") from None


# -------------------------------------------------------------------------------------- a trial
def run_trial(task: Mapping[str, Any]) -> dict[str, Any]:
    """Runs one trial and returns its record; never raises for a fault of the trial itself.

    ``task`` holds ``id``, ``seed``, ``config`` (the configuration's dict), ``source`` and
    ``threads``. The record holds the status (``"ok"`` or ``"failed"``), the final figures (the
    last epoch's, and ``test_<name>`` when the configuration holds out a test set), the History,
    the seconds, the worker, the error, and the trained model as ``minidl.io.to_bytes``
    bytes (``model``). Every backend runs this same function.

    Args:
        task: the trial's ``id``, ``seed``, ``config``, ``source`` and ``threads``.
    """
    start = time.perf_counter()
    record: dict[str, Any] = {
        "id": task["id"], "seed": task["seed"], "status": "ok", "error": "", "figures": {}, "history": {},
        "epochs": 0,
    }  # fmt: skip
    try:
        # numpy's overflow warnings are silenced: a diverging fit is the guard's DivergenceError,
        # recorded as the trial's error
        with blas_threads(task["threads"]), np.errstate(over="ignore", invalid="ignore"):
            parsed = config_module.TrainingConfig.from_dict(task["config"], task["source"])
            model = parsed.build(seed=task["seed"])
            x, y, x_test, y_test = parsed.split()
            fit_args = {k: v for k, v in parsed.fit.items() if k != "verbose"}
            history = model.fit(x, y, verbose=0, **fit_args)
            record["history"] = {k: [float(v) for v in values] for k, values in history.history.items()}
            record["epochs"] = len(history.epochs)
            record["figures"] = {k: values[-1] for k, values in record["history"].items() if values}
            if x_test is not None:
                test = model.evaluate(x_test, y_test, return_dict=True)
                if isinstance(test, dict):  # always, with return_dict=True
                    record["figures"].update((f"test_{k}", float(v)) for k, v in test.items())
            record["model"] = io.to_bytes(model)
    except Exception as exc:  # noqa: BLE001 - a trial's fault is recorded, never stops the sweep
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", model=None)
    record["seconds"] = time.perf_counter() - start
    record["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return record


def _lost(task: Mapping[str, Any], why: str) -> dict[str, Any]:
    return {"id": task["id"], "seed": task["seed"], "status": "lost", "error": why, "figures": {},
            "history": {}, "epochs": 0, "seconds": 0.0, "worker": "", "model": None}  # fmt: skip


# -------------------------------------------------------------------------------------- backends
Report = Callable[[dict[str, Any]], None]


class Backend:
    """Runs trials and reports each record, in the main process, as it finishes.

    ``run(tasks, report)`` calls ``report(record)`` once per task, in any order: the record
    ``function(task)`` returned, or a ``"lost"`` record when the worker running it died.
    ``capacity`` is how many trials run at once (for the progress line).

    Args:
        function: the function that runs one task (``run_trial``; tests pass others).
    """

    name = "backend"

    def __init__(self, function: Callable[[Mapping[str, Any]], dict[str, Any]] = run_trial) -> None:
        self.function = function
        self.capacity = 1
        self.startup_seconds = 0.0

    def run(self, tasks: Sequence[Mapping[str, Any]], report: Report) -> None:
        """Runs every task and calls ``report`` with each record as it finishes.

        Args:
            tasks: the trials to run, as ``run_trial`` takes them.
            report: called in the main process with each record.
        """
        raise NotImplementedError

    def describe(self) -> str:
        """A short description of where the trials run, for the progress line."""
        return self.name


class SerialBackend(Backend):
    """Runs the trials in this process, one after the other (a plain loop: the reference)."""

    name = "serial"

    def run(self, tasks: Sequence[Mapping[str, Any]], report: Report) -> None:
        for task in tasks:
            report(self.function(task))


class LocalBackend(Backend):
    """Runs the trials in ``workers`` processes of this machine (``concurrent.futures``).

    Processes are started with ``spawn`` (a fresh interpreter: no inherited threads or state, the
    same on every platform). At most ``workers`` trials are submitted at a time, so when a worker
    dies (killed, out of memory) only the trials it and the others were running are lost: they
    are recorded as ``"lost"``, a new pool takes the rest, and a rerun of the sweep retries them.

    Args:
        workers: the number of worker processes (default: the cores divided by ``threads``).
        threads: BLAS threads per trial.
        function: the function that runs one task.
    """

    name = "local"

    def __init__(
        self,
        workers: int | None = None,
        *,
        threads: int = 1,
        function: Callable[[Mapping[str, Any]], dict[str, Any]] = run_trial,
    ) -> None:
        super().__init__(function)
        self.workers = _positive(workers, "workers") or max(1, (os.cpu_count() or 1) // threads)
        self.capacity = self.workers

    def describe(self) -> str:
        return f"local, {self.workers} worker process{'es' if self.workers > 1 else ''}"

    def run(self, tasks: Sequence[Mapping[str, Any]], report: Report) -> None:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        def new_pool() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

        queue: deque[Mapping[str, Any]] = deque(tasks)
        running: dict[Any, Mapping[str, Any]] = {}  # future -> its task
        pool = new_pool()
        try:
            while queue or running:
                broken = False
                try:
                    while queue and len(running) < self.workers:
                        running[pool.submit(self.function, queue[0])] = queue[0]
                        queue.popleft()  # only once submitted: a refused task stays queued
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except BrokenProcessPool:  # found by submit: a worker died since the last wait
                    broken, done = True, set()
                for future in done:
                    broken |= self._report(future, running.pop(future), report)
                if broken:  # the pool is unusable: whatever it was running went down with it
                    wait(running)  # a broken pool fails every pending future at once
                    for future, task in running.items():
                        self._report(future, task, report)
                    running.clear()
                    pool.shutdown(wait=True)
                    pool = new_pool()
        except BaseException:
            # Ctrl-C or an error of our own: stop the workers now rather than let their trials
            # finish (the executor has no public way to do so; its processes are a dict).
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _report(future: Any, task: Mapping[str, Any], report: Report) -> bool:
        """Reports a finished future's record, or the task as lost; True when its worker died."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            record = future.result()
        except BrokenProcessPool:
            report(_lost(task, "its worker process died (killed, or out of memory) while it ran"))
            return True
        report(record)
        return False


class RayBackend(Backend):
    """Runs each trial as a Ray task, on the cluster at ``address`` or on a Ray started for the run.

    Ray core tasks, not Ray Tune: a trial is one independent function call that returns its
    record, which is exactly a task; the trial function stays the one every backend runs (so
    results are bit-identical across backends); the sweep keeps its own resumable output folder
    instead of a second one of Tune's; and it needs only ``ray``, not Tune's extra dependencies.
    Each task asks for ``threads`` CPUs. A task whose worker or node is lost is retried by Ray
    (``max_retries``), then recorded as ``"lost"``. A local Ray gets ``workers * threads`` CPUs
    (all of this machine's by default); ``startup_seconds`` is the time ``ray.init`` took.

    Args:
        workers: the CPUs of a local Ray, in trials (default: every core); unused with ``address``.
        address: the Ray cluster to use (``"auto"``, ``"ray://host:10001"``); None starts a local one.
        threads: the CPUs (and BLAS threads) of each task.
        max_retries: how often Ray retries a task whose worker or node was lost.
        function: the function that runs one task.
    """

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        threads: int = 1,
        max_retries: int = 2,
        function: Callable[[Mapping[str, Any]], dict[str, Any]] = run_trial,
    ) -> None:
        super().__init__(function)
        self.workers = _positive(workers, "workers")
        self.address = address
        self.threads = threads
        self.max_retries = max_retries

    def describe(self) -> str:
        where = f"cluster at {self.address}" if self.address else "a local Ray started for the sweep"
        return f"ray, {where}"

    def run(self, tasks: Sequence[Mapping[str, Any]], report: Report) -> None:
        ray = _import_ray()
        start = time.perf_counter()
        started = not ray.is_initialized()
        if started:
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                cpus = (self.workers or 0) * self.threads or os.cpu_count() or 1
                # "local": a new Ray of its own, even when RAY_ADDRESS or a `ray start` on this
                # machine (or a stale record of one) names a cluster; without it, ray.init
                # connects there and refuses num_cpus
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        self.startup_seconds = time.perf_counter() - start
        try:
            self.capacity = max(1, int(ray.cluster_resources().get("CPU", 1) // self.threads))
            remote = ray.remote(num_cpus=self.threads, max_retries=self.max_retries)(self.function)
            pending = {remote.remote(dict(task)): task for task in tasks}
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1)
                    for ref in done:
                        task = pending.pop(ref)
                        try:
                            record = ray.get(ref)
                        except ray.exceptions.RayError as exc:
                            why = f"Ray could not run it: {type(exc).__name__}: {exc}".splitlines()[0]
                            record = _lost(task, why)
                        report(record)
            except BaseException:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
        finally:
            if started:
                ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "The ray backend needs Ray, an optional extra; install it with: pip install 'minidl[ray]' "
            "(or use --backend local)."
        ) from None
    return ray


def _positive(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{what} must be a positive integer; received {value!r}.")
    return int(value)


def make_backend(
    backend: str | Backend, *, workers: int | None = None, threads: int = 1, address: str | None = None
) -> Backend:
    """The backend named ``backend`` (one of ``BACKENDS``), or ``backend`` itself.

    Args:
        backend: ``"local"``, ``"ray"``, ``"serial"`` or a ``Backend`` (returned as it is).
        workers: worker processes (local) or the CPUs of a local Ray.
        threads: BLAS threads per trial.
        address: the Ray cluster to use (Ray only).
    """
    if isinstance(backend, Backend):
        return backend
    if backend == "local":
        return LocalBackend(workers, threads=threads)
    if backend == "ray":
        return RayBackend(workers, address=address, threads=threads)
    if backend == "serial":
        return SerialBackend()
    raise ConfigError(f"Unknown backend {backend!r}; available: {', '.join(BACKENDS)}.")


# -------------------------------------------------------------------------------------- results
@dataclass
class SweepResult:
    """What a sweep produced: one row per trial, in plan order, and what was made of them.

    ``rows`` are the rows of ``results.csv`` (dicts: ``trial``, ``status``, ``seed``, the grid
    keys, the figures, ``epochs_run``, ``seconds``, ``worker``, ``error``); ``summary`` has one row
    per grid point across its seeds (``trials``, ``ok``, ``mean``, ``std``, ``min``, ``max``,
    ``reached`` with a target); ``best`` is the best row by ``metric`` (None when none
    succeeded); ``out`` the output folder.

    Args:
        rows: the rows of ``results.csv``, in plan order.
        metric: the figure that ranks the trials.
        higher_is_better: whether a larger ``metric`` is better.
        target: the value counted as reached in the summary (None: none).
        summary: one row per grid point across its seeds.
        best: the best row by ``metric``; None when no trial succeeded.
        out: the output folder.
        reused: how many trials were read from an earlier run instead of run.
        startup_seconds: the time the backend took to start.
        seconds: the time of the whole sweep.
        keys: the grid keys, as given.
    """

    rows: list[dict[str, Any]]
    metric: str
    higher_is_better: bool
    target: float | None
    summary: list[dict[str, Any]]
    best: dict[str, Any] | None
    out: Path
    reused: int = 0
    startup_seconds: float = 0.0
    seconds: float = 0.0
    keys: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of trials that failed or were lost."""
        return [row for row in self.rows if row["status"] != "ok"]

    def summary_text(self) -> str:
        """What ``minidl sweep`` prints at the end: the summary across seeds, the best trial, the files."""
        columns = [*self.keys, "trials", "ok", "mean", "std", "min", "max"]
        columns += ["reached"] if self.target is not None else []
        lines = [f"{self.metric} across seeds:", _markdown_table(self.summary, columns, self.keys)]
        if self.best is not None:
            where = ", ".join(f"{k}={_cell(self.best[k], False)}" for k in self.keys)
            lines.append(f"best: {self.metric} {self.best[self.metric]:.4f} (seed {self.best['seed']}"
                         f"{', ' + where if where else ''}) -> {self.out / 'best.minidl'}")  # fmt: skip
        failed = len(self.failed)
        lines.append(f"{len(self.rows)} trials ({self.reused} read back, {failed} failed or lost) in "
                     f"{self.out / 'results.csv'} and {self.out / 'results.md'}")  # fmt: skip
        return "\n".join(lines)

    def markdown(self) -> str:
        """``results.md``: the trials sorted by the metric, the summary across seeds, the failures."""
        return (self.out / "results.md").read_text(encoding="utf-8")


def _higher_is_better(metric: str) -> bool:
    name = metric.removeprefix("test_").removeprefix("val_")
    if name == "loss":
        return False
    try:
        return bool(metrics.registry.get_class(name).higher_is_better)
    except MinidlError:
        return True


def _figures(trial: Trial) -> list[str]:
    """The figures a trial of this configuration records, the default metric first."""
    parsed = config_module.TrainingConfig.from_dict(trial.config)
    names = [*parsed.build(seed=0).metrics, "loss"]
    prefixes = ["test_"] if "test_split" in parsed.data else []
    prefixes += ["val_"] if parsed.fit.get("validation_split") else []
    return [f"{p}{n}" for p in [*prefixes, ""] for n in names]


def _check_metric(metric: str | None, plan: list[Trial]) -> str:
    known = _figures(plan[0])
    if metric is None:
        return known[0]
    if not any(metric in _figures(t) for t in plan[:: max(1, len(plan) // 20)]):
        raise ConfigError(f"The metric {metric!r} is not a figure these trials record; they record {known}.")
    return metric


def _rows(plan: list[Trial], records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for trial in plan:
        record = records.get(trial.id)
        if record is None:
            continue
        row = {"trial": trial.id, "status": record["status"], "seed": trial.seed, **trial.values}
        row.update(record["figures"])
        row.update(epochs_run=record["epochs"], seconds=round(record["seconds"], 4), worker=record["worker"],
                   error=record["error"])  # fmt: skip
        rows.append(row)
    return rows


def _sorted(rows: list[dict[str, Any]], metric: str, higher: bool) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, float]:
        value = row.get(metric)
        if row["status"] != "ok" or not isinstance(value, (int, float)) or not math.isfinite(value):
            return (1, 0.0)
        return (0, -value if higher else value)

    return sorted(rows, key=key)  # stable: ties keep plan order


def _summary(rows: list[dict[str, Any]], keys: list[str], metric: str, higher: bool, target: float | None,
             seeds: int) -> list[dict[str, Any]]:  # fmt: skip
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(json.dumps([row[k] for k in keys]), []).append(row)
    summary = []
    for members in groups.values():
        values = [
            r[metric] for r in members if r["status"] == "ok" and isinstance(r.get(metric), (int, float))
        ]
        entry: dict[str, Any] = {k: members[0][k] for k in keys}
        entry.update(trials=f"{len(members)}/{seeds}", ok=len(values))
        if values:
            array = np.asarray(values, dtype=float)
            entry.update(mean=float(array.mean()), std=float(array.std(ddof=1)) if len(array) > 1 else 0.0,
                         min=float(array.min()), max=float(array.max()))  # fmt: skip
        if target is not None:
            reached = sum(1 for v in values if (v >= target if higher else v <= target))
            entry["reached"] = f"{reached}/{len(members)}"
        summary.append(entry)
    return summary


def _cell(value: Any, figure: bool = True) -> str:
    if isinstance(value, float) and figure:
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown_table(rows: list[dict[str, Any]], columns: list[str], keys: Sequence[str] = ()) -> str:
    """A Markdown table; figures with 4 decimals, the grid's ``keys`` as written."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, ""), c not in keys) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _write(path: Path, text: str | bytes) -> None:
    with io.atomic_write(path) as stream:
        stream.write(text.encode("utf-8") if isinstance(text, str) else text)


# -------------------------------------------------------------------------------------- progress
class _Progress:
    def __init__(
        self, stream: TextIO | None, total: int, reused: int, runner: Backend, metric: str, higher: bool
    ) -> None:
        self.stream, self.total, self.runner = stream, total, runner
        self.metric, self.higher = metric, higher
        self.done, self.failed = reused, 0
        self.best: tuple[float, int, dict[str, Any]] | None = None  # value, seed, grid values

    def say(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)

    def consider(self, record: dict[str, Any], values: dict[str, Any]) -> None:
        """Keeps ``record`` as the best so far if it is (trials read back count too)."""
        value = record["figures"].get(self.metric)
        usable = record["status"] == "ok" and isinstance(value, float) and math.isfinite(value)
        if usable and (self.best is None or (value > self.best[0] if self.higher else value < self.best[0])):
            self.best = (value, record["seed"], values)

    def update(self, record: dict[str, Any], values: dict[str, Any]) -> None:
        self.done += 1
        self.failed += record["status"] != "ok"
        self.consider(record, values)
        running = min(self.runner.capacity, self.total - self.done)  # Ray knows its CPUs once started
        best = ""
        if self.best is not None:
            where = ", ".join(f"{k}={_cell(v, False)}" for k, v in self.best[2].items())
            where = f", {where}" if where else ""
            best = f"; best {self.metric} {self.best[0]:.4f} (seed {self.best[1]}{where})"
        note = f" - seed {record['seed']} {record['status']}"
        note += f": {record['error']}" if record["error"] else ""
        self.say(f"[{self.done}/{self.total}] {running} running, {self.failed} failed{best}{note}")


# -------------------------------------------------------------------------------------- the sweep
def sweep(
    config: str | os.PathLike[str] | config_module.TrainingConfig,
    *,
    out: str | os.PathLike[str],
    grid: Iterable[str] | Mapping[str, Any] | None = None,
    seeds: str | int | Iterable[int] | None = None,
    trials: int | None = None,
    random: bool = False,
    sample_seed: int = 0,
    backend: str | Backend = "local",
    workers: int | None = None,
    threads: int = 1,
    address: str | None = None,
    metric: str | None = None,
    mode: str = "auto",
    target: float | None = None,
    plot: bool = True,
    stream: TextIO | None = None,
) -> SweepResult:
    """Runs every trial of a sweep that ``out`` does not already hold, and returns the results.

    Args:
        config: a bundled configuration's name, a TOML file or a ``TrainingConfig``.
        out: the output folder (created); a rerun with the same folder resumes.
        grid: ``{"optimizer.learning_rate": [0.01, 0.1], ...}`` or ``["optimizer.learning_rate=0.01,0.1"]``.
            Keys follow the configuration's structure (``compile.optimizer.learning_rate``,
            ``model.layers.0.units``, ``data.noise``); the section may be left out when
            unambiguous. A key with one value simply overrides the file.
        seeds: the model seeds, ``"0-19"`` or a list (default: the configuration's seed).
        trials: keep this many grid points (default: all of them).
        random: with ``trials``, draw them at random instead of keeping the first ones.
        sample_seed: the seed of that random draw.
        backend: ``"local"``, ``"ray"``, ``"serial"`` or a ``Backend``.
        workers: worker processes (local) or the CPUs of a local Ray (default: every core).
        threads: BLAS threads per trial (1 by default; part of what makes results bit-identical).
        address: the Ray cluster to use (``"auto"``, ``"ray://host:10001"``); default: start one.
        metric: the figure that ranks trials (default ``test_<first metric>`` with a test split,
            else ``val_...`` with a validation split, else the training figure).
        mode: ``"max"``, ``"min"`` or ``"auto"`` (from the metric: losses are minimised).
        target: with it, the summary counts the trials of each grid point that reached it.
        plot: draw ``sweep.png`` at the end when matplotlib is installed.
        stream: where progress lines go (None: silent).

    Raises:
        ConfigError: for an unknown key (the known ones listed), a value the configuration refuses,
            or bad arguments, before any trial runs.
        KeyboardInterrupt: after writing what finished; run the same sweep again to resume.
    """
    began = time.perf_counter()
    threads = check_threads(threads, "threads") or 1
    plan, source = plan_trials(config, grid, seeds, trials=trials, random=random, sample_seed=sample_seed)
    metric = _check_metric(metric, plan)
    if mode not in ("auto", "max", "min"):
        raise ConfigError(f"mode must be 'auto', 'max' or 'min'; received {mode!r}.")
    higher = _higher_is_better(metric) if mode == "auto" else mode == "max"
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
        raise ConfigError(f"target must be a number; received {target!r}.")
    runner = make_backend(backend, workers=workers, threads=threads, address=address)
    folder = Path(out)
    (folder / "trials").mkdir(parents=True, exist_ok=True)
    records = _read_records(folder, plan)
    todo = [t for t in plan if t.id not in records]
    keys = list(parse_grid(grid))
    n_seeds = len({t.seed for t in plan})
    progress = _Progress(stream, len(plan), len(plan) - len(todo), runner, metric, higher)
    progress.say(
        f"sweep of {source}: {len(plan)} trials ({len(plan) // n_seeds} grid point(s) x {n_seeds} seed(s)); "
        f"{len(plan) - len(todo)} already in {folder}, {len(todo)} to run on {runner.describe()}, "
        f"{threads} BLAS thread(s) each; ranking by {metric} ({'higher' if higher else 'lower'} is better)"
    )
    if isinstance(runner, LocalBackend) and runner.workers * threads > (os.cpu_count() or 1):
        progress.say(f"note: {runner.workers} workers x {threads} threads exceed the {os.cpu_count()} cores")
    by_id = {t.id: t for t in plan}
    for trial_id, record in records.items():
        progress.consider(record, by_id[trial_id].values)
        progress.failed += record["status"] != "ok"

    written = [time.perf_counter()]  # when results.csv and results.md were last rewritten

    def finish(final: bool) -> SweepResult:
        return _write_results(folder, plan, records, source, metric, higher, target, keys, n_seeds, final)

    def report(record: dict[str, Any]) -> None:
        trial = by_id[record["id"]]
        model = record.pop("model", None)
        if model is not None:  # the model first: a record names only a model that exists
            _write(folder / "trials" / f"{trial.id}.minidl", model)
        entry = {**record, "values": trial.values, "source": source, "threads": threads,
                 "backend": runner.name}  # fmt: skip
        if record["status"] != "lost":  # a lost trial leaves no record: a rerun retries it
            _write(folder / "trials" / f"{trial.id}.json", json.dumps(_finite(entry), indent=1))
        records[trial.id] = entry
        progress.update(record, trial.values)
        now = time.perf_counter()
        if now - written[0] >= RESULTS_EVERY:  # each rewrite reads every record: not after each trial
            finish(False)
            written[0] = now

    tasks = [
        {"id": t.id, "seed": t.seed, "config": t.config, "source": source, "threads": threads} for t in todo
    ]
    try:
        if tasks:
            runner.run(tasks, report)
    except KeyboardInterrupt:
        finish(True)
        progress.say(f"interrupted: {progress.done} of {len(plan)} trials are in {folder}; "
                     "run the same sweep again to resume.")  # fmt: skip
        raise
    result = finish(True)
    result.reused = len(plan) - len(todo)
    result.startup_seconds = runner.startup_seconds
    result.seconds = time.perf_counter() - began
    if plot:
        _plot(folder, result)
    return result


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _read_records(folder: Path, plan: list[Trial]) -> dict[str, dict[str, Any]]:
    """The finished trials of ``plan`` found in ``folder`` (a record whose model is missing, or
    that cannot be read, is not finished: the trial runs again)."""
    records = {}
    for trial in plan:
        path = folder / "trials" / f"{trial.id}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("status") not in ("ok", "failed") or record.get("seed") != trial.seed:
            continue
        if record["status"] == "ok" and not (folder / "trials" / f"{trial.id}.minidl").is_file():
            continue
        records[trial.id] = record
    return records


def _write_results(
    folder: Path, plan: list[Trial], records: dict[str, dict[str, Any]], source: str, metric: str,
    higher: bool, target: float | None, keys: list[str], seeds: int, final: bool,
) -> SweepResult:  # fmt: skip
    """Rewrites results.csv and results.md from the records (every ``RESULTS_EVERY`` seconds
    while the sweep runs, and at its end) and, when ``final``, copies the best trial's model to
    best.minidl."""
    rows = _rows(plan, records)
    figures = sorted({k for r in records.values() for k in r["figures"]}, key=lambda k: (k != metric, k))
    columns = ["trial", "status", "seed", *keys, *figures, "epochs_run", "seconds", "worker", "error"]
    text = _io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write(folder / "results.csv", text.getvalue())
    ranked = _sorted(rows, metric, higher)
    summary = _summary(rows, keys, metric, higher, target, seeds)
    best = ranked[0] if ranked and ranked[0]["status"] == "ok" and metric in ranked[0] else None
    shown = ["seed", *keys, *figures, "epochs_run", "seconds"]
    summary_columns = [*keys, "trials", "ok", "mean", "std", "min", "max"]
    summary_columns += ["reached"] if target is not None else []
    better = "higher" if higher else "lower"
    reached = "."
    if target is not None:
        reached = f"; reached: trials at or {'above' if higher else 'below'} {target:g}."
    lines = [
        f"# Sweep of {source}",
        "",
        f"{len(rows)} of {len(plan)} trials recorded; ranked by `{metric}` ({better} is better).",
        "",
        "## Across seeds",
        "",
        f"`{metric}` of each grid point over its seeds{reached}",
        "",
        _markdown_table(summary, summary_columns, keys),
        "",
        "## Trials, best first",
        "",
        _markdown_table([r for r in ranked if r["status"] == "ok"], shown, keys),
    ]
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        failures = _markdown_table(failed, ["seed", *keys, "status", "error"], keys)
        lines += ["", "## Failed or lost trials", "", failures]
    _write(folder / "results.md", "\n".join(lines) + "\n")
    if best is not None and final:
        _write(folder / "best.minidl", (folder / "trials" / f"{best['trial']}.minidl").read_bytes())
    return SweepResult(rows, metric, higher, target, summary, best, folder, keys=keys)


def _plot(folder: Path, result: SweepResult) -> None:
    """``sweep.png``: the metric of every trial by grid point, when matplotlib is installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return
    labels = [", ".join(f"{k}={_cell(e[k], False)}" for k in result.keys) or "all" for e in result.summary]
    groups = {json.dumps([e[k] for k in result.keys]): i for i, e in enumerate(result.summary)}
    figure = Figure(figsize=(max(4.0, 1.2 * len(labels) + 2), 4), layout="constrained")
    ax = figure.subplots()
    for row in result.rows:
        value = row.get(result.metric)
        if row["status"] == "ok" and isinstance(value, float):
            i = groups[json.dumps([row[k] for k in result.keys])]
            ax.scatter(i + 0.15 * (row["seed"] % 7 - 3) / 3, value, s=14, color="tab:blue")
    if result.target is not None:
        ax.axhline(result.target, color="tab:red", linewidth=1, label=f"target {result.target:g}")
        ax.legend()
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_ylabel(result.metric)
    ax.grid(alpha=0.3)
    buffer = _io.BytesIO()
    figure.savefig(buffer, format="png")
    _write(folder / "sweep.png", buffer.getvalue())
