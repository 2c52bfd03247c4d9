"""The benchmark suite runs and its correctness checks hold, on tiny sizes; nothing is timed here.

The suite lives in ``benchmarks/`` at the root of the repository (it is not part of the installed
package), so these tests import it from there.
"""

from __future__ import annotations

import json
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
    assert {"numpy reference", "numpy, the lecture's code", "numpy, weight matrices", "minidl",
            "minidl, guard off"} <= {r["impl"] for r in w1["rows"]}
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
    for a, b in zip(impl_numpy.lecture1_as_published(p1.weights, p1.x, p1.y, 25),
                    impl_numpy.lecture1_scalar(p1.weights, p1.x, p1.y, 25)):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-12
    p2 = problems.lecture2(seed=seed)
    for a, b in zip(impl_numpy.lecture2_as_published(p2.weights, p2.x, p2.y, 40),
                    impl_numpy.lecture2(p2.weights, p2.x, p2.y, 40)):
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
    for heading in ("## Machine", "## Targets", "## W1.", "## W4.", "## W5.", "Peak memory"):
        assert heading in text
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(data["workloads"]) == {"W1", "W2", "W3", "W4", "W5", "scaling", "memory"}
    assert all(t["target"] for t in data["targets"])
