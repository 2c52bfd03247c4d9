"""minidl.sweeps and ``minidl sweep``: the plan and its keys, results, faults, resuming, and the
same bits on every backend and worker count."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from extras import require

import minidl
from minidl.cli import main
from minidl.errors import ConfigError
from minidl.sweeps import (
    LocalBackend,
    RayBackend,
    SerialBackend,
    parse_grid,
    parse_seeds,
    parse_values,
    plan_trials,
    resolve_key,
    run_trial,
    sweep,
)

# Lecture 1 for 50 epochs: a trial takes milliseconds.
QUICK = {"epochs": [50]}
LINEAR = """
[model]
seed = 0
[[model.layers]]
type = "dense"
units = 1
[compile]
loss = "mse"
optimizer = { type = "sgd", learning_rate = 0.01 }
[fit]
epochs = 20
batch_size = 4
[data]
x = [[1.0, 2.0], [2.0, 1.0], [3.0, 4.0], [4.0, 3.0]]
y = [3.0, 3.0, 7.0, 7.0]
"""


def run(*args: Any, **kwargs: Any) -> Any:
    """``sweep`` without the picture (matplotlib's first figure alone costs a second)."""
    return sweep(*args, plot=False, **kwargs)


class Counting(SerialBackend):
    """The serial backend, counting the trials it runs (and optionally stopping at one)."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        super().__init__(self._trial)
        self.ran: list[int] = []
        self.interrupt_at = interrupt_at

    def _trial(self, task: Mapping[str, Any]) -> dict[str, Any]:
        if len(self.ran) == self.interrupt_at:
            raise KeyboardInterrupt
        self.ran.append(task["seed"])
        return run_trial(task)


# ---------------------------------------------------------------------------------------- parsing
def test_values_grid_and_seeds_parse() -> None:
    assert parse_values("0.01,0.1") == [0.01, 0.1]
    assert parse_values('relu, "tanh", true, 3') == ["relu", "tanh", True, 3]
    assert parse_values('{ type = "sgd", learning_rate = 0.1 },[1, 2]') == [
        {"type": "sgd", "learning_rate": 0.1}, [1, 2]]  # fmt: skip
    assert parse_grid(["a.b=1,2", "c=x"]) == {"a.b": [1, 2], "c": ["x"]}
    assert parse_grid({"a": 1, "b": [1, 2]}) == {"a": [1], "b": [1, 2]}
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7] and parse_seeds(5) == [5] and parse_seeds(None) is None
    for bad in ("1-x", "-1", "2,2"):
        with pytest.raises(ConfigError, match=r"[Ss]eeds"):
            parse_seeds(bad)
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_grid(["epochs"])


def test_keys_follow_the_configuration_and_may_leave_out_the_section() -> None:
    raw = {"model": {"seed": 0, "layers": [{"type": "dense", "units": 2}]}, "compile": {"optimizer": "sgd"},
           "fit": {}, "data": {"dataset": "xor", "seed": 0}}  # fmt: skip
    assert resolve_key("optimizer.learning_rate", raw) == ("compile", "optimizer", "learning_rate")
    assert resolve_key("layers.0.units", raw) == ("model", "layers", "0", "units")
    assert resolve_key("epochs", raw) == ("fit", "epochs")
    assert resolve_key("data.noise", raw) == ("data", "noise")
    with pytest.raises(ConfigError, match=r"ambiguous: say model\.seed or data\.seed"):
        resolve_key("seed", raw)
    with pytest.raises(ConfigError, match="not a grid key: give the seeds with --seeds"):
        resolve_key("model.seed", raw)
    with pytest.raises(ConfigError, match=r"model.layers has entries 0 to 0"):
        resolve_key("layers.3.units", raw)


def test_an_unknown_key_is_refused_before_anything_runs(tmp_path: Path) -> None:
    backend = Counting()
    with pytest.raises(ConfigError, match=r"Unknown sweep key 'optimiser.learning_rate'.*compile.optimizer"):
        run("lecture1", grid={"optimiser.learning_rate": [0.1]}, out=tmp_path / "s", backend=backend)
    with pytest.raises(ConfigError, match=r"With optimizer.lr=0.1: .*Unknown argument\(s\) 'lr'.*learning_r"):
        run("lecture1", grid={"optimizer.lr": [0.1]}, out=tmp_path / "s", backend=backend)
    with pytest.raises(ConfigError, match=r"The metric 'test_accuracy' is not a figure .* \['loss'\]"):
        run("lecture1", grid=QUICK, metric="test_accuracy", out=tmp_path / "s", backend=backend)
    assert backend.ran == [] and not (tmp_path / "s").exists()


def test_the_plan_is_grid_points_times_seeds_and_ids_are_stable() -> None:
    trials, _ = plan_trials("lecture1", {"optimizer.learning_rate": [0.1, 0.5], "epochs": [10]}, "0-2")
    assert [(t.values["optimizer.learning_rate"], t.seed) for t in trials] == [
        (0.1, 0), (0.1, 1), (0.1, 2), (0.5, 0), (0.5, 1), (0.5, 2)]  # fmt: skip
    assert trials[0].config["compile"]["optimizer"] == {"type": "sgd", "learning_rate": 0.1}
    again, _ = plan_trials("lecture1", {"epochs": [10], "optimizer.learning_rate": [0.5, 0.1]}, [2, 1, 0])
    assert {t.id for t in again} == {t.id for t in trials}  # the same trials, whatever the order
    four = {"optimizer.learning_rate": [0.1, 0.2, 0.3, 0.4]}
    drawn, _ = plan_trials("lecture1", four, trials=2, random=True)
    assert len(drawn) == 2 and drawn == plan_trials("lecture1", four, trials=2, random=True)[0]
    first = plan_trials("lecture1", four, trials=2)[0]
    assert [t.values["optimizer.learning_rate"] for t in first] == [0.1, 0.2]


# ---------------------------------------------------------------------------------------- results
def test_results_table_summary_and_best_model(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = minidl.sweep("lecture1", grid={**QUICK, "optimizer.learning_rate": [0.1, 1.0]}, seeds="0-2",
                          backend="serial", out=out, target=0.05, plot=False)  # fmt: skip
    assert result.metric == "loss" and not result.higher_is_better
    with open(out / "results.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["seed"] for r in rows] == ["0", "1", "2"] * 2 and {r["status"] for r in rows} == {"ok"}
    assert list(rows[0])[:6] == ["trial", "status", "seed", "epochs", "optimizer.learning_rate", "loss"]
    assert [s["trials"] for s in result.summary] == ["3/3", "3/3"] and "reached" in result.summary[0]
    best = min(result.rows, key=lambda r: r["loss"])
    assert result.best == best and best["optimizer.learning_rate"] == 1.0
    model = minidl.load(out / "best.minidl")
    assert model.history.history["loss"][-1] == best["loss"]  # the best trial's own model
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "## Across seeds" in markdown and "| optimizer.learning_rate | trials | ok | mean |" in markdown
    record = json.loads((out / "trials" / f"{best['trial']}.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and len(record["history"]["loss"]) == 50
    assert not list(out.rglob(".*.tmp"))  # every file was written through a temporary, then renamed


def test_a_diverging_trial_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "linear.toml"
    path.write_text(LINEAR, encoding="utf-8")
    result = run(path, grid={"optimizer.learning_rate": [0.01, 1e9]}, seeds="0-1", backend="serial",
                   out=tmp_path / "s")  # fmt: skip
    statuses = [(r["optimizer.learning_rate"], r["status"]) for r in result.rows]
    assert statuses == [(0.01, "ok"), (0.01, "ok"), (1e9, "failed"), (1e9, "failed")]
    assert all(r["error"].startswith("DivergenceError") for r in result.failed)
    assert "## Failed or lost trials" in result.markdown() and result.best["optimizer.learning_rate"] == 0.01


def test_rerunning_resumes_and_an_interrupted_sweep_keeps_its_finished_trials(tmp_path: Path) -> None:
    out, grid = tmp_path / "s", {**QUICK, "optimizer.learning_rate": [0.1, 0.5]}
    stopped = Counting(interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run("lecture1", grid=grid, seeds="0-2", backend=stopped, out=out)
    with open(out / "results.csv", newline="", encoding="utf-8") as stream:
        assert len(list(csv.DictReader(stream))) == 3  # whole rows only, for the 3 finished trials
    resumed = Counting()
    result = run("lecture1", grid=grid, seeds="0-2", backend=resumed, out=out)
    assert resumed.ran == [0, 1, 2] and result.reused == 3 and len(result.rows) == 6
    again = Counting()
    assert run("lecture1", grid=grid, seeds="0-3", backend=again, out=out).reused == 6
    assert again.ran == [3, 3]  # a new seed: only its trials run
    (out / "trials" / f"{result.rows[0]['trial']}.minidl").unlink()  # a record without its model
    last = Counting()
    run("lecture1", grid=grid, seeds="0-3", backend=last, out=out)
    assert last.ran == [0]


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray looks like
    with pytest.raises(ConfigError, match=r"pip install 'minidl\[ray\]'"):
        run("lecture1", grid=QUICK, backend="ray", out=tmp_path / "s")


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    require("matplotlib", "plot")
    argv = ["sweep", "lecture1", "--grid", "epochs=20", "--grid", "optimizer.learning_rate=0.1,0.5",
            "--seeds", "0-1", "--backend", "serial", "--target", "0.2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[4/4] 0 running, 0 failed; best loss" in printed and "loss across seeds:" in printed
    assert "| 0.5 | 2/2 | 2 |" in printed and (out / "best.minidl").is_file()
    assert main(argv) == 0 and "4 already in" in capsys.readouterr().out
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sweep", "lecture1", "--grid", "optimiser.learning_rate=3", "--out", str(out)]) == 2
    assert "Unknown sweep key 'optimiser.learning_rate'" in capsys.readouterr().err
    assert main(["sweep", "lecture1", "--grid", "layers.0.unitz=3", "--out", str(out)]) == 2
    assert "Unknown argument(s) 'unitz' for layer 'dense'; it accepts: units" in capsys.readouterr().err


# ------------------------------------------------------------------------- backends, bit for bit
def _models(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "trials").glob("*.minidl"))}


@pytest.mark.slow
def test_one_or_two_local_workers_give_the_serial_bits_and_a_dead_worker_is_lost(tmp_path: Path) -> None:
    import sweep_support  # conftest.py put tests/ on sys.path, which spawned workers inherit

    grid = {"epochs": [30], "optimizer.learning_rate": [0.1, 0.5]}
    serial = run("lecture1", grid=grid, seeds="0-2", backend="serial", out=tmp_path / "serial")
    for workers in (1, 2):
        out = tmp_path / f"local{workers}"
        run("lecture1", grid=grid, seeds="0-2", backend=LocalBackend(workers), out=out)
        assert _models(tmp_path / f"local{workers}") == _models(tmp_path / "serial")  # the same bytes
    assert len(_models(tmp_path / "serial")) == len(serial.rows) == 6
    dying = LocalBackend(2, function=sweep_support.die_on_seed_1)
    result = run("lecture1", grid=grid, seeds="0-2", backend=dying, out=tmp_path / "dying")
    lost = [r for r in result.rows if r["status"] == "lost"]
    assert {r["seed"] for r in lost} >= {1} and all("worker process died" in r["error"] for r in lost)
    assert len([r for r in result.rows if r["status"] == "ok"]) >= 2  # the pool was replaced
    resumed = run("lecture1", grid=grid, seeds="0-2", backend="serial", out=tmp_path / "dying")
    assert resumed.reused == 6 - len(lost) and not resumed.failed  # the lost trials ran again
    assert _models(tmp_path / "dying") == _models(tmp_path / "serial")


@pytest.mark.slow
def test_ray_gives_the_same_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("ray", "ray")
    # a cluster named by the environment (or by a `ray start` left on the machine) that is not
    # there: without --address the sweep still starts a Ray of its own
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    grid = {"epochs": [30], "optimizer.learning_rate": [0.1, 0.5]}
    run("lecture1", grid=grid, seeds="0-1", backend="serial", out=tmp_path / "serial")
    result = run("lecture1", grid=grid, seeds="0-1", backend=RayBackend(2), out=tmp_path / "ray")
    assert _models(tmp_path / "ray") == _models(tmp_path / "serial")
    assert result.startup_seconds > 0 and {r["status"] for r in result.rows} == {"ok"}
