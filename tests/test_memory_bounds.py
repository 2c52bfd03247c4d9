"""Extra memory on error and inference paths is a batch's worth, never the data set's.

Each test measures the peak of numpy's allocations (tracemalloc) at two input sizes: the peak
may not grow with the input beyond what the result itself needs.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import minidl
from minidl import DataError
from minidl.data import batch_slices
from minidl.model import PREDICT_VALUES


def _peak(action: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refused(model: minidl.Sequential, x: np.ndarray) -> None:
    with pytest.raises(DataError, match=r"contains NaN or infinity \(first at index \(0, 0\), value nan\)"):
        model.predict(x)


def test_finding_the_first_nan_does_not_grow_with_the_data() -> None:
    model = minidl.Sequential([minidl.Dense(4, 1)], seed=0)
    inputs = {rows: np.full((rows, 4), np.nan) for rows in (2**19, 2**21)}
    peaks = {rows: _peak(lambda x=x: _refused(model, x)) for rows, x in inputs.items()}
    # all NaN, 16 MiB then 64 MiB: an index per NaN would be 16 bytes per value
    assert peaks[2**21] < 1.25 * peaks[2**19] + 2**16, peaks
    assert peaks[2**21] < 2**22, peaks


def test_the_first_nan_of_a_strided_array_is_found_and_named() -> None:
    model = minidl.Sequential([minidl.Dense(3, 1)], seed=0)
    x = np.ones((9, 7), order="F")[:, ::2][:, :3]
    x[6, 2] = np.inf
    with pytest.raises(DataError, match=r"first at index \(6, 2\), value inf"):
        model.predict(x)


def _wide_model() -> minidl.Sequential:
    model = minidl.Sequential([minidl.Dense(4, 1024, activation="tanh"), minidl.Dense(1024, 1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    return model


@pytest.mark.parametrize("how", ["predict", "evaluate"])
def test_predict_and_evaluate_run_in_bounded_batches_by_default(how: str) -> None:
    model = _wide_model()
    rng = np.random.default_rng(0)
    data = {rows: (rng.normal(size=(rows, 4)), rng.normal(size=(rows, 1))) for rows in (2**13, 2**15)}
    call = {"predict": lambda x, y: model.predict(x), "evaluate": lambda x, y: model.evaluate(x, y)}[how]
    peaks = {rows: _peak(lambda xy=xy: call(*xy)) for rows, xy in data.items()}
    # whole at once, the 1024-wide activations would take 64 MiB then 256 MiB
    batch = PREDICT_VALUES * 8  # one layer's output for one default batch, float64
    assert peaks[2**15] < 1.25 * peaks[2**13] + 2**15 * 8 * 4, peaks  # the output itself may grow
    assert peaks[2**15] < 4 * batch, peaks


def test_batched_predictions_are_those_of_one_pass() -> None:
    model = _wide_model()
    x = np.random.default_rng(1).normal(size=(3000, 4))
    whole = model.predict(x, batch_size=len(x))
    np.testing.assert_allclose(model.predict(x), whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.predict(x, batch_size=7), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("samples, itemsize", [(200, 1), (60_000, 2), (70_000, 4)])
def test_the_shuffle_index_takes_the_smallest_type_that_holds_it(samples: int, itemsize: int) -> None:
    batches = batch_slices(samples, 32, np.random.default_rng(5))
    peak = _peak(lambda: next(batches))
    assert peak < samples * itemsize + 4096, peak  # permutation's int64 would be 8 bytes a sample
    rest = np.concatenate([np.asarray(b) for b in batches])
    assert rest.dtype.itemsize == itemsize
    # the very order rng.permutation gives (so saved checkpoints resume bit-identically)
    expected = np.random.default_rng(5).permutation(samples)
    np.testing.assert_array_equal(rest, expected[32:])
