"""The figures the pages quote are the figures the code computes.

Each test reads a figure from a page's text (so editing the page's number is what is checked) and
compares it with what the code described there prints: the page's own code blocks where it has
them, the bundled configuration or the benchmark run's saved results otherwise. The lists of
component kinds in the README, the architecture page and the plugin guide are checked against
the registries, so a new kind cannot be left out.
"""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_docs import python_blocks

from minidl import EarlyStopping, config, registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _quoted(pattern: str, text: str) -> re.Match[str]:
    found = re.search(pattern, text)
    assert found, f"the page no longer says {pattern!r}: update the test with the page"
    return found


def _run_blocks(name: str, count: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Runs the first ``count`` python blocks of a page, as tests/test_docs.py does, and returns their names."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": f"figures_{Path(name).stem}"}
    for code in python_blocks(DOCS / name)[:count]:
        exec(compile(code, name, "exec"), namespace)
    return namespace


def test_the_tutorial_quotes_the_lectures_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page("tutorial.md")
    lecture1 = _run_blocks("tutorial.md", 1, tmp_path, monkeypatch)
    first = float(_quoted(r"# falls from ([\d.]+) toward 0", page).group(1))
    assert round(lecture1["history"].history["loss"][0], 2) == first

    lecture2 = _run_blocks("tutorial.md", 3, tmp_path, monkeypatch)
    about = ast.literal_eval(_quoted(r"# about (\[[\d., ]+\])", page).group(1))
    assert np.round(lecture2["outputs"], 2).tolist() == about


@pytest.mark.slow  # two trainings of the spiral, up to 400 epochs each: a few seconds
def test_the_classifier_guide_quotes_its_early_stopping_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page("guide-classifier.md")
    found = _quoted(
        r"`patience=(\d+)` this run stops at epoch (\d+) with ([\d.]+)% test accuracy, with\s+"
        r"`patience=(\d+)` it\s+runs all (\d+) epochs and reaches ([\d.]+)%",
        page,
    )
    for patience, epochs, percent in ((found[1], found[2], found[3]), (found[4], found[5], found[6])):
        run = _run_blocks("guide-classifier.md", 2, tmp_path, monkeypatch)  # the data and a fresh model
        model = run["model"]
        stop = EarlyStopping(monitor="val_loss", patience=int(patience), restore_best_weights=True)
        history = model.fit(
            run["x_train"], run["y_train"], epochs=400, batch_size=16, validation_split=0.2, callbacks=[stop]
        )
        assert len(history.epochs) == int(epochs)
        accuracy = model.evaluate(run["x_test"], run["y_test"], return_dict=True)["accuracy"]
        assert round(100 * accuracy, 1) == float(percent)


@pytest.mark.slow  # 300 epochs of the spiral: a few seconds
def test_the_classifier_guide_shows_what_minidl_train_prints() -> None:
    block = _quoted(
        r"(?s)```console\n\$ minidl train playground-spiral --plot spiral.png\n(.*?)```",
        _page("guide-classifier.md"),
    )
    shown = [line for line in block.group(1).splitlines() if line.startswith(("Epoch", "test"))]
    out = io.StringIO()
    config.train(config.load("playground-spiral"), stream=out)
    printed = out.getvalue().splitlines()
    timing = re.compile(r" - \d+ms - ")  # the one figure a run cannot repeat
    for line in shown:
        assert any(timing.sub(" - ", line) == timing.sub(" - ", p) for p in printed), (line, printed[-3:])


@pytest.mark.slow  # ten trainings of the digits MLP: about 20 s
def test_the_cnn_guide_quotes_the_digits_mlp_range() -> None:
    pytest.importorskip("sklearn")
    low, high = map(
        float, _quoted(r"reaches ([\d.]+)-([\d.]+)%\nover seeds 0-9", _page("guide-cnn.md")).groups()
    )
    c = config.load("digits")
    accuracies = [config.train(c, seed=seed, stream=io.StringIO()).test["accuracy"] for seed in range(10)]
    assert (round(100 * min(accuracies), 1), round(100 * max(accuracies), 1)) == (low, high)


