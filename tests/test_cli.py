"""The ``minidl`` command: bundled and file configurations, overrides and errors."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl
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


# ---------------------------------------------------------------------- issue 17: the command line
@pytest.mark.slow
def test_ctrl_c_during_training_ends_in_one_line_and_status_130(tmp_path: Path) -> None:
    # 50 epochs of 20,000 one-sample updates: about a second an epoch
    text = config.bundled_text("playground-spiral").replace("epochs = 300", "epochs = 50")
    path = tmp_path / "long.toml"
    path.write_text(
        text.replace("samples = 500", "samples = 20000").replace("batch_size = 16", "batch_size = 1")
    )
    saved = tmp_path / "interrupted.minidl"
    for extra, said in [([], "nothing was saved"), (["--save", str(saved)], f"saved to {saved}")]:
        process = subprocess.Popen(
            [sys.executable, "-m", "minidl", "train", str(path), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:  # training has started once the first epoch is reported
            if line.startswith("Epoch 1/50"):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        match = re.fullmatch(
            rf"minidl: interrupted: training of {re.escape(str(path))} interrupted during "
            r"epoch (\d+) of 50 \((\d+) complete\); (.*)\.\n",
            err,
        )
        assert match and int(match[1]) == int(match[2]) + 1 >= 2, err
        assert said in match[3]
    model = minidl.load(saved)  # the model as trained until Ctrl-C
    assert len(model.history.epochs) >= 1


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--plot", "{tmp}/missing/run.png"], r"folder '.*missing' does not exist"),
        (["--plot", "{tmp}/run.bmpx"], r"give the file one of the suffixes .*\.png"),
        (["--plot", "{tmp}"], "give the file one of the suffixes"),
        (["--save", "{tmp}/missing/model.minidl"], r"folder '.*missing' does not exist"),
        (["--save", "{tmp}"], "it is a folder"),
        (["--epochs", "0"], r"epochs must be an integer >= 1; received 0"),
        (["--seed", "-1"], r"seed must be an integer >= 0; received -1"),
    ],
)
def test_options_are_checked_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    pytest.importorskip("matplotlib")
    code, out, err = run(["train", "playground-xor", *(a.format(tmp=tmp_path) for a in argv)], capsys)
    assert code == 2 and re.search(message, err), err
    assert out == ""  # not one epoch ran, nothing was printed
    assert list(tmp_path.iterdir()) == []


def test_epochs_given_as_a_string_in_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.toml"
    path.write_text(CUSTOM.replace("epochs = 50", 'epochs = "50"'))
    code, out, err = run(["train", str(path)], capsys)
    assert code == 2 and out == ""
    assert err == f"minidl: error: {path}: [fit] epochs must be an integer >= 1; received '50' (a string).\n"


@pytest.mark.parametrize("argv", [["train", "lectur1"], ["configs", "show", "lectur1"]])
def test_a_misspelt_bundled_name_gets_did_you_mean(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2 and "Did you mean 'lecture1'?" in err and "playground-xor" in err


def test_configs_show_prints_the_bundled_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(["configs", "show", "playground-xor"], capsys)
    packaged = Path(config.__file__).parent / "configs" / "playground-xor.toml"
    assert code == 0 and out == packaged.read_text(encoding="utf-8")
    copy = tmp_path / "mine.toml"  # a file to start from: it reads as the bundled one
    copy.write_text(out)
    assert config.load(copy).fit == config.load("playground-xor").fit


def test_train_save_then_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "model.minidl"
    code, out, _ = run(["train", "lecture1", "--save", str(saved)], capsys)
    assert code == 0 and out.endswith(f"saved the model to {saved}\n")
    # the same run in this process: the file holds that model
    expected = config.train(config.load("lecture1"), stream=io.StringIO()).model
    samples = np.array([[-7.0, -3.0], [20.0, 2.0], [0.5, 0.25]])
    want = expected.predict(samples)
    (tmp_path / "in.csv").write_text(
        "weight-135,height-66\n" + "\n".join(f"{a!r},{b!r}" for a, b in samples.tolist()) + "\n"
    )
    np.save(tmp_path / "in.npy", samples)
    for data in ("in.csv", "in.npy"):
        code, out, err = run(["predict", str(saved), str(tmp_path / data)], capsys)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == "output_0" and len(lines) == 4
        np.testing.assert_array_equal(np.array([float(v) for v in lines[1:]]).reshape(-1, 1), want)  # exact
    assert (
        run(["predict", str(saved), str(tmp_path / "in.csv"), "--out", str(tmp_path / "p.npy")], capsys)[0]
        == 0
    )
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), want)
    assert (
        run(["predict", str(saved), str(tmp_path / "in.npy"), "--out", str(tmp_path / "p.csv")], capsys)[0]
        == 0
    )
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1, ndmin=2), want)


@pytest.mark.parametrize(
    "content,message",
    [
        ("1,2,3\n", "has 3 features"),
        ("a,b\n", "holds no samples"),
        ("1,2\n3,x\n", "Could not read the samples"),
        (None, "No data file"),
    ],
)
def test_predict_refuses_bad_data_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    model = config.load("lecture1").build()
    model.save(tmp_path / "m.minidl")
    if content is not None:
        (tmp_path / "in.csv").write_text(content)
    code, out, err = run(["predict", str(tmp_path / "m.minidl"), str(tmp_path / "in.csv")], capsys)
    assert code == 2 and out == "" and err.startswith("minidl: error: ") and message in err, err


def test_predict_reshapes_csv_rows_for_an_image_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = minidl.Sequential([minidl.layers.Flatten(), minidl.Dense(2)], input_shape=(2, 2, 1), seed=0)
    model.save(tmp_path / "m.minidl")
    images = np.arange(8.0).reshape(2, 2, 2, 1)
    np.savetxt(tmp_path / "in.csv", images.reshape(2, -1), delimiter=",")
    code, out, _ = run(["predict", str(tmp_path / "m.minidl"), str(tmp_path / "in.csv")], capsys)
    assert code == 0 and out.splitlines()[0] == "output_0,output_1"
    got = np.array([[float(v) for v in line.split(",")] for line in out.splitlines()[1:]])
    np.testing.assert_array_equal(got, model.predict(images))
