"""Training configurations: a TOML file names a model, its loss and optimizer, the training
settings and the data, all by registry names, so ``minidl train FILE`` can run it.

Sections: ``[model]`` (the output of ``Sequential.get_config()``: ``seed``, ``dtype``,
``[[model.layers]]``), ``[compile]`` (``loss``, ``optimizer``), ``[fit]`` (``fit``'s keyword
arguments), ``[data]`` (``x``, ``y``, optional ``names`` and ``columns``) and optional
``[[predict]]`` entries (``name``, ``x``) whose predictions are reported after training.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .callbacks import Callback
from .errors import ConfigError
from .model import Sequential

__all__ = ["TrainingConfig", "bundled", "load", "train", "format_predictions"]

_SECTIONS = {"description", "model", "compile", "fit", "data", "predict"}
_FIT_KEYS = {"epochs", "batch_size", "shuffle", "verbose"}
_DATA_KEYS = {"x", "y", "names", "columns"}


def bundled() -> list[str]:
    """Names of the configurations shipped inside minidl (``minidl train NAME`` runs one)."""
    folder = resources.files("minidl") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


@dataclass
class TrainingConfig:
    """A parsed configuration; ``source`` is the file it came from (for messages)."""

    model: dict[str, Any]
    compile: dict[str, Any]
    fit: dict[str, Any]
    data: dict[str, Any]
    predict: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "<dict>") -> TrainingConfig:
        """Checks the sections and keys of ``raw`` (the parsed TOML) and wraps them."""
        _known(raw, _SECTIONS, f"{source}: top-level key")
        for section in ("model", "compile", "data"):
            if not isinstance(raw.get(section), dict):
                raise ConfigError(f"{source}: a [{section}] table is required.")
        fit = raw.get("fit", {})
        _known(fit, _FIT_KEYS, f"{source}: [fit] key")
        _known(raw["data"], _DATA_KEYS, f"{source}: [data] key")
        for key in ("x", "y"):
            if key not in raw["data"]:
                raise ConfigError(f"{source}: [data] needs '{key}'.")
        predict = raw.get("predict", [])
        for entry in predict:
            _known(entry, {"name", "x"}, f"{source}: [[predict]] key")
        return cls(
            raw["model"], raw["compile"], fit, raw["data"], predict, raw.get("description", ""), source
        )

    def build(self, *, seed: int | None = None) -> Sequential:
        """The compiled model this configuration describes; ``seed`` overrides ``[model] seed``."""
        model_config = dict(self.model)
        if seed is not None:
            model_config["seed"] = seed
        model = Sequential.from_config(model_config)
        model.compile(**self.compile)
        return model

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The training data as arrays ``(x, y)`` (validated later by ``fit``)."""
        return np.asarray(self.data["x"]), np.asarray(self.data["y"])


def load(source: str | Path) -> TrainingConfig:
    """Reads a configuration: a bundled name (``"lecture1"``) or a path to a TOML file."""
    text, where = _read(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    return TrainingConfig.from_dict(raw, where)


def _read(source: str | Path) -> tuple[str, str]:
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"No configuration file at {str(path)!r}.")
        return path.read_text(encoding="utf-8"), str(path)
    name = str(source)
    if name in bundled():
        resource = resources.files("minidl") / "configs" / f"{name}.toml"
        return resource.read_text(encoding="utf-8"), f"bundled configuration {name!r}"
    raise ConfigError(
        f"{name!r} is neither a TOML file nor a bundled configuration; bundled: {', '.join(bundled())}."
    )


def _known(table: Any, allowed: set[str], what: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{what}s must form a table; received {table!r}.")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"Unknown {what}(s) {unknown}; allowed: {sorted(allowed)}.")


class LossPrinter(Callback):
    """Prints the epoch loss every ``every`` epochs and at the last epoch."""

    def __init__(self, epochs: int, every: int, stream: TextIO) -> None:
        self.epochs, self.every, self.stream = epochs, max(every, 1), stream
        self.first: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.first is None:
            self.first = epoch
        done = epoch - self.first + 1
        if done % self.every == 0 or done == self.epochs:
            figures = "  ".join(f"{k} {v:.6f}" for k, v in (logs or {}).items())
            print(f"epoch {done:>{len(str(self.epochs))}}/{self.epochs}  {figures}", file=self.stream)


def train(
    config: TrainingConfig,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    stream: TextIO | None = None,
) -> Sequential:
    """Builds, trains and reports on ``config``; prints the loss every 10% of the epochs."""
    stream = stream or sys.stdout
    model = config.build(seed=seed)
    x, y = config.arrays()
    fit_args = {**config.fit, **({"epochs": epochs} if epochs is not None else {})}
    total = fit_args.get("epochs", 1)
    if config.description:
        print(config.description, file=stream)
    print(f"training {config.source} (seed {model.seed})", file=stream)
    printer = LossPrinter(total, total // 10, stream)
    model.fit(x, y, callbacks=[printer], **fit_args)
    print(format_predictions(model, config), file=stream)
    return model


def format_predictions(model: Sequential, config: TrainingConfig) -> str:
    """A table of the training samples (inputs, target, prediction) and the extra examples."""
    x, y = config.arrays()
    names = config.data.get("names") or [f"#{i}" for i in range(len(x))]
    columns = config.data.get("columns") or [f"x{i}" for i in range(np.shape(x)[1])]
    y2 = y.reshape(len(y), -1)
    pred = model.predict(x)
    header = ["sample", *columns, "target", "prediction"]
    rows = [
        [str(n), *(f"{v:g}" for v in xi), _cells(t), _cells(p)] for n, xi, t, p in zip(names, x, y2, pred)
    ]
    for entry in config.predict:
        p = model.predict(np.asarray(entry["x"]).reshape(1, -1))[0]
        rows.append([str(entry.get("name", "?")), *(f"{v:g}" for v in entry["x"]), "", _cells(p)])
    return _table(header, rows)


def _cells(values: np.ndarray) -> str:
    return " ".join(f"{v:.4f}" for v in np.ravel(values))


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
