"""Property-based tests (hypothesis, derandomized): no input or file makes minidl misbehave.

Loading a mutated valid file may give a valid model or a minidl error, nothing else; fit and
predict on arrays of random shapes and dtypes either work or raise DataError/ShapeError, and
never modify the input nor, on error, the model.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_io_support import (
    PROPERTY_SETTINGS,
    X,
    Y,
    make_model,
    read_archive,
    sha,
    trained_model,
    weights_equal,
    write_archive,
)  # fmt: skip

import minidl
from minidl import DataError, MinidlError, ShapeError


@functools.lru_cache(maxsize=1)
def valid_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.minidl"
        trained_model().save(path)
        return path.read_bytes()


def load_outcome(data: bytes) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.minidl"
        path.write_bytes(data)
        try:
            model = minidl.load(path)
        except MinidlError as exc:
            return exc
        assert path.read_bytes() == data
    assert isinstance(model, minidl.Sequential)
    model.predict(X)  # a model that loads must work, and train or refuse with a minidl error
    if model.optimizer is not None:
        # a mutated learning rate may overflow: the guard's business
        with np.errstate(all="ignore"), contextlib.suppress(MinidlError):
            model.fit(X, Y, epochs=1, batch_size=8)
    return model


mutations = st.one_of(
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4),
    ),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
)


def mutate(data: bytes, mutation: tuple) -> bytes:
    kind, *args = mutation
    out = bytearray(data)
    if kind == "flip":
        for where, mask in args[0]:
            out[int(where * len(out))] ^= mask
    elif kind == "truncate":
        del out[int(args[0] * len(out)) :]
    else:
        at = int(args[0] * len(out))
        out[at:at] = args[1]
    return bytes(out)


@PROPERTY_SETTINGS
@given(mutations)
def test_mutated_bytes_load_as_a_model_or_a_minidl_error(mutation: tuple) -> None:
    data = mutate(valid_bytes(), mutation)
    assume(data != valid_bytes())
    load_outcome(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


@PROPERTY_SETTINGS
@given(st.data(), json_values)
def test_mutated_documents_load_as_a_model_or_a_minidl_error(data: st.DataObject, replacement: Any) -> None:
    # Edits past the zip CRC: any value anywhere in the document, the archive rebuilt intact.
    document, members = read_archive_cached()
    document = copy.deepcopy(document)
    paths = [p for p in _paths(document) if p]
    path = data.draw(st.sampled_from(paths))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "m.minidl"
        write_archive(file, document, members, raw_document=json.dumps(document).encode())
        outcome = load_outcome(file.read_bytes())
    if not isinstance(outcome, MinidlError):
        assert outcome.get_config()["layers"]  # a model that loads has its layers


@functools.lru_cache(maxsize=1)
def _archive() -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.minidl"
        path.write_bytes(valid_bytes())
        return read_archive(path)


def read_archive_cached() -> tuple[dict, dict]:
    return _archive()


dtypes = st.sampled_from(
    ["bool", "int8", "uint8", "int64", "float16", "float32", "float64", "complex128", "U3", "O"]
)


@st.composite
def inputs(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(dtypes))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    if dtype.kind == "O":
        return np.full(shape, "x", dtype=object)
    elements = None
    if dtype.kind == "f":
        elements = st.floats(width=dtype.itemsize * 8, allow_nan=True, allow_infinity=True)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@PROPERTY_SETTINGS
@given(inputs(), inputs())
def test_fit_and_predict_on_random_arrays(x: np.ndarray, y: np.ndarray) -> None:
    model = make_model()
    before, x_copy, y_copy = model.get_weights(), x.copy(), y.copy()
    try:
        model.fit(x, y, epochs=1, batch_size=4)
    except (DataError, ShapeError):
        assert weights_equal(model.get_weights(), before) and model.optimizer.iterations == 0
    else:
        assert x.ndim == 2 and x.shape[1] == 3 and len(x) == len(y) > 0
        assert all(np.isfinite(w).all() for w in model.get_weights())
    try:
        out = model.predict(x)
    except (DataError, ShapeError):
        pass
    else:
        assert out.shape == (len(x), 1) and out.dtype == np.float64
    assert np.array_equal(x, x_copy, equal_nan=x.dtype.kind in "fc") and np.array_equal(
        y, y_copy, equal_nan=y.dtype.kind in "fc"
    )


@PROPERTY_SETTINGS
@given(st.data(), st.binary(max_size=300))
def test_replaced_array_members_load_as_a_model_or_a_minidl_error(data: st.DataObject, prefix: bytes) -> None:
    # Past both the CRC and the SHA-256: a member's bytes replaced and its checksum updated.
    document, members = read_archive_cached()
    document = copy.deepcopy(document)
    i = data.draw(st.integers(0, len(document["arrays"]) - 1))
    original = members[f"arrays/{i:05d}.npy"]
    keep = data.draw(st.integers(0, len(original)))
    raw = original[:keep] + prefix if data.draw(st.booleans()) else prefix + original[keep:]
    members = members | {f"arrays/{i:05d}.npy": raw}
    document["arrays"][i]["sha256"] = sha(raw)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "m.minidl"
        write_archive(file, document, members)
        load_outcome(file.read_bytes())
