"""Configurations are checked whole against one declared schema before anything runs (issue 16,
findings 8 and 10): malformed files end in ``minidl: error:`` and status 2, mutated bundled
configurations either run or are refused cleanly, and whatever the reader accepts can be saved
and loaded again."""

from __future__ import annotations

import copy
import datetime
import inspect
import os
import re
import tempfile
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minidl
from minidl import Dense, Sequential, _schema, cli, config, datasets
from minidl.errors import ConfigError

LECTURE1 = config.bundled_text("lecture1").replace("epochs = 1000", "epochs = 2")
XOR = config.bundled_text("playground-xor").replace("epochs = 1000", "epochs = 2")
NO_PREDICT = LECTURE1.split("[[predict]]")[0]

# The malformed files of issue 16 (finding 10) and issue 17: (name, text, what the message names).
MALFORMED = [
    ("epochs as a string", LECTURE1.replace("epochs = 2", 'epochs = "10"'), r"\[fit\] epochs.*'10' \(a string\)"),
    ("epochs infinite", LECTURE1.replace("epochs = 2", "epochs = inf"), r"\[fit\] epochs.*inf"),
    ("epochs NaN", LECTURE1.replace("epochs = 2", "epochs = nan"), r"\[fit\] epochs.*nan"),
    ("epochs an array", LECTURE1.replace("epochs = 2", "epochs = [3]"), r"\[fit\] epochs.*\[3\]"),
    ("epochs a date", LECTURE1.replace("epochs = 2", "epochs = 1979-05-27"), r"\[fit\] epochs.*a date"),
    ("predict without x", LECTURE1.replace('name = "Emily"\nx = [-7, -3]', 'name = "Emily"'), r"\[\[predict\]\] 0 needs the key 'x'"),
    ("predict with a 2-D x", LECTURE1.replace("x = [-7, -3]", "x = [[-7, -3]]"), r"\[\[predict\]\] 0 x\[0\]"),
    ("predict = 5", "predict = 5\n" + NO_PREDICT, r"\[\[predict\]\] must be an array of tables"),
    ("names = 5", LECTURE1.replace('names = ["Alice", "Bob", "Charlie", "Diana"]', "names = 5"), r"\[data\] names"),
    ("columns = 5", LECTURE1.replace('columns = ["weight-135", "height-66"]', "columns = 5"), r"\[data\] columns"),
    ("a ragged x", LECTURE1.replace("x = [[-2, -1], [25, 6]", "x = [[-2], [25, 6]"), r"\[data\] x.*differ in length"),
    ("x = 5 with test_split", LECTURE1.replace("x = [[-2, -1], [25, 6], [17, 4], [-15, -6]]", "x = 5\ntest_split = 0.5"), r"\[data\] x.*received 5"),
    ("10**12 samples", XOR.replace("samples = 500", "samples = 1000000000000"), r"\[data\] samples.*1,000,000"),
    ("labels as a table", XOR.replace("labels = [-1, 1]", "labels = { negative = -1, positive = 1 }"), r"\[data\] labels"),
    ("labels as a table (spiral)", config.bundled_text("playground-spiral") + "labels = { a = 1 }\n", r"\[data\] labels"),
    ("verbose = 'loud'", LECTURE1.replace("shuffle = false", 'shuffle = false\nverbose = "loud"'), r"\[fit\] verbose must be one of 0, 1, 2"),
    ("a model name that is a number", LECTURE1.replace("seed = 0", "seed = 0\nname = 7"), r"\[model\] name must be a string"),
    ("a layer name that is an array", LECTURE1.replace('in_features = 2\nout_features = 1', 'name = [1]\nin_features = 2\nout_features = 1'), r"layers\[1\] name must be a string"),
    ("100,000 nested arrays", LECTURE1.replace("[model]", "deep = " + "[" * 100_000 + "]" * 100_000 + "\n[model]", 1), "nests arrays or tables too deeply"),
    ("100,000 nested tables", LECTURE1.replace("[model]", "deep = " + "{a=" * 100_000 + "1" + "}" * 100_000 + "\n[model]", 1), "nests arrays or tables too deeply"),
    ("x and y of different lengths", LECTURE1.replace("y = [1, 0, 0, 1]", "y = [1, 0, 0]"), "as many samples; received 4 and 3"),
    ("columns that do not match x", LECTURE1.replace('"height-66"]', '"height-66", "age"]'), "columns names 3 columns; the inputs have 2"),
    ("a predict sample of the wrong length", LECTURE1.replace("x = [-7, -3]", "x = [-7, -3, 1]"), r"\[\[predict\]\] 0 x holds 3 values; a sample has 2"),
    ("an unknown key", LECTURE1.replace("batch_size = 1", "batch_sise = 1"), r"unknown \[fit\] key 'batch_sise'. Did you mean 'batch_size'\?"),
    ("an unknown section", "[trian]\n" + LECTURE1, r"unknown top-level key 'trian'"),
    ("a float seed", LECTURE1.replace("seed = 0", "seed = 1.5"), r"\[model\] seed must be an integer >= 0"),
]  # fmt: skip


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name,text,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_configuration_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(["train", str(path)], capsys)
    assert code == 2, (code, err)
    assert err.startswith("minidl: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert "Epoch" not in out and "training" not in out  # refused before anything ran


def test_a_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(LECTURE1.replace("Lecture 1", "L\xe9cture").encode("latin-1"))
    code, _, err = run_cli(["train", str(path)], capsys)
    assert code == 2 and "is not UTF-8 text" in err


def test_a_file_larger_than_the_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.toml"
    path.write_text(LECTURE1, encoding="utf-8")
    monkeypatch.setattr(config, "MAX_FILE_BYTES", len(LECTURE1) - 1)
    with pytest.raises(ConfigError, match=r"holds [\d,]+ bytes; a configuration may hold at most"):
        config.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_being_read(tmp_path: Path) -> None:
    fifo = tmp_path / "run.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is not a regular file"):  # reading it would block forever
        config.load(fifo)


