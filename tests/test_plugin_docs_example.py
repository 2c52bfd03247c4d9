"""The complete minimal plugin of docs/plugins.md, built from the page's own text and really run.

The page's ``pyproject.toml``, ``minidl_cube.py`` and ``tests/test_cube.py`` blocks become a
distribution (a ``*.dist-info`` with METADATA and entry_points.txt, the module beside it) in a
temporary folder; a fresh interpreter with that folder on its path runs the plugin's test file
with pytest and ``minidl plugins``, as the plugin's author and its users would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from minidl.testing import checks

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _block(language: str, marker: str) -> str:
    found = [
        body
        for lang, body in FENCE.findall(DOC.read_text(encoding="utf-8"))
        if lang == language and marker in body
    ]
    assert len(found) == 1, (
        f"docs/plugins.md: expected one ```{language} block containing {marker!r}, found {len(found)}"
    )
    return found[0]


def _build(root: Path) -> dict:
    project = tomllib.loads(_block("toml", 'name = "minidl-cube"'))["project"]
    site = root / "site"
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in entries.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (site / "minidl_cube.py").write_text(_block("python", "class Cube(Activation)"))
    (root / "tests").mkdir()
    (root / "tests" / "test_cube.py").write_text(_block("py", "parametrize_with_checks([Cube])"))
    return project


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "site"), *sys.path])}
    env.pop("MINIDL_DISABLE_PLUGINS", None)
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("minidl-cube")
    return root, _build(root)


def test_the_documented_plugin_declares_an_activation(plugin: tuple[Path, dict]) -> None:
    _, project = plugin
    assert project["entry-points"] == {"minidl.activations": {"cube": "minidl_cube:Cube"}}
    assert project["dependencies"] == ["minidl>=0.1"]


def test_the_documented_test_file_passes_one_test_per_check(plugin: tuple[Path, dict]) -> None:
    root, _ = plugin
    done = _run(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cube.py")
    namespace: dict = {}
    exec(_block("python", "class Cube(Activation)"), namespace)
    expected = len(checks(namespace["Cube"]))  # as many tests as the kit has checks for an activation
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"\b{expected} passed\b", done.stdout), done.stdout


def test_once_installed_it_works_by_name(plugin: tuple[Path, dict]) -> None:
    root, _ = plugin
    code = "from minidl import Dense\nlayer = Dense(2, 2, activation='cube')\nprint(type(layer.activation).__module__)"
    done = _run(root, "-c", code)
    assert done.returncode == 0 and done.stdout.strip() == "minidl_cube", done.stderr
    listing = _run(root, "-m", "minidl", "plugins")
    row = next(line for line in listing.stdout.splitlines() if line.split()[:1] == ["cube"])
    assert "minidl-cube 0.1.0" in row and "available" in row
