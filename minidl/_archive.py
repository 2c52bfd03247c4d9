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
import signal
import stat
import struct
import threading
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from .errors import ConfigError, FormatError, MinidlError, ProtectedFileError

try:  # POSIX: locks mark the temporaries of live saves
    import fcntl
except ImportError:  # pragma: no cover - Windows, where an open file cannot be removed anyway
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DOCUMENT", "DTYPES", "MAX_DEPTH", "Archive", "archive_bytes", "atomic_write", "check_index", "check_writable",
    "check_member_sizes", "expect_entry", "expect_names", "known_keys", "open_archive", "parse_json",
    "read_arrays", "remove_stale_temporaries", "write_archive",
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


#: The names of the temporary files of saves: short whatever the target's name, so that a
#: temporary's name fits wherever the target's does (255 bytes on most file systems).
TEMPORARY = re.compile(r"^\.minidl-[0-9a-f]{12}\.tmp$")
#: A named temporary is stale (left by a save that was killed) when no process holds its lock
#: and it is at least this many seconds old (the age covers the instant between its creation and
#: its locking).
STALE_AFTER = 60.0


@contextmanager
def atomic_write(path: PathLike) -> Iterator[IO[bytes]]:
    """Yields a temporary file in ``path``'s folder that replaces ``path`` only once fully written.

    The data is flushed and fsync'ed before it takes the target's name; on any exception,
    including KeyboardInterrupt and SIGTERM, the temporary file is removed and ``path`` is left
    as it was. On Linux the temporary is unnamed (``O_TMPFILE``), so even SIGKILL leaves nothing
    behind; elsewhere a named temporary (``.minidl-<12 hex>.tmp``) is used, and saves remove the
    stale ones of killed saves (see ``TEMPORARY``, ``STALE_AFTER``). The file gets the
    permissions ``open(path, "wb")`` would give it: those of the file it replaces, or for a new
    file 0o666 less the umask.

    Args:
        path: the file to write (its folder must exist).

    Raises:
        ProtectedFileError: before anything is written, when ``path`` is not a regular file
            (followed through symlinks) or is write-protected.
        IsADirectoryError: ``path`` is a folder.
        FileNotFoundError: its folder does not exist.
    """
    target = Path(os.fspath(path))
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"Cannot save to {str(target)!r}: the folder {str(folder)!r} does not exist.")
    mode = check_writable(target)
    remove_stale_temporaries(folder)
    with _terminate_cleanly():
        fd, temp = _unnamed_temporary(folder, mode) or _named_temporary(folder, mode)
        try:
            with os.fdopen(fd, "wb") as stream:
                with suppress(OSError):  # a file system without locks: age alone protects it
                    _lock(fd)
                yield stream
                stream.flush()
                os.fsync(fd)
                _place(fd, temp, target)  # while fd is open: an unnamed file is linked through it
        except BaseException:
            if temp is not None:
                with suppress(OSError):
                    os.unlink(temp)
            raise
    with suppress(OSError):  # make the rename itself durable, where the OS allows it
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def check_writable(path: PathLike) -> int | None:
    """Checks, without writing anything, that a save to ``path`` could succeed; returns the
    permission bits of the file it would replace (None when there is none).

    The checks a save would otherwise meet half-way, or with the name of its temporary file in
    the message: the name fits the file system's limit, the nearest existing folder on the way
    is writable (folders that do not exist yet are made by the callers that make them), and an
    existing target is a regular file that ``open(path, "wb")`` could write.

    Args:
        path: the file a save would write.

    Raises:
        ConfigError: the file name is longer than the file system allows.
        ProtectedFileError: the folder is not writable, or the target is not a regular file or
            is write-protected.
        IsADirectoryError: ``path`` is a folder.
    """
    target = Path(os.fspath(path))
    folder = next((p for p in (target.parent, *target.parent.parents) if p.exists()), Path("."))
    limit = None
    with suppress(OSError, ValueError, AttributeError):  # pathconf is POSIX; elsewhere the save will tell
        limit = os.pathconf(folder, "PC_NAME_MAX")
    if limit is not None and len(os.fsencode(target.name)) > limit:
        raise ConfigError(
            f"Cannot save to {str(target)!r}: its name is {len(os.fsencode(target.name))} bytes, "
            f"and this file system allows {limit}; give a shorter name."
        )
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE):
        raise ProtectedFileError(
            f"Cannot save to {str(target)!r}: the folder {str(folder)!r} is not writable; nothing was written."
        )
    return _replaceable(target)


