"""The performance paths of the training step compute exactly what the plain expressions do."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import optimizers
from minidl.data import as_inputs
from minidl.errors import DataError
from minidl.parameter import Parameter, pack


@pytest.mark.parametrize("size", [7, 1 << 16, 3 * (1 << 16) + 5])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_update_matches_the_plain_expression(size: int, dtype: str) -> None:
    # the update goes through minidl.optimizers.axpy: numpy's multiply then add, in blocks through
    # a scratch buffer for large arrays; each element is rounded exactly as in the plain expression
    rng = np.random.default_rng(size)
    value, grad = rng.standard_normal(size).astype(dtype), rng.standard_normal(size).astype(dtype)
    p = Parameter(value.copy())
    p.grad[...] = grad
    optimizers.SGD(learning_rate=0.05).step([p])
    step = np.asarray(0.05, dtype) * grad
    # bit for bit: no fused multiply-add (no BLAS), the same two roundings as value - step
    np.testing.assert_array_equal(p.value, value - step)
    np.testing.assert_array_equal(p.grad, grad)  # the gradient is left as it was


def test_pack_keeps_values_and_links_gradients() -> None:
    params = [Parameter(np.arange(6.0).reshape(2, 3)), Parameter(np.array([7.0, 8.0]))]
    flat = pack(params, np.dtype("float64"))
    np.testing.assert_array_equal(flat.value, [0, 1, 2, 3, 4, 5, 7, 8])
    params[1].grad[...] = [1.0, 2.0]
    params[0].value[1, 2] = -1.0
    assert flat.grad.tolist() == [0, 0, 0, 0, 0, 0, 1, 2]
    assert flat.value[5] == -1.0
    assert params[0].grad.shape == (2, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_found(bad: float) -> None:
    x = np.ones((50, 3), dtype=np.float32)
    x[17, 2] = bad
    with pytest.raises(DataError, match=r"index \(17, 2\)"):
        as_inputs(x, np.dtype("float32"), 3)


def test_finite_inputs_whose_sum_overflows_are_accepted() -> None:
    # the quick check sums the data; a sum that overflows must fall back to the exact check
    x = np.full((4, 2), 3e38, dtype=np.float32)
    assert as_inputs(x, np.dtype("float32"), (2,)) is x


def test_per_sample_and_batched_bias_gradients_agree() -> None:
    # a batch of one copies its row into the bias gradient instead of reducing over the batch
    layer = minidl.Dense(3, 2)
    layer.build_for((3,), np.random.default_rng(0), np.dtype("float64"))
    x, g = (
        np.random.default_rng(1).standard_normal((2, 3, 3)),
        np.random.default_rng(2).standard_normal((2, 3, 2)),
    )
    for xb, gb in zip(x, g):
        for row in range(3):
            layer.forward(xb[row : row + 1])
            layer.backward(gb[row : row + 1])
            np.testing.assert_array_equal(layer.b.grad, gb[row])
        layer.forward(xb)
        layer.backward(gb)
        np.testing.assert_allclose(layer.b.grad, gb.sum(axis=0), rtol=1e-15)
