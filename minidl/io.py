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

import hashlib
import io as _io
import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from . import __version__, losses, optimizers
from . import layers as layers_module
from .activations import Activation
from .errors import ConfigError, DivergenceError, FormatError, MinidlError
from .layers import Dense, Layer

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["save", "load", "save_weights", "load_weights", "FORMAT_VERSION", "MAX_DOCUMENT_BYTES"]

#: The version of the file format this minidl writes; files of a newer version are refused.
FORMAT_VERSION = 1
#: Upper bound on the JSON document's size in bytes, and on its nesting depth.
MAX_DOCUMENT_BYTES = 16 * 2**20
MAX_DEPTH = 32

DOCUMENT = "minidl.json"
_KINDS = {"model": "minidl-model", "weights": "minidl-weights"}
_DTYPES = {"<f8": np.dtype("<f8"), "<f4": np.dtype("<f4")}
_HASH = re.compile(r"^[0-9a-f]{64}$")
_NPY_HEADER = re.compile(
    r"^\{'descr': '(?P<descr>[<>|][a-zA-Z]\d+)', 'fortran_order': (?P<fortran>True|False), "
    r"'shape': \((?P<shape>(\d+(, ?\d+)*,?)?)\), \} *\n$"
)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # same model, same bytes
_ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, ValueError, UnicodeDecodeError,
    NotImplementedError, RuntimeError, OverflowError, KeyError, IndexError, zlib.error,
)  # fmt: skip

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------------------------- saving
def save(model: Sequential, path: PathLike) -> None:
    """Writes ``model`` (architecture, weights, compile settings, optimizer state, History and
    random generator states) to ``path`` atomically; the previous file survives any failure."""
    document, arrays = _model_document(model)
    _write_archive(path, document, arrays)


def save_weights(model: Sequential, path: PathLike) -> None:
    """Writes only the parameter arrays of ``model`` to ``path`` atomically."""
    arrays = _weight_arrays(model)
    document = _header("weights") | {"layers": [layer.name for layer in model.layers]}
    _write_archive(path, document, arrays)


def _header(kind: str) -> dict[str, Any]:
    return {"format": _KINDS[kind], "format_version": FORMAT_VERSION, "minidl_version": __version__}


def _weight_arrays(model: Sequential) -> dict[str, np.ndarray]:
    arrays = {}
    for i, layer in enumerate(model.layers):
        for j, p in enumerate(layer.parameters()):
            if not np.isfinite(p.value).all():
                raise DivergenceError(
                    f"The {p.name} of layer {layer.name!r} contains NaN or infinity; a diverged model "
                    "is not saved (nothing was written).", layer=layer.name,
                )  # fmt: skip
            arrays[f"weights/{i}/{j}"] = p.value
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
        for name, value in model.optimizer.get_state(_update_targets(model)).items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer/{name}"] = value
            else:
                numbers[name] = _json_ready(value.item() if isinstance(value, np.generic) else value, name)
    history = model.history
    for key, values in history.history.items():
        arrays[f"history/{key}"] = np.asarray(values, dtype="<f8")
    document = _header("model") | {
        "model": _json_ready(model.get_config(), "the model configuration"),
        "compile": compiled,
        "training": {
            "epochs": [int(e) for e in history.epochs],
            "history": list(history.history),
            "optimizer": numbers,
            "random": _random_states(model),
        },
    }
    return document, arrays


def _update_targets(model: Sequential) -> tuple[Any, ...]:
    # The Parameters the model hands its optimizer (see Sequential.train_step).
    return (model._packed(),) if model.optimizer.elementwise else tuple(model.parameters())  # type: ignore[union-attr]


def _random_states(model: Sequential) -> dict[str, Any]:
    return {
        "shuffle": model._shuffle_rng.bit_generator.state,
        "layers": {name: rng.bit_generator.state for name, rng in model._layer_rngs.items()},
    }


