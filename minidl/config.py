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

Every configuration is checked whole against one declared schema (``minidl/_schema.py``, from
which docs/reference/configuration.md is generated) when it is read, and everything that needs
the model or the data (component arguments, column counts, the samples of ``[[predict]]``) is
checked when it is built, before the first epoch.
"""

from __future__ import annotations

import difflib
import os
import stat
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import _schema, datasets
from .callbacks import History
from .errors import ConfigError, MinidlError
from .model import Sequential
from .plot import check_image_path, save_run_figure
from .progress import format_logs, progress_callback

__all__ = [
    "TrainingConfig", "RunResult", "TrainingInterrupted", "bundled", "bundled_text", "load", "train",
    "format_predictions", "check_save_path", "MAX_FILE_BYTES",
]  # fmt: skip

#: The largest configuration file read (inline data included).
MAX_FILE_BYTES = 16 * 2**20


def bundled() -> list[str]:
    """Names of the configurations shipped inside minidl (``minidl train NAME`` runs one).

    Returns:
        The names, sorted.
    """
    folder = resources.files("minidl") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def bundled_text(name: str) -> str:
    """The TOML text of a bundled configuration (what ``minidl configs show NAME`` prints).

    Args:
        name: a name of ``bundled``.

    Returns:
        The file's text.

    Raises:
        ConfigError: for an unknown name, suggesting the nearest.
    """
    if name not in bundled():
        raise ConfigError(f"{name!r} is not a bundled configuration.{_suggest(name)}")
    return (resources.files("minidl") / "configs" / f"{name}.toml").read_text(encoding="utf-8")


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, bundled(), 1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Bundled: {', '.join(bundled())}."


@dataclass
class TrainingConfig:
    """A parsed, validated configuration; ``source`` is the file it came from (for messages).

    Args:
        model: the ``[model]`` table.
        compile: the ``[compile]`` table.
        fit: the ``[fit]`` table.
        data: the ``[data]`` table.
        predict: the ``[[predict]]`` entries.
        description: the top-level ``description``.
        source: where the configuration came from.
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
        """Checks ``raw`` (the parsed TOML) against the configuration schema and wraps it.

        Args:
            raw: the configuration as plain values.
            source: where it came from, named in every message.

        Returns:
            The configuration.

        Raises:
            ConfigError: naming the first key at fault, what it holds and what would work.
        """
        _schema.validate(raw, source)
        return cls(
            raw["model"], raw["compile"], raw.get("fit", {}), raw["data"], raw.get("predict", []),
            raw.get("description", ""), source,
        )  # fmt: skip

    def build(self, *, seed: int | None = None) -> Sequential:
        """The compiled model this configuration describes.

        Args:
            seed: overrides ``[model] seed`` when given.

        Returns:
            The compiled model, its weights freshly initialised.

        Raises:
            MinidlError: when a component or one of its arguments is refused.
        """
        model_config = dict(self.model)
        if seed is not None:
            model_config["seed"] = seed
        try:
            model = Sequential.from_config(model_config)
            model.compile(**self.compile)
        except MinidlError as exc:
            raise type(exc)(f"{self.source}: {exc}") from None
        except MemoryError as exc:  # a layer of 10**12 units: the configuration asks too much
            raise ConfigError(f"{self.source}: the model needs more memory than there is: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            # a component's constructor that rejects a value in its own way is still a clear error
            raise ConfigError(f"{self.source}: a component was refused: {type(exc).__name__}: {exc}") from exc
        return model

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All the data as arrays ``(x, y)``: the inline arrays or the generated data set.

        Returns:
            The inputs and the targets.
        """
        if "dataset" in self.data:
            skip = {"dataset", "test_split", "split_seed", "columns"}
            arguments = {k: v for k, v in self.data.items() if k not in skip}
            if isinstance(arguments.get("labels"), list):
                arguments["labels"] = tuple(arguments["labels"])
            return datasets.load(self.data["dataset"], **arguments)
        return np.asarray(self.data["x"]), np.asarray(self.data["y"])

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(x_train, y_train, x_test, y_test)``; the test arrays are None without ``test_split``.

        Returns:
            The training arrays and the test arrays (or None).
        """
        x, y = self.arrays()
        if "test_split" not in self.data:
            return x, y, None, None
        x_train, x_test, y_train, y_test = datasets.train_test_split(
            x, y, test_size=self.data["test_split"], seed=self.data.get("split_seed", 0)
        )
        return x_train, y_train, x_test, y_test

    def check_fits(self, model: Sequential, x: np.ndarray) -> None:
        """Checks what needs the model and the data: input shape, ``columns``, ``[[predict]]`` samples.

        Args:
            model: the model ``build`` made (built here for ``x``'s samples if it is not yet).
            x: the training inputs.

        Raises:
            MinidlError: naming the key at fault.
        """
        if not model.built:
            model.build(x.shape[1:])
        elif model.input_shape != x.shape[1:]:
            raise ConfigError(
                f"{self.source}: the model takes samples of shape {model.input_shape}; the data's have shape {x.shape[1:]}."
            )
        features = int(np.prod(x.shape[1:]))
        columns = self.data.get("columns")
        if columns is not None and len(columns) != features:
            raise ConfigError(
                f"{self.source}: [data] columns names {len(columns)} columns; the inputs have {features}."
            )
        for i, entry in enumerate(self.predict):
            if len(entry["x"]) != features:
                raise ConfigError(
                    f"{self.source}: [[predict]] {i} x holds {len(entry['x'])} values; a sample has {features}."
                )


def load(source: str | Path) -> TrainingConfig:
    """Reads a configuration: a bundled name (``"lecture1"``) or a path to a TOML file.

    Args:
        source: a bundled name or a path.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: for a missing, oversized, non-UTF-8 or invalid file, or a configuration
            the schema refuses.
    """
    text, where = _read(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    except RecursionError:  # tomllib descends once per nested array or table
        raise ConfigError(f"{where} nests arrays or tables too deeply to be read.") from None
    return TrainingConfig.from_dict(raw, where)


def _read(source: str | Path) -> tuple[str, str]:
    path = Path(source)
    if path.suffix == ".toml" or path.exists():
        try:
            info = path.stat()
        except OSError:
            raise ConfigError(f"No configuration file at {str(path)!r}.") from None
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{str(path)!r} is not a regular file; give a TOML file.")
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{str(path)!r} holds {info.st_size:,} bytes; a configuration may hold at most "
                f"{MAX_FILE_BYTES:,} (minidl.config.MAX_FILE_BYTES)."
            )
        data = path.read_bytes()[: MAX_FILE_BYTES + 1]
        try:
            return data.decode("utf-8"), str(path)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{str(path)!r} is not UTF-8 text (TOML files are): {exc}.") from None
    name = str(source)
    if name not in bundled():
        raise ConfigError(f"{name!r} is neither a TOML file nor a bundled configuration.{_suggest(name)}")
    return bundled_text(name), f"bundled configuration {name!r}"


def check_save_path(path: str | os.PathLike[str]) -> Path:
    """Checks, before a run, that a file can be written at ``path`` (its folder exists).

    Args:
        path: where the trained model (or the predictions) will be written.

    Returns:
        The path.

    Raises:
        ConfigError: when the folder is missing or ``path`` is a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"Cannot write to {str(target)!r}: it is a folder; give a file name.")
    if not target.parent.is_dir():
        raise ConfigError(
            f"Cannot write to {str(target)!r}: the folder {str(target.parent)!r} does not exist."
        )
    return target


@dataclass
class RunResult:
    """What ``train`` produced: the trained model, its History and the test figures (or None).

    Args:
        model: the trained model.
        history: its History.
        test: the figures on the test split, or None without one.
    """

    model: Sequential
    history: History
    test: dict[str, float] | None = None


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``train``; its message, the one line ``minidl train`` prints, says what was
    interrupted, at which epoch, and what was saved. A ``KeyboardInterrupt``, so code that catches
    that keeps working."""


def train(
    config: TrainingConfig,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    stream: TextIO | None = None,
    plot: str | Path | None = None,
    save: str | Path | None = None,
) -> RunResult:
    """Builds, trains and reports on ``config``.

    Everything is checked before the first epoch: the configuration, the model it builds, the
    data it makes, the overrides, and the ``plot`` and ``save`` paths. Progress goes to
    ``stream`` as ``fit``'s progress output with the configuration's ``verbose`` (1 by default):
    every epoch for runs of up to 50 epochs, otherwise every 10% of the epochs. Then the test
    figures (with ``test_split``), and a table of predictions for inline data and ``[[predict]]``.

    Args:
        config: the configuration.
        seed: overrides ``[model] seed``.
        epochs: overrides ``[fit] epochs``.
        stream: where the report goes (stdout by default).
        plot: saves the curves (and, for two inputs, the decision boundary) to this image file;
            needs matplotlib.
        save: saves the trained model to this file (``minidl.load`` reads it).

    Returns:
        The model, its History and the test figures.

    Raises:
        MinidlError: for anything refused, before training starts.
        TrainingInterrupted: on Ctrl-C; with ``save``, the model as trained so far is saved.
    """
    stream = stream or sys.stdout
    _schema.Integer(low=1).check(epochs if epochs is not None else 1, "epochs")
    if seed is not None:
        _schema.Integer(low=0).check(seed, "seed")
    if plot is not None:
        check_image_path(plot)  # before training: a bad path must not waste a whole run
    if save is not None:
        save = check_save_path(save)
    model = config.build(seed=seed)
    x, y, x_test, y_test = config.split()
    config.check_fits(model, x)
    fit_args = {**config.fit, **({"epochs": epochs} if epochs is not None else {})}
    total = fit_args.get("epochs", 1)
    verbose = fit_args.pop("verbose", 1)
    if config.description:
        print(config.description, file=stream)
    print(f"training {config.source} (seed {model.seed})", file=stream)
    progress = progress_callback(verbose, stream, every=1 if total <= 50 else total // 10)
    try:
        # progress is this function's own callback (every 10% for long runs), so fit's is off
        history = model.fit(x, y, verbose=0, callbacks=[progress] if progress else [], **fit_args)
    except KeyboardInterrupt:
        raise _interrupted(config, model, total, save) from None
    test = None
    if x_test is not None:
        test = model.evaluate(x_test, y_test, return_dict=True)
        print(f"test ({len(x_test)} samples): {format_logs(test)}", file=stream)
    if "x" in config.data or config.predict:
        print(format_predictions(model, config), file=stream)
    if plot is not None:
        save_run_figure(plot, history, model, x, y, x_test, y_test)
        print(f"saved {plot}", file=stream)
    if save is not None:
        model.save(save)
        print(f"saved the model to {save}", file=stream)
    return RunResult(model, history, test)


def _interrupted(
    config: TrainingConfig, model: Sequential, total: int, save: Path | None
) -> TrainingInterrupted:
    done = len(model.history.epochs)
    where = (
        f"during epoch {done + 1} of {total} ({done} complete)" if done < total else "after the last epoch"
    )
    if save is None:
        saved = "nothing was saved (--save keeps the model)"
    else:
        model.save(save)  # a second Ctrl-C here leaves the previous file whole (atomic write)
        saved = f"the model as trained so far was saved to {save}"
    return TrainingInterrupted(f"training of {config.source} interrupted {where}; {saved}.")


def format_predictions(model: Sequential, config: TrainingConfig) -> str:
    """A table of the inline training samples (inputs, target, prediction) and the ``[[predict]]`` ones.

    Args:
        model: the trained model.
        config: its configuration.

    Returns:
        The table as text.
    """
    rows = []
    if "x" in config.data:
        x, y = config.arrays()
        names = config.data.get("names") or [f"#{i}" for i in range(len(x))]
        y2 = y.reshape(len(y), -1)
        # not strict: [data] names is not checked against x, and a shorter list has always shown fewer rows
        rows = [
            [str(n), *(f"{v:g}" for v in np.ravel(xi)), _cells(t), _cells(p)]
            for n, xi, t, p in zip(names, x, y2, model.predict(x), strict=False)
        ]
    shape = model.input_shape or (0,)
    for entry in config.predict:
        sample = np.asarray(entry["x"], dtype=float).reshape(1, *shape)
        rows.append(
            [
                str(entry.get("name", "?")),
                *(f"{v:g}" for v in entry["x"]),
                "",
                _cells(model.predict(sample)[0]),
            ]
        )
    columns = config.data.get("columns") or [f"x{i}" for i in range(int(np.prod(shape)))]
    return _table(["sample", *columns, "target", "prediction"], rows)


def _cells(values: np.ndarray) -> str:
    return " ".join(f"{v:.4f}" for v in np.ravel(values))


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=False)) for r in [header, *rows]
    ]  # cells past the header's are dropped
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
