"""The reference pages generated from the code (issue 15, items 3 and 4) are committed as
generated, and the configuration page documents exactly the keys the reader accepts."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl import _reference, cli, config
from minidl.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "reference" / "configuration.md").read_text(encoding="utf-8")
MINIMAL = {
    "model": {"layers": [{"type": "dense", "units": 1}]},
    "compile": {},
    "data": {"x": [[1.0]], "y": [1.0]},
}


@pytest.mark.parametrize("relative", list(_reference.PAGES))
def test_the_committed_page_is_what_the_generator_renders(relative: str) -> None:
    committed = (ROOT / relative).read_text(encoding="utf-8")
    assert committed == _reference.PAGES[relative](), (
        f"{relative} is out of date: run python docs/generate_reference.py"
    )


def test_the_script_checks_and_writes(tmp_path: Path) -> None:
    script = [sys.executable, str(ROOT / "docs" / "generate_reference.py")]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    assert _reference.main(["--check"], tmp_path) == 1  # missing pages are out of date
    assert _reference.main([], tmp_path) == 0 and _reference.main(["--check"], tmp_path) == 0


def documented() -> dict[str, set[str]]:
    """The keys in the first column of each section's tables on the page, by section."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in PAGE.splitlines():
        heading = re.match(r"^##+ (?:`\[+(\w+)\]+`|(Top level)|(Data-set arguments))", line)
        if heading:
            section = heading[1] or ("" if heading[2] else "data")
        elif line.startswith("| `") and section is not None:
            keys.setdefault(section, set()).add(line.split("`")[1])
        elif line.startswith("## "):
            section = None  # type: ignore[assignment]
    return keys


def _walk(raw: Any, section: str, found: set[tuple[str, str]]) -> None:
    for key, value in raw.items():
        where = section or (key if isinstance(value, (dict, list)) and key != "description" else "")
        if section or where == "":
            found.add((section, key))
        if not section and isinstance(value, dict):
            _walk(value, key, found)
        elif not section and isinstance(value, list):
            for entry in value:
                _walk(entry, key, found)


def test_every_key_of_the_bundled_configurations_is_documented() -> None:
    found: set[tuple[str, str]] = set()
    for name in config.bundled():
        _walk(tomllib.loads(config.bundled_text(name)), "", found)
    keys = documented()
    missing = sorted((s, k) for s, k in found if k not in keys.get(s, set()))
    assert not missing and len(found) >= 20, missing


def _with_key(section: str, key: str, value: Any) -> dict[str, Any]:
    raw = {s: dict(v) if isinstance(v, dict) else v for s, v in MINIMAL.items()}
    if section == "":
        raw[key] = value
    elif section == "predict":
        raw["predict"] = [{"x": [1.0], key: value}]
    else:
        raw.setdefault(section, {})[key] = value
    if section == "data" and key not in ("x", "y", "names", "columns", "test_split", "split_seed"):
        raw["data"] = {"dataset": "digits" if key == "images" else "xor", key: value}
    return raw


def test_every_documented_key_is_accepted_by_the_reader() -> None:
    for section, keys in documented().items():
        for key in keys:
            try:  # a value of the wrong type may be refused, but never as an unknown key
                config.TrainingConfig.from_dict(_with_key(section, key, object()))
            except ConfigError as exc:
                assert "unknown" not in str(exc).lower(), (section, key, exc)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(
    section=st.sampled_from(["", "model", "compile", "fit", "data", "predict"]),
    key=st.text(min_size=1, max_size=12),
)
def test_a_key_the_page_does_not_document_is_refused(section: str, key: str) -> None:
    if key in documented().get(section, set()):
        return
    with pytest.raises(ConfigError, match=r"unknown .*key"):
        config.TrainingConfig.from_dict(_with_key(section, key, 1))


def test_the_cli_page_covers_every_command_option_and_status() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    for command in ["train", "predict", "sweep", "configs", "configs show", "plugins"]:
        assert f"## minidl {command}\n" in page
    for option in ["--seed", "--epochs", "--plot", "--save", "--out", "--batch-size", "--check", "--grid"]:
        assert f"`{option}" in page
    for status in (0, 1, 2, 130, 141):
        assert f"| `{status}` |" in page
    assert cli.EXIT_STATUSES.keys() == {0, 1, 2, 130, 141}
