"""Shared pytest setup. The suite runs with ``--import-mode=importlib`` (so the plugin packages'
test files, which share names, do not collide); that mode does not put this folder on
``sys.path``, so the shared helper module ``test_io_support`` is made importable here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
