"""Shared helpers of the io, checkpoint and robustness tests (this module holds no tests).

Hostile files are built here with zipfile and json directly, independently of minidl.io, so a
test states exactly which bytes the loader receives.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

import minidl

# Property tests: derandomized (the same examples on every run and in CI) and bounded.
PROPERTY_SETTINGS = settings(
    derandomize=os.environ.get("MINIDL_PROPERTY_RANDOM") is None,
    max_examples=int(os.environ.get("MINIDL_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    database=None,
)

X = np.random.default_rng(7).normal(size=(24, 3))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.1


def make_model(*, compiled: bool = True, momentum: float = 0.9, seed: int = 3) -> minidl.Sequential:
    """A small two-layer model, compiled with SGD with momentum (so it has optimizer state)."""
    model = minidl.Sequential([minidl.Dense(3, 4, activation="tanh"), minidl.Dense(4, 1)], seed=seed)
    if compiled:
        model.compile(loss="mse", optimizer=minidl.SGD(learning_rate=0.05, momentum=momentum))
    return model


def trained_model(epochs: int = 2) -> minidl.Sequential:
    model = make_model()
    model.fit(X, Y, epochs=epochs, batch_size=8)
    return model


def saved_file(tmp_path: Path, name: str = "model.minidl") -> Path:
    path = tmp_path / name
    trained_model().save(path)
    return path


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The document and the raw members of a valid file."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    return json.loads(members["minidl.json"]), members


def write_archive(
    path: Path, document: Any, members: dict[str, bytes], *, raw_document: bytes | None = None
) -> None:
    """Writes a zip of ``document`` (or ``raw_document``) and ``members``, as minidl would lay it out."""
    text = raw_document if raw_document is not None else json.dumps(document).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("minidl.json", text)
        for name, data in members.items():
            if name != "minidl.json":
                archive.writestr(name, data)


def unnamed_temporaries_work(folder: Path) -> bool:
    """True if ``folder``'s file system gives unnamed temporary files (Linux O_TMPFILE)."""
    if not hasattr(os, "O_TMPFILE") or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError:
        return False
    return True


@pytest.fixture(params=["unnamed", "named"])
def temporaries(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a save test with each kind of temporary file: unnamed (O_TMPFILE, where the file
    system has it) and named (everywhere else, forced here by switching the unnamed one off)."""
    if request.param == "named":
        monkeypatch.setattr("minidl._archive._unnamed_temporary", lambda folder, mode: None)
    elif not unnamed_temporaries_work(tmp_path):
        pytest.skip("no O_TMPFILE here")
    return str(request.param)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def registered(registry: Any, name: str, cls: type) -> Iterator[type]:
    """Registers ``cls`` for one test only, so tests parametrized over a registry never see it."""
    registry.register(name)(cls)
    try:
        yield cls
    finally:
        registry.unregister(name)


def weights_equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(u.shape == v.shape and np.array_equal(u, v) for u, v in zip(a, b))


# ---------------------------------------------------------------------------- code-execution canary
# An audit hook sees every import, exec/eval/compile, os.system, subprocess and pickle lookup the
# interpreter performs, whatever code path triggers it. Hooks cannot be removed, so it only
# records while a test has switched it on.
# ("compile" is left out: inspect.signature compiles fixed text for builtins; "exec" is what
# running compiled code, eval included, raises.)
_EVENTS = ("import", "exec", "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn",
           "os.spawn", "pickle.find_class", "ctypes.dlopen", "builtins.input")  # fmt: skip
_recorded: list[tuple[str, str]] = []
_active = [False]


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _active[0] and event in _EVENTS:
        _recorded.append((event, repr(args)[:200]))


sys.addaudithook(_hook)


@contextmanager
def canary() -> Iterator[list[tuple[str, str]]]:
    """Records the code-execution events, and the modules newly imported, inside the block."""
    _recorded.clear()
    modules = set(sys.modules)
    _active[0] = True
    try:
        yield _recorded
    finally:
        _active[0] = False
        _recorded.extend(("new module", name) for name in sorted(set(sys.modules) - modules))
