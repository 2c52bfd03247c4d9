"""Saves that do no harm: what a killed save leaves, what a save may replace, and long names.

A killed save is a real process killed by a real signal (SIGTERM, SIGKILL) in the middle of
writing; each test runs with both kinds of temporary file (unnamed ``O_TMPFILE`` where the file
system has it, and the named fallback of other platforms).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_io_support import (
    temporaries,  # noqa: F401 (a fixture)
    trained_model,
    unnamed_temporaries_work,
    weights_equal,
)

import minidl
from minidl import ProtectedFileError
from minidl._archive import STALE_AFTER, TEMPORARY

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, FIFOs and modes")

# Writes a MiB into a save of argv[1], says so, then waits to be killed; argv[2] "named" switches
# the unnamed temporary off, as on a platform without O_TMPFILE.
SAVER = """
import sys, time
import minidl.io
if sys.argv[2] == "named":
    import minidl._archive
    minidl._archive._unnamed_temporary = lambda folder, mode: None
with minidl.io.atomic_write(sys.argv[1]) as stream:
    stream.write(bytes(2**20))
    stream.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def _kinds(tmp_path: Path, kind: str) -> None:
    if kind == "unnamed" and not unnamed_temporaries_work(tmp_path):
        pytest.skip("no O_TMPFILE here")


