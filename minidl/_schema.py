"""The one declared schema of a training configuration: every section, every key, its type, its
default and its meaning.

``minidl.config`` validates every configuration against it before anything is built or run,
and the configuration reference (docs/reference/configuration.md) is rendered from it, so a key
cannot be read without being checked, nor accepted without being documented. A key that is not
declared here is refused.

A component (a layer, a loss, an optimizer, a metric) is given by name or as a table
``{type = "name", argument = value, ...}``. The schema checks that form; the component's class
checks its own arguments when the configuration is built, which happens before training starts.
A component argument that itself names a component (a layer's ``activation`` or ``weight_init``,
an optimizer's ``learning_rate`` schedule) takes the same two forms.
"""

from __future__ import annotations

import datetime
import difflib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import datasets
from .data import DTYPES
from .errors import ConfigError
from .layers.base import MAX_AXIS, MAX_RANK

__all__ = [
    "Kind", "Key", "Section", "SECTIONS", "DATASET_ARGUMENTS", "MAX_SAMPLES", "MAX_ARRAY_DIMENSIONS",
    "validate", "dataset_takes", "received",
]  # fmt: skip

#: The most samples a generated data set may have (two float64 columns: 16 MB).
MAX_SAMPLES = 1_000_000
#: The most axes an inline array (or an input shape) may have, as in a model file.
MAX_ARRAY_DIMENSIONS = MAX_RANK

_TOML_TYPES = (
    (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"), (list, "an array"),
    (dict, "a table"), (datetime.datetime, "a date-time"), (datetime.date, "a date"), (datetime.time, "a time"),
)  # fmt: skip


def received(value: Any) -> str:
    """``value`` as an error message shows it: a short repr and its TOML type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    kind = next((name for cls, name in _TOML_TYPES if isinstance(value, cls)), type(value).__name__)
    return f"{text} ({kind})"


def _fail(where: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{where} must be {expected}; received {received(value)}.")


def _a(kind: Kind) -> str:
    text = kind.describe()
    return ("an " if text[0] in "aeiou" else "a ") + text


# ------------------------------------------------------------------------------------ value kinds
class Kind(ABC):
    """The type of a configuration value: it checks a value and describes itself for the docs."""

    @abstractmethod
    def check(self, value: Any, where: str) -> None:
        """Raises ConfigError naming ``where`` unless ``value`` is of this kind.

        Args:
            value: the value read from the configuration.
            where: how the error names the key, e.g. ``"run.toml: [fit] epochs"``.
        """

    @abstractmethod
    def describe(self) -> str:
        """The kind in a few words, as the reference shows it (``integer >= 1``)."""


@dataclass(frozen=True)
class Integer(Kind):
    """An integer within ``[low, high]`` (a float, a boolean or a string is refused)."""

    low: int | None = None
    high: int | None = None

    def check(self, value: Any, where: str) -> None:
        ok = type(value) is int and (self.low is None or value >= self.low)
        if not ok or (self.high is not None and value > self.high):
            raise _fail(where, _a(self), value)

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"integer from {self.low:,} to {self.high:,}"
        return "integer" + (f" >= {self.low}" if self.low is not None else "")


@dataclass(frozen=True)
class Number(Kind):
    """A finite number (integer or float) within bounds, each closed or open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, value: Any, where: str) -> None:
        ok = type(value) in (int, float) and math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value < self.high if self.high_open else value <= self.high
        if not ok:
            raise _fail(where, _a(self), value)

    def describe(self) -> str:
        if self.low is None and self.high is None:
            return "finite number"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"number in {left}{self.low:g}, {self.high:g}{right}"


@dataclass(frozen=True)
class Boolean(Kind):
    """``true`` or ``false``."""

    def check(self, value: Any, where: str) -> None:
        if type(value) is not bool:
            raise _fail(where, "true or false", value)

    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True)
