"""The benchmark suite's correctness on tiny sizes: every installed implementation of each
workload reaches the same loss from the same weights, and the report is written. Nothing here
asserts a timing (timings belong to ``python -m benchmarks``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import __main__ as bench_main
from benchmarks import reference, report, workloads


class Tiny(workloads.Settings):
    def __init__(self) -> None:
        super().__init__(quick=True)
        self.repeats = 1
        self.w1_epochs, self.w2_iterations, self.w3_epochs = 5, 20, 1
        self.w4_samples, self.w4_epochs = 256, 1
        self.scale_samples, self.scale_widths = [200], [16]


@pytest.mark.parametrize("run", [workloads.w1, workloads.w2, workloads.w4], ids=["W1", "W2", "W4"])
def test_implementations_agree(run) -> None:
    result = run(Tiny())
    impls = [row["impl"] for row in result["rows"]]
    assert impls[0] == "minidl" and any(i.startswith("numpy") for i in impls)
    assert all(row["agrees"] for row in result["rows"])


def test_w3_agrees_in_both_dtypes() -> None:
    results = workloads.w3(Tiny())
    assert [r["name"].split(", ")[-1] for r in results] == ["float64", "float32"]
    for result in results:
        assert all(row["agrees"] and 0.0 <= row["accuracy"] <= 1.0 for row in result["rows"])


def test_disagreement_is_detected() -> None:
    rows = [{"impl": "minidl", "loss": 1.0}, {"impl": "numpy", "loss": 1.01}]
    with pytest.raises(workloads.AgreementError, match="numpy"):
        workloads._check_agreement("Wx", rows, 1e-6)


def test_numpy_reference_matches_minidl_lecture1_exactly() -> None:
    """The scalar reference is the lecture's arithmetic: the same weights after training."""
    p = list(np.random.default_rng(3).standard_normal(9))
    weights = workloads._scalar_as_matrices(p)
    scalar = workloads._scalar_as_matrices(reference.lecture1_scalar(p, 20))
    minidl = workloads._minidl_lecture("lecture1", weights, 20)()
    for a, b in zip(scalar, minidl):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_the_command_writes_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workloads, "Settings", lambda quick: Tiny())
    assert bench_main.main(["--quick", "--only", "W2,W5,scaling,memory", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert {w["name"].split(" ")[0] for w in data["workloads"]} >= {"W2", "W5", "Scaling", "Peak"}
    text = (tmp_path / "results.md").read_text()
    assert "## Targets" in text and "W2 minidl step / numpy lecture step" in text
    assert data["environment"]["versions"]["numpy"] == np.__version__
    assert any(t["target"].startswith("peak memory") for t in report.targets(data))
