"""Every ```python block of README.md and docs/*.md runs here, so documented code cannot rot.

Blocks of one file share a namespace and run in order, in a temporary working folder. Output is
not compared; a block states its expectations with ``assert``. Mark a block that must not run
with another language tag (```text, ```console, ```toml).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


# only the pages that have code (an API page made of a ::: directive alone has none)
DOCUMENTS = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))] if python_blocks(p)]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(path)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"doc_{path.stem}"}
    for number, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"{path.name}[block {number}]", "exec"), namespace)
        except Exception as exc:  # re-raised with the block's location for a readable failure
            raise AssertionError(f"{path.name}, python block {number} failed: {exc!r}\n{code}") from exc


def test_blocks_are_found() -> None:
    # Guards the regular expression: the README's quick start must be collected.
    assert python_blocks(ROOT / "README.md"), "README.md has no ```python block"
