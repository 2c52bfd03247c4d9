"""minidl's benchmark suite: minidl against hand-written numpy, PyTorch and scikit-learn.

Run it with ``python -m benchmarks`` (full) or ``python -m benchmarks --quick`` (under a minute);
see docs/benchmarks.md. Only numpy is required; the peers are skipped with a note when absent.
"""

from __future__ import annotations

from .suite import run_suite

__all__ = ["run_suite"]
