"""What loading a file may cost: member count, duplicate checks, what is read, and from what.

The cost of refusing a file must grow with the file, never faster: the timing tests compare two
file sizes (a ratio, never an absolute time). Special files (a FIFO, ``/dev/zero``) are loaded
in a child process with a time limit and a memory limit, so a regression fails instead of
hanging or exhausting the machine.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_io_support import read_archive, saved_file, write_archive

import minidl
from minidl import FormatError, ShapeError


def _zip(path: Path, names: list[str]) -> Path:
    """A stored zip of ``minidl.json`` and an empty member per name (duplicates allowed)."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        warnings.simplefilter("ignore")  # zipfile warns about each duplicate name
        archive.writestr("minidl.json", b"{}")
        for name in names:
            archive.writestr(name, b"")
    return path


def _fastest_refusal(path: Path, match: str, repeats: int = 5) -> float:
    """The shortest of ``repeats`` refusals, with the garbage collector off (its passes over every
    object of the test process, not minidl's work, would otherwise dominate the noise)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            with pytest.raises(FormatError, match=match):
                minidl.load(path)
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


def _members(n: int) -> list[str]:
    return [f"arrays/{i:05d}.npy" for i in range(n)]


# ---------------------------------------------------------------------------------- member count
def test_duplicate_members_are_found_in_linear_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minidl.io, "MAX_MEMBERS", 10**6)  # past the cap, to time the check itself
    seconds = {
        n: _fastest_refusal(_zip(tmp_path / f"{n}.minidl", [*_members(n), "arrays/00000.npy"]), "duplicate")
        for n in (3000, 12000)
    }
    assert seconds[12000] / seconds[3000] < 8, seconds  # 4 times the members: linear 4, quadratic 16


def test_a_duplicate_message_names_a_few_and_counts_the_rest(tmp_path: Path) -> None:
    path = _zip(tmp_path / "twice.minidl", _members(2000) * 2)
    with pytest.raises(
        FormatError, match=r"duplicate members \['arrays/00000.npy', .*, \.\.\.\] \(2000 in all\)"
    ) as info:
        minidl.load(path)
    assert len(str(info.value)) < 400


def test_more_members_than_a_model_file_has_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(minidl.io, "MAX_MEMBERS", 50)
    _zip(tmp_path / "at.minidl", _members(49))  # 50 with the document: not refused for its count
    with pytest.raises(FormatError) as info:
        minidl.load(tmp_path / "at.minidl")
    assert "members; a minidl model file has at most" not in str(info.value)
    path = _zip(tmp_path / "over.minidl", _members(50))
    with pytest.raises(
        FormatError, match=r"declares 51 members .* at most 50 members \(minidl.io.MAX_MEMBERS\)"
    ):
        minidl.load(path)
    # an end record that understates the count: zipfile reads the directory, which cannot lie
    data = bytearray(path.read_bytes())
    data[-22 + 8 : -22 + 12] = (1).to_bytes(2, "little") * 2
    (tmp_path / "lying.minidl").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="holds 51 members; a minidl model file has at most 50"):
        minidl.load(tmp_path / "lying.minidl")


def test_a_directory_larger_than_the_cap_allows_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = _zip(tmp_path / "m.minidl", _members(3))
    data = bytearray(path.read_bytes())
    data[-22 + 12 : -22 + 16] = (2**31).to_bytes(4, "little")  # a 2 GiB central directory
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"in a 2147483648-byte zip directory"):
        minidl.load(path)


def test_the_member_cap_holds_the_largest_model_a_file_may_describe() -> None:
    # the document, and per layer (at most MAX_LAYERS) a weight, a bias and two optimizer slots each
    assert minidl.io.MAX_MEMBERS >= 1 + minidl.io.MAX_LAYERS * 2 * 3


# -------------------------------------------------------------------------------- duplicate keys
def _document_with_keys(valid: Path, tmp_path: Path, n: int, repeated: int = 1) -> Path:
    keys = [f'"key{i}": 0' for i in range(n)] + [f'"key{i}": 1' for i in range(repeated)]
    document, members = read_archive(valid)
    path = tmp_path / f"keys{n}-{repeated}.minidl"
    write_archive(path, document, members, raw_document=("{" + ", ".join(keys) + "}").encode())
    return path


def test_repeated_json_keys_are_found_in_linear_time(tmp_path: Path) -> None:
    valid = saved_file(tmp_path)
    seconds = {
        n: _fastest_refusal(_document_with_keys(valid, tmp_path, n), r"repeats the key\(s\) \['key0'\]", 5)
        for n in (4000, 16000)
    }
    assert seconds[16000] / seconds[4000] < 8, seconds  # 4 times the keys: linear 4, quadratic 16


def test_a_repeated_key_message_names_a_few_and_counts_the_rest(tmp_path: Path) -> None:
    path = _document_with_keys(saved_file(tmp_path), tmp_path, 5000, repeated=5000)
    with pytest.raises(
        FormatError, match=r"repeats the key\(s\) \['key0', .*, \.\.\.\] \(5000 in all\)"
    ) as info:
        minidl.load(path)
    assert len(str(info.value)) < 400


def test_a_message_about_unknown_keys_stays_short(tmp_path: Path) -> None:
    valid = saved_file(tmp_path)
    document, members = read_archive(valid)
    document.update({f"extra{i:05d}": 0 for i in range(10000)})
    write_archive(valid, document, members)
    with pytest.raises(
        FormatError, match=r"Unknown key\(s\) \['extra00000', .*, \.\.\.\] \(10000 in all\)"
    ) as info:
        minidl.load(valid)
    assert len(str(info.value)) < 600


# ------------------------------------------------------------------------------ what is read, from what
LOADER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2**32, 2**32))  # a read without end fails, not the machine
import minidl
try:
    minidl.load(sys.argv[1])
except minidl.FormatError as error:
    print("FormatError:", error)
"""


