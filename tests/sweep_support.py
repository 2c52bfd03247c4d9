"""Trial functions for tests/test_sweeps.py that worker processes can import (a spawned worker
imports functions by module name, and this folder is on its sys.path through conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from minidl.sweeps import run_trial


def die_on_seed_1(task: Mapping[str, Any]) -> dict[str, Any]:
    """``run_trial``, except that the worker process dies at once for seed 1 (a killed worker)."""
    if task["seed"] == 1:
        os._exit(3)
    return run_trial(task)
