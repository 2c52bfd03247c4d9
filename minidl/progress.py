"""Progress output of ``fit``: a live bar on a terminal, plain lines everywhere else.

``verbose=1`` draws one progress bar per epoch (batches done, ETA, running loss) when the output
is a terminal, and falls back to one plain line per epoch when it is redirected to a file or a
CI log, so logs never hold carriage returns or escape codes. ``verbose=2`` always prints one
plain line per epoch; ``verbose=0`` prints nothing.

The bar shows the loss live because every step returns it for free. Metrics are measured once
per epoch, over the whole training set with the epoch's final weights (see ``Sequential.fit``),
so per-batch metrics would add work to every step: they appear, with the ``val_*`` figures, on
the line that ends the epoch and replaces the bar, as Keras's bar shows them at an epoch's end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .callbacks import Callback, Logs

__all__ = ["EpochLine", "ProgressBar", "progress_callback", "format_logs", "report"]

BAR_WIDTH = 24
REFRESH_SECONDS = 0.1  # redraw the bar at most this often: drawing costs more than a small step


def format_value(value: float) -> str:
    """Four decimals, or scientific notation for figures too small or large to read that way."""
    magnitude = abs(value)
    return f"{value:.4f}" if value == 0 or 1e-3 <= magnitude < 1e5 else f"{value:.4e}"


def format_logs(logs: Logs) -> str:
    """``loss: 0.1234 - accuracy: 0.9500 - ...``

    Args:
        logs: the figures by name.
    """
    return " - ".join(f"{key}: {format_value(value)}" for key, value in logs.items())


def _seconds(duration: float) -> str:
    if duration < 1e-3:  # a lecture epoch takes tens of microseconds: "0ms" would say nothing
        return f"{duration * 1e6:.0f}us"
    if duration < 1.0:
        return f"{duration * 1000:.0f}ms"
    minutes, seconds = divmod(round(duration), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class EpochLine(Callback):
    """One plain line per epoch: ``Epoch 3/10 - 12 steps - 40ms - loss: 0.1234 - ...``.

    ``every`` > 1 prints only every ``every``-th epoch of the run, and always the last one.

    Args:
        stream: the text stream to write to (standard output by default).
        every: print every ``every``-th epoch (and the last).
    """

    def __init__(self, stream: TextIO | None = None, every: int = 1) -> None:
        self.stream = stream
        self.every = max(int(every), 1)
        self._started = 0.0

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._started = time.perf_counter()

    def _due(self, epoch: int) -> bool:
        done = epoch - self.params.get("initial_epoch", 0) + 1
        last = epoch + 1 >= self.params.get("epochs", 0) or bool(self.model and self.model.stop_training)
        return done % self.every == 0 or last

    def _summary(self, epoch: int, logs: Logs | None) -> str:
        steps = self.params.get("steps")
        parts = [f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"]
        if steps is not None:
            parts.append(f"{steps} step{'s' if steps != 1 else ''}")
        parts.append(_seconds(time.perf_counter() - self._started))
        if logs:
            parts.append(format_logs(logs))
        return " - ".join(parts)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._due(epoch):
            self._write(self._summary(epoch, logs) + "\n")


class ProgressBar(EpochLine):
    """A live bar per epoch, redrawn in place with a carriage return (for terminals only).

    Args:
        stream: the terminal stream to draw on (standard output by default).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._drawn = 0.0
        self._total = 0.0

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        self._drawn, self._total = 0.0, 0.0

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._total += (logs or {}).get("loss", 0.0)
        now = time.perf_counter()
        steps = self.params.get("steps") or batch + 1
        if now - self._drawn < REFRESH_SECONDS and batch + 1 < steps:
            return
        self._drawn = now
        done = batch + 1
        filled = BAR_WIDTH * done // steps
        bar = ("=" * filled + ">")[:BAR_WIDTH].ljust(BAR_WIDTH, ".")
        eta = (now - self._started) / done * (steps - done)
        self._write(
            f"\r{done:>{len(str(steps))}}/{steps} [{bar}] - ETA {_seconds(eta)}"
            f" - loss: {format_value(self._total / done)}\x1b[K"
        )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._write("\r\x1b[K" + self._summary(epoch, logs) + "\n")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like objects without isatty
        return False


def progress_callback(verbose: int | str, stream: TextIO | None = None, every: int = 1) -> Callback | None:
    """The progress callback for ``verbose`` (0, 1, 2 or ``"auto"``, which is 1), or None for silence.

    Args:
        verbose: 0 silent; 1 or ``"auto"`` a bar on a terminal, else a line per epoch; 2 a line per epoch.
        stream: where to write (standard output when None).
        every: print every ``every``-th epoch only (plain lines).

    Returns:
        The callback, or None.
    """
    if not verbose:
        return None
    target = stream or sys.stdout
    if verbose in (1, "auto") and every == 1 and _is_terminal(target):
        return ProgressBar(stream)
    return EpochLine(stream, every)


def report(action: str, samples: int, seconds: float, figures: Logs | None = None) -> None:
    """Prints the one line ``predict``/``evaluate`` print with ``verbose``: ``evaluate: 200 samples
    - 3ms - loss: 0.1234``.

    Args:
        action: what was done (``"predict"``, ``"evaluate"``).
        samples: how many samples.
        seconds: how long it took.
        figures: the figures to show, if any.
    """
    parts = [f"{action}: {samples} sample{'s' if samples != 1 else ''}", _seconds(seconds)]
    if figures:
        parts.append(format_logs(figures))
    print(" - ".join(parts))
