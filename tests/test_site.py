"""The documentation site builds with ``mkdocs build --strict`` and every page is in its navigation.

``--strict`` turns every warning into a failure: a broken link or anchor, a page missing from the
navigation, a docstring that griffe cannot parse or that names a parameter the signature lacks, a
cross-reference mkdocstrings cannot resolve. The build needs the ``docs`` extra; without it the
test skips, except under MINIDL_REQUIRE_EXTRAS=1 (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from extras import require

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?(\S+\.md)\s*$", nav, re.MULTILINE))


def test_every_page_is_in_the_navigation() -> None:
    pages = {str(p.relative_to(DOCS)) for p in DOCS.glob("**/*.md")}
    nav = _nav_pages()
    assert "index.md" in nav and "reference/api/model.md" in nav  # the pattern reads the nav
    assert not pages - nav, f"pages of docs/ missing from mkdocs.yml's nav: {sorted(pages - nav)}"
    assert not nav - pages, f"mkdocs.yml's nav names pages that do not exist: {sorted(nav - pages)}"


@pytest.mark.slow  # renders every page and the API reference: about 10 s
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    require("mkdocs", "docs")
    require("mkdocstrings_handlers.python", "docs")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # the home page is the README, its links rewritten for the site
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "built to be read and extended" in home
    assert 'href="tutorial/"' in home and "docs/tutorial.md" not in home
    # an API page rendered from the docstrings: a method, its arguments and their descriptions
    model = (site / "reference" / "api" / "model" / "index.html").read_text(encoding="utf-8")
    assert 'id="minidl.model.Sequential.fit"' in model
    assert "the function each line is given to" in model  # Sequential.summary's print_fn
    assert ":class:" not in model and ":meth:" not in model
    # the search index holds the API pages
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert any(doc["location"].startswith("reference/api/model/") for doc in index["docs"])
