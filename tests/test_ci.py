"""CI runs what the README tells a newcomer to run: the same commands, character for character."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _readme_commands() -> list[str]:
    blocks = CONSOLE.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    tests = [c for c in _readme_commands() if c.endswith("-m pytest -q")]
    assert len(tests) == 1, f"expected one pytest command in README.md, found {tests}"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert tests[0] in ci_lines


def test_ci_runs_the_readme_benchmark_command() -> None:
    (bench,) = [c for c in _readme_commands() if "-m benchmarks" in c and c.startswith(".venv/bin/pip")]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert bench.replace("--quick", "--quick --out \"$out\"") in ci


def test_readme_installs_upgrade_pip_first() -> None:
    # the pip shipped with Python 3.11 fails to resolve the plugins' dependency on minidl
    installs = [c for c in _readme_commands() if c.startswith("python3 -m venv")]
    assert len(installs) == 2, installs  # the main job's and the tests'
    for command in installs:
        assert ".venv/bin/pip install --upgrade pip &&" in command
