"""Model files that cannot express code, written atomically.

A file is one zip archive (stored, not compressed) holding ``minidl.json``, a JSON document, and
one ``.npy`` member per array (``arrays/00000.npy``, ...). The document names components only by
their registry names with JSON arguments, so loading can only choose among installed components;
nothing in a file is ever imported, evaluated or unpickled. See docs/reliability.md.

Loading checks, in this order and before allocating anything sized by the file: the archive's
structure (members, no compression, nothing appended), the document (strict JSON, bounded size and
depth, known keys, format version), the architecture's parameter shapes against the array index,
and each member's size against its declared shape; then it builds the model and reads each array
(SHA-256, npy header, dtype, shape, finite values) into it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import layers as layers_module
from . import losses, optimizers
from . import metrics as metrics_module
from ._archive import (
    DOCUMENT,
    Archive,
    PathLike,
    archive_bytes,
    atomic_write,
    check_index,
    check_member_sizes,
    check_writable,
    expect_entry,
    expect_names,
    known_keys,
    open_archive,
    parse_json,
    read_arrays,
    write_archive,
)  # fmt: skip
from ._version import __version__
from .data import DTYPES
from .errors import ConfigError, DivergenceError, FormatError, MinidlError, ShapeError
from .layers import Layer, Shape
from .layers.activations import Activation
from .parameter import Buffer, Parameter

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["save", "load", "save_weights", "load_weights", "to_bytes", "from_bytes", "atomic_write", "check_writable",
           "planned_shapes", "weight_slots",
           "FORMAT_VERSION",
           "MAX_DOCUMENT_BYTES", "MAX_FILE_BYTES", "MAX_LAYERS", "MAX_MEMBERS"]  # fmt: skip

_T = TypeVar("_T")

#: The version of the file format this minidl writes; files of a newer version are refused.
#: Version 2 records the model's input shape (version 1 files, without it, are still read).
FORMAT_VERSION = 2
#: Upper bound on the JSON document's size in bytes.
MAX_DOCUMENT_BYTES = 16 * 2**20
#: Upper bound on the number of layers of a model file (building a model checks each new layer
#: against all before it, so loading time grows with the square of the count).
MAX_LAYERS = 1024
#: Upper bound on the number of members of a model file's zip archive: the document, and per
#: layer up to 16 arrays (parameters, buffers and their optimizer slots), and 1023 more for the
#: History's figures and the optimizer's own arrays. Checked from the zip's end record, before
#: its directory is read.
MAX_MEMBERS = 16 * MAX_LAYERS + 1024
#: Upper bound on a model file's size in bytes (64 GiB), checked before anything is read.
MAX_FILE_BYTES = 2**36

_KINDS = {"model": "minidl-model", "weights": "minidl-weights"}


# ---------------------------------------------------------------------------------------- saving
def save(model: Sequential, path: PathLike) -> None:
    """Writes ``model`` (architecture, weights, compile settings, optimizer state, History and
    random generator states) to ``path`` atomically; the previous file survives any failure.

    Args:
        model: the model to save.
        path: the file to write.
    """
    document, arrays = _model_document(model)
    write_archive(path, document, arrays)


def to_bytes(model: Sequential) -> bytes:
    """The bytes ``save`` would write for ``model``: the same safe format, kept in memory
    (a fitted ``minidl.sklearn`` estimator carries its network this way inside a pickle).

    Args:
        model: the model to serialize.
    """
    document, arrays = _model_document(model)
    return archive_bytes(document, arrays)


def save_weights(model: Sequential, path: PathLike) -> None:
    """Writes only the parameter arrays of ``model`` to ``path`` atomically.

    Args:
        model: the model whose parameters are written.
        path: the file to write.
    """
    arrays = _weight_arrays(model)
    document = _header("weights") | {"layers": [layer.name for layer in model.layers]}
    write_archive(path, document, arrays)


def _header(kind: str) -> dict[str, Any]:
    return {"format": _KINDS[kind], "format_version": FORMAT_VERSION, "minidl_version": __version__}


def weight_slots(model: Sequential) -> dict[str, tuple[Layer, Parameter | Buffer]]:
    """Every array of ``model.get_weights()``, in its order, by its member name in a file:
    ``weights/<layer>/<j>`` for the j-th parameter of a layer, ``state/<layer>/<j>`` for its j-th
    buffer (non-trainable state).

    Args:
        model: the model whose arrays are named.
    """
    slots: dict[str, tuple[Layer, Parameter | Buffer]] = {}
    for i, layer in enumerate(model.layers):
        slots.update((f"weights/{i}/{j}", (layer, p)) for j, p in enumerate(layer.parameters()))
        slots.update((f"state/{i}/{j}", (layer, b)) for j, b in enumerate(layer.buffers()))
    return slots


def _weight_arrays(model: Sequential) -> dict[str, np.ndarray]:
    arrays = {}
    for name, (layer, p) in weight_slots(model).items():
        if not np.isfinite(p.value).all():
            raise DivergenceError(
                f"The {p.name} of layer {layer.name!r} contains NaN or infinity; a diverged model "
                "is not saved (nothing was written).", layer=layer.name,
            )  # fmt: skip
        arrays[name] = p.value
    return arrays


def _model_document(model: Sequential) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays = _weight_arrays(model)
    compiled = None
    numbers: dict[str, Any] = {}
    if model.loss is not None and model.optimizer is not None:
        compiled = {
            "loss": _json_ready(losses.registry.serialize(model.loss), "the loss"),
            "optimizer": _json_ready(optimizers.registry.serialize(model.optimizer), "the optimizer"),
        }
        if model.metrics:  # written only when there are metrics: files without stay as they were
            compiled["metrics"] = [
                _json_ready(metrics_module.registry.serialize(metric), f"the metric {name!r}")
                for name, metric in model.metrics.items()
            ]
        for name, value in model.trainer.optimizer_state().items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer/{name}"] = value
            else:
                numbers[name] = _json_ready(value.item() if isinstance(value, np.generic) else value, name)
    history = model.history
    for key, values in history.history.items():
        try:
            arrays[f"history/{key}"] = np.asarray(values, dtype="<f8").reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"History figure {key!r} holds values that are not numbers: {exc}") from exc
    document = _header("model") | {
        "model": _json_ready(model.get_config(), "the model configuration"),
        "compile": compiled,
        "training": {
            "epochs": [int(e) for e in history.epochs],
            "history": list(history.history),
            "optimizer": numbers,
            "random": model.get_random_state(),
        },
    }
    return document, arrays


def _json_ready(value: Any, what: str) -> Any:
    # Fails here, before the file is opened, with the part at fault named.
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} is not JSON-serializable ({exc}); nothing was written.") from exc
    return value


# --------------------------------------------------------------------------------------- loading
def load(path: PathLike, model_class: type[Sequential]) -> Sequential:
    """Reads a ``save`` file: a new ``model_class`` model, compiled and with its training
    state if saved so. ``minidl.load(path)`` calls it with ``Sequential``.

    Raises FormatError (naming the problem) for a file that is not a valid minidl model file,
    UnknownComponentError for a component that is not installed, FileNotFoundError or
    IsADirectoryError for a bad path. Nothing in the file is imported or executed.

    Args:
        path: the file to read.
        model_class: the class of the model to build (``Sequential``).
    """
    with open_archive(path, max_bytes=MAX_FILE_BYTES, max_members=MAX_MEMBERS) as archive:
        document = _read_document(archive, "model")
        index = check_index(archive, document)
        return _build_model(archive, document, index, model_class)


def from_bytes(data: bytes, model_class: type[Sequential], *, where: str = "The model bytes") -> Sequential:
    """Reads ``to_bytes``'s output with every check ``load`` makes; ``where`` names
    the source in error messages.

    Args:
        data: the bytes ``to_bytes`` made.
        model_class: the class of the model to build (``Sequential``).
        where: the name of the source in error messages.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError(
            f"{where} must be bytes holding a minidl model file; received {type(data).__name__}."
        )
    raw = bytes(data)
    if len(raw) > MAX_FILE_BYTES:
        raise FormatError(
            f"{where} are {len(raw)} bytes, over the {MAX_FILE_BYTES}-byte limit of a model file."
        )
    archive = Archive(io.BytesIO(raw), len(raw), where, MAX_MEMBERS)
    try:
        document = _read_document(archive, "model")
        index = check_index(archive, document)
        return _build_model(archive, document, index, model_class)
    finally:
        archive.zip.close()