def _killed_save(target: Path, kind: str, signum: int) -> subprocess.CompletedProcess[bytes]:
    process = subprocess.Popen([sys.executable, "-c", SAVER, str(target), kind], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"writing\n"
        process.send_signal(signum)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return subprocess.CompletedProcess(process.args, process.returncode)


def _others(folder: Path, *keep: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p not in keep)


@pytest.mark.parametrize("kind", ["unnamed", "named"])
def test_sigterm_during_a_save_removes_the_temporary_and_still_terminates(tmp_path: Path, kind: str) -> None:
    _kinds(tmp_path, kind)
    target = tmp_path / "model.minidl"
    target.write_bytes(b"the old model")
    result = _killed_save(target, kind, signal.SIGTERM)
    assert result.returncode == -signal.SIGTERM  # died of the signal, as it would have anyway
    assert target.read_bytes() == b"the old model"
    assert _others(tmp_path, target) == []


def test_sigkill_during_an_unnamed_save_leaves_nothing(tmp_path: Path) -> None:
    _kinds(tmp_path, "unnamed")
    target = tmp_path / "model.minidl"
    target.write_bytes(b"the old model")
    assert _killed_save(target, "unnamed", signal.SIGKILL).returncode == -signal.SIGKILL
    assert target.read_bytes() == b"the old model"
    assert _others(tmp_path, target) == []


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_temporary_of_a_killed_named_save_is_removed_by_a_later_save(tmp_path: Path) -> None:
    target = tmp_path / "model.minidl"
    target.write_bytes(b"the old model")
    assert _killed_save(target, "named", signal.SIGKILL).returncode == -signal.SIGKILL
    left = _others(tmp_path, target)
    assert len(left) == 1 and TEMPORARY.match(left[0]), left  # nothing can run at SIGKILL
    assert (tmp_path / left[0]).stat().st_size == 2**20
    _age(tmp_path / left[0], STALE_AFTER + 1)
    trained_model().save(tmp_path / "another.minidl")  # any save into the folder cleans up
    assert _others(tmp_path, target) == ["another.minidl"]
    assert target.read_bytes() == b"the old model"


@pytest.fixture()
def stale_candidates(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Temporaries a later save must leave alone, and one it must remove."""
    names = {
        "locked": ".minidl-0123456789ab.tmp",  # a live save holds its lock
        "fresh": ".minidl-aaaaaaaaaaaa.tmp",  # may be a save that has not locked it yet
        "stale": ".minidl-bbbbbbbbbbbb.tmp",
        "foreign": ".model.minidl.0123456789ab.tmp",  # not the pattern: never minidl's to remove
        "notes": "notes.tmp",
    }
    paths = {key: tmp_path / name for key, name in names.items()}
    for key, path in paths.items():
        path.write_bytes(b"x")
        if key != "fresh":
            _age(path, STALE_AFTER + 1)
    holder = os.open(paths["locked"], os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        yield paths
    finally:
        os.close(holder)


def test_only_unlocked_old_temporaries_are_removed(tmp_path: Path, stale_candidates: dict[str, Path]) -> None:
    trained_model().save(tmp_path / "m.minidl")
    assert {key for key, path in stale_candidates.items() if path.exists()} == {
        "locked", "fresh", "foreign", "notes"
    }  # fmt: skip


def test_a_named_save_holds_its_temporarys_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # what keeps a concurrent save from removing this one's temporary while it is written
    monkeypatch.setattr("minidl._archive._unnamed_temporary", lambda folder, mode: None)
    locked = []

    def probe(fd: int) -> None:
        for path in tmp_path.iterdir():
            if TEMPORARY.match(path.name):  # a second open of the temporary must find it locked
                other = os.open(path, os.O_RDONLY)
                try:
                    with pytest.raises(BlockingIOError):
                        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked.append(path.name)
                finally:
                    os.close(other)
        original(fd)

    original = os.fsync
    monkeypatch.setattr(os, "fsync", probe)
    trained_model().save(tmp_path / "m.minidl")
    assert len(locked) == 1
    assert _others(tmp_path) == ["m.minidl"]


# ------------------------------------------------------------------------------ what a save replaces
@pytest.mark.usefixtures("temporaries")
def test_a_fifo_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "pipe.minidl"
    os.mkfifo(target)
    with pytest.raises(ProtectedFileError, match=r"it is a FIFO \(named pipe\).*replaces only regular files"):
        trained_model().save(target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode) and _others(tmp_path) == ["pipe.minidl"]


@pytest.mark.usefixtures("temporaries")
def test_a_symlink_to_a_character_device_is_not_replaced(tmp_path: Path) -> None:
    link = tmp_path / "null.minidl"
    link.symlink_to(os.devnull)
    with pytest.raises(ProtectedFileError, match="it is a character device"):
        trained_model().save_weights(link)
    assert os.readlink(link) == os.devnull and _others(tmp_path) == ["null.minidl"]
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


# Run without the capabilities that let root write any file (as open would then refuse too).
PROTECTED = """
import sys
import minidl
path = sys.argv[1]
try:
    open(path, "ab").close()
except PermissionError:
    print("open refuses")
model = minidl.Sequential([minidl.Dense(2, 1)], seed=0)
try:
    model.save(path)
except minidl.ProtectedFileError as error:
    print("save refuses:", error)
"""


def _unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop the right to write any file")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


@pytest.mark.parametrize("kind", ["unnamed", "named"])
def test_a_write_protected_file_is_not_replaced(tmp_path: Path, kind: str) -> None:
    _kinds(tmp_path, kind)
    path = tmp_path / "m.minidl"
    trained_model().save(path)
    path.chmod(0o444)  # the folder still allows a rename: only the file's mode forbids writing
    before = path.read_bytes()
    script = PROTECTED if kind == "unnamed" else SAVER.split("with minidl")[0] + PROTECTED
    command = [*_unprivileged(), sys.executable, "-c", script, str(path), kind]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = [*result.stdout.splitlines(), "", ""]
    assert lines[0] == "open refuses", lines  # the premise: open(path, "wb") would refuse
    assert lines[1].startswith("save refuses:") and "write-protected" in lines[1], lines
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert _others(tmp_path) == ["m.minidl"]


@pytest.mark.usefixtures("temporaries")
def test_a_writable_file_reached_through_a_symlink_is_saved(tmp_path: Path) -> None:
    real = tmp_path / "real.minidl"
    trained_model().save(real)
    (tmp_path / "link.minidl").symlink_to(real)
    model = trained_model(epochs=3)
    model.save(tmp_path / "link.minidl")  # a regular file behind the link: allowed, as before
    assert weights_equal(minidl.load(tmp_path / "link.minidl").get_weights(), model.get_weights())


# ---------------------------------------------------------------------------------------- long names
@pytest.mark.usefixtures("temporaries")
@pytest.mark.parametrize("length", [255, 250])
def test_the_longest_legal_names_can_be_saved_and_replaced(tmp_path: Path, length: int) -> None:
    name = "m" * (length - len(".minidl")) + ".minidl"
    (tmp_path / ("n" * length)).write_bytes(b"")  # the premise: the file system takes this length
    path = tmp_path / name
    trained_model().save(path)  # a new file
    model = trained_model(epochs=3)
    model.save(path)  # and replacing it
    assert weights_equal(minidl.load(path).get_weights(), model.get_weights())
    assert _others(tmp_path) == sorted([name, "n" * length])
