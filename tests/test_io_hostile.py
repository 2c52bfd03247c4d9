"""Hostile and broken model files: each is refused with a specific error, nothing runs or changes.

Every case goes through ``refused``: the load must raise the expected error with the expected
message, leave the file's bytes unchanged, allocate little (tracemalloc), and trigger none of
the events of the code-execution canary (no import, exec, eval, os.system, subprocess, pickle).
"""

from __future__ import annotations

import copy
import os
import pickle
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_io_support import X, Y, canary, make_model, npy, read_archive, saved_file, sha, write_archive

import minidl
from minidl import ConfigError, FormatError, UnknownComponentError
from minidl.io import FORMAT_VERSION
from minidl.registry import iter_registries

HOSTILE_NAMES = ["os.system", "builtins.eval", "subprocess:Popen", "nosuchthing"]


@pytest.fixture()
def valid(tmp_path: Path) -> Path:
    path = saved_file(tmp_path, "valid.minidl")
    minidl.load(path)  # warm-up: whatever minidl imports lazily is imported now, not in the test
    _warm_up_lookups()
    return path


def _warm_up_lookups() -> None:
    # An unknown name makes a registry scan the installed distributions' entry points (which
    # imports parts of the standard library, such as email.parser, through importlib.metadata)
    # and build a "did you mean" suggestion. Both happen once per process: done here, the canary
    # sees only what a hostile file itself could cause, whichever test of this file runs first.
    for registry in iter_registries():
        registry.names()
        with pytest.raises(UnknownComponentError):
            registry.get("no-such-component-warm-up")


def refused(path: Path, error: type[BaseException], match: str, *, max_bytes: int = 2**22) -> BaseException:
    before = path.read_bytes() if path.is_file() else None
    tracemalloc.start()
    try:
        with canary() as events, pytest.raises(error, match=match) as info:
            minidl.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events == [], f"the load triggered {events}"
    assert peak < max_bytes, f"the load allocated {peak} bytes"
    if before is not None:
        assert path.read_bytes() == before
    return info.value


def rewritten(valid: Path, tmp_path: Path, edit: Callable[[dict[str, Any], dict[str, bytes]], Any]) -> Path:
    """A copy of the valid file with its document and members edited (zip CRCs recomputed)."""
    document, members = read_archive(valid)
    document = copy.deepcopy(document)
    edit(document, members)
    path = tmp_path / "hostile.minidl"
    write_archive(path, document, members)
    return path


def entry(document: dict[str, Any], name: str) -> tuple[int, dict[str, Any]]:
    return next((i, e) for i, e in enumerate(document["arrays"]) if e["name"] == name)


def set_member(
    document: dict[str, Any], members: dict[str, bytes], name: str, data: bytes, **fields: Any
) -> None:
    i, e = entry(document, name)
    members[f"arrays/{i:05d}.npy"] = data
    e.update(sha256=sha(data), **fields)


