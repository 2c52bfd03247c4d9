"""Optional extras in tests: a test that needs one skips only where it is not installed.

``.ci/run`` installs every extra and sets ``MINIDL_REQUIRE_EXTRAS=1``, so there a missing
package fails the test instead of skipping it (as ``MINIDL_REQUIRE_PLUGINS`` does for plugins).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REQUIRED = os.environ.get("MINIDL_REQUIRE_EXTRAS") == "1"


def require(module: str, extra: str) -> ModuleType:
    """Imports ``module``; where it is missing, skips the test (fails it under MINIDL_REQUIRE_EXTRAS=1)."""
    if REQUIRED:
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install 'minidl[{extra}]')")