def test_overrides_are_checked_too() -> None:
    c = config.load("lecture2")
    for arguments, message in [({"epochs": 0}, "epochs must be"), ({"seed": -1}, "seed must be")]:
        with pytest.raises(ConfigError, match=message):
            config.train(c, **arguments)


# ---------------------------------------------------------------------- names (finding 8)
@pytest.mark.parametrize("bad", [7, [1], 1.5, b"name", ("a",)])
def test_a_name_that_is_not_a_string_is_refused_when_set(bad: Any) -> None:
    with pytest.raises(ConfigError, match="model's name must be a string"):
        Sequential([Dense(1, 1)], name=bad)
    model = Sequential([Dense(1, 1)])
    with pytest.raises(ConfigError, match="model's name must be a string"):
        model.name = bad
    with pytest.raises(ConfigError, match="layer's name must be a string"):
        Dense(1, 1, name=bad)
    layer = Dense(1, 1)
    with pytest.raises(ConfigError, match="layer's name must be a string"):
        layer.name = bad
    assert model.name == "sequential" and layer.name is None  # nothing changed


@pytest.mark.parametrize("shape", [(1,) * 9, (2**31,)])
def test_an_input_shape_a_model_file_cannot_hold_is_refused_when_set(shape: tuple[int, ...]) -> None:
    # a model file holds 1 to 8 axes of at most 2**31 - 1: such a model could be saved, never loaded
    with pytest.raises(ConfigError, match="input_shape must be a positive integer or a tuple of 1 to 8"):
        Sequential([minidl.layers.Flatten()], input_shape=shape)  # no weights: nothing large if it regressed
    model = Sequential([minidl.layers.Flatten(), Dense(1)])
    if len(shape) == 9:  # learnt from data: refused the same way, and the model stays unbuilt
        with pytest.raises(ConfigError, match="input_shape must be"):
            model.predict(np.zeros((1, *shape)))
        assert not model.built


def _round_trip(model: Sequential, folder: str) -> Sequential:
    path = Path(folder) / "m.minidl"
    model.save(path)
    loaded = minidl.load(path)
    assert loaded.get_config() == model.get_config()
    for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    return loaded


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    model_name=st.text(max_size=20),
    layer_names=st.lists(st.text(max_size=12), min_size=2, max_size=2, unique=True),
)
def test_any_name_the_reader_accepts_is_saved_and_loaded(model_name: str, layer_names: list[str]) -> None:
    raw = tomllib.loads(LECTURE1)
    raw["model"]["name"] = model_name
    for layer, name in zip(raw["model"]["layers"], layer_names):
        layer["name"] = name
    model = config.TrainingConfig.from_dict(raw).build()
    with tempfile.TemporaryDirectory() as folder:
        loaded = _round_trip(model, folder)
    assert loaded.name == (model_name or "sequential")
    assert [layer.name for layer in loaded.layers] == layer_names


