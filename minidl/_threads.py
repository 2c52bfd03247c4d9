"""The BLAS thread count of a piece of work (threadpoolctl).

A matrix product's sums are split differently over different numbers of OpenBLAS threads, so
the same product can differ in the last bit with 1 and with 2 threads (measured on digits:
a (1797, 64) @ (64, 32) product). Work that must give the same bits wherever it runs (a
scikit-learn fit in a joblib worker, a sweep trial on any backend) fixes its thread count
here instead of inheriting the process's; a count fixed per piece of work, not derived from
the number of workers, also keeps K workers from oversubscribing the cores.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .errors import ConfigError

__all__ = ["blas_threads", "check_threads"]


def check_threads(threads: Any, what: str = "threads") -> int | None:
    """``threads`` as a positive int or None, else ValueError saying what was received."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{what} must be a positive integer or None; received {threads!r}.")
    return threads


def blas_threads(threads: int | None) -> AbstractContextManager[Any]:
    """A context in which BLAS libraries use ``threads`` threads (None: leave them as they are)."""
    if threads is None:
        return nullcontext()
    try:  # optional (the sweep extra; scikit-learn depends on it too): imported only when needed
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ConfigError(
            f"Fixing the BLAS threads ({threads}) needs threadpoolctl, which is not installed; install it "
            "with: pip install 'minidl[sweep]' (or pip install threadpoolctl)."
        ) from None

    limits: AbstractContextManager[Any] = threadpool_limits(limits=threads, user_api="blas")
    return limits