def _load_in_a_child(path: str) -> str:
    environment = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", LOADER, path], capture_output=True, text=True, timeout=60, env=environment
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path} did not return within 60 s")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.minidl")
    assert "it is a FIFO (named pipe), not a regular file" in _load_in_a_child(str(tmp_path / "pipe.minidl"))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_device_is_refused_before_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "zero.minidl").symlink_to("/dev/zero")
    assert "it is a character device, not a regular file" in _load_in_a_child(str(tmp_path / "zero.minidl"))


def test_a_large_file_is_judged_by_its_end_not_read_whole(tmp_path: Path) -> None:
    peaks = []
    for size in (2**26, 2**28):  # sparse: 64 MiB and 256 MiB of nothing
        path = tmp_path / f"{size}.minidl"
        with open(path, "wb") as stream:
            stream.truncate(size)
        tracemalloc.start()
        try:
            with pytest.raises(FormatError, match=rf"not a minidl model file.*\({size} bytes\)"):
                minidl.load(path)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        path.unlink()
    assert max(peaks) < 2**20, peaks


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_file(tmp_path)
    monkeypatch.setattr(minidl.io, "MAX_FILE_BYTES", 1000)
    with pytest.raises(FormatError, match=rf"is {path.stat().st_size} bytes, over the 1000-byte limit"):
        minidl.load(path)
    with pytest.raises(FormatError, match="over the 1000-byte limit"):
        minidl.io.from_bytes(path.read_bytes(), minidl.Sequential)


# ------------------------------------------------------------------------------------ set_weights
def test_set_weights_of_a_generator_is_a_clear_error() -> None:
    model = minidl.Sequential([minidl.Dense(2, 3), minidl.Dense(3, 1)], seed=0)
    before = model.get_weights()
    with pytest.raises(ShapeError, match=r"needs a list of 4 arrays .* received generator .*list\(\.\.\.\)"):
        model.set_weights(w for w in before)
    with pytest.raises(ShapeError, match="received str"):
        model.set_weights("abcd")
    model.set_weights(tuple(np.zeros_like(w) for w in before))  # any sequence still works
    assert all(not w.any() for w in model.get_weights())