# -------------------------------------------------------------------------------- broken archives
@pytest.mark.parametrize("size", [0, 10, "half"])
def test_truncated_file(valid: Path, tmp_path: Path, size: Any) -> None:
    data = valid.read_bytes()
    path = tmp_path / "cut.minidl"
    path.write_bytes(data[: len(data) // 2 if size == "half" else size])
    refused(path, FormatError, "not a zip archive, is truncated")


def _flip(valid: Path, tmp_path: Path, member: str, offset_in_member: int) -> Path:
    data = bytearray(valid.read_bytes())
    _, members = read_archive(valid)
    at = bytes(data).find(members[member]) + offset_in_member
    data[at] ^= 0x01
    path = tmp_path / "flipped.minidl"
    path.write_bytes(bytes(data))
    return path


def test_flipped_byte_in_weights(valid: Path, tmp_path: Path) -> None:
    refused(
        _flip(valid, tmp_path, "arrays/00000.npy", 130),
        FormatError,
        "corrupt: reading member 'arrays/00000.npy'.*CRC",
    )


def test_flipped_byte_in_config(valid: Path, tmp_path: Path) -> None:
    refused(
        _flip(valid, tmp_path, "minidl.json", 40), FormatError, "corrupt: reading member 'minidl.json'.*CRC"
    )


def test_changed_weights_with_a_valid_crc(valid: Path, tmp_path: Path) -> None:
    # Whoever recomputes the zip CRC still has to match the SHA-256 of the index.
    def edit(document: dict[str, Any], members: dict[str, bytes]) -> None:
        raw = bytearray(members["arrays/00000.npy"])
        raw[-1] ^= 0x01
        members["arrays/00000.npy"] = bytes(raw)

    refused(rewritten(valid, tmp_path, edit), FormatError, r"'weights/0/0' is corrupt \(its SHA-256")


class _Payload:
    def __reduce__(self):  # what a malicious pickle does: call os.system on load
        return (os.system, ("touch pwned",))


def test_raw_pickle(tmp_path: Path, valid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.minidl"
    path.write_bytes(pickle.dumps(_Payload()))
    refused(path, FormatError, "not a minidl model file")
    assert not (tmp_path / "pwned").exists()


def test_pickle_inside_the_archive(valid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    payload = np.array([_Payload()], dtype=object)
    path = rewritten(
        valid, tmp_path, lambda d, m: set_member(d, m, "weights/0/1", npy(payload), dtype="|O", shape=[1])
    )
    refused(path, FormatError, r"dtype '\|O'; minidl files hold only \['<f4', '<f8'\] \(never objects")
    assert not (tmp_path / "pwned").exists()


def test_object_npy_under_a_float_index_entry(
    valid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = npy(np.array([_Payload()] * 4, dtype=object))
    refused(rewritten(valid, tmp_path, lambda d, m: set_member(d, m, "weights/0/1", data)), FormatError,
            r"malformed npy header \"\{'descr': '\|O'")  # fmt: skip
    assert not (tmp_path / "pwned").exists()


def forged_npy(header: str, body: bytes) -> bytes:
    """An npy version 1.0 file with a hand-written header (padded as numpy pads it)."""
    text = header + " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode() + body


# ----------------------------------------------------------------------------- hostile documents
def _layer(document: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return document["model"]["layers"][i]


LOCATIONS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "layer": lambda d, name: _layer(d).update(type=name),
    "activation": lambda d, name: _layer(d).update(activation=name),
    "initializer": lambda d, name: _layer(d).update(weight_init={"type": name}),
    "loss": lambda d, name: d["compile"].update(loss=name),
    "optimizer": lambda d, name: d["compile"].update(optimizer={"type": name, "learning_rate": 0.1}),
    "metric": lambda d, name: d["compile"].update(metrics=["mae", name]),
}


@pytest.mark.parametrize("location", sorted(LOCATIONS))
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_component_names_resolve_only_through_registries(
    valid: Path, tmp_path: Path, location: str, name: str
) -> None:
    path = rewritten(valid, tmp_path, lambda d, m: LOCATIONS[location](d, name))
    refused(path, UnknownComponentError, rf"Unknown \w+ {name!r}\..*Available: ")


def test_unexpected_keys(valid: Path, tmp_path: Path) -> None:
    path = rewritten(valid, tmp_path, lambda d, m: _layer(d).update(__class__="os.system"))
    refused(path, ConfigError, r"Unknown argument\(s\) '__class__' for layer 'dense'")
    path = rewritten(valid, tmp_path, lambda d, m: d.update(__class__="x"))
    refused(path, FormatError, r"Unknown key\(s\) \['__class__'\] in minidl.json")
    path = rewritten(valid, tmp_path, lambda d, m: d["compile"].update(loss={"type": "mse", "__init__": 1}))
    refused(path, ConfigError, r"Unknown argument\(s\) '__init__' for loss 'mse'")


@pytest.mark.parametrize(
    "metrics, error, message",
    [
        ("mae", FormatError, "metrics must be a list; received str"),
        (["mae", "mae"], ConfigError, "The metric name 'mae' is used twice"),
        (
            [{"type": "mae", "__class__": "x"}],
            ConfigError,
            r"Unknown argument\(s\) '__class__' for metric 'mae'",
        ),
        ([{"type": "accuracy", "threshold": "high"}], ConfigError, "threshold"),
    ],
    ids=["not-a-list", "duplicate", "unknown-argument", "bad-value"],
)
def test_bad_metrics(valid: Path, tmp_path: Path, metrics: Any, error: type[Exception], message: str) -> None:
    refused(rewritten(valid, tmp_path, lambda d, m: d["compile"].update(metrics=metrics)), error, message)


def test_too_many_layers_are_refused_before_any_is_built(
    valid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8000 relu layers (a 283 KB file) took 3.2 s to load: each added layer was checked against all before it
    relus = [{"type": "relu", "name": f"relu_{i}"} for i in range(8000)]
    path = rewritten(valid, tmp_path, lambda d, m: d["model"]["layers"].extend(relus))
    built = []
    monkeypatch.setattr(
        minidl.layers, "get", lambda *a, **k: built.append(a) or (_ for _ in ()).throw(AssertionError)
    )
    refused(path, FormatError, r"model has 8002 layers; minidl loads at most minidl.io.MAX_LAYERS = 1024")
    assert built == []


def test_the_layer_limit_is_inclusive(valid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minidl.io, "MAX_LAYERS", 4)
    relus = [{"type": "relu", "name": f"relu_{i}"} for i in range(2)]
    assert (
        len(minidl.load(rewritten(valid, tmp_path, lambda d, m: d["model"]["layers"].extend(relus))).layers)
        == 4
    )
    relus.append({"type": "relu", "name": "relu_2"})
    refused(
        rewritten(valid, tmp_path, lambda d, m: d["model"]["layers"].extend(relus)), FormatError, "5 layers"
    )


def test_absurd_layer_size_is_refused_before_allocation(valid: Path, tmp_path: Path) -> None:
    # The file claims a consistent architecture and index; only its members are small.
    def edit(document: dict[str, Any], members: dict[str, bytes]) -> None:
        _layer(document, 0)["units"] = 10**12
        _layer(document, 1)["in_features"] = 10**12
        entry(document, "weights/0/0")[1]["shape"] = [3, 10**12]
        entry(document, "weights/0/1")[1]["shape"] = [10**12]
        entry(document, "weights/1/0")[1]["shape"] = [10**12, 1]

    refused(rewritten(valid, tmp_path, edit), FormatError, r"declares shape \(3, 1000000000000\).*member holds",
            max_bytes=2**20)  # fmt: skip


def test_absurd_size_in_config_only(valid: Path, tmp_path: Path) -> None:
    path = rewritten(valid, tmp_path, lambda d, m: _layer(d, 0).update(units=10**12))
    refused(
        path,
        FormatError,
        r"shape \(3, 1000000000000\) in the model, but the file holds shape \(3, 4\)",
        max_bytes=2**20,
    )


def test_npy_header_claiming_2_to_the_40_elements(valid: Path, tmp_path: Path) -> None:
    forged = forged_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }", bytes(4 * 8))
    path = rewritten(valid, tmp_path, lambda d, m: set_member(d, m, "weights/0/1", forged))
    refused(path, FormatError, r"npy header says dtype <f8, shape \(1099511627776,\)", max_bytes=2**20)


def test_weight_of_the_wrong_shape(valid: Path, tmp_path: Path) -> None:
    path = rewritten(
        valid, tmp_path, lambda d, m: set_member(d, m, "weights/1/0", npy(np.zeros((5, 1))), shape=[5, 1])
    )
    refused(
        path,
        FormatError,
        r"layer 'dense_1' \(Dense 4 -> 1\) has shape \(4, 1\) in the model, but the file holds shape \(5, 1\)",
    )


def test_missing_extra_and_duplicate_members(valid: Path, tmp_path: Path) -> None:
    refused(rewritten(valid, tmp_path, lambda d, m: m.pop("arrays/00002.npy")), FormatError,
            r"missing members \['arrays/00002.npy'\]")  # fmt: skip
    refused(rewritten(valid, tmp_path, lambda d, m: m.update({"extra.py": b"import os"})), FormatError,
            r"extra members \['extra.py'\]")  # fmt: skip
    document, members = read_archive(valid)
    path = tmp_path / "duplicate.minidl"
    write_archive(path, document, members)
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("arrays/00000.npy", members["arrays/00000.npy"])
    refused(path, FormatError, r"duplicate members \['arrays/00000.npy'\]")


@pytest.mark.parametrize("where", ["after", "before"])
def test_bytes_added_around_the_archive(valid: Path, tmp_path: Path, where: str) -> None:
    path = tmp_path / "padded.minidl"
    data = valid.read_bytes()
    path.write_bytes(data + b"trailing" if where == "after" else b"#!/bin/sh\n" + data)
    refused(path, FormatError, "bytes after its end" if where == "after" else "bytes before its first member")


def test_compressed_member(valid: Path, tmp_path: Path) -> None:
    _document, members = read_archive(valid)
    path = tmp_path / "deflated.minidl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    refused(path, FormatError, "compressed, encrypted or larger than the file")


def test_nan_weights(valid: Path, tmp_path: Path) -> None:
    bad = np.array([0.0, np.nan, 0.0, 0.0])
    refused(rewritten(valid, tmp_path, lambda d, m: set_member(d, m, "weights/0/1", npy(bad))), FormatError,
            r"'weights/0/1' contains NaN or infinity")  # fmt: skip


def test_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        minidl.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        minidl.load(tmp_path / "nope.minidl")
    assert list(tmp_path.iterdir()) == []


def test_loading_from_a_read_only_folder_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = saved_file(folder)
    listing, stamp = sorted(os.listdir(folder)), path.stat().st_mtime_ns
    folder.chmod(0o555)
    try:
        model = minidl.load(path)
        model.load_weights(path)
    finally:
        folder.chmod(0o755)
    assert sorted(os.listdir(folder)) == listing and path.stat().st_mtime_ns == stamp
    assert model.optimizer.iterations == 6


def test_newer_format_version_names_both(valid: Path, tmp_path: Path) -> None:
    path = rewritten(
        valid,
        tmp_path,
        lambda d, m: d.update(format_version=FORMAT_VERSION + 1, minidl_version="9.0", future={}),
    )
    refused(
        path,
        FormatError,
        rf"file format version {FORMAT_VERSION + 1} \(written by minidl '9.0'\); this minidl .* reads format "
        rf"version {FORMAT_VERSION}",
    )


# ---------------------------------------------------------------------------------- strict JSON
def _raw_document(valid: Path, tmp_path: Path, text: bytes) -> Path:
    document, members = read_archive(valid)
    path = tmp_path / "raw.minidl"
    write_archive(path, document, members, raw_document=text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        (b'{"format": NaN}', "contains NaN, which strict JSON does not allow"),
        (b'{"format": -Infinity}', "contains -Infinity"),
        (b'{"format": 1e999}', "out-of-range number 1e999"),
        (b'{"format": 1, "format": 2}', r"repeats the key\(s\) \['format'\]"),
        (b"[" * 10000 + b"]" * 10000, "nests 10000 levels deep; at most 32"),
        (b'{"format": "\xff"}', "is not UTF-8"),
        (b'{"format": ', "is not valid JSON"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"format_version": 1' + b"1" * 5000 + b"}", "is not valid JSON"),
    ],
    ids=["nan", "infinity", "overflow", "duplicate-key", "deep", "utf8", "truncated", "list", "huge-int"],
)
def test_strict_json(valid: Path, tmp_path: Path, text: bytes, message: str) -> None:
    refused(_raw_document(valid, tmp_path, text), FormatError, message)


def test_oversized_document(valid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minidl.io, "MAX_DOCUMENT_BYTES", 100)
    refused(valid, FormatError, r"minidl.json is \d+ bytes, over the 100 limit")


# ------------------------------------------------------------------------------- training state
@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda d, m: d["training"]["random"]["shuffle"]["state"].update(state=2**200),
            "where an unsigned integer",
        ),
        (lambda d, m: d["training"]["random"]["shuffle"].update(bit_generator="MT19937"), "names 'MT19937'"),
        (lambda d, m: d["training"]["random"]["layers"].update(ghost={}), r"Unknown key\(s\) \['ghost'\]"),
        (lambda d, m: d["training"].update(epochs=[1, 0]), "increasing non-negative integers"),
        (
            lambda d, m: d["training"]["optimizer"].update(iterations=-3),
            r"'iterations' is a count, so it must lie in \[0, 2\*\*63\)",
        ),
        (lambda d, m: entry(d, "optimizer/0/velocity")[1].update(name="optimizer/0/speed"), "does not have"),
        (lambda d, m: _layer(d).update(name=["list"]), "string 'type' and 'name'"),
        (lambda d, m: d["model"].update(dtype="object"), "dtype among"),
        (lambda d, m: _layer(d).update(in_features="3"), "in_features must be a positive integer"),
        (lambda d, m: d.update(compile=None), "training arrays but no compile section"),
    ],
    ids=[
        "rng-int",
        "rng-kind",
        "rng-layer",
        "epochs",
        "iterations",
        "slot",
        "layer-name",
        "dtype",
        "string-int",
        "compile",
    ],
)
def test_bad_training_state(valid: Path, tmp_path: Path, edit: Callable[..., Any], message: str) -> None:
    refused(rewritten(valid, tmp_path, edit), minidl.MinidlError, message)


@pytest.fixture()
def adam_file(tmp_path: Path) -> Path:
    """A valid file whose optimizer (Adam) has an integer slot, the step count ``0/t``."""
    model = make_model()
    model.compile(loss="mse", optimizer="adam")
    model.fit(X, Y, epochs=2, batch_size=8)
    path = tmp_path / "adam.minidl"
    model.save(path)
    minidl.load(path)
    _warm_up_lookups()
    return path


@pytest.mark.parametrize(
    "slot, value, message",
    [
        (
            "0/t",
            10**400,
            r"'0/t' is a count, so it must lie in \[0, 2\*\*63\); received an integer of 1329 bits",
        ),
        ("0/t", -1, r"'0/t' is a count, so it must lie in \[0, 2\*\*63\); received -1"),
        ("0/t", 2**63, r"'0/t' is a count.*received 9223372036854775808"),
        ("0/t", 2.5, r"'0/t' must be an integer like 0; received 2.5"),
        ("iterations", 10**400, r"'iterations' is a count.*an integer of 1329 bits"),
    ],
    ids=["t-huge", "t-negative", "t-2**63", "t-real", "iterations-huge"],
)
def test_out_of_range_optimizer_numbers(
    adam_file: Path, tmp_path: Path, slot: str, value: Any, message: str
) -> None:
    # Before the range check these loaded, then fit raised OverflowError (huge t) or wrote NaN
    # weights (t = -1 makes Adam divide by 1 - beta_1**0 = 0).
    path = rewritten(adam_file, tmp_path, lambda d, m: d["training"]["optimizer"].update({slot: value}))
    refused(path, ConfigError, message)


def test_in_range_optimizer_numbers_load_and_train(adam_file: Path, tmp_path: Path) -> None:
    # a count near the largest allowed is a working state: the loaded model trains to finite
    # weights, and stays within the range a file may hold
    path = rewritten(adam_file, tmp_path, lambda d, m: d["training"]["optimizer"].update({"0/t": 2**63 - 4}))
    model = minidl.load(path)
    model.fit(X, Y, epochs=1, batch_size=8)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert model.trainer.optimizer_state()["0/t"] == 2**63 - 1
    model.save(tmp_path / "again.minidl")
    again = minidl.load(tmp_path / "again.minidl")
    assert again.trainer.optimizer_state()["0/t"] == 2**63 - 1


@pytest.mark.parametrize(
    ("value", "fresh", "message"),
    [
        (10**400, 0.5, r"'s' must be a finite number; received an integer of 1329 bits"),  # no OverflowError
        (float("nan"), 0.5, r"'s' must be a finite number; received nan"),
        (np.array([0.0, np.nan]), np.zeros(2), r"'s' must hold finite numbers"),
        (
            np.array([np.inf, 0.0], dtype=np.float32),
            np.zeros(2, dtype=np.float32),
            r"'s' must hold finite numbers",
        ),
    ],
)
def test_non_finite_optimizer_slots_are_refused(value: Any, fresh: Any, message: str) -> None:
    from minidl.optimizers import _checked_slot

    with pytest.raises(ConfigError, match=message):
        _checked_slot("s", value, fresh)


def test_the_canary_and_the_allocation_probe_can_fail(tmp_path: Path) -> None:
    # The checks above are only worth something if they see what they guard against.
    import importlib

    with canary() as events:
        eval("1 + 1")
        importlib.import_module("tabnanny")
    assert ("new module", "tabnanny") in events and any(event == "exec" for event, _ in events)
    tracemalloc.start()
    np.zeros(2**20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak >= 8 * 2**20


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x93NUMPY\x02\x00" + bytes(3) + bytes(32), "malformed npy header|truncated npy"),
        (
            forged_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",), }", b""),
            "malformed",
        ),
        (
            forged_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (4,), }", bytes(32)),
            r"Fortran \(column-major\) order; minidl files hold C-order arrays only",  # not "header vs index"
        ),
        (b"PK\x03\x04" + bytes(40), "is not an npy array"),
    ],
    ids=["v2-short", "huge-digits", "fortran", "not-npy"],
)
def test_malformed_npy_members(valid: Path, tmp_path: Path, raw: bytes, message: str) -> None:
    path = rewritten(valid, tmp_path, lambda d, m: set_member(d, m, "weights/0/1", raw))
    refused(path, FormatError, message)