# os.access checks the effective user (as open does) where the platform can
_EFFECTIVE = os.access in os.supports_effective_ids


def _replaceable(target: Path) -> int | None:
    """The permission bits of the file at ``target`` (None if there is none), after checking that
    a save may replace it: a regular file (followed through symlinks) that ``open`` could write."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"Cannot save to {str(target)!r}: it is a folder; give a file name.")
    if not stat.S_ISREG(info.st_mode):
        raise ProtectedFileError(
            f"Cannot save to {str(target)!r}: it is {file_kind(info.st_mode)}, and minidl replaces only "
            "regular files; nothing was written."
        )
    # The kernel's own check, as open(path, "wb") would meet it (mode bits, ACLs, root's rights,
    # a read-only mount), for the effective user, without opening (no event, no truncation).
    if not os.access(target, os.W_OK, effective_ids=_EFFECTIVE):
        raise ProtectedFileError(
            f"Cannot save to {str(target)!r}: it is write-protected (mode {stat.filemode(info.st_mode)}), so "
            "open(path, 'wb') would refuse too; nothing was written. Make it writable to replace it."
        )
    return stat.S_IMODE(info.st_mode) & 0o777


def _unnamed_temporary(folder: Path, mode: int | None) -> tuple[int, str | None] | None:
    # O_TMPFILE: a file without a name, freed by the kernel if the process dies before linking
    # it into place (through /proc/self/fd, which needs no privilege).
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:  # a file system (or kernel) without O_TMPFILE
        return None
    return _with_mode(fd, None, mode), None


def _named_temporary(folder: Path, mode: int | None) -> tuple[int, str | None]:
    # Not mkstemp, whose files are 0o600: a model saved to a shared folder would be unreadable
    # by the others open() lets read it. Created with 0o666, the kernel applies the umask itself
    # (reading the umask would mean setting it, a race with other threads).
    for _ in range(100):
        temp = os.path.join(folder, f".minidl-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return _with_mode(fd, temp, mode), temp
    raise FileExistsError(f"Could not create a temporary file in {str(folder)!r}.")


def _with_mode(fd: int, temp: str | None, mode: int | None) -> int:
    if mode is not None:
        try:
            if temp is None or os.chmod in os.supports_fd:
                os.chmod(fd, mode)
            else:
                os.chmod(temp, mode)
        except BaseException:
            os.close(fd)
            if temp is not None:
                os.unlink(temp)
            raise
    return fd


def _lock(fd: int) -> None:
    # Held until the file is closed (or its process dies): tells remove_stale_temporaries that
    # this temporary belongs to a live save.
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _place(fd: int, temp: str | None, target: Path) -> None:
    """Gives the written file ``target``'s name atomically: ``target`` is always the old file or the new."""
    if temp is not None:
        os.replace(temp, target)
        return
    # Unnamed: linked as the target if there is none, else under a temporary name then renamed
    # (link cannot replace). linkat must follow /proc/self/fd/N to the file, which os.link asks
    # for only with a directory fd.
    proc = os.open("/proc/self/fd", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        with suppress(FileExistsError):
            os.link(str(fd), target, src_dir_fd=proc, follow_symlinks=True)
            return
        for _ in range(100):
            temp = os.path.join(target.parent, f".minidl-{secrets.token_hex(6)}.tmp")
            with suppress(FileExistsError):
                os.link(str(fd), temp, src_dir_fd=proc, follow_symlinks=True)
                break
        else:
            raise FileExistsError(f"Could not create a temporary file next to {str(target)!r}.")
    finally:
        os.close(proc)
    try:
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def remove_stale_temporaries(folder: PathLike) -> list[str]:
    """Removes the temporaries that killed saves left in ``folder``; returns their names.

    A temporary (a name matching ``TEMPORARY``) is removed only when no process holds its
    lock (every save holds its temporary's lock until it is renamed or removed) and it is at
    least ``STALE_AFTER`` seconds old. Every save calls it for its target's folder.

    Args:
        folder: the folder to clean.

    Returns:
        The names of the files removed.
    """
    removed = []
    with suppress(OSError), os.scandir(folder) as entries:
        names = [entry.name for entry in entries if TEMPORARY.match(entry.name)]
        for name in names:
            with suppress(OSError):  # gone meanwhile, locked (a live save), or not ours to remove
                if _remove_if_stale(os.path.join(folder, name)):
                    removed.append(name)
    return removed


def _remove_if_stale(path: str) -> bool:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < STALE_AFTER:
            return False
        _lock(fd)  # BlockingIOError while a live save holds it
        os.unlink(path)
        return True
    finally:
        os.close(fd)


class _Terminated(BaseException):
    """SIGTERM arrived during a save (raised so that the temporary file is removed)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated


@contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """While the block runs, SIGTERM raises (so cleanup runs), then ends the process as SIGTERM would.

    Only the default disposition, in the main thread, is replaced: a handler of the program's
    own is left alone, and other threads cannot set handlers.
    """
    if (
        not hasattr(signal, "SIGTERM")
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # the temporary is gone: terminate as asked
        raise SystemExit(128 + signal.SIGTERM) from None  # where the signal is not delivered at once
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: Bytes one central-directory entry may take: 46 fixed, then name, extra field and comment
#: (minidl writes names of at most 16 bytes and extra fields of at most 28).
DIRECTORY_ENTRY_BYTES = 512
_EOCD, _ZIP64_LOCATOR, _ZIP64_EOCD = 22, 20, 56  # sizes of the zip end records


class Archive:
    """A zip archive read from a seekable binary stream, with the checks that keep reading it safe.

    Only the end records, the central directory and the members asked for are ever read, so the
    cost of refusing a file does not grow with its size. ``max_members`` bounds the member count,
    and with it the central directory, before zipfile parses it.
    """

    def __init__(self, stream: IO[bytes], size: int, where: str, max_members: int) -> None:
        self.size, self.where = size, where
        # The end-of-central-directory record must end the file: no comment, nothing appended.
        stream.seek(max(size - _EOCD, 0))
        end = stream.read(_EOCD)
        if size < _EOCD or end[:4] != b"PK\x05\x06" or end[-2:] != b"\x00\x00":
            raise FormatError(
                f"{where} is not a minidl model file: it is not a zip archive, is truncated, or has "
                f"bytes after its end ({size} bytes)."
            )
        count, directory = self._declared_directory(stream, end)
        if count > max_members or directory > max_members * DIRECTORY_ENTRY_BYTES:
            raise FormatError(
                f"{where} declares {count} members in a {directory}-byte zip directory; a minidl model "
                f"file has at most {max_members} members (minidl.io.MAX_MEMBERS)."
            )
        self.zip = self.guard(lambda: zipfile.ZipFile(stream), "the zip directory")
        infos = self.zip.infolist()
        if len(infos) > max_members:  # the declared count may lie; the directory's bytes may not
            raise FormatError(
                f"{where} holds {len(infos)} members; a minidl model file has at most {max_members}."
            )
        duplicates = [name for name, n in Counter(info.filename for info in infos).items() if n > 1]
        if duplicates:
            raise FormatError(f"{where} holds duplicate members {few(duplicates)}.")
        if not infos or infos[0].header_offset != 0:
            raise FormatError(f"{where} has bytes before its first member or no member at all.")
        for info in infos:
            stored = info.compress_type == zipfile.ZIP_STORED and info.compress_size == info.file_size
            if not stored or info.flag_bits & 1 or info.file_size > self.size:
                raise FormatError(
                    f"{where}: member {info.filename[:80]!r} is compressed, encrypted or larger than "
                    "the file; minidl writes stored members only."
                )
        self.infos = {info.filename: info for info in infos}

    def _declared_directory(self, stream: IO[bytes], end: bytes) -> tuple[int, int]:
        """The member count and directory size zipfile will use: the zip64 record's, if one
        precedes the end record (zipfile then ignores the end record's), else the end record's."""
        count, directory = struct.unpack("<HI", end[10:16])
        if self.size < _EOCD + _ZIP64_LOCATOR + _ZIP64_EOCD:
            return count, directory
        stream.seek(self.size - _EOCD - _ZIP64_LOCATOR - _ZIP64_EOCD)
        record = stream.read(_ZIP64_EOCD + _ZIP64_LOCATOR)
        locator = record[_ZIP64_EOCD:]
        if locator[:4] != b"PK\x06\x07":
            return count, directory
        at = struct.unpack("<Q", locator[8:16])[0]
        if record[:4] != b"PK\x06\x06" or at != self.size - _EOCD - _ZIP64_LOCATOR - _ZIP64_EOCD:
            raise FormatError(f"{self.where} has a zip64 end record minidl does not write (misplaced).")
        count64, directory64 = struct.unpack("<QQ", record[32:48])
        return max(count, count64), max(directory, directory64)

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


def few(names: Iterable[str], shown: int = 5) -> str:
    """``names`` for a message: the first ``shown`` (each cut to 80 characters), then a count."""
    items = list(names)
    text = ", ".join(repr(name[:80]) for name in items[:shown])
    return f"[{text}]" if len(items) <= shown else f"[{text}, ...] ({len(items)} in all)"


#: File types that are not regular files, by what a message calls them.
_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))  # fmt: skip


def file_kind(mode: int) -> str:
    """What a non-regular file of ``st_mode`` ``mode`` is, in words."""
    return next((name for test, name in _SPECIAL if test(mode)), "not a regular file")


@contextmanager
def open_archive(path: PathLike, *, max_bytes: int, max_members: int) -> Iterator[Archive]:
    """The archive at ``path``, refused before any content is read unless it is a regular file
    of at most ``max_bytes`` bytes (a FIFO would block, ``/dev/zero`` would never end).

    Args:
        path: the model file.
        max_bytes: the largest file size accepted.
        max_members: the most zip members accepted.
    """
    target = Path(os.fspath(path))
    if target.is_dir():
        raise IsADirectoryError(f"Cannot load {str(target)!r}: it is a folder, not a minidl model file.")
    if not target.exists():
        raise FileNotFoundError(f"Cannot load {str(target)!r}: no such file.")
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then judges what was opened
    # (not what the path named a moment before).
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    )
    fd = os.open(target, flags)  # read-only: loading never writes anywhere
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FormatError(
                f"Cannot load {str(target)!r}: it is {file_kind(info.st_mode)}, not a regular file; "
                "minidl reads model files only from regular files."
            )
        if info.st_size > max_bytes:
            raise FormatError(
                f"The file {str(target)!r} is {info.st_size} bytes, over the {max_bytes}-byte limit of a "
                "model file (minidl.io.MAX_FILE_BYTES)."
            )
        archive = Archive(stream, info.st_size, f"The file {str(target)!r}", max_members)
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
        mapping = dict(items)
        if len(mapping) != len(items):  # one count per key: linear in the object's size
            repeated = [key for key, n in Counter(key for key, _ in items).items() if n > 1]
            raise FormatError(f"{where} repeats the key(s) {few(repeated)}.")
        return mapping

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
        raise FormatError(
            f"Unknown key(s) {few(unknown)} in {where}; known keys: {few(sorted(allowed), 20)}."
        )
    missing = sorted((allowed if required is None else required) - set(mapping))
    if missing:
        raise FormatError(f"Missing key(s) {few(missing)} in {where}.")


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
            f"{archive.where} does not match its index: missing members {few(missing)}, extra members "
            f"{few(extra)}."
        )
    return index


def expect_names(index: dict[str, Any], expected: set[str], prefix: str) -> None:
    present = {name for name in index if name.startswith(prefix)}
    if present != expected:
        raise FormatError(
            f"The file's {prefix.rstrip('/')} arrays do not match the model: missing "
            f"{few(sorted(expected - present))}, unexpected {few(sorted(present - expected))}."
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
    if match["fortran"] != "False":
        raise FormatError(
            f"{where} is stored in Fortran (column-major) order; minidl files hold C-order arrays only."
        )
    if match["descr"] != entry["dtype"].str or shape != entry["shape"]:
        raise FormatError(
            f"{where}: its npy header says dtype {match['descr']}, shape {shape}, but the index says "
            f"{entry['dtype'].str}, {entry['shape']}."
        )
    return start + length