def load_weights(model: Sequential, path: PathLike) -> None:
    """Sets the parameters of ``model`` from a ``save_weights`` (or ``save``) file.

    Every array is read and checked before any is written, so a bad file changes nothing.

    Args:
        model: the model whose parameters are set.
        path: the file to read.
    """
    with open_archive(path, max_bytes=MAX_FILE_BYTES, max_members=MAX_MEMBERS) as archive:
        document = _read_document(archive, None)
        index = check_index(archive, document)
        expected = weight_slots(model)
        for prefix in ("weights/", "state/"):
            expect_names(index, {name for name in expected if name.startswith(prefix)}, prefix)
        for name, (layer, p) in expected.items():
            expect_entry(index[name], p.shape, model.dtype, f"the {p.name} of layer {layer.name!r}")
        check_member_sizes(archive, index)
        arrays = read_arrays(archive, index, "weights/") | read_arrays(archive, index, "state/")
    model.set_weights([arrays[name] for name in expected])


def _read_document(archive: Archive, kind: str | None) -> dict[str, Any]:
    info = archive.infos.get(DOCUMENT)
    if info is None:
        raise FormatError(f"{archive.where} has no {DOCUMENT} member: it is not a minidl model file.")
    if info.file_size > MAX_DOCUMENT_BYTES:
        raise FormatError(
            f"{archive.where}: {DOCUMENT} is {info.file_size} bytes, over the {MAX_DOCUMENT_BYTES} limit."
        )
    document = parse_json(archive.read(DOCUMENT), f"{archive.where}, {DOCUMENT}")
    if not isinstance(document, dict):
        raise FormatError(f"{archive.where}: {DOCUMENT} must hold a JSON object.")
    _check_version(document, archive.where)
    formats = set(_KINDS.values()) if kind is None else {_KINDS[kind]}
    if not isinstance(document.get("format"), str) or document["format"] not in formats:
        hint = (
            " It holds weights only: use model.load_weights(path)."
            if document.get("format") == _KINDS["weights"]
            else ""
        )
        raise FormatError(f"{archive.where} is not a minidl {kind or 'model or weights'} file "
                          f"(format {document.get('format')!r}).{hint}")  # fmt: skip
    header = set(_header("model"))
    sections = {"model", "compile", "training"} if document["format"] == _KINDS["model"] else {"layers"}
    allowed = header | {"arrays"} | sections
    known_keys(document, allowed, DOCUMENT)
    if not isinstance(document.get("minidl_version"), str):
        raise FormatError(f"{archive.where}: minidl_version must be a string.")
    return document