class Text(Kind):
    """A string."""

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, str):
            raise _fail(where, "a string", value)

    def describe(self) -> str:
        return "string"


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few values (strings or integers), compared by type and value."""

    options: tuple[Any, ...]

    def check(self, value: Any, where: str) -> None:
        if not any(type(value) is type(o) and value == o for o in self.options):
            message = (
                f"{where} must be one of {', '.join(map(repr, self.options))}; received {received(value)}."
            )
            close = (
                difflib.get_close_matches(value, list(map(str, self.options)), 1)
                if isinstance(value, str)
                else []
            )
            raise ConfigError(message + (f" Did you mean {close[0]!r}?" if close else ""))

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{o!r}`" if isinstance(o, str) else f"`{o}`" for o in self.options)


@dataclass(frozen=True)
class Array(Kind):
    """An array whose items are all of ``item``, with an exact or a bounded length."""

    item: Kind
    length: int | None = None
    min_length: int = 0
    max_length: int | None = None

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise _fail(where, _a(self), value)
        count = len(value)
        if (
            (self.length is not None and count != self.length)
            or count < self.min_length
            or (self.max_length is not None and count > self.max_length)
        ):
            raise _fail(where, _a(self), value)
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")

    def describe(self) -> str:
        if self.length is not None:
            size = f"; {self.length} items"
        elif self.max_length is not None:
            size = f"; {self.min_length} to {self.max_length} items"
        else:
            size = f"; at least {self.min_length}" if self.min_length else ""
        return f"array ({self.item.describe()} each{size})"


@dataclass(frozen=True)
class NumberArray(Kind):
    """A rectangular array of finite numbers (nested arrays), with ``min_dims`` to 8 axes."""

    min_dims: int = 1

    def check(self, value: Any, where: str) -> None:
        expected = f"a rectangular array of finite numbers with {self.min_dims} or more axes"
        if not isinstance(value, list):
            raise _fail(where, expected, value)
        shape = _shape_of(value, where, expected)
        if len(shape) < self.min_dims or 0 in shape:
            raise ConfigError(f"{where} must be {expected}, none empty; received an array of shape {shape}.")

    def describe(self) -> str:
        return f"array of numbers ({self.min_dims}+ axes)"


def _shape_of(value: list[Any], where: str, expected: str) -> tuple[int, ...]:
    """The shape of a nested list of finite numbers; ConfigError if ragged, too deep or not numeric.

    Each item is visited once, and the depth is bounded, so the cost grows with the array.
    """
    shape: list[int] = []
    level: list[Any] = [value]
    while level and isinstance(level[0], list):
        if len(shape) == MAX_ARRAY_DIMENSIONS:
            raise ConfigError(f"{where} must be {expected}; it has more than {MAX_ARRAY_DIMENSIONS} axes.")
        size = len(level[0])
        if any(not isinstance(row, list) or len(row) != size for row in level):
            raise ConfigError(
                f"{where} must be {expected}; its rows at depth {len(shape) + 1} differ in length."
            )
        shape.append(size)
        level = [item for row in level for item in row]
    for item in level:
        if type(item) not in (int, float) or not math.isfinite(item):
            raise ConfigError(f"{where} must be {expected}; it holds {received(item)}.")
    return tuple(shape)


@dataclass(frozen=True)
class Component(Kind):
    """A component of a registry (``kind``): a name, or a table ``{type = "name", ...arguments}``.

    The arguments are checked by the component's class when the configuration is built (before
    training); a layer's ``name``, which a model file needs, is checked here.
    """

    kind: str

    def check(self, value: Any, where: str) -> None:
        if isinstance(value, str) and value:
            return
        if not isinstance(value, dict) or not isinstance(value.get("type"), str) or not value["type"]:
            article = "an" if self.kind[0] in "aeiou" else "a"
            raise _fail(where, f'{article} {self.kind} name or a table {{type = "name", ...}}', value)
        if self.kind == "layer" and "name" in value and not isinstance(value["name"], str):
            raise _fail(f"{where} name", "a string", value["name"])

    def describe(self) -> str:
        return f"{self.kind} (name or table)"


# ------------------------------------------------------------------------------------ the schema
@dataclass(frozen=True)
class Key:
    """One key of a section: its kind, the default when it is absent, and what it means."""

    name: str
    kind: Kind
    default: str
    meaning: str
    #: for ``[data]``: ``"arrays"`` (inline data only), ``"dataset"`` (generated only) or ``"both"``
    use: str = "both"


@dataclass(frozen=True)
class Section:
    """A top-level table (``[fit]``), array of tables (``[[predict]]``) or the top level itself."""

    name: str
    heading: str
    meaning: str
    keys: tuple[Key, ...]
    required: bool = False
    many: bool = False
    by_name: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {key.name: key for key in self.keys})


_SEED = Integer(low=0)

SECTIONS: tuple[Section, ...] = (
    Section("", "Top level", "Keys outside any table.", (
        Key("description", Text(), '""', "One line shown by `minidl configs` and printed before training."),
    )),
    Section("model", "[model]", "The network: `Sequential.get_config()`'s keys.", (
        Key("name", Text(), '"sequential"', "The model's name, shown by `summary()` and kept in model files."),
        Key("seed", _SEED, "fresh entropy", "Seeds the initial weights, the shuffling and layers such as dropout; `--seed` overrides it."),
        Key("dtype", Choice(DTYPES), '"float64"', "The dtype of the parameters and of the computations."),
        Key("input_shape", Array(Integer(1, MAX_AXIS), min_length=1, max_length=MAX_ARRAY_DIMENSIONS), "from the first layer or the data",
            "The shape of one input sample, e.g. `[8, 8, 1]`."),
        Key("layers", Array(Component("layer")), "[]",
            "The layers in order (`[[model.layers]]` tables): `type` names the layer, `name` (a string) names it in "
            "messages and files, every other key is an argument of the layer's class."),
    ), required=True),
    Section("compile", "[compile]", "`Sequential.compile`'s arguments.", (
        Key("loss", Component("loss"), '"mse"', "The loss."),
        Key("optimizer", Component("optimizer"), '"sgd"', "The optimizer, e.g. `{ type = \"adam\", learning_rate = 0.001 }`."),
        Key("metrics", Array(Component("metric")), "[]", "Figures reported each epoch (and for validation and test data)."),
    ), required=True),
    Section("fit", "[fit]", "`Sequential.fit`'s arguments; `--epochs` overrides `epochs`.", (
        Key("epochs", Integer(low=1), "1", "Passes over the training data."),
        Key("batch_size", Integer(low=1), "32", "Samples per update."),
        Key("shuffle", Boolean(), "true", "Visit the samples in a new random order each epoch."),
        Key("verbose", Choice((0, 1, 2, "auto")), "1",
            "0 silent; 1 or \"auto\" (as in Python) a progress bar on a terminal, else one line per epoch; 2 one line "
            "per epoch. Runs of more "
            "than 50 epochs print every 10% of the epochs."),
        Key("validation_split", Number(0.0, 1.0, high_open=True), "0", "The fraction of the training samples, taken from the end, held out for validation."),
    )),
    Section("data", "[data]", "The data: inline arrays (`x`, `y`) or a generated data set (`dataset`).", (
        Key("x", NumberArray(min_dims=2), "required", "The inputs, one row per sample.", use="arrays"),
        Key("y", NumberArray(min_dims=1), "required", "The targets, one per sample.", use="arrays"),
        Key("names", Array(Text()), '["#0", "#1", ...]', "A name per sample for the table of predictions printed after training.", use="arrays"),
        Key("dataset", Choice(tuple(datasets.GENERATORS)), "required",
            "A data set of `minidl.datasets`, made with the data-set arguments below.", use="dataset"),
        Key("columns", Array(Text()), '["x0", "x1", ...]', "A name per input column (as many as the inputs have columns)."),
        Key("test_split", Number(0.0, 1.0, low_open=True, high_open=True), "none",
            "Hold out this fraction of the samples (shuffled) as a test set, evaluated after training."),
        Key("split_seed", _SEED, "0", "Seeds the shuffle of `test_split`."),
    ), required=True),
    Section("predict", "[[predict]]", "Extra samples whose predictions are printed after training (repeatable).", (
        Key("name", Text(), '"?"', "The row's name in the table."),
        Key("x", Array(Number(), min_length=1), "required", "One sample's inputs (as many as the data has columns)."),
    ), many=True),
)  # fmt: skip

#: The arguments of the generated data sets, each checked here; which data set takes which is
#: read from the generators' signatures (see ``dataset_takes``).
DATASET_ARGUMENTS: tuple[Key, ...] = (
    Key("samples", Integer(2, MAX_SAMPLES), "500", "Number of points.", use="dataset"),
    Key("noise", Number(0.0, 100.0), "0", "Noise in the TensorFlow Playground's units (its slider, 0 to 50).", use="dataset"),
    Key("seed", _SEED, "fresh entropy", "Seeds the points and their order.", use="dataset"),
    Key("labels", Array(Number(), length=2), "[0, 1]", "The negative and the positive label, e.g. `[-1, 1]`.", use="dataset"),
    Key("images", Boolean(), "false", "Digits as images of shape (8, 8, 1) instead of 64 columns.", use="dataset"),
)  # fmt: skip

_BY_SECTION = {section.name: section for section in SECTIONS}
_ARGUMENTS = {key.name: key for key in DATASET_ARGUMENTS}


def dataset_takes(name: str) -> list[str]:
    """The arguments the generated data set ``name`` takes, in its signature's order.

    Args:
        name: a data set of ``minidl.datasets.GENERATORS``.

    Returns:
        The names of its keyword parameters.
    """
    return list(inspect.signature(datasets.GENERATORS[name]).parameters)


# ------------------------------------------------------------------------------------ validation
def validate(raw: Mapping[str, Any], source: str) -> None:
    """Checks a whole configuration (the parsed TOML) against the schema; raises on the first fault.

    Args:
        raw: the configuration as plain values (what ``tomllib`` returns).
        source: where it came from, the start of every message.

    Raises:
        ConfigError: saying which key holds what, and what would work.
    """
    if not isinstance(raw, Mapping):
        raise _fail(f"{source}: a configuration", "a table of sections", raw)
    _known(raw, [s.name for s in SECTIONS[1:]] + ["description"], source, "top-level key")
    _check_keys(SECTIONS[0], {"description": raw["description"]} if "description" in raw else {}, source)
    for section in SECTIONS[1:]:
        if section.name not in raw:
            if section.required:
                raise ConfigError(f"{source}: a {section.heading} table is required.")
            continue
        value = raw[section.name]
        if section.many:
            if not isinstance(value, list):
                raise _fail(f"{source}: {section.heading}", "an array of tables", value)
            for i, entry in enumerate(value):
                _check_keys(section, entry, source, f" {i}")
        else:
            _check_keys(section, value, source)
    _check_data(raw["data"], source)


def _check_keys(section: Section, table: Any, source: str, index: str = "") -> None:
    heading = f"{section.heading}{index}"
    if not isinstance(table, Mapping):
        raise _fail(f"{source}: {heading}", "a table", table)
    if section.name != "data":
        _known(table, list(section.by_name), source, f"{heading} key")
    for name, value in table.items():
        key = section.by_name.get(name) or _ARGUMENTS.get(name)
        if key is not None:
            key.kind.check(value, f"{source}: {heading} {name}" if section.name else f"{source}: {name}")
    for key in section.keys:
        if key.default == "required" and key.use == "both" and key.name not in table:
            raise ConfigError(f"{source}: {heading} needs the key {key.name!r}.")


def _check_data(data: Mapping[str, Any], source: str) -> None:
    keys = _BY_SECTION["data"].by_name
    if "dataset" in data:
        name = data["dataset"]
        allowed = [k for k, key in keys.items() if key.use != "arrays"] + dataset_takes(name)
        _known(data, allowed, source, f"[data] key for dataset {name!r}")
        undeclared = sorted((set(dataset_takes(name)) - set(_ARGUMENTS)) & set(data))
        if undeclared:  # a generator argument the schema does not know cannot skip validation
            raise ConfigError(f"{source}: [data] {undeclared[0]} is not declared in minidl's schema.")
        return
    _known(data, [k for k, key in keys.items() if key.use != "dataset"], source, "[data] key")
    if "x" not in data or "y" not in data:
        raise ConfigError(
            f"{source}: [data] needs 'x' and 'y', or a 'dataset' (one of {', '.join(datasets.GENERATORS)})."
        )
    if len(data["x"]) != len(data["y"]):
        raise ConfigError(
            f"{source}: [data] x and y must hold as many samples; received {len(data['x'])} and {len(data['y'])}."
        )


def _known(table: Mapping[str, Any], allowed: Iterable[str], source: str, what: str) -> None:
    allowed = list(allowed)
    unknown = [k for k in table if k not in allowed]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), allowed, 1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{source}: unknown {what} {unknown[0]!r}.{hint} Allowed: {', '.join(allowed)}.")
