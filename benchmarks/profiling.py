"""A per-layer profile of a training step: the share of a step spent in each layer's forward and backward.

The profiler replaces chosen methods of the objects a run uses (a layer's ``forward`` and
``backward``, the loss's, the optimizer's ``step``) by timed wrappers on those instances, runs
the whole training run once, and divides. Nested timed calls (a layer's ``backward_parameters``
that calls its own ``backward``) count once, for the outermost. The wrappers cost about a
microsecond a call, a few tens of microseconds a step: small beside a W6 step (milliseconds).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Profiler", "profile_run"]


class Profiler:
    """Accumulates seconds per (part, phase) for the methods it has wrapped."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = {}
        self.order: list[str] = []
        self._depth = 0

    def wrap(self, obj: Any, method: str, part: str, phase: str) -> None:
        """Times every call of ``obj.method`` (an instance attribute shadows the class's method)."""
        inner = getattr(obj, method)
        key = (part, phase)
        self.seconds.setdefault(key, 0.0)
        if part not in self.order:
            self.order.append(part)
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return inner(*args, **kwargs)
            self._depth += 1
            start = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[key] += clock() - start
                self._depth -= 1

        setattr(obj, method, timed)


def profile_run(
    prepare: Callable[[Profiler], Callable[[], Any]], steps: int, repeats: int = 1
) -> dict[str, Any]:
    """Profiles a run ``repeats`` times (a fresh one each time) and keeps the quickest.

    ``prepare(profiler)`` builds a fresh run, wraps its methods with ``profiler.wrap`` and
    returns the run. Returns seconds per step: the whole step, each part's forward and backward,
    and ``other`` (what no wrapped method covers: the training loop, data slicing, checks).
    """
    best: dict[str, Any] | None = None
    for _ in range(repeats):
        profiler = Profiler()
        run = prepare(profiler)
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            total = time.perf_counter() - start
        finally:
            gc.enable()
        if not any(profiler.seconds.values()):
            raise RuntimeError("the profiled run never called a wrapped method (wrapped too late?)")
        parts = [
            {
                "part": part,
                **{
                    phase: profiler.seconds[(part, phase)] / steps
                    for (p, phase) in profiler.seconds
                    if p == part
                },
            }
            for part in profiler.order
        ]
        covered = sum(profiler.seconds.values())
        result = {"step_seconds": total / steps, "parts": parts, "other": (total - covered) / steps}
        if best is None or result["step_seconds"] < best["step_seconds"]:
            best = result
    assert best is not None
    return best