# the rows of the benchmark page's goals table and the targets of the run saved in benchmarks-2026-12-01.json
BENCHMARK_ROWS = {
    "W1: minidl step / the lecture's numpy step": "W1: minidl step / lecture's numpy step",
    "W1: PyTorch step / minidl step": "W1: PyTorch step / minidl step",
    "W2: minidl step / the lecture's numpy step": "W2: minidl step / lecture's numpy step",
    "W2: PyTorch step / minidl step": "W2: PyTorch step / minidl step",
    "W3 float64: minidl / numpy samples/s": "W3 float64: minidl samples/s / numpy samples/s",
    "W3 float32: minidl / numpy samples/s": "W3 float32: minidl samples/s / numpy samples/s",
    "W4: minidl / numpy samples/s": "W4: minidl samples/s / numpy samples/s",
    "W4: minidl / PyTorch samples/s": "W4: minidl samples/s / PyTorch samples/s",
    "W4: minidl fraction of the matmul limit": "W4: minidl fraction of the matmul limit",
    "W4: minidl peak memory / numpy peak memory": "W4: minidl peak memory / numpy peak memory",
}


def test_the_benchmark_goals_table_is_the_saved_run() -> None:
    # the last run of the table is the one saved in full in benchmarks-2026-12-01.json
    saved = {t["target"]: t for t in json.loads(_page("benchmarks-2026-12-01.json"))["targets"]}
    rows = {
        cells[0]: cells
        for line in _page("benchmarks.md").splitlines()
        if line.startswith("| W") and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 6
    }
    assert set(BENCHMARK_ROWS) <= set(rows), sorted(rows)
    for row, target in BENCHMARK_ROWS.items():
        _name, _run1, _run2, run3, goal, _met = rows[row]
        decimals = len(run3.partition(".")[2])  # the page rounds to the digits it shows
        assert abs(float(run3) - saved[target]["measured"]) <= 0.5 * 10**-decimals + 1e-12, row
        assert goal == saved[target]["goal"], row


def _bases() -> list[tuple[str, str]]:
    """(entry-point group, public base class name) of every registry."""
    return [(f"minidl.{r.plural}", r.base.__name__) for r in registry.iter_registries()]


def test_the_pages_name_every_kind_of_component() -> None:
    intro = (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")[1]
    architecture = _page("architecture.md")
    subclass_table = architecture[architecture.index("## What a plugin author subclasses") :]
    groups_table = _page("plugins.md")
    for group, base in _bases():
        assert f"`{base}`" in intro, f"README.md's first paragraph does not name `{base}`"
        assert re.search(rf"^\| \w+ \| `minidl\.{base}`", subclass_table, re.MULTILINE), (
            f"architecture.md lacks `minidl.{base}`"
        )
        assert f"| `{group}` | `minidl.{base}` |" in groups_table, f"plugins.md's group table lacks `{group}`"


def test_the_sweep_guide_shows_the_saved_sweep_run() -> None:
    # the guide's backend table is the benchmark suite's own rendering of the run saved beside it
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks import report

    workload = json.loads(_page("benchmarks.json"))["workloads"]["sweep"]
    table = report.sweep_section(workload)[: len(workload["rows"]) + 2]
    assert "\n".join(table) in _page("guide-sweeps.md")
    two_workers = next(
        r for r in workload["rows"] if r["batch"].startswith("lecture") and r["impl"] == "local, 2 workers"
    )
    assert f"lecture batch {two_workers['speedup']:.2f}x as fast" in _page("guide-sweeps.md").replace(
        "\n", " "
    )
    assert all(r["check"] == "ok" for r in workload["rows"])


def _as_section(results_md: str) -> str:
    """results.md as the benchmark page holds it: without its title, headings one level down."""
    body = results_md.split("\n", 2)[2]  # the title line and the blank line after it
    return re.sub(r"^(#+) ", r"#\1 ", body, flags=re.MULTILINE)


def test_the_latest_full_run_section_is_the_saved_run() -> None:
    # the page's "Latest full run" is results.md of the run saved in benchmarks.json, verbatim
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks import report

    saved = json.loads(_page("benchmarks.json"))
    page = _page("benchmarks.md")
    section = page[page.index("## Latest full run") :]
    assert _as_section(report.markdown(saved)) in section
    assert {"W1", "W2", "W3", "W4", "W5", "W6", "scaling", "memory", "sweep"} <= set(saved["workloads"])
