"""The container of model files: a stored zip of one JSON document and .npy arrays.

Writing is atomic (``atomic_write``). Reading trusts nothing: ``Archive`` checks the
zip's structure, ``parse_json`` is strict and bounded, ``check_index`` and
``check_member_sizes`` compare each array's declared dtype, shape and size from the zip
directory before any member is read, and ``read_array`` verifies the SHA-256 and parses the
npy header itself (no eval, no pickle, no allocation sized by the header). This module knows
nothing of models; ``minidl.io`` does.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from .errors import FormatError, MinidlError

__all__ = [
    "DOCUMENT", "DTYPES", "MAX_DEPTH", "Archive", "archive_bytes", "atomic_write", "check_index",
    "check_member_sizes", "expect_entry", "expect_names", "known_keys", "open_archive", "parse_json",
    "read_arrays", "write_archive",
]  # fmt: skip

DOCUMENT = "minidl.json"
#: Upper bound on the JSON document's nesting depth.
MAX_DEPTH = 32
DTYPES = {"<f8": np.dtype("<f8"), "<f4": np.dtype("<f4")}  # the only arrays a file may hold
HASH = re.compile(r"^[0-9a-f]{64}$")
NPY_HEADER = re.compile(
    r"^\{'descr': '(?P<descr>[<>|][a-zA-Z]\d+)', 'fortran_order': (?P<fortran>True|False), "
    r"'shape': \((?P<shape>(\d{1,19}(, ?\d{1,19})*,?)?)\), \} *\n$"
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # same model, same bytes
ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, ValueError, UnicodeDecodeError,
    NotImplementedError, RuntimeError, OverflowError, KeyError, IndexError, zlib.error,
)  # fmt: skip

PathLike = str | os.PathLike[str]
_T = TypeVar("_T")


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_archive(path: PathLike, document: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    with atomic_write(path) as stream:
        _write_zip(stream, document, arrays)


def archive_bytes(document: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The archive ``write_archive`` would write, as bytes (a model inside a pickle)."""
    buffer = io.BytesIO()
    _write_zip(buffer, document, arrays)
    return buffer.getvalue()


