"""minidl is ready to publish: one version, an SPDX license, and a wheel that works once installed.

The slow test builds the sdist and the wheel with ``python -m build``, checks both with ``twine
check``, looks inside them for the bundled configurations and ``py.typed``, installs the wheel in a
fresh virtual environment and trains ``lecture1`` with its ``minidl`` command. The fresh venv
reuses this interpreter's numpy and scipy (a ``.pth`` file naming their folder) and installs the
wheel with ``--no-index``, so it downloads nothing and stays within a few seconds beyond the build.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from extras import require

import minidl

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONFIGS = sorted(p.name for p in (ROOT / "minidl" / "configs").glob("*.toml"))


def test_the_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "minidl._version.__version__"
    # the installed metadata (built from pyproject) and the package agree
    assert metadata.version("minidl") == minidl.__version__


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"  # a string: the table form is deprecated by setuptools
    for pattern in project["license-files"]:
        (found,) = ROOT.glob(pattern)
        assert "MIT License" in found.read_text(encoding="utf-8")
    build_requires = PYPROJECT["build-system"]["requires"]
    assert build_requires == ["setuptools>=77"]  # the first setuptools that reads `license = "MIT"`


def _build(out: Path) -> tuple[Path, Path, str]:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    (wheel,) = out.glob("minidl-*.whl")
    (sdist,) = out.glob("minidl-*.tar.gz")
    return wheel, sdist, log


def _fresh_venv(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # numpy, scipy and typing-extensions come from here, so nothing is downloaded; the path is
    # added after the venv's own site-packages, whose minidl (the wheel's) therefore comes first
    shared = {Path(np.__file__).parents[1], Path(metadata.distribution("scipy").locate_file(""))}
    (Path(site) / "_minidl_test_shared.pth").write_text("\n".join(map(str, sorted(shared))) + "\n")
    return python


@pytest.mark.slow  # builds two distributions and a venv: about 30 s
def test_the_built_wheel_installs_and_trains(tmp_path: Path) -> None:
    require("build", "release")
    require("twine", "release")
    wheel, sdist, log = _build(tmp_path / "dist")
    assert "Deprecat" not in log, log  # setuptools' license warning, among others

    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    wheel_names = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in ["minidl/py.typed", *(f"minidl/configs/{c}" for c in CONFIGS)]:
        assert name in wheel_names, f"{name} is missing from {wheel.name}"
        assert name in sdist_names, f"{name} is missing from {sdist.name}"
    assert any(n.endswith(".dist-info/licenses/docs/license.md") for n in wheel_names)
    metadata_text = zipfile.ZipFile(wheel).read(f"minidl-{minidl.__version__}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata_text
    assert f"Version: {minidl.__version__}" in metadata_text

    python = _fresh_venv(tmp_path / "venv")
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = subprocess.run(
        [str(python), "-c", "import minidl; print(minidl.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,  # not the checkout, whose minidl/ would shadow the installed one
    ).stdout
    assert str(tmp_path / "venv") in where, f"minidl came from {where}, not from the wheel"

    run = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "minidl"), "train", "lecture1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines() if line.strip()}
    # the lecture's verdict: Emily (F) above 0.5, Frank (M) below it
    assert float(rows["Emily"][-1]) > 0.5 > float(rows["Frank"][-1]), run.stdout
