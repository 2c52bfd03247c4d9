"""The ``minidl`` command: bundled and file configurations, overrides and errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl.registry
from minidl import cli, config

CUSTOM = """
description = "a tiny custom run"
[model]
seed = 3
[[model.layers]]
type = "dense"
in_features = 1
out_features = 1
[compile]
loss = "mse"
optimizer = { type = "sgd", learning_rate = 0.1 }
[fit]
epochs = 50
batch_size = 4
shuffle = true
[data]
x = [[0.0], [1.0], [2.0], [3.0]]
y = [1.0, 3.0, 5.0, 7.0]
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def prediction(out: str, name: str) -> float:
    line = next(line for line in out.splitlines() if line.strip().startswith(name))
    return float(line.split()[-1])


def test_train_lecture1_prints_progress_and_predictions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["train", "lecture1", "--seed", "2"], capsys)
    assert code == 0
    epochs = re.findall(r"^Epoch (\d+)/1000 - ", out, re.MULTILINE)
    assert epochs == [str(100 * k) for k in range(1, 11)]  # every 10% of the epochs
    assert prediction(out, "Emily") > 0.5 > prediction(out, "Frank")
    for name, label in [("Alice", 1), ("Bob", 0), ("Charlie", 0), ("Diana", 1)]:
        assert abs(prediction(out, name) - label) < 0.1


def test_train_lecture2_reaches_its_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["train", "lecture2"], capsys)
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("#")]
    assert len(rows) == 4
    assert all(abs(float(r[-1]) - float(r[-2])) < 0.1 for r in rows)


def test_epochs_override_and_file_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "line.toml"
    path.write_text(CUSTOM)
    code, out, _ = run(["train", str(path), "--epochs", "20"], capsys)
    assert code == 0
    assert "Epoch 20/20 - " in out and "a tiny custom run" in out
    model = config.load(path).build()
    assert model.seed == 3 and model.get_weights()[0].shape == (1, 1)


@pytest.mark.parametrize(
    "text,message",
    [
        ("[model]\n[compile]\n[data]\nx=[[1]]\ny=[1]\n[fit]\nepoch=3\n", r"unknown \[fit\] key 'epoch'"),
        ("[model\n", "not valid TOML"),
        (CUSTOM.replace('loss = "mse"', 'loss = "mse2"'), "Unknown loss 'mse2'"),
    ],
)
def test_bad_config_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run(["train", str(path)], capsys)
    assert code == 2
    assert re.search(message, err), err


def test_unknown_config_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["train", "lecture9"], capsys)
    assert code == 2 and "lecture1" in err and "lecture2" in err


def test_configs_lists_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["configs"], capsys)
    assert code == 0 and "lecture1" in out and "Lecture 2" in out


def test_python_dash_m_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "minidl", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("minidl ")


def test_config_arrays_match_the_lecture_table() -> None:
    x, y = config.load("lecture1").arrays()
    np.testing.assert_array_equal(x, [[-2, -1], [25, 6], [17, 4], [-15, -6]])
    np.testing.assert_array_equal(y, [1, 0, 0, 1])


@pytest.mark.parametrize("argv", [["train", "lecture1"], ["plugins"], ["configs"]])
def test_a_reader_that_went_away_ends_the_command_quietly(argv: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte: every write meets a broken pipe
    try:
        done = subprocess.run(
            [sys.executable, "-m", "minidl", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.stderr == "", done.stderr  # no BrokenPipeError traceback, no "Exception ignored"
    assert done.returncode == cli.BROKEN_PIPE_STATUS == 141


def test_piping_into_head_shows_the_first_lines_only() -> None:
    command = f"{sys.executable} -m minidl train lecture1 | head -3"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert len(done.stdout.splitlines()) == 3 and done.stdout.startswith("Lecture 1")


def test_plugins_says_when_discovery_is_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with monkeypatch.context() as env:
        env.setenv("MINIDL_DISABLE_PLUGINS", "1")
        minidl.registry.refresh()
        code, out, _ = run(["plugins"], capsys)
    minidl.registry.refresh()
    assert code == 0
    assert out.splitlines()[0] == (
        "Plugin discovery is off (MINIDL_DISABLE_PLUGINS=1): only built-in and in-process components are listed."
    )
    assert " relu " in out
    try:
        monkeypatch.delenv("MINIDL_DISABLE_PLUGINS", raising=False)
        minidl.registry.refresh()
        code, out, _ = run(["plugins"], capsys)
        assert "discovery is off" not in out
    finally:  # leave the registries as the environment of the run says
        monkeypatch.undo()
        minidl.registry.refresh()
