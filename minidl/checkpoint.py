"""Checkpoints: save the whole training state during ``fit``, and resume from it bit-identically.

A checkpoint is an ordinary model file (``minidl.io.save``): architecture, weights, loss and
optimizer with its state, History and every random generator's state. Loading it and calling
``fit`` for the remaining epochs gives the same weights and History, bit for bit, as a run that
was never interrupted (same data, batch size and shuffle setting).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._checks import choice, positive_int
from .callbacks import Callback, Logs
from .errors import ConfigError, FormatError, MinidlError
from .model import load

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["ModelCheckpoint", "CheckpointWarning", "checkpoints", "load_latest", "resume"]

SUFFIX = ".minidl"


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and an older one was used instead."""


class ModelCheckpoint(Callback):
    """Saves the model to ``directory`` every ``every`` epochs (or only when it improved).

    Files are named ``<prefix>-epoch<N>.minidl`` with N the number of completed epochs; each is
    written atomically, so a crash never leaves a half-written checkpoint. Only the ``keep``
    newest are kept (None keeps all).

    Args:
        directory: folder of the checkpoints (created if missing).
        every: save at the end of every ``every``-th epoch.
        save_best_only: save only when ``monitor`` improved on every earlier epoch's value
            (earlier epochs of a resumed run included).
        monitor: the epoch figure compared (``"loss"``).
        mode: ``"min"`` or ``"max"``: which direction is better.
        keep: how many checkpoint files to keep (>= 1), or None for all.
        prefix: the file name prefix.

    Examples:
        >>> checkpoint = ModelCheckpoint("runs/ckpt", every=2, keep=3)  # doctest: +SKIP
        >>> model.fit(x, y, epochs=10, callbacks=[checkpoint])  # doctest: +SKIP
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        every: int = 1,
        save_best_only: bool = False,
        monitor: str = "loss",
        mode: str = "min",
        keep: int | None = 3,
        prefix: str = "checkpoint",
    ) -> None:
        self.directory = Path(os.fspath(directory))
        self.every = positive_int("every", every)
        if not isinstance(save_best_only, bool):
            raise ConfigError(f"save_best_only must be True or False; received {save_best_only!r}.")
        self.save_best_only = save_best_only
        if not isinstance(monitor, str):
            raise ConfigError(
                f"monitor must be the name of an epoch figure such as 'loss'; received {monitor!r}."
            )
        self.monitor = monitor
        self.mode = choice("mode", mode, ("min", "max"))
        self.keep = None if keep is None else positive_int("keep", keep)
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
            raise ConfigError(
                f"prefix must be a plain file name part (letters, digits, _ . -); received {prefix!r}."
            )
        self.prefix = prefix
        self.best: float | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The best so far includes the epochs of a resumed run, so resuming does not reset it.
        figures = self.model.history.history.get(self.monitor, [])
        earlier = [v for v in figures if math.isfinite(v)]
        self.best = (min if self.mode == "min" else max)(earlier) if earlier else None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        if self.save_best_only and not self._improved(logs or {}):
            return
        path = self.directory / f"{self.prefix}-epoch{epoch + 1:06d}{SUFFIX}"
        self.model.save(path)
        self._prune(epoch + 1)

    def _improved(self, logs: Logs) -> bool:
        if self.monitor not in logs:
            raise ConfigError(
                f"ModelCheckpoint monitors {self.monitor!r}, which the epoch does not report; "
                f"available: {sorted(logs)}."
            )
        value = float(logs[self.monitor])
        better = math.isfinite(value) and (
            self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        )
        if better:
            self.best = value
        return better

    def _prune(self, newest: int) -> None:
        if self.keep is None:
            return
        # Files numbered above the one just written belong to an abandoned run; left alone.
        older = [path for number, path in _numbered(self.directory, self.prefix) if number <= newest]
        for path in older[: -self.keep]:
            path.unlink(missing_ok=True)


def _numbered(directory: Path, prefix: str) -> list[tuple[int, Path]]:
    pattern = re.compile(rf"^{re.escape(prefix)}-epoch(\d+){re.escape(SUFFIX)}$")
    found = []
    for path in directory.iterdir() if directory.is_dir() else ():
        match = pattern.match(path.name)
        if match and path.is_file():
            found.append((int(match[1]), path))
    return sorted(found)


def checkpoints(directory: str | os.PathLike[str], prefix: str = "checkpoint") -> list[Path]:
    """The checkpoint files of ``directory``, oldest first (by epoch number).

    Args:
        directory: the folder the checkpoints are in.
        prefix: the file names' prefix (``checkpoint`` gives ``checkpoint-epoch4.minidl``).
    """
    return [path for _, path in _numbered(Path(os.fspath(directory)), prefix)]


def load_latest(directory: str | os.PathLike[str], prefix: str = "checkpoint") -> Sequential:
    """Loads the newest readable checkpoint of ``directory``.

    A newest checkpoint that cannot be loaded (corrupt, or refused for any reason minidl gives:
    a FormatError, a ConfigError for out-of-range state, an UnknownComponentError...) is
    reported with a ``CheckpointWarning`` naming the file and the problem, and the previous
    one is tried. Raises FileNotFoundError when there is
    no checkpoint, FormatError (listing every file's problem) when none can be read.

    Args:
        directory: the folder the checkpoints are in.
        prefix: the file names' prefix.
    """
    paths = checkpoints(directory, prefix)
    if not paths:
        raise FileNotFoundError(f"No checkpoint named {prefix}-epoch*{SUFFIX} in {os.fspath(directory)!r}.")
    problems = []
    for path in reversed(paths):
        try:
            model = load(path)
        except MinidlError as exc:  # whatever the file made minidl refuse; OSErrors propagate
            problems.append(f"{path.name}: {exc}")
            warnings.warn(
                f"Skipping unreadable checkpoint {str(path)!r}: {exc}", CheckpointWarning, stacklevel=2
            )
            continue
        return model
    raise FormatError(f"No checkpoint in {os.fspath(directory)!r} could be read:\n" + "\n".join(problems))


def resume(
    source: str | os.PathLike[str], x: Any, y: Any, *, epochs: int, **fit_arguments: Any
) -> Sequential:
    """Loads a checkpoint (a file, or a folder's newest) and trains until ``epochs`` in total.

    ``epochs`` counts from the first epoch of the original run, so a run of 10 epochs checkpointed
    at 4 continues for 6; ``fit_arguments`` (batch_size, shuffle, callbacks...) go to ``fit`` and
    should match the original run for a bit-identical result.

    Args:
        source: a checkpoint file, or a folder whose newest checkpoint is used.
        x: the training inputs of the original run.
        y: its targets.
        epochs: the total number of epochs, counting those already trained.
        **fit_arguments: further arguments of ``fit`` (batch_size, shuffle, callbacks...).
    """
    epochs = positive_int("epochs", epochs)
    model = load_latest(source) if Path(os.fspath(source)).is_dir() else load(source)
    done = len(model.history.epochs) and model.history.epochs[-1] + 1
    if done < epochs:
        model.fit(x, y, epochs=epochs - done, **fit_arguments)
    return model