def _write_zip(stream: IO[bytes], document: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    members, index = [], []
    for i, (name, array) in enumerate(arrays.items()):
        data = npy_bytes(array)
        members.append((member(i), data))
        index.append(
            {"name": name, "dtype": array.dtype.str, "shape": list(array.shape),
             "sha256": hashlib.sha256(data).hexdigest()}
        )  # fmt: skip
    text = json.dumps(document | {"arrays": index}, allow_nan=False, indent=1).encode("utf-8")
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as archive:
        for name, data in [(DOCUMENT, text), *members]:
            archive.writestr(zipfile.ZipInfo(name, FIXED_TIME), data)


def member(i: int) -> str:
    return f"arrays/{i:05d}.npy"


@contextmanager
def atomic_write(path: PathLike) -> Iterator[IO[bytes]]:
    """Yields a temporary file next to ``path`` that replaces it only once fully written.

    The data is flushed and fsync'ed before ``os.replace``; on any exception, including
    KeyboardInterrupt, the temporary file is removed and ``path`` is left as it was. The file
    gets the permissions ``open(path, "wb")`` would give it: those of the file it replaces, or
    for a new file 0o666 less the umask.

    Args:
        path: the file to replace.
    """
    target = Path(os.fspath(path))
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"Cannot save to {str(target)!r}: the folder {str(folder)!r} does not exist.")
    if target.is_dir():
        raise IsADirectoryError(f"Cannot save to {str(target)!r}: it is a folder; give a file name.")
    fd, temp = _temporary_file(target)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    with suppress(OSError):  # make the rename itself durable, where the OS allows it
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _temporary_file(target: Path) -> tuple[int, str]:
    # Not mkstemp, whose files are 0o600: a model saved to a shared folder would be unreadable
    # by the others open() lets read it. Created with 0o666, the kernel applies the umask itself
    # (reading the umask would mean setting it, a race with other threads).
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except FileNotFoundError:
        mode = None
    for _ in range(100):
        temp = os.path.join(target.parent, f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        if mode is not None:
            try:
                os.chmod(temp, mode)
            except BaseException:
                os.close(fd)
                os.unlink(temp)
                raise
        return fd, temp
    raise FileExistsError(f"Could not create a temporary file next to {str(target)!r}.")


class Archive:
    """A zip archive read from bytes, with the checks that keep reading it safe."""

    def __init__(self, data: bytes, where: str) -> None:
        self.size, self.where = len(data), where
        # The end-of-central-directory record must end the file: no comment, nothing appended.
        if len(data) < 22 or data[-22:-18] != b"PK\x05\x06" or data[-2:] != b"\x00\x00":
            raise FormatError(
                f"{where} is not a minidl model file: it is not a zip archive, is truncated, or has "
                f"bytes after its end ({len(data)} bytes)."
            )
        self.zip = self.guard(lambda: zipfile.ZipFile(io.BytesIO(data)), "the zip directory")
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

    def guard(self, action: Callable[[], _T], what: str) -> _T:
        try:
            return action()
        except ZIP_ERRORS as exc:
            if isinstance(exc, MinidlError):
                raise
            raise FormatError(
                f"{self.where} is corrupt: reading {what} failed ({type(exc).__name__}: {exc})."
            ) from exc

    def read(self, name: str) -> bytes:
        return self.guard(lambda: self.zip.read(name), f"member {name!r}")


@contextmanager
def open_archive(path: PathLike) -> Iterator[Archive]:
    target = Path(os.fspath(path))
    if target.is_dir():
        raise IsADirectoryError(f"Cannot load {str(target)!r}: it is a folder, not a minidl model file.")
    if not target.exists():
        raise FileNotFoundError(f"Cannot load {str(target)!r}: no such file.")
    with open(target, "rb") as stream:  # read-only: loading never writes anywhere
        data = stream.read()
    archive = Archive(data, f"The file {str(target)!r}")
    try:
        yield archive
    finally:
        archive.zip.close()


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


def known_keys(mapping: Any, allowed: set[str], where: str, required: set[str] | None = None) -> None:
    if not isinstance(mapping, dict):
        raise FormatError(f"{where} must be a JSON object; received {type(mapping).__name__}.")
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise FormatError(f"Unknown key(s) {unknown} in {where}; known keys: {sorted(allowed)}.")
    missing = sorted((allowed if required is None else required) - set(mapping))
    if missing:
        raise FormatError(f"Missing key(s) {missing} in {where}.")


# ----------------------------------------------------------------------------------- array index
def check_index(archive: Archive, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = document["arrays"]
    if not isinstance(entries, list):
        raise FormatError(f"{archive.where}: 'arrays' must be a list.")
    index: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        known_keys(entry, {"name", "dtype", "shape", "sha256"}, f"array entry {i}")
        name, dtype, shape, digest = entry["name"], entry["dtype"], entry["shape"], entry["sha256"]
        if not isinstance(name, str) or name in index:
            raise FormatError(f"{archive.where}: array entry {i} has a missing or repeated name {name!r}.")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise FormatError(
                f"{archive.where}: array {name!r} has dtype {dtype!r}; minidl files hold only "
                f"{sorted(DTYPES)} (never objects or pickles)."
            )
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 8:
            raise FormatError(f"{archive.where}: array {name!r} has an invalid shape {shape!r}.")
        if not isinstance(digest, str) or not HASH.match(digest):
            raise FormatError(f"{archive.where}: array {name!r} has an invalid sha256 {digest!r}.")
        index[name] = entry | {"member": member(i), "dtype": DTYPES[dtype], "shape": tuple(shape)}
    expected = {DOCUMENT, *(member(i) for i in range(len(entries)))}
    missing, extra = sorted(expected - set(archive.infos)), sorted(set(archive.infos) - expected)
    if missing or extra:
        raise FormatError(
            f"{archive.where} does not match its index: missing members {missing}, extra members {extra}."
        )
    return index


def expect_names(index: dict[str, Any], expected: set[str], prefix: str) -> None:
    present = {name for name in index if name.startswith(prefix)}
    if present != expected:
        raise FormatError(
            f"The file's {prefix.rstrip('/')} arrays do not match the model: missing "
            f"{sorted(expected - present)}, unexpected {sorted(present - expected)}."
        )


def expect_entry(entry: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
    if entry["shape"] != tuple(shape):
        raise FormatError(
            f"{what} has shape {tuple(shape)} in the model, but the file holds shape {entry['shape']}."
        )
    if entry["dtype"] != np.dtype(dtype):
        raise FormatError(
            f"{what} has dtype {np.dtype(dtype)} in the model, but the file holds {entry['dtype']}."
        )


def check_member_sizes(archive: Archive, index: dict[str, dict[str, Any]]) -> None:
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


def read_arrays(
    archive: Archive, index: dict[str, dict[str, Any]], prefix: str, *, finite: bool = True
) -> dict[str, np.ndarray]:
    """Every array whose name starts with ``prefix``, verified; ``finite`` refuses NaN/inf."""
    return {
        name: read_array(archive, name, entry, finite)
        for name, entry in index.items()
        if name.startswith(prefix)
    }


def read_array(archive: Archive, name: str, entry: dict[str, Any], finite: bool) -> np.ndarray:
    raw = archive.read(entry["member"])
    if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
        raise FormatError(
            f"{archive.where}: array {name!r} is corrupt (its SHA-256 does not match the index)."
        )
    offset = check_npy_header(raw, entry, f"{archive.where}: array {name!r}")
    if offset + math.prod(entry["shape"]) * entry["dtype"].itemsize != len(raw):
        raise FormatError(
            f"{archive.where}: array {name!r} holds {len(raw) - offset} bytes of data, not what its "
            "header says."
        )
    # The header is already parsed and the dtype is a plain float, so the data is read as raw
    # numbers: stricter than np.load(allow_pickle=False), and no header text is ever evaluated.
    array = np.frombuffer(raw, dtype=entry["dtype"], offset=offset).reshape(entry["shape"]).copy()
    if finite and not np.isfinite(array).all():
        raise FormatError(f"{archive.where}: array {name!r} contains NaN or infinity.")
    return array


def check_npy_header(raw: bytes, entry: dict[str, Any], where: str) -> int:
    """Parses an npy header without numpy (no eval, no allocation); returns the data offset."""
    if raw[:6] != b"\x93NUMPY" or raw[6:8] not in (b"\x01\x00", b"\x02\x00", b"\x03\x00"):
        raise FormatError(f"{where} is not an npy array.")
    size_format, start = ("<H", 10) if raw[6] == 1 else ("<I", 12)
    if len(raw) < start:
        raise FormatError(f"{where} is a truncated npy array.")
    length: int = struct.unpack(size_format, raw[8:start])[0]
    header = raw[start : start + length].decode("latin-1")
    match = NPY_HEADER.match(header)
    if length > 65536 or match is None:
        raise FormatError(f"{where} has a malformed npy header {header[:80]!r}.")
    shape = tuple(int(n) for n in match["shape"].replace(" ", "").split(",") if n)
    if match["descr"] != entry["dtype"].str or match["fortran"] != "False" or shape != entry["shape"]:
        raise FormatError(
            f"{where}: its npy header says dtype {match['descr']}, shape {shape}, but the index says "
            f"{entry['dtype'].str}, {entry['shape']}."
        )
    return start + length
