"""Training configurations: a TOML file names a model, its loss and optimizer, the training
settings and the data, all by registry names, so ``minidl train FILE`` can run it.

Sections: ``[model]`` (the output of ``Sequential.get_config()``: ``seed``, ``dtype``,
``[[model.layers]]``), ``[compile]`` (``loss``, ``optimizer``, ``metrics``), ``[fit]`` (``fit``'s
keyword arguments: ``epochs``, ``batch_size``, ``shuffle``, ``verbose``, ``validation_split``),
``[data]`` and optional ``[[predict]]`` entries (``name``, ``x``) whose predictions are reported
after training.

``[data]`` holds either the arrays (``x``, ``y``, optional ``names`` and ``columns``) or a data
set of ``minidl.datasets`` (``dataset = "xor"`` and that generator's arguments, such as
``samples``, ``noise``, ``seed``, ``labels``). ``test_split`` holds out that fraction of the
samples (shuffled by a generator seeded by ``split_seed``, 0 by default) as a test set, which
is evaluated after training.
"""

from __future__ import annotations

import inspect
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import datasets
from .callbacks import History
from .errors import ConfigError
from .model import Sequential
from .plot import require_matplotlib, save_run_figure
from .progress import format_logs, progress_callback

__all__ = ["TrainingConfig", "RunResult", "bundled", "load", "train", "format_predictions"]

_SECTIONS = {"description", "model", "compile", "fit", "data", "predict"}
_COMPILE_KEYS = {"loss", "optimizer", "metrics"}
_FIT_KEYS = {"epochs", "batch_size", "shuffle", "verbose", "validation_split"}
_SPLIT_KEYS = {"test_split", "split_seed", "columns"}
_DATA_KEYS = {"x", "y", "names"} | _SPLIT_KEYS


def bundled() -> list[str]:
    """Names of the configurations shipped inside minidl (``minidl train NAME`` runs one)."""
    folder = resources.files("minidl") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


@dataclass
class TrainingConfig:
    """A parsed configuration; ``source`` is the file it came from (for messages).

    Args:
        model: the ``[model]`` table (what ``Sequential.get_config`` returns).
        compile: the ``[compile]`` table: the keyword arguments of ``compile``.
        fit: the ``[fit]`` table: the keyword arguments of ``fit``.
        data: the ``[data]`` table: inline ``x`` and ``y``, or a data set by name.
        predict: the ``[[predict]]`` entries: extra samples whose predictions are printed.
        description: the configuration's ``description``.
        source: the file it came from (for messages).
    """

    model: dict[str, Any]
    compile: dict[str, Any]
    fit: dict[str, Any]
    data: dict[str, Any]
    predict: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "<dict>") -> TrainingConfig:
        """Checks the sections and keys of ``raw`` (the parsed TOML) and wraps them.

        Args:
            raw: the parsed TOML document, a dict of sections.
            source: where it came from, named in error messages.
        """
        _known(raw, _SECTIONS, f"{source}: top-level key")
        for section in ("model", "compile", "data"):
            if not isinstance(raw.get(section), dict):
                raise ConfigError(f"{source}: a [{section}] table is required.")
        fit = raw.get("fit", {})
        _known(raw["compile"], _COMPILE_KEYS, f"{source}: [compile] key")
        _known(fit, _FIT_KEYS, f"{source}: [fit] key")
        _check_data(raw["data"], source)
        predict = raw.get("predict", [])
        for entry in predict:
            _known(entry, {"name", "x"}, f"{source}: [[predict]] key")
        return cls(
            raw["model"], raw["compile"], fit, raw["data"], predict, raw.get("description", ""), source
        )

    def build(self, *, seed: int | None = None) -> Sequential:
        """The compiled model this configuration describes; ``seed`` overrides ``[model] seed``.

        Args:
            seed: the model's seed, in place of the file's (None: the file's).
        """
        model_config = dict(self.model)
        if seed is not None:
            model_config["seed"] = seed
        model = Sequential.from_config(model_config)
        model.compile(**self.compile)
        return model

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All the data as arrays ``(x, y)``: the inline arrays or the generated data set."""
        if "dataset" in self.data:
            arguments = {k: v for k, v in self.data.items() if k != "dataset" and k not in _SPLIT_KEYS}
            if isinstance(arguments.get("labels"), list):
                arguments["labels"] = tuple(arguments["labels"])
            return datasets.load(self.data["dataset"], **arguments)
        return np.asarray(self.data["x"]), np.asarray(self.data["y"])

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(x_train, y_train, x_test, y_test)``; the test arrays are None without ``test_split``."""
        x, y = self.arrays()
        if "test_split" not in self.data:
            return x, y, None, None
        x_train, x_test, y_train, y_test = datasets.train_test_split(
            x, y, test_size=self.data["test_split"], seed=self.data.get("split_seed", 0)
        )
        return x_train, y_train, x_test, y_test


