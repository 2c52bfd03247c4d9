"""Checkpoints during ``fit``: model files (``ModelCheckpoint``) and resumable backups
(``BackupAndRestore``), with Keras's meaning of each.

A checkpoint is an ordinary model file (``minidl.io.save``): architecture, weights, loss and
optimizer with its state, History and every random generator's state. Loading it and calling
``fit`` for the remaining epochs gives the same weights and History, bit for bit, as a run that
was never interrupted (same data, batch size and shuffle setting).
"""

from __future__ import annotations

import math
import os
import re
import string
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import io, runs
from ._checks import choice, positive_int
from .callbacks import Callback, Logs, monitor_mode, require_reported
from .errors import ConfigError, FormatError, MinidlError
from .model import load

if TYPE_CHECKING:
    from .model import Sequential

__all__ = [
    "ModelCheckpoint",
    "BackupAndRestore",
    "CheckpointWarning",
    "checkpoints",
    "load_latest",
    "resume",
]

SUFFIX = ".minidl"


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and an older one was used instead, or a backup's run
    could only be checked in part."""


class _Unset:
    """The type of no value (``keep`` may be given as None, meaning "keep all")."""


_UNSET = _Unset()


class ModelCheckpoint(Callback):
    """Saves the model to a file at the end of each epoch, or only when it improved (Keras's meaning).

    ``filepath`` names a ``.minidl`` model file and may hold fields filled in at each save:
    ``{epoch}`` (counted from 1, as Keras) and any figure of the epoch's logs, with a format
    spec (``"ckpt/epoch{epoch:03d}-{val_loss:.3f}.minidl"``). Missing folders are created; each
    file is written atomically. A field the fit does not report is refused before training.

    ``ModelCheckpoint(folder, every=..., keep=..., prefix=...)``, a folder of numbered files, is
    the older spelling of ``BackupAndRestore``'s backups: it still works, without restoring,
    and warns with a FutureWarning.

    Args:
        filepath: the file, ending in ``.minidl``, with optional fields.
        monitor: the epoch figure compared by ``save_best_only`` (``"val_loss"``; ``"loss"`` in
            the older folder spelling).
        mode: ``"auto"`` (``"min"`` for losses, a metric's declared direction otherwise),
            ``"min"`` or ``"max"``.
        save_best_only: save only when ``monitor`` improved on every earlier epoch's value
            (earlier epochs of the model's History included).
        save_weights_only: write only the weights (``Sequential.save_weights``; read them
            back with ``load_weights``) instead of the whole model.
        verbose: 1 prints a line at each save (and each skipped one with ``save_best_only``).
        every: older folder spelling only: save every ``every``-th epoch.
        keep: older folder spelling only: how many files to keep (None for all).
        prefix: older folder spelling only: the file name prefix.
        directory: the older name of ``filepath`` for a folder.

    Raises:
        ConfigError: a path that names neither a ``.minidl`` file nor a folder, or bad options.

    Examples:
        >>> best = ModelCheckpoint("ckpt/best.minidl", monitor="val_accuracy", save_best_only=True)
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str] | None = None,
        *,
        monitor: str | None = None,
        mode: str = "auto",
        save_best_only: bool = False,
        save_weights_only: bool = False,
        verbose: int = 0,
        every: int | None = None,
        keep: int | _Unset | None = _UNSET,
        prefix: str | None = None,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if (filepath is None) == (directory is None):
            raise ConfigError("ModelCheckpoint needs a filepath, e.g. ModelCheckpoint('ckpt/best.minidl').")
        path = Path(os.fspath(filepath if filepath is not None else directory))  # type: ignore[arg-type]
        folder_options = every is not None or keep is not _UNSET or prefix is not None
        folder = directory is not None or folder_options or path.suffix != SUFFIX
        for flag, value in (("save_best_only", save_best_only), ("save_weights_only", save_weights_only)):
            if not isinstance(value, bool):
                raise ConfigError(f"{flag} must be True or False; received {value!r}.")
        if save_weights_only and folder:
            raise ConfigError(
                "save_weights_only needs a .minidl file path; folders of backups hold whole models."
            )
        self._folder = _older_folder_spelling(path, every, keep, prefix) if folder else None
        if monitor is not None and not isinstance(monitor, str):
            raise ConfigError(
                f"monitor must be the name of an epoch figure such as 'val_loss'; received {monitor!r}."
            )
        self.filepath = path
        self.monitor = monitor or ("loss" if self._folder is not None else "val_loss")
        self.mode = choice("mode", mode, ("auto", "min", "max"))
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if isinstance(verbose, bool) or verbose not in (0, 1):
            raise ConfigError(
                f"verbose must be 0 (silent) or 1 (a line per save); received verbose={verbose!r}."
            )
        self.verbose = int(verbose)
        self.best: float | None = None
        self._lower = True

    @property
    def directory(self) -> Path:
        """The folder the files are written to (as written, fields not filled in)."""
        return self._folder.directory if self._folder is not None else self.filepath.parent

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Checks the path and the monitored figure before any update; the best so far is the
        History's (so a resumed run keeps it).

        Args:
            logs: unused.
        """
        if self._folder is not None:
            self._folder.create()
        else:
            self._check_template()
        if self.save_best_only:
            require_reported(self, self.monitor, "monitors")
            self._lower = monitor_mode(self.monitor, self.mode, self.model, "ModelCheckpoint") == "min"
            figures = self.model.history.history.get(self.monitor, [])
            earlier = [v for v in figures if math.isfinite(v)]
            self.best = (min if self._lower else max)(earlier) if earlier else None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Saves the model when the epoch is due (and improved, with ``save_best_only``).

        Args:
            epoch: the epoch's index.
            logs: the epoch's figures.
        """
        logs = logs or {}
        if self._folder is not None and (epoch + 1) % self._folder.every:
            return
        if self.save_best_only and not self._improved(epoch, logs):
            return
        if self._folder is not None:
            path = self._folder.save(self.model, epoch + 1)
        else:
            path = Path(_fill(str(self.filepath), epoch + 1, logs))
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.save_weights_only:
                self.model.save_weights(path)
            else:
                self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")

    def _check_template(self) -> None:
        template = str(self.filepath)
        figures = dict.fromkeys(self.params.get("metrics") or [], 1.0)
        try:
            _fill(template, 1, figures)
        except KeyError as exc:
            raise ConfigError(
                f"ModelCheckpoint's filepath {template!r} names the figure {exc.args[0]!r}, which this fit "
                f"does not report; fields: {{epoch}} and {', '.join(figures) or 'none'}."
            ) from None
        except (ValueError, IndexError, TypeError) as exc:
            raise ConfigError(
                f"ModelCheckpoint's filepath {template!r} is not a valid template ({exc}); write fields "
                "as {epoch:03d} or {val_loss:.3f}."
            ) from None
        if self.filepath.is_dir():
            raise ConfigError(
                f"ModelCheckpoint's filepath {template!r} is a folder; give a file name ending in {SUFFIX}."
            )
        # a name too long or a folder not writable: told now, not after the first epoch trained
        io.check_writable(_fill(template, 1, figures))

    def _improved(self, epoch: int, logs: Logs) -> bool:
        if self.monitor not in logs:
            raise ConfigError(
                f"ModelCheckpoint monitors {self.monitor!r}, which the epoch does not report; "
                f"available: {sorted(logs)}."
            )
        value = float(logs[self.monitor])
        better = math.isfinite(value) and (
            self.best is None or (value < self.best if self._lower else value > self.best)
        )
        if better:
            self.best = value
        elif self.verbose and self.best is not None:
            print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5g}")
        return better


class BackupAndRestore(Callback):
    """Backs the training state up to a folder during ``fit``, and restores it when a run starts.

    As Keras's ``BackupAndRestore``: at the end of every ``every``-th epoch the whole training
    state is written to ``backup_dir`` (model files ``<prefix>-epoch<N>.minidl``, N the number of
    completed epochs, the ``keep`` newest kept). When ``fit`` starts and the folder holds
    backups, the newest readable one is restored into the model (weights, optimizer state,
    History, random generators) and training continues from the epoch after it, up to the same
    ``epochs``: a run killed at any point and started again with the same script ends
    bit-identical to one never interrupted. A model that is already further than the newest
    backup (a later ``fit`` of the same model in the same process) keeps its own state. When
    training ends normally, the backups are deleted (``delete_checkpoint=True``), so the next run
    starts afresh.

    The backups record which run they belong to (architecture, loss, optimizer, metrics,
    number of samples; ``<prefix>-run.json``). A run whose model or compile settings differ is
    refused with a ConfigError naming each difference, before anything changes: Keras would
    fail on another architecture too, and restoring another compile setting would train a
    different run than the one written. Only a different number of samples is let through with
    a ``CheckpointWarning`` (a data set that grew), as Keras would proceed. The learning
    rate may differ from the run's first one when it equals the newest backup's (a callback
    such as ReduceLROnPlateau changed it during the run).

    Args:
        backup_dir: the folder of the backups (created if missing; never a file).
        every: back up at the end of every ``every``-th epoch.
        keep: how many backups to keep (>= 1), or None for all.
        prefix: the file name prefix.
        delete_checkpoint: delete the backups when training ends normally or is stopped by a
            callback (not when an error ends it).

    Raises:
        ConfigError: a path that names a file, or bad options.

    Examples:
        >>> backup = BackupAndRestore("runs/backup", keep=2)
    """

    restores_state = True

    def __init__(
        self,
        backup_dir: str | os.PathLike[str],
        *,
        every: int = 1,
        keep: int | None = 3,
        prefix: str = "checkpoint",
        delete_checkpoint: bool = True,
    ) -> None:
        self._rotation = _Rotation(Path(os.fspath(backup_dir)), every, keep, prefix)
        if not isinstance(delete_checkpoint, bool):
            raise ConfigError(f"delete_checkpoint must be True or False; received {delete_checkpoint!r}.")
        self.delete_checkpoint = delete_checkpoint
        self.restored_epoch: int | None = None

    @property
    def directory(self) -> Path:
        """The folder of the backups."""
        return self._rotation.directory

    @property
    def run_file(self) -> Path:
        """The file recording which run the backups belong to."""
        return self.directory / f"{self._rotation.prefix}-run.json"

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Restores the newest backup of the same run, if any; refuses another run's.

        Args:
            logs: unused.
        """
        self._rotation.create()
        current = runs.run_record(self.model, self.params.get("samples", 0))
        self.restored_epoch = None
        if not checkpoints(self.directory, self._rotation.prefix):
            runs.write_record(self.run_file, current)
            return
        saved = load_latest(self.directory, self._rotation.prefix)
        self._check_same_run(runs.read_record(self.run_file), current, saved)
        done = self.model.history.epochs
        if not done or (saved.history.epochs and saved.history.epochs[-1] > done[-1]):
            self._restore(saved)  # never back to an older state than the model's own (a later fit)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Writes a backup when the epoch is due.

        Args:
            epoch: the epoch's index.
            logs: unused.
        """
        if (epoch + 1) % self._rotation.every == 0:
            self._rotation.save(self.model, epoch + 1)

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Deletes the backups and the run record (with ``delete_checkpoint``).

        Args:
            logs: unused.
        """
        if self.delete_checkpoint:
            for path in checkpoints(self.directory, self._rotation.prefix):
                path.unlink(missing_ok=True)
            self.run_file.unlink(missing_ok=True)
            if self.directory.is_dir() and not any(self.directory.iterdir()):
                self.directory.rmdir()  # only when nothing else was in it

    def _check_same_run(
        self, recorded: dict[str, Any] | None, current: dict[str, Any], saved: Sequential
    ) -> None:
        newest = runs.run_record(saved, current["samples"])
        if recorded is None:  # backups of an older minidl, or of ModelCheckpoint's folder spelling
            warnings.warn(
                f"The backups in {str(self.directory)!r} hold no run record: only their model and "
                "compile settings are checked against this run.",
                CheckpointWarning,
                stacklevel=2,
            )
            recorded = newest
        parts = runs.differences(recorded, current)
        if "optimizer" in parts and not runs.differences(
            {"optimizer": newest["optimizer"]}, {"optimizer": current["optimizer"]}
        ):
            parts.remove("optimizer")  # the rate a callback changed during the run, as it is now
        if "samples" in parts:
            parts.remove("samples")
            warnings.warn(
                f"Resuming from {str(self.directory)!r}, whose run trained on {recorded['samples']} "
                f"samples; this one has {current['samples']}.",
                CheckpointWarning,
                stacklevel=2,
            )
        if parts:
            lines = "\n".join("  " + runs.describe(part, recorded, current) for part in parts)
            raise ConfigError(
                f"BackupAndRestore: the backups in {str(self.directory)!r} belong to another run, so this "
                f"run does not resume from them:\n{lines}\nTrain with the same model, compile settings "
                f"and data to resume; to start afresh, give another backup_dir or delete that folder."
            )

    def _restore(self, saved: Sequential) -> None:
        model = self.model
        model.set_weights(saved.get_weights())
        if model.optimizer is not None and saved.optimizer is not None:
            # the schedule itself when the run has one (its scale factor and step count come
            # with the optimizer state below); the rate a callback left otherwise
            rate = saved.optimizer.schedule
            model.optimizer.learning_rate = saved.optimizer.learning_rate if rate is None else rate
        model.trainer.set_optimizer_state(saved.trainer.optimizer_state())
        model.set_random_state(saved.get_random_state())
        model.history.epochs = list(saved.history.epochs)
        model.history.history = {key: list(values) for key, values in saved.history.history.items()}
        if saved.history.epochs:
            self.restored_epoch = saved.history.epochs[-1]
            model.trainer.resume_at(self.restored_epoch + 1)


class _Rotation:
    """A folder of numbered model files, the ``keep`` newest kept."""

    def __init__(self, directory: Path, every: int, keep: int | _Unset | None, prefix: str) -> None:
        self.directory = directory
        self.every = positive_int("every", every)
        self.keep = None if keep is None else 3 if isinstance(keep, _Unset) else positive_int("keep", keep)
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
            raise ConfigError(
                f"prefix must be a plain file name part (letters, digits, _ . -); received {prefix!r}."
            )
        self.prefix = prefix
        if directory.suffix == SUFFIX or directory.is_file():
            raise ConfigError(
                f"{str(directory)!r} names a file; backups need a folder (e.g. 'runs/backup'). "
                f"For one model file per save use ModelCheckpoint('{directory}')."
            )

    def create(self) -> None:
        if self.directory.is_file():  # made since the callback was
            raise ConfigError(f"{str(self.directory)!r} is a file; backups need a folder.")
        io.check_writable(self.directory / f"{self.prefix}-epoch{0:06d}{SUFFIX}")  # before any epoch
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, model: Sequential, number: int) -> Path:
        path = self.directory / f"{self.prefix}-epoch{number:06d}{SUFFIX}"
        model.save(path)
        self._prune(number)
        return path

    def _prune(self, newest: int) -> None:
        if self.keep is None:
            return
        # Files numbered above the one just written belong to an abandoned run; left alone.
        older = [path for number, path in _numbered(self.directory, self.prefix) if number <= newest]
        for path in older[: -self.keep]:
            path.unlink(missing_ok=True)


def _older_folder_spelling(path: Path, every: int | None, keep: Any, prefix: str | None) -> _Rotation:
    if path.suffix == SUFFIX and not path.is_dir():
        raise ConfigError(
            f"every, keep and prefix number files in a folder (now BackupAndRestore's backups); "
            f"ModelCheckpoint({str(path)!r}) writes one model file: leave them out."
        )
    if path.suffix and not path.is_dir():
        raise ConfigError(
            f"ModelCheckpoint writes minidl model files, whose names end in {SUFFIX}; received "
            f"{str(path)!r}. For a folder of resumable backups use BackupAndRestore('folder')."
        )
    warnings.warn(
        f"ModelCheckpoint({str(path)!r}) with a folder is deprecated: use BackupAndRestore({str(path)!r}) "
        f"for resumable backups, or ModelCheckpoint('{path}/epoch{{epoch:03d}}{SUFFIX}') for model files.",
        FutureWarning,
        stacklevel=3,
    )
    return _Rotation(path, every or 1, keep, prefix or "checkpoint")


def _fill(template: str, epoch: int, logs: Logs) -> str:
    """``template`` with ``{epoch}`` and the figures of ``logs`` filled in (Keras's fields)."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    figures = {name: float(logs[name]) for name in names if name != "epoch"}
    return template.format(epoch=epoch, **figures)


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

    A newest checkpoint that cannot be loaded, for any failure the file causes (corrupt, refused
    by minidl with a FormatError, a ConfigError for out-of-range state, an
    UnknownComponentError..., unreadable by the operating system, or failing in a way minidl did
    not foresee), is reported with a ``CheckpointWarning`` naming the file and the problem,
    and the previous one is tried. Only interrupts (KeyboardInterrupt, SystemExit) propagate.

    Args:
        directory: the folder of the checkpoints.
        prefix: the file names' prefix.

    Returns:
        The model of the newest checkpoint that loads.

    Raises:
        FileNotFoundError: there is no checkpoint.
        FormatError: none can be read (the message lists every file's problem).
    """
    paths = checkpoints(directory, prefix)
    if not paths:
        raise FileNotFoundError(f"No checkpoint named {prefix}-epoch*{SUFFIX} in {os.fspath(directory)!r}.")
    problems = []
    for path in reversed(paths):
        try:
            model = load(path)
        except Exception as exc:  # noqa: BLE001 - any failure the file caused: an older one may load
            problem = str(exc) if isinstance(exc, MinidlError) else f"{type(exc).__name__}: {exc}"
            problems.append(f"{path.name}: {problem}")
            warnings.warn(
                f"Skipping unreadable checkpoint {str(path)!r}: {problem}", CheckpointWarning, stacklevel=2
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