# ---------------------------------------------------------------------- mutations (finding 10)
def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a configuration: each table, array and value, by its keys and indices."""
    places = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            places += _paths(value, (*prefix, key))
    elif isinstance(node, list) and len(node) <= 8:  # inline data: its first rows are enough
        for i, value in enumerate(node):
            places += _paths(value, (*prefix, i))
    return places


VALUES = st.one_of(
    st.integers(-3, 5),
    st.sampled_from([10**12, 2**63 - 1, -(2**63), 0.5, -0.0, float("inf"), float("nan"), 1e308, True, False]),
    st.sampled_from(["", "10", "relu", "rleu", "adam", "xor", "sigmoid", "float32", "loud", "mse"]),
    st.just(datetime.date(1979, 5, 27)),
    st.lists(st.integers(-1, 3), max_size=3),
    st.just([[1, 2], [3]]),
    st.just({"type": "relu"}),
    st.just({"type": "sgd", "learning_rate": 0.1}),
    st.dictionaries(st.sampled_from(["a", "type", "x", "name"]), st.integers(0, 2), max_size=2),
)
# a value of the same type, often valid, so that many mutated configurations run
TWEAKS = st.tuples(
    st.integers(1, 6),
    st.floats(0.05, 0.6),
    st.sampled_from(["relu", "tanh", "sigmoid", "adam", "mse", "xor"]),
)
MUTATIONS = st.one_of(
    st.tuples(st.just("tweak"), TWEAKS),
    st.tuples(st.just("tweak"), TWEAKS),
    st.tuples(st.just("replace"), VALUES),
    st.tuples(st.just("delete"), st.none()),
    st.tuples(
        st.just("add"), st.tuples(st.sampled_from(["extra", "epoch", "units", "type", "name", "x"]), VALUES)
    ),
)
# The digits configurations need scikit-learn and take a second an epoch; the property is the
# same for them, and the slow test below runs them.
FAST = ["lecture1", "lecture2", "playground-spiral", "playground-xor"]


def mutate(raw: dict[str, Any], where: float, mutation: tuple[str, Any]) -> dict[str, Any]:
    places = _paths(raw)[1:]
    path = places[int(where * len(places))]
    parent: Any = raw
    for part in path[:-1]:
        parent = parent[part]
    kind, value = copy.deepcopy(mutation)  # st.just's objects are shared between examples
    if kind == "tweak":
        old = parent[path[-1]]
        kinds = {bool: not old, int: value[0], float: value[1], str: value[2]}
        parent[path[-1]] = kinds.get(type(old), old)
    elif kind == "replace":
        parent[path[-1]] = value
    elif kind == "delete":
        del parent[path[-1]]
    else:
        target = parent[path[-1]]
        if isinstance(target, dict):
            target[value[0]] = value[1]
        else:
            parent[path[-1]] = value[1]
    return raw


def outcome(raw: dict[str, Any], folder: Path) -> None:
    """Runs ``minidl train`` on the file of ``raw`` (one epoch): a run, or a clean error."""
    path, saved = folder / "mutated.toml", folder / "m.minidl"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err), np.errstate(all="ignore"):
        code = cli.main(["train", str(path), "--epochs", "1", "--save", str(saved)])
    if code == 0:  # accepted: the model it saved loads again, with its configuration
        loaded, built = minidl.load(saved), config.load(path).build()
        assert loaded.name == built.name
        assert [(type(a), a.name) for a in loaded.layers] == [(type(b), b.name) for b in built.layers]
        return
    assert code == 2, (code, err.getvalue())
    message = err.getvalue()
    assert message.startswith("minidl: error: ") and message.count("\n") == 1, message


def _check_mutations(names: list[str], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(names))
    raw = tomllib.loads(config.bundled_text(name))
    for _ in range(data.draw(st.integers(1, 2))):
        raw = mutate(raw, data.draw(st.floats(0, 1, exclude_max=True)), data.draw(MUTATIONS))
    with tempfile.TemporaryDirectory() as folder:
        outcome(raw, Path(folder))


def mutation_settings(examples: int) -> Any:
    return settings(
        max_examples=examples, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )  # fmt: skip


@mutation_settings(120)
@given(data=st.data())
def test_a_mutated_bundled_configuration_runs_or_is_refused_cleanly(data: st.DataObject) -> None:
    _check_mutations(FAST, data)


@pytest.mark.slow
@mutation_settings(40)
@given(data=st.data())
def test_a_mutated_digits_configuration_runs_or_is_refused_cleanly(data: st.DataObject) -> None:
    pytest.importorskip("sklearn")
    _check_mutations(["digits", "digits-cnn"], data)


def test_every_bundled_configuration_is_saved_and_loaded(tmp_path: Path) -> None:
    for name in FAST:
        outcome(tomllib.loads(config.bundled_text(name)), tmp_path)


# ---------------------------------------------------------------------- the schema is the code's
def test_the_schema_declares_what_the_code_takes() -> None:
    sections = {s.name: set(s.by_name) for s in _schema.SECTIONS}
    assert sections["model"] == set(Sequential([]).get_config())
    assert sections["compile"] == set(inspect.signature(Sequential.compile).parameters) - {"self"}
    fit = set(inspect.signature(Sequential.fit).parameters)
    assert sections["fit"] <= fit, sections["fit"] - fit
    takes = {arg for name in datasets.GENERATORS for arg in _schema.dataset_takes(name)}
    assert takes == {key.name for key in _schema.DATASET_ARGUMENTS}


def test_an_undeclared_generator_argument_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def with_new_argument(samples: int = 5, *, wobble: float = 0.0) -> Any:
        return datasets.xor(samples)

    monkeypatch.setitem(datasets.GENERATORS, "xor", with_new_argument)
    raw = tomllib.loads(XOR)
    raw["data"] = {"dataset": "xor", "wobble": 3}
    with pytest.raises(ConfigError, match="wobble is not declared"):
        config.TrainingConfig.from_dict(raw)