def _check_version(document: dict[str, Any], where: str) -> None:
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatError(f"{where}: format_version must be a positive integer; received {version!r}.")
    if version > FORMAT_VERSION:
        raise FormatError(
            f"{where} uses file format version {version} (written by minidl "
            f"{document.get('minidl_version')!r}); this minidl {__version__} reads format version "
            f"{FORMAT_VERSION} and older. Upgrade minidl to load it."
        )


# -------------------------------------------------------------------------------- model building
def _build_model(
    archive: Archive,
    document: dict[str, Any],
    index: dict[str, dict[str, Any]],
    model_class: type[Sequential],
) -> Sequential:
    config = document["model"]
    required = {"name", "seed", "dtype", "layers"}
    known_keys(config, required | {"input_shape"}, "the model configuration", required=required)
    if (
        config["dtype"] not in DTYPES
        or not isinstance(config["layers"], list)
        or not isinstance(config["name"], str)
    ):
        raise FormatError(
            f"The model configuration needs a string name, a dtype among {DTYPES} and a list of layers; "
            f"received name {config['name']!r}, dtype {config['dtype']!r}."
        )
    if len(config["layers"]) > MAX_LAYERS:
        raise FormatError(
            f"The file's model has {len(config['layers'])} layers; minidl loads at most "
            f"minidl.io.MAX_LAYERS = {MAX_LAYERS}."
        )
    strays = sorted(n for n in index if not n.startswith(("weights/", "state/", "optimizer/", "history/")))
    if strays:
        raise FormatError(f"The file holds arrays minidl does not know: {strays[:5]} ({len(strays)} in all).")
    layers = [_make_layer(i, layer_config) for i, layer_config in enumerate(config["layers"])]
    input_shape = _input_shape(config.get("input_shape"), layers)
    _check_planned_shapes(layers, input_shape, index, np.dtype(config["dtype"]))
    check_member_sizes(archive, index)
    model = _component(
        lambda: model_class(
            layers, input_shape=input_shape, seed=config["seed"], dtype=config["dtype"], name=config["name"]
        ),
        "the model",
    )
    slots = weight_slots(model)
    expect_names(index, {name for name in slots if name.startswith("state/")}, "state/")
    for name, (layer, p) in slots.items():  # built layers must be exactly what was planned
        expect_entry(
            index.get(name) or _missing(name), p.shape, model.dtype, f"The {p.name} of layer {layer.name!r}"
        )
    weights = read_arrays(archive, index, "weights/") | read_arrays(archive, index, "state/")
    model.set_weights([weights[name] for name in slots])
    if document["compile"] is not None:
        _restore_training(archive, document, index, model)
    elif any(name.startswith(("optimizer/", "history/")) for name in index):
        raise FormatError(f"{archive.where} holds training arrays but no compile section.")
    return model


