"""Which run a set of backups belongs to: a run's record, and what differs between two records.

A run is told apart by what makes resuming it meaningful: the architecture (layers, dtype,
input shape), the compile settings (loss, optimizer, metrics) and the data (samples and the
shape of one sample). ``BackupAndRestore`` writes the record of its run next to its backups and
compares it with the run about to start before restoring anything.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from . import losses, optimizers
from ._archive import atomic_write, parse_json
from .errors import FormatError

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["RUN_FORMAT", "run_record", "write_record", "read_record", "differences", "describe"]

#: The ``format`` field of a run record file.
RUN_FORMAT = "minidl-run"
# Parts of Sequential.get_config that do not change what a run computes on its data (the seed
# gives the first weights, which a restore replaces anyway).
_COSMETIC = ("name", "seed")
# What each part of a record is called in messages.
_PARTS = {"architecture": "architecture", "loss": "loss", "optimizer": "optimizer",
          "metrics": "metrics", "samples": "number of samples"}  # fmt: skip


def run_record(model: Sequential, samples: int) -> dict[str, Any]:
    """The record of a run of ``model`` (built and compiled) on ``samples`` samples.

    Args:
        model: the model about to be trained.
        samples: the number of training samples.

    Returns:
        Plain JSON values: ``architecture``, ``loss``, ``optimizer``, ``metrics``, ``samples``.
    """
    architecture = {k: v for k, v in model.get_config().items() if k not in _COSMETIC}
    loss = None if model.loss is None else losses.registry.serialize(model.loss)
    optimizer = None if model.optimizer is None else optimizers.registry.serialize(model.optimizer)
    return {
        "architecture": architecture,
        "loss": loss,
        "optimizer": optimizer,
        "metrics": list(model.metrics),
        "samples": int(samples),
    }


def write_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Writes ``record`` to ``path`` as JSON, atomically.

    Args:
        path: the record file.
        record: ``run_record``'s output.
    """
    text = json.dumps({"format": RUN_FORMAT, "run": record}, indent=1, sort_keys=True)
    with atomic_write(path) as stream:
        stream.write(text.encode("utf-8"))


def read_record(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record stored at ``path``, or None when there is no such file.

    Args:
        path: the record file.

    Returns:
        The record, or None.

    Raises:
        FormatError: the file is not a run record.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return None
    document = parse_json(data, f"The run record {os.fspath(path)!r}")
    if not isinstance(document, dict) or document.get("format") != RUN_FORMAT:
        raise FormatError(f"{os.fspath(path)!r} is not a minidl run record.")
    record = document.get("run")
    if not isinstance(record, dict) or set(record) != set(_PARTS):
        raise FormatError(f"The run record {os.fspath(path)!r} does not hold the parts {sorted(_PARTS)}.")
    return record


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The parts (``architecture``, ``loss``...) in which two run records differ, in order.

    Args:
        recorded: the record of the run that wrote the backups.
        current: the record of the run about to start.

    Returns:
        The names of the differing parts; empty for the same run.
    """
    # through JSON, so a tuple and the list it was saved as compare equal
    return [part for part in _PARTS if _plain(recorded.get(part)) != _plain(current.get(part))]


def describe(part: str, recorded: dict[str, Any], current: dict[str, Any]) -> str:
    """One line saying how ``part`` differs: ``optimizer: {...} (backups) vs {...} (this run)``.

    Args:
        part: a name ``differences`` returned.
        recorded: the record of the run that wrote the backups.
        current: the record of the run about to start.

    Returns:
        The line.
    """
    return f"{_PARTS[part]}: {_short(recorded.get(part))} (backups) vs {_short(current.get(part))} (this run)"


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