def _check_data(data: Any, source: str) -> None:
    if "dataset" not in (data if isinstance(data, dict) else {}):
        _known(data, _DATA_KEYS, f"{source}: [data] key")
        for key in ("x", "y"):
            if key not in data:
                raise ConfigError(
                    f"{source}: [data] needs 'x' and 'y', or a 'dataset' (one of {', '.join(datasets.GENERATORS)})."
                )
        return
    name = data["dataset"]
    if name not in datasets.GENERATORS:
        raise ConfigError(f"{source}: unknown dataset {name!r}; available: {', '.join(datasets.GENERATORS)}.")
    accepted = set(inspect.signature(datasets.GENERATORS[name]).parameters)
    _known(data, {"dataset"} | _SPLIT_KEYS | accepted, f"{source}: [data] key for dataset {name!r}")


def load(source: str | Path) -> TrainingConfig:
    """Reads a configuration: a bundled name (``"lecture1"``) or a path to a TOML file.

    Args:
        source: a bundled configuration's name or the path of a TOML file.
    """
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


@dataclass
class RunResult:
    """What ``train`` produced: the trained model, its History and the test figures (or None).

    Args:
        model: the trained model.
        history: its ``History``.
        test: the figures on the held-out test split, or None without ``test_split``.
    """

    model: Sequential
    history: History
    test: dict[str, float] | None = None


def train(
    config: TrainingConfig,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    stream: TextIO | None = None,
    plot: str | Path | None = None,
) -> RunResult:
    """Builds, trains and reports on ``config``.

    Progress goes to ``stream`` (stdout by default) as ``fit``'s progress output with the
    configuration's ``verbose`` (1 by default): every epoch for runs of up to 50 epochs,
    otherwise every 10% of the epochs. Then the test figures (with ``test_split``), or a table of
    predictions for inline data. ``plot`` saves the curves (and, for two inputs, the decision
    boundary) to that image file; it needs matplotlib, checked before training starts.

    Args:
        config: a ``TrainingConfig``, a bundled name or a TOML file's path.
        seed: the model's seed, in place of the file's.
        epochs: the number of epochs, in place of the file's.
        stream: where progress and results are written (standard output by default).
        plot: an image file to save the curves (and decision boundary) to; None for none.
    """
    stream = stream or sys.stdout
    if plot is not None:
        require_matplotlib()  # before training: a missing extra must not waste a whole run
    model = config.build(seed=seed)
    x, y, x_test, y_test = config.split()
    fit_args = {**config.fit, **({"epochs": epochs} if epochs is not None else {})}
    total = fit_args.get("epochs", 1)
    verbose = fit_args.pop("verbose", 1)
    if config.description:
        print(config.description, file=stream)
    print(f"training {config.source} (seed {model.seed})", file=stream)
    progress = progress_callback(verbose, stream, every=1 if total <= 50 else total // 10)
    history = model.fit(x, y, verbose=0, callbacks=[progress] if progress else [], **fit_args)
    test = None
    if x_test is not None:
        test = model.evaluate(x_test, y_test, return_dict=True)
        print(f"test ({len(x_test)} samples): {format_logs(test)}", file=stream)
    if "x" in config.data:
        print(format_predictions(model, config), file=stream)
    if plot is not None:
        save_run_figure(plot, history, model, x, y, x_test, y_test)
        print(f"saved {plot}", file=stream)
    return RunResult(model, history, test)


def format_predictions(model: Sequential, config: TrainingConfig) -> str:
    """A table of the training samples (inputs, target, prediction) and the extra examples.

    Args:
        model: the trained model.
        config: the configuration whose data and ``[[predict]]`` entries are shown.
    """
    x, y = config.arrays()
    names = config.data.get("names") or [f"#{i}" for i in range(len(x))]
    columns = config.data.get("columns") or [f"x{i}" for i in range(np.shape(x)[1])]
    y2 = y.reshape(len(y), -1)
    pred = model.predict(x)
    header = ["sample", *columns, "target", "prediction"]
    # not strict: [data] names is not checked against x, and a shorter list has always shown fewer rows
    rows = [
        [str(n), *(f"{v:g}" for v in xi), _cells(t), _cells(p)]
        for n, xi, t, p in zip(names, x, y2, pred, strict=False)
    ]
    for entry in config.predict:
        p = model.predict(np.asarray(entry["x"]).reshape(1, -1))[0]
        rows.append([str(entry.get("name", "?")), *(f"{v:g}" for v in entry["x"]), "", _cells(p)])
    return _table(header, rows)


def _cells(values: np.ndarray) -> str:
    return " ".join(f"{v:.4f}" for v in np.ravel(values))


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=False)) for r in [header, *rows]
    ]  # cells past the header's are dropped
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
