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
    assert bench.replace("--quick", '--quick --out "$out"') in ci


def test_readme_installs_upgrade_pip_first() -> None:
    # the pip shipped with Python 3.11 fails to resolve the plugins' dependency on minidl
    installs = [c for c in _readme_commands() if c.startswith("python3 -m venv")]
    assert len(installs) == 2, installs  # the main job's and the tests'
    for command in installs:
        assert ".venv/bin/pip install --upgrade pip &&" in command


def test_ci_installs_the_optional_extras_before_the_tests() -> None:
    # minidl.sklearn's, the Ray backend's, the site's and the packaging tests must run in CI, not
    # skip: the extras are installed before the README's command runs the suite, and
    # MINIDL_REQUIRE_EXTRAS=1 turns their skip into a failure
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (test_command,) = [c for c in _readme_commands() if c.endswith("-m pytest -q")]
    extras = ci.index('.venv/bin/pip install -e ".[sklearn,ray,docs,release]"')
    assert extras < ci.index("export MINIDL_REQUIRE_EXTRAS=1") < ci.index(test_command)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^sklearn = \["scikit-learn>=1\.6"\]', pyproject, re.MULTILINE)
    assert re.search(r'^ray = \["ray>=', pyproject, re.MULTILINE)
    assert re.search(r'^docs = \["mkdocs>=', pyproject, re.MULTILINE)
    assert re.search(r'^release = \["build>=', pyproject, re.MULTILINE)