def _make_layer(i: int, config: Any) -> Layer:
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("name"), str)
        or not isinstance(config.get("type"), str)
    ):
        raise FormatError(
            f"Layer {i} of the file needs a configuration object with string 'type' and 'name'."
        )
    return _component(lambda: layers_module.get(config), f"layer {i} ({config['type']!r})")


def _component(make: Callable[[], _T], what: str) -> _T:
    # Components come only from the registries, which check argument names; a constructor that
    # rejects a value in an unexpected way still surfaces as a minidl error.
    try:
        return make()
    except MinidlError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise FormatError(
            f"The file's configuration of {what} was rejected: {type(exc).__name__}: {exc}"
        ) from exc


def _input_shape(value: Any, layers: list[Layer]) -> Shape | None:
    """The file's input shape (a list of positive integers), or the first layer's own (version 1 files)."""
    if value is None:
        return layers[0].input_shape if layers else None
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= 8
        or not all(type(n) is int and 1 <= n < 2**31 for n in value)
    ):
        raise FormatError(
            f"The model's input_shape must be a list of 1 to 8 positive integers; received {value!r}."
        )
    return tuple(value)


def planned_shapes(layer: Layer, input_shape: Shape) -> list[Shape] | None:
    """The parameter shapes ``layer`` will create when built for ``input_shape``, known before building.

    A layer tells by a ``parameter_shapes(input_shape)`` method (Dense has one); an activation
    has none; None means unknown (such a layer is built and checked afterwards).

    Args:
        layer: the layer, not built yet.
        input_shape: the shape of one input sample.
    """
    hook = getattr(layer, "parameter_shapes", None)
    if callable(hook):
        return [tuple(int(n) for n in shape) for shape in hook(input_shape)]
    if isinstance(layer, Activation):
        return []
    return None


def _check_planned_shapes(
    layers: list[Layer], input_shape: Shape | None, index: dict[str, dict[str, Any]], dtype: np.dtype
) -> None:
    stored = sum(math.prod(entry["shape"]) for entry in index.values())
    expected = set()
    shape = input_shape
    for i, layer in enumerate(layers):
        shapes = None
        if shape is not None:
            try:
                output_shape: Shape | None = layer.compute_output_shape(shape)
            except ShapeError as exc:
                raise FormatError(
                    f"Layer {i} ({layer.describe()}) of the file cannot take its input: {exc}"
                ) from None
            shapes = planned_shapes(layer, shape)
            shape = output_shape
        if shapes is None:
            _check_unknown_layer(i, layer, stored)
            shapes = [entry["shape"] for name, entry in index.items() if name.startswith(f"weights/{i}/")]
        for j, param_shape in enumerate(shapes):
            name = f"weights/{i}/{j}"
            if name not in index:
                raise FormatError(
                    f"Layer {i} ({layer.describe()}) needs a parameter of shape {param_shape}; the file lacks it."
                )
            expect_entry(
                index[name], param_shape, dtype, f"Parameter {j} of layer {layer.name!r} ({layer.describe()})"
            )
            expected.add(name)
    expect_names(index, expected, "weights/")


def _check_unknown_layer(i: int, layer: Layer, stored: int) -> None:
    # A layer that cannot say its shapes in advance: refuse integers larger than the number of
    # values the file stores (a dimension that large would need more weights than are there).
    def integers(value: Any) -> Iterator[int]:
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from integers(item)
        elif isinstance(value, list):
            for item in value:
                yield from integers(item)

    too_big = [n for n in integers(layer.get_config()) if abs(n) > max(stored, 4096)]
    if too_big:
        raise FormatError(
            f"Layer {i} ({layer.describe()}) has sizes {too_big} that the {stored} values stored in the "
            "file cannot back."
        )


