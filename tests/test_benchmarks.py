"""The benchmark suite runs and its correctness checks hold, on tiny sizes; nothing is timed here.

The suite lives in ``benchmarks/`` at the root of the repository (it is not part of the installed
package), so these tests import it from there.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import impl_numpy, problems  # noqa: E402
from benchmarks.suite import failed_checks, run_suite, write_outputs  # noqa: E402


@pytest.fixture(scope="module")
def tiny_results() -> dict:
    return run_suite(tiny=True, log=lambda _: None)


@pytest.mark.slow  # the tiny suite takes several seconds, mostly importing the peers
def test_every_implementation_reaches_the_reference(tiny_results: dict) -> None:
    assert failed_checks(tiny_results) == []
    w1 = tiny_results["workloads"]["W1"]
    assert {
        "numpy reference",
        "numpy, the lecture's code",
        "numpy, weight matrices",
        "minidl",
        "minidl, guard off",
    } <= {r["impl"] for r in w1["rows"]}
    targets = {t["target"] for t in tiny_results["targets"]}
    assert "W1: minidl step / lecture's numpy step" in targets
    assert "W4: share of minidl's time spent in the non-finite guard" in targets
    w3 = tiny_results["workloads"]["W3"]
    assert {r["dtype"] for r in w3["rows"]} == {"float32", "float64"}


def test_lecture_references_agree_with_each_other() -> None:
    # the two hand-written lecture-1 styles are independent codes for the same arithmetic
    p = problems.lecture1(seed=3)
    scalar = impl_numpy.lecture1_scalar(p.weights, p.x, p.y, 30)
    matrices = impl_numpy.lecture1_matrices(p.weights, p.x, p.y, 30)
    for a, b in zip(scalar, matrices):
        assert a.shape == b.shape
        assert abs(a - b).max() < 1e-12


@pytest.mark.slow  # the tiny suite takes several seconds, mostly importing the peers
def test_a_wrong_implementation_fails_the_check(tiny_results: dict) -> None:
    broken = json.loads(json.dumps(tiny_results))
    row = broken["workloads"]["W3"]["rows"][0]
    row["check"] = "FAILED: for the test"
    assert failed_checks(broken) == [f"W3 / {row['impl']} {row['dtype']}: FAILED: for the test"]


@pytest.mark.parametrize("seed", [0, 5])
def test_lecture_code_yardsticks_do_the_same_arithmetic(seed: int) -> None:
    # the slower, lecture-structured references must train exactly as the fast ones do
    import numpy as np

    p1 = problems.lecture1(seed=seed)
    for a, b in zip(
        impl_numpy.lecture1_as_published(p1.weights, p1.x, p1.y, 25),
        impl_numpy.lecture1_scalar(p1.weights, p1.x, p1.y, 25),
    ):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-12
    p2 = problems.lecture2(seed=seed)
    for a, b in zip(
        impl_numpy.lecture2_as_published(p2.weights, p2.x, p2.y, 40),
        impl_numpy.lecture2(p2.weights, p2.x, p2.y, 40),
    ):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-12


def test_classifier_loss_of_a_known_network() -> None:
    # zero weights give uniform probabilities: the cross-entropy is log(classes)
    import numpy as np

    weights = [np.zeros((4, 3)), np.zeros(3), np.zeros((3, 5)), np.zeros(5)]
    x, labels = np.ones((6, 4)), np.arange(6) % 5
    assert problems.classifier_loss(weights, x, labels) == pytest.approx(np.log(5), rel=1e-12)


@pytest.mark.slow  # the tiny suite takes several seconds, mostly importing the peers
def test_reports_are_written(tiny_results: dict, tmp_path: Path) -> None:
    paths = write_outputs(tiny_results, tmp_path)
    names = {p.name for p in paths}
    assert {"results.md", "results.json"} <= names
    text = (tmp_path / "results.md").read_text(encoding="utf-8")
    for heading in (
        "## Machine",
        "## Targets",
        "## W1.",
        "## W4.",
        "## W5.",
        "## W6.",
        "Profile of a step",
        "Peak memory",
        "## Sweeps",
    ):
        assert heading in text
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(data["workloads"]) == {"W1", "W2", "W3", "W4", "W5", "W6", "scaling", "memory", "sweep"}
    assert all(t["target"] for t in data["targets"])


# ------------------------------------------------------------------ the sweep workload


@pytest.mark.slow  # the tiny suite takes several seconds, mostly importing the peers
def test_sweep_rows_compare_each_backend_with_the_plain_loop(tiny_results: dict) -> None:
    rows = tiny_results["workloads"]["sweep"]["rows"]
    assert [r["impl"] for r in rows] == ["plain loop", "serial (in the sweep's process)", "local, 1 worker"]
    assert all(r["check"] == "ok" and r["trials"] == 2 and r["trials_per_second"] > 0 for r in rows)


def test_sweep_check_fails_a_backend_that_ended_elsewhere() -> None:
    from benchmarks import sweeping

    expected = {"a": {"loss": 0.25}, "b": {"loss": 0.5}}
    same = [{"trial": "a", "status": "ok", "loss": 0.25}, {"trial": "b", "status": "ok", "loss": 0.5}]
    assert sweeping._check(same, expected) == "ok"
    moved = [same[0], {**same[1], "loss": math.nextafter(0.5, 1.0)}]  # one float64 step away
    assert sweeping._check(moved, expected).startswith("FAILED: trial b ended on")
    failed = [same[0], {**same[1], "status": "failed", "error": "DivergenceError"}]
    assert "DivergenceError" in sweeping._check(failed, expected)


# ------------------------------------------------------------------ W6, the small CNN


@pytest.mark.slow  # the tiny suite takes several seconds, mostly importing the peers
def test_w6_runs_and_checks_every_implementation(tiny_results: dict) -> None:
    from benchmarks import impl_minidl, impl_torch

    w6 = tiny_results["workloads"]["W6"]
    impls = {r["impl"] for r in w6["rows"]}
    assert "numpy reference" in impls
    assert ("PyTorch" in impls) == impl_torch.available()
    assert ("minidl" in impls) == (not impl_minidl.cnn_missing())
    assert all(r["check"] == "ok" for r in w6["rows"])
    assert all(r["final_loss"] > 0 and r["gflops"] > 0 for r in w6["rows"])
    assert all(r["weight_gap_float64"] <= 1e-9 for r in w6["rows"])
    parts = [p["part"] for p in w6["profile"]["numpy reference"]["parts"]]
    assert parts == ["conv 1", "pool 1", "conv 2", "pool 2", "flatten", "dense", "loss", "update"]
    assert set(w6["profile"]) == {"numpy reference"} | ({"minidl"} & impls)
    assert {r["impl"] for r in w6["memory"]} == {"numpy reference"} | ({"minidl"} & impls)
    targets = {t["target"]: t for t in tiny_results["targets"]}
    assert "W6: minidl samples/s / numpy samples/s" in targets
    assert all(t["met"] is None for t in tiny_results["targets"])  # a tiny run is a quick run


def _cnn_step_problem(dtype: str = "float64"):
    return problems.small_cnn(6, seed=2, size=8).astype(dtype)


def test_numpy_cnn_reference_step_is_the_gradient_of_the_judged_loss() -> None:
    # one SGD step with lr 1 on the whole (tiny) batch moves each weight by minus its gradient;
    # the gradient of the independent float64 judge, by central differences, must agree
    import numpy as np

    p = _cnn_step_problem()
    after, _ = impl_numpy.small_cnn(p.weights, p.x, p.y, 1, len(p.x), 1.0)
    rng = np.random.default_rng(0)
    for index, (before, updated) in enumerate(zip(p.weights, after)):
        for flat in rng.choice(before.size, size=min(before.size, 6), replace=False):
            at = np.unravel_index(flat, before.shape)
            shifted = []
            for sign in (1.0, -1.0):
                weights = [w.copy() for w in p.weights]
                weights[index][at] += sign * 1e-6
                shifted.append(problems.cnn_loss(weights, p.x, p.y))
            numeric = (shifted[0] - shifted[1]) / 2e-6
            assert before[at] - updated[at] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (index, at)


def test_numpy_cnn_reference_agrees_with_pytorch() -> None:
    pytest.importorskip("torch")
    import numpy as np

    from benchmarks import impl_torch

    p = problems.small_cnn(96, seed=1, size=12).astype("float64")
    ours, our_loss = impl_numpy.small_cnn(p.weights, p.x, p.y, 2, 32, 0.1)
    theirs, their_loss = impl_torch.small_cnn(p.weights, p.x, p.y, 2, 32, 0.1)()
    assert our_loss == pytest.approx(their_loss, rel=1e-12)
    for a, b, w0 in zip(ours, theirs, p.weights):
        assert np.abs(a - b).max() < 1e-12 and np.abs(a - w0).max() > 1e-4


def test_torch_layout_conversion_round_trips() -> None:
    pytest.importorskip("torch")
    import numpy as np

    from benchmarks import impl_torch

    p = problems.small_cnn(4, size=12)
    there = impl_torch.cnn_weights_to_torch(p.weights, 12)
    assert [a.shape for a in there] == [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (10, 288), (10,)]
    back = impl_torch.cnn_weights_from_torch(there, 12)
    assert all(np.array_equal(a, b) for a, b in zip(back, p.weights))


def test_w6_weight_gaps_tell_a_different_training() -> None:
    import numpy as np

    from benchmarks import workloads

    p = _cnn_step_problem("float64")
    trained, loss = impl_numpy.small_cnn(p.weights, p.x, p.y, 3, 2, 0.1)
    short, _ = impl_numpy.small_cnn(p.weights, p.x, p.y, 2, 2, 0.1)  # one epoch less
    drifted = [w * (1 + 1e-13) for w in trained]  # float64 rounding-sized differences
    gaps = workloads.cnn_weight_gaps(
        p.weights,
        {
            "numpy reference": (trained, loss),
            "same": (drifted, loss),
            "short": (short, loss),
            "untrained": ([w.copy() for w in p.weights], loss),
        },
    )
    assert gaps["numpy reference"] == 0.0
    assert gaps["same"] <= workloads.W6_WEIGHT_TOLERANCE
    assert gaps["short"] > 0.1 and gaps["untrained"] == pytest.approx(1.0)
    never_moved = workloads.cnn_weight_gaps(p.weights, {"numpy reference": (p.weights, loss)})
    assert np.isinf(never_moved["numpy reference"])


def test_w6_check_fails_a_wrong_implementation(monkeypatch: pytest.MonkeyPatch) -> None:
    # a minidl whose training differs (here: one step of another learning rate) fails the check
    from benchmarks import impl_minidl, workloads

    if impl_minidl.cnn_missing():
        pytest.skip("this minidl has no Conv2D/MaxPooling2D/Flatten")
    p = problems.small_cnn(128, seed=4).astype("float32")
    timed = {name: prepare()() for name, prepare in workloads._w6_prepares(p, 1).items()}
    real = impl_minidl.small_cnn
    monkeypatch.setattr(impl_minidl, "small_cnn", lambda *a: real(*a[:5], a[5] * 1.01))
    checks = workloads._w6_check(p, 1, timed)
    assert checks["minidl"]["check"].startswith("FAILED: float64 weights differ")
    assert checks["numpy reference"]["check"] == "ok"


def test_conv_flops_count_three_products_but_none_for_the_data() -> None:
    from benchmarks import workloads

    conv1 = 2 * 28 * 28 * 16 * 9 * 1
    conv2 = 2 * 14 * 14 * 32 * 9 * 16
    assert workloads.cnn_conv_flops(28) == 2 * conv1 + 3 * conv2


# ------------------------------------------------------------------ goal rows: noise and quick runs


def _timing(median: float, spread: float = 1.05) -> dict:
    return {"median": median, "min": median / spread**0.5, "max": median * spread**0.5, "repeats": 7}


def _w6_results(numpy_s: float, minidl_s: float, torch_s: float, *, noisy: str | None = None) -> dict:
    rows = []
    for impl, seconds in (("numpy reference", numpy_s), ("minidl", minidl_s), ("PyTorch", torch_s)):
        rows.append({"impl": impl, "time_per_run": _timing(seconds, 1.6 if impl == noisy else 1.05)})
    memory = [{"impl": "numpy reference", "peak_bytes": 100}, {"impl": "minidl", "peak_bytes": 120}]
    return {"W6": {"rows": rows, "memory": memory}}


def _verdicts(results: dict, quick: bool = False) -> dict[str, str]:
    from benchmarks import report

    return {t["target"]: t["verdict"] for t in report.targets(results, quick=quick)}


SPEED = "W6: minidl samples/s / numpy samples/s"
TORCH_GOAL = "W6: minidl samples/s / PyTorch samples/s"
MEMORY = "W6: minidl peak memory / numpy peak memory"


def test_goal_rows_give_a_verdict_on_a_steady_full_run() -> None:
    verdicts = _verdicts(_w6_results(1.0, 1.05, 0.8))
    assert verdicts[SPEED] == "yes" and verdicts[TORCH_GOAL] == "yes" and verdicts[MEMORY] == "yes"
    verdicts = _verdicts(_w6_results(1.0, 1.25, 0.5))  # 0.8x numpy, 0.4x PyTorch
    assert verdicts[SPEED] == "no" and verdicts[TORCH_GOAL] == "no"


@pytest.mark.parametrize("noisy", ["numpy reference", "minidl", "PyTorch"])
def test_a_noisy_side_gives_no_verdict(noisy: str) -> None:
    from benchmarks import report

    results = _w6_results(1.0, 1.05, 0.8, noisy=noisy)
    targets = {t["target"]: t for t in report.targets(results)}
    sides = {SPEED: {"numpy reference", "minidl"}, TORCH_GOAL: {"minidl", "PyTorch"}}
    for target, involved in sides.items():
        if noisy in involved:
            assert targets[target]["verdict"] == "noisy: rerun" and targets[target]["met"] is None
            assert targets[target]["spread"] == pytest.approx(1.6)
        else:
            assert targets[target]["verdict"] == "yes" and targets[target]["met"] is True
    assert targets[MEMORY]["verdict"] == "yes"  # memory is not timed: noise does not touch it


def test_noise_also_withholds_a_miss() -> None:
    # a slow minidl in a noisy run is not called a miss either: the run could not tell
    verdicts = _verdicts(_w6_results(1.0, 2.0, 0.8, noisy="minidl"))
    assert verdicts[SPEED] == verdicts[TORCH_GOAL] == "noisy: rerun"


def test_the_noise_threshold_is_where_the_docs_say() -> None:
    from benchmarks import report

    assert report.verdict(True, [report.NOISY_SPREAD], quick=False) == "yes"
    assert report.verdict(True, [report.NOISY_SPREAD * 1.01], quick=False) == "noisy: rerun"
    assert report.verdict(False, [1.0, report.NOISY_SPREAD * 1.01], quick=False) == "noisy: rerun"
    assert report.verdict(None, [2.0], quick=False) == "n/a"


def test_a_quick_run_never_marks_a_goal_met_or_missed() -> None:
    from benchmarks import report

    cases = (
        _w6_results(1.0, 1.0, 0.8),
        _w6_results(1.0, 3.0, 0.5),
        _w6_results(1.0, 1.0, 0.8, noisy="minidl"),
    )
    for results in cases:
        targets = report.targets(results, quick=True)
        goals = [t for t in targets if "no goal" not in t["goal"]]
        assert goals and all(t["verdict"] == "n/a (quick run)" and t["met"] is None for t in goals)
        assert all(t["measured"] is not None for t in targets)  # the figures are still shown


def test_the_markdown_table_shows_the_verdicts(tmp_path: Path) -> None:
    from benchmarks import report

    results = {
        "started": "now",
        "seconds": 1.0,
        "settings": {"quick": False},
        "machine": {
            "cpu": "cpu",
            "logical_cpus": 2,
            "platform": "p",
            "python": "3",
            "versions": {},
            "OPENBLAS_CORETYPE": None,
            "thread_env": {},
        },
        "workloads": {},
    }
    results["targets"] = report.targets(_w6_results(1.0, 1.05, 0.8, noisy="PyTorch"))
    text = report.markdown(results)
    assert f"| {SPEED} | 0.95 | >= 0.9 | yes |" in text
    assert f"| {TORCH_GOAL} | 0.76 | >= 0.5 (aim 1.0) | noisy: rerun | 1.60 |" in text