def _json_ready(value: Any, what: str) -> Any:
    # Fails here, before the file is opened, with the part at fault named.
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} is not JSON-serializable ({exc}); nothing was written.") from exc
    return value


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = _io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _write_archive(path: PathLike, document: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    members, index = [], []
    for i, (name, array) in enumerate(arrays.items()):
        data = _npy_bytes(array)
        members.append((_member(i), data))
        index.append(
            {"name": name, "dtype": array.dtype.str, "shape": list(array.shape),
             "sha256": hashlib.sha256(data).hexdigest()}
        )  # fmt: skip
    text = json.dumps(document | {"arrays": index}, allow_nan=False, indent=1).encode("utf-8")
    with atomic_write(path) as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as archive:
        for name, data in [(DOCUMENT, text), *members]:
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), data)


def _member(i: int) -> str:
    return f"arrays/{i:05d}.npy"


@contextmanager
def atomic_write(path: PathLike) -> Iterator[IO[bytes]]:
    """Yields a temporary file next to ``path`` that replaces it only once fully written.

    The data is flushed and fsync'ed before ``os.replace``; on any exception, including
    KeyboardInterrupt, the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(os.fspath(path))
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"Cannot save to {str(target)!r}: the folder {str(folder)!r} does not exist.")
    if target.is_dir():
        raise IsADirectoryError(f"Cannot save to {str(target)!r}: it is a folder; give a file name.")
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        with _suppress_os_errors():
            os.unlink(temp)
        raise
    with _suppress_os_errors():  # make the rename itself durable, where the OS allows it
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextmanager
def _suppress_os_errors() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


# --------------------------------------------------------------------------------------- loading
def load(path: PathLike) -> Sequential:
    """Reads a :func:`save` file: a new model, compiled and with its training state if saved so.

    Raises FormatError (naming the problem) for a file that is not a valid minidl model file,
    UnknownComponentError for a component that is not installed, FileNotFoundError or
    IsADirectoryError for a bad path. Nothing in the file is imported or executed.
    """
    with _open_archive(path) as archive:
        document = _read_document(archive, "model")
        index = _check_index(archive, document)
        return _build_model(archive, document, index)


def load_weights(model: Sequential, path: PathLike) -> None:
    """Sets the parameters of ``model`` from a :func:`save_weights` (or :func:`save`) file.

    Every array is read and checked before any is written, so a bad file changes nothing.
    """
    with _open_archive(path) as archive:
        document = _read_document(archive, None)
        index = _check_index(archive, document)
        expected = {
            f"weights/{i}/{j}": (layer, p.name, p.shape)
            for i, layer in enumerate(model.layers)
            for j, p in enumerate(layer.parameters())
        }
        _expect_names(index, set(expected), "weights/")
        for name, (layer, what, shape) in expected.items():
            _expect_entry(index[name], shape, model.dtype, f"the {what} of layer {layer.name!r}")
        _check_member_sizes(archive, index)
        arrays = _read_arrays(archive, index, "weights/")
    model.set_weights(list(arrays.values()))


class _Archive:
    """A zip archive read from bytes, with the checks that keep reading it safe."""

    def __init__(self, data: bytes, where: str) -> None:
        self.size, self.where = len(data), where
        # The end-of-central-directory record must end the file: no comment, nothing appended.
        if len(data) < 22 or data[-22:-18] != b"PK\x05\x06" or data[-2:] != b"\x00\x00":
            raise FormatError(
                f"{where} is not a minidl model file: it is not a zip archive, is truncated, or has "
                f"bytes after its end ({len(data)} bytes)."
            )
        self.zip = self.guard(lambda: zipfile.ZipFile(_io.BytesIO(data)), "the zip directory")
        infos = self.zip.infolist()
        names = [info.filename for info in infos]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise FormatError(f"{where} holds duplicate members {duplicates}.")
        if not infos or infos[0].header_offset != 0:
            raise FormatError(f"{where} has bytes before its first member or no member at all.")
        for info in infos:
            stored = info.compress_type == zipfile.ZIP_STORED and info.compress_size == info.file_size
            if not stored or info.flag_bits & 1 or info.file_size > self.size:
                raise FormatError(
                    f"{where}: member {info.filename!r} is compressed, encrypted or larger than the "
                    "file; minidl writes stored members only."
                )
        self.infos = {info.filename: info for info in infos}

    def guard(self, action: Callable[[], Any], what: str) -> Any:
        try:
            return action()
        except _ZIP_ERRORS as exc:
            if isinstance(exc, MinidlError):
                raise
            raise FormatError(f"{self.where} is corrupt: reading {what} failed ({type(exc).__name__}: {exc}).") from exc

    def read(self, name: str) -> bytes:
        return self.guard(lambda: self.zip.read(name), f"member {name!r}")


@contextmanager
def _open_archive(path: PathLike) -> Iterator[_Archive]:
    target = Path(os.fspath(path))
    if target.is_dir():
        raise IsADirectoryError(f"Cannot load {str(target)!r}: it is a folder, not a minidl model file.")
    if not target.exists():
        raise FileNotFoundError(f"Cannot load {str(target)!r}: no such file.")
    with open(target, "rb") as stream:  # read-only: loading never writes anywhere
        data = stream.read()
    archive = _Archive(data, f"The file {str(target)!r}")
    try:
        yield archive
    finally:
        archive.zip.close()


def _read_document(archive: _Archive, kind: str | None) -> dict[str, Any]:
    info = archive.infos.get(DOCUMENT)
    if info is None:
        raise FormatError(f"{archive.where} has no {DOCUMENT} member: it is not a minidl model file.")
    if info.file_size > MAX_DOCUMENT_BYTES:
        raise FormatError(f"{archive.where}: {DOCUMENT} is {info.file_size} bytes, over the {MAX_DOCUMENT_BYTES} limit.")
    document = parse_json(archive.read(DOCUMENT), f"{archive.where}, {DOCUMENT}")
    if not isinstance(document, dict):
        raise FormatError(f"{archive.where}: {DOCUMENT} must hold a JSON object.")
    _check_version(document, archive.where)
    formats = set(_KINDS.values()) if kind is None else {_KINDS[kind]}
    if not isinstance(document.get("format"), str) or document["format"] not in formats:
        hint = " It holds weights only: use model.load_weights(path)." if document.get("format") == _KINDS["weights"] else ""
        raise FormatError(f"{archive.where} is not a minidl {kind or 'model or weights'} file "
                          f"(format {document.get('format')!r}).{hint}")  # fmt: skip
    header = set(_header("model"))
    sections = {"model", "compile", "training"} if document["format"] == _KINDS["model"] else {"layers"}
    allowed = header | {"arrays"} | sections
    _known_keys(document, allowed, DOCUMENT)
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


def parse_json(data: bytes, where: str) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, finite numbers, bounded depth."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{where} is not UTF-8 text ({exc}).") from exc
    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        raise FormatError(f"{where} nests {depth} levels deep; at most {MAX_DEPTH} are allowed.")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise FormatError(f"{where} repeats the key(s) {sorted({k for k in keys if keys.count(k) > 1})}.")
        return dict(items)

    def constant(name: str) -> Any:
        raise FormatError(f"{where} contains {name}, which strict JSON does not allow.")

    def finite(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise FormatError(f"{where} contains the out-of-range number {token}.")
        return value

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=finite)
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        if isinstance(exc, MinidlError):
            raise
        raise FormatError(f"{where} is not valid JSON ({exc}).") from exc


def _json_depth(text: str) -> int:
    # Measured before parsing, so a hostile nesting cannot exhaust the parser's recursion.
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _known_keys(mapping: Any, allowed: set[str], where: str, required: set[str] | None = None) -> None:
    if not isinstance(mapping, dict):
        raise FormatError(f"{where} must be a JSON object; received {type(mapping).__name__}.")
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise FormatError(f"Unknown key(s) {unknown} in {where}; known keys: {sorted(allowed)}.")
    missing = sorted((allowed if required is None else required) - set(mapping))
    if missing:
        raise FormatError(f"Missing key(s) {missing} in {where}.")


# ----------------------------------------------------------------------------------- array index
def _check_index(archive: _Archive, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = document["arrays"]
    if not isinstance(entries, list):
        raise FormatError(f"{archive.where}: 'arrays' must be a list.")
    index: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        _known_keys(entry, {"name", "dtype", "shape", "sha256"}, f"array entry {i}")
        name, dtype, shape, digest = entry["name"], entry["dtype"], entry["shape"], entry["sha256"]
        if not isinstance(name, str) or name in index:
            raise FormatError(f"{archive.where}: array entry {i} has a missing or repeated name {name!r}.")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise FormatError(
                f"{archive.where}: array {name!r} has dtype {dtype!r}; minidl files hold only "
                f"{sorted(_DTYPES)} (never objects or pickles)."
            )
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 8:
            raise FormatError(f"{archive.where}: array {name!r} has an invalid shape {shape!r}.")
        if not isinstance(digest, str) or not _HASH.match(digest):
            raise FormatError(f"{archive.where}: array {name!r} has an invalid sha256 {digest!r}.")
        index[name] = entry | {"member": _member(i), "dtype": _DTYPES[dtype], "shape": tuple(shape)}
    expected = {DOCUMENT, *(_member(i) for i in range(len(entries)))}
    missing, extra = sorted(expected - set(archive.infos)), sorted(set(archive.infos) - expected)
    if missing or extra:
        raise FormatError(f"{archive.where} does not match its index: missing members {missing}, extra members {extra}.")
    return index


def _expect_names(index: dict[str, Any], expected: set[str], prefix: str) -> None:
    present = {name for name in index if name.startswith(prefix)}
    if present != expected:
        raise FormatError(
            f"The file's {prefix.rstrip('/')} arrays do not match the model: missing "
            f"{sorted(expected - present)}, unexpected {sorted(present - expected)}."
        )


def _expect_entry(entry: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
    if entry["shape"] != tuple(shape):
        raise FormatError(f"{what} has shape {tuple(shape)} in the model, but the file holds shape {entry['shape']}.")
    if entry["dtype"] != np.dtype(dtype):
        raise FormatError(f"{what} has dtype {np.dtype(dtype)} in the model, but the file holds {entry['dtype']}.")


def _check_member_sizes(archive: _Archive, index: dict[str, dict[str, Any]]) -> None:
    # A member must hold exactly its declared data plus an npy header; checked from the zip
    # directory, before anything is read, so no declared size can make us allocate.
    for name, entry in index.items():
        data = math.prod(entry["shape"]) * entry["dtype"].itemsize
        size = archive.infos[entry["member"]].file_size
        if not data + 10 < size <= data + 65536:
            raise FormatError(
                f"{archive.where}: array {name!r} declares shape {entry['shape']} ({data} bytes of data), "
                f"but its member holds {size} bytes."
            )


def _read_arrays(archive: _Archive, index: dict[str, dict[str, Any]], prefix: str) -> dict[str, np.ndarray]:
    return {name: _read_array(archive, name, entry) for name, entry in index.items() if name.startswith(prefix)}


def _read_array(archive: _Archive, name: str, entry: dict[str, Any]) -> np.ndarray:
    raw = archive.read(entry["member"])
    if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
        raise FormatError(f"{archive.where}: array {name!r} is corrupt (its SHA-256 does not match the index).")
    offset = _check_npy_header(raw, entry, f"{archive.where}: array {name!r}")
    if offset + math.prod(entry["shape"]) * entry["dtype"].itemsize != len(raw):
        raise FormatError(f"{archive.where}: array {name!r} holds {len(raw) - offset} bytes of data, not what its header says.")
    # The header is already parsed and the dtype is a plain float, so the data is read as raw
    # numbers: stricter than np.load(allow_pickle=False), and no header text is ever evaluated.
    array = np.frombuffer(raw, dtype=entry["dtype"], offset=offset).reshape(entry["shape"]).copy()
    if not name.startswith("history/") and not np.isfinite(array).all():
        raise FormatError(f"{archive.where}: array {name!r} contains NaN or infinity.")
    return array


def _check_npy_header(raw: bytes, entry: dict[str, Any], where: str) -> int:
    """Parses an npy header without numpy (no eval, no allocation); returns the data offset."""
    if raw[:6] != b"\x93NUMPY" or raw[6:8] not in (b"\x01\x00", b"\x02\x00", b"\x03\x00"):
        raise FormatError(f"{where} is not an npy array.")
    size_format = "<H" if raw[6] == 1 else "<I"
    start = 10 if raw[6] == 1 else 12
    (length,) = struct.unpack(size_format, raw[8:start])
    header = raw[start : start + length].decode("latin-1")
    match = _NPY_HEADER.match(header)
    if length > 65536 or match is None:
        raise FormatError(f"{where} has a malformed npy header {header[:80]!r}.")
    shape = tuple(int(n) for n in match["shape"].replace(" ", "").split(",") if n)
    if match["descr"] != entry["dtype"].str or match["fortran"] != "False" or shape != entry["shape"]:
        raise FormatError(
            f"{where}: its npy header says dtype {match['descr']}, shape {shape}, but the index says "
            f"{entry['dtype'].str}, {entry['shape']}."
        )
    return start + length


# -------------------------------------------------------------------------------- model building
def _build_model(archive: _Archive, document: dict[str, Any], index: dict[str, dict[str, Any]]) -> Sequential:
    from .model import DTYPES, Sequential

    config = document["model"]
    _known_keys(config, {"name", "seed", "dtype", "layers"}, "the model configuration")
    if config["dtype"] not in DTYPES or not isinstance(config["layers"], list) or not isinstance(config["name"], str):
        raise FormatError(
            f"The model configuration needs a string name, a dtype among {DTYPES} and a list of layers; "
            f"received name {config['name']!r}, dtype {config['dtype']!r}."
        )
    layers = [_make_layer(i, layer_config) for i, layer_config in enumerate(config["layers"])]
    _check_planned_shapes(layers, index, np.dtype(config["dtype"]))
    _check_member_sizes(archive, index)
    model = _component(lambda: Sequential(layers, seed=config["seed"], dtype=config["dtype"], name=config["name"]), "the model")
    weights = _read_arrays(archive, index, "weights/")
    for i, layer in enumerate(model.layers):  # built layers must be exactly what was planned
        for j, p in enumerate(layer.parameters()):
            _expect_entry(index.get(f"weights/{i}/{j}") or _missing(f"weights/{i}/{j}"), p.shape, model.dtype, f"The {p.name} of layer {layer.name!r}")
    model.set_weights([weights[f"weights/{i}/{j}"] for i, layer in enumerate(model.layers) for j, _ in enumerate(layer.parameters())])
    if document["compile"] is not None:
        _restore_training(archive, document, index, model)
    elif any(name.startswith(("optimizer/", "history/")) for name in index):
        raise FormatError(f"{archive.where} holds training arrays but no compile section.")
    return model


def _make_layer(i: int, config: Any) -> Layer:
    if not isinstance(config, dict) or not isinstance(config.get("name"), str) or not isinstance(config.get("type"), str):
        raise FormatError(f"Layer {i} of the file needs a configuration object with string 'type' and 'name'.")
    return _component(lambda: layers_module.get(config), f"layer {i} ({config['type']!r})")


def _component(make: Callable[[], Any], what: str) -> Any:
    # Components come only from the registries, which check argument names; a constructor that
    # rejects a value in an unexpected way still surfaces as a minidl error.
    try:
        return make()
    except MinidlError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise FormatError(f"The file's configuration of {what} was rejected: {type(exc).__name__}: {exc}") from exc


def planned_shapes(layer: Layer) -> list[tuple[int, ...]] | None:
    """The parameter shapes ``layer`` will create when built, known before building.

    A layer tells by a ``parameter_shapes()`` method; built-in Dense and activations are known;
    None means unknown (such a layer is built and checked afterwards).
    """
    hook = getattr(layer, "parameter_shapes", None)
    if callable(hook):
        return [tuple(int(n) for n in shape) for shape in hook()]
    if type(layer) is Dense:
        return [(layer.in_features, layer.out_features)] + ([(layer.out_features,)] if layer.bias else [])
    if isinstance(layer, Activation):
        return []
    return None


def _check_planned_shapes(layers: list[Layer], index: dict[str, dict[str, Any]], dtype: np.dtype) -> None:
    stored = sum(math.prod(entry["shape"]) for entry in index.values())
    expected = set()
    for i, layer in enumerate(layers):
        shapes = planned_shapes(layer)
        if shapes is None:
            _check_unknown_layer(i, layer, stored)
            shapes = [entry["shape"] for name, entry in index.items() if name.startswith(f"weights/{i}/")]
        for j, shape in enumerate(shapes):
            name = f"weights/{i}/{j}"
            if name not in index:
                raise FormatError(f"Layer {i} ({layer.describe()}) needs a parameter of shape {shape}, which the file lacks.")
            _expect_entry(index[name], shape, dtype, f"Parameter {j} of layer {layer.name!r} ({layer.describe()})")
            expected.add(name)
    _expect_names(index, expected, "weights/")


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
        raise FormatError(f"Layer {i} ({layer.describe()}) has sizes {too_big} that the file's {stored} stored values cannot back.")


def _restore_training(archive: _Archive, document: dict[str, Any], index: dict[str, dict[str, Any]], model: Sequential) -> None:
    compiled, training = document["compile"], document["training"]
    _known_keys(compiled, {"loss", "optimizer"}, "the compile section")
    _known_keys(training, {"epochs", "history", "optimizer", "random"}, "the training section")
    model.compile(
        loss=_component(lambda: losses.get(compiled["loss"]), "the loss"),
        optimizer=_component(lambda: optimizers.get(compiled["optimizer"]), "the optimizer"),
    )
    epochs, keys = training["epochs"], training["history"]
    if not isinstance(epochs, list) or not all(type(e) is int and e >= 0 for e in epochs) or epochs != sorted(set(epochs)):
        raise FormatError("The file's training epochs must be increasing non-negative integers.")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise FormatError("The file's history keys must be a list of strings.")
    for key in keys:
        _expect_entry(index.get(f"history/{key}") or _missing(f"history/{key}"), (len(epochs),), np.dtype("<f8"), f"History {key!r}")
    _expect_names(index, {f"history/{k}" for k in keys}, "history/")
    optimizer, targets = model.optimizer, _update_targets(model)
    template = optimizer.state_template(targets)  # type: ignore[union-attr]
    for name, entry in index.items():
        if name.startswith("optimizer/"):
            slot = template.get(name.removeprefix("optimizer/"))
            if not isinstance(slot, np.ndarray):
                raise FormatError(f"The file holds an optimizer array {name!r} that {optimizer!r} does not have.")
            _expect_entry(entry, slot.shape, slot.dtype, f"Optimizer state {name!r}")
    state = dict(training["optimizer"]) if isinstance(training["optimizer"], dict) else _missing("optimizer numbers")
    state |= {name.removeprefix("optimizer/"): a for name, a in _read_arrays(archive, index, "optimizer/").items()}
    history = _read_arrays(archive, index, "history/")
    generators = _checked_random_states(training["random"], model)
    _component(lambda: optimizer.set_state(targets, state), "the optimizer state")  # type: ignore[union-attr]
    for rng, value in generators:
        rng.bit_generator.state = value
    model.history.epochs = list(epochs)
    model.history.history = {key: [float(v) for v in history[f"history/{key}"]] for key in keys}


def _missing(what: str) -> Any:
    raise FormatError(f"The file lacks {what}.")


def _checked_random_states(saved: Any, model: Sequential) -> list[tuple[np.random.Generator, Any]]:
    _known_keys(saved, {"shuffle", "layers"}, "the random states")
    layer_states = saved["layers"]
    _known_keys(layer_states, set(model._layer_rngs), "the layers' random states", required=set())
    pairs = [(model._shuffle_rng, saved["shuffle"])]
    pairs += [(model._layer_rngs[name], state) for name, state in layer_states.items()]
    for rng, state in pairs:
        _same_structure(state, rng.bit_generator.state, "a random generator state")
    return pairs


def _same_structure(value: Any, reference: Any, where: str) -> None:
    # A saved generator state must mirror a live one: same keys, same strings, 128-bit integers.
    if isinstance(reference, dict):
        _known_keys(value, set(reference), where)
        for key in reference:
            _same_structure(value[key], reference[key], where)
    elif isinstance(reference, str):
        if value != reference:
            raise FormatError(f"{where} names {value!r}; this model's generator is {reference!r}.")
    elif type(value) is not int or not 0 <= value < 2**128:
        raise FormatError(f"{where} holds {value!r} where an unsigned integer is expected.")