def _restore_training(
    archive: Archive, document: dict[str, Any], index: dict[str, dict[str, Any]], model: Sequential
) -> None:
    compiled, training = document["compile"], document["training"]
    known_keys(
        compiled, {"loss", "optimizer", "metrics"}, "the compile section", required={"loss", "optimizer"}
    )
    known_keys(training, {"epochs", "history", "optimizer", "random"}, "the training section")
    metrics = compiled.get("metrics", [])
    if not isinstance(metrics, list):
        raise FormatError(f"The compile section's metrics must be a list; received {type(metrics).__name__}.")
    loss = _component(lambda: losses.get(compiled["loss"]), "the loss")
    optimizer = _component(lambda: optimizers.get(compiled["optimizer"]), "the optimizer")
    # each metric through its registry, as every component; compile checks names and targets
    resolved = [_component(partial(metrics_module.get, m), f"metric {i}") for i, m in enumerate(metrics)]
    _component(
        lambda: model.compile(loss=loss, optimizer=optimizer, metrics=resolved or None), "the compile section"
    )
    epochs, keys = training["epochs"], training["history"]
    if (
        not isinstance(epochs, list)
        or not all(type(e) is int and e >= 0 for e in epochs)
        or epochs != sorted(set(epochs))
    ):
        raise FormatError("The file's training epochs must be increasing non-negative integers.")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise FormatError("The file's history keys must be a list of strings.")
    for key in keys:  # a figure is logged at most once per epoch, maybe not at every epoch
        entry = index.get(f"history/{key}") or _missing(f"history/{key}")
        if len(entry["shape"]) != 1 or entry["shape"][0] > len(epochs) or entry["dtype"] != np.float64:
            raise FormatError(
                f"History {key!r} must be float64 values, at most one per epoch ({len(epochs)}); the "
                f"file holds a {entry['dtype']} array of shape {entry['shape']}."
            )
    expect_names(index, {f"history/{k}" for k in keys}, "history/")
    template = model.trainer.optimizer_state_template()
    for name, entry in index.items():
        if name.startswith("optimizer/"):
            slot = template.get(name.removeprefix("optimizer/"))
            if not isinstance(slot, np.ndarray):
                raise FormatError(
                    f"The file holds an optimizer array {name!r} that {optimizer!r} does not have."
                )
            expect_entry(entry, slot.shape, slot.dtype, f"Optimizer state {name!r}")
    state = (
        dict(training["optimizer"])
        if isinstance(training["optimizer"], dict)
        else _missing("optimizer numbers")
    )
    state |= {
        name.removeprefix("optimizer/"): a for name, a in read_arrays(archive, index, "optimizer/").items()
    }
    history = read_arrays(archive, index, "history/", finite=False)  # a NaN loss is a fact
    generators = _checked_random_states(training["random"], model)
    _component(lambda: model.trainer.set_optimizer_state(state), "the optimizer state")
    # numpy checks each field against its C type (a uint32, an int...): the real limits, of every
    # bit generator, which the structure check above cannot know; OverflowError is an ArithmeticError
    _component(lambda: model.set_random_state(generators), "the random generator states")
    model.history.epochs = list(epochs)
    model.history.history = {key: [float(v) for v in history[f"history/{key}"]] for key in keys}


def _missing(what: str) -> Any:
    raise FormatError(f"The file lacks {what}.")


def _checked_random_states(saved: Any, model: Sequential) -> dict[str, Any]:
    known_keys(saved, {"shuffle", "layers"}, "the random states")
    live = model.get_random_state()
    known_keys(saved["layers"], set(live["layers"]), "the layers' random states", required=set())
    _same_structure(saved["shuffle"], live["shuffle"], "a random generator state")
    for key, state in saved["layers"].items():
        _same_structure(state, live["layers"][key], "a random generator state")
    return {"shuffle": saved["shuffle"], "layers": dict(saved["layers"])}


def _same_structure(value: Any, reference: Any, where: str) -> None:
    # A saved generator state must mirror a live one: same keys, same strings, 128-bit integers.
    if isinstance(reference, dict):
        known_keys(value, set(reference), where)
        for key in reference:
            _same_structure(value[key], reference[key], where)
    elif isinstance(reference, str):
        if value != reference:
            raise FormatError(f"{where} names {value!r}; this model's generator is {reference!r}.")
    elif type(value) is not int or not 0 <= value < 2**128:
        raise FormatError(f"{where} holds {value!r} where an unsigned integer is expected.")
