"""Conv2D and Conv1D: against a naive loop implementation, PyTorch and finite differences; dtypes,
chunking, training, files and hostile configurations."""

from __future__ import annotations

import math
import re
import tomllib
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_io_hostile import entry, refused, rewritten
from test_io_support import read_archive

import minidl
from minidl import ConfigError, Conv1D, Conv2D, FormatError, Sequential, ShapeError, testing
from minidl.config import TrainingConfig
from minidl.layers import conv as conv_module


# --------------------------------------------------------------------------- a naive reference
def keras_pads(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """Zeros before and after one axis, as Keras/TensorFlow pad (written out again, independently)."""
    if padding == "valid":
        return 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def naive_conv(x, kernel, bias, strides, dilation, padding, grad_out=None):
    """Forward (and, given dL/dy, backward) of a 2-D convolution, one multiply-add at a time."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (top, bottom), (left, right) = (
        keras_pads(h, kh, strides[0], dilation[0], padding),
        keras_pads(w, kw, strides[1], dilation[1], padding),
    )
    hp, wp = h + top + bottom, w + left + right
    xp = np.zeros((n, hp, wp, c))
    xp[:, top : top + h, left : left + w] = x
    oh = (hp - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    ow = (wp - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    y = np.zeros((n, oh, ow, f))
    dxp, dk, db = np.zeros_like(xp), np.zeros_like(kernel), np.zeros(f)
    for s in range(n):
        for p in range(oh):
            for q in range(ow):
                for o in range(f):
                    total = 0.0 if bias is None else bias[o]
                    for i in range(kh):
                        for j in range(kw):
                            for ch in range(c):
                                r, col = p * strides[0] + i * dilation[0], q * strides[1] + j * dilation[1]
                                total += xp[s, r, col, ch] * kernel[i, j, ch, o]
                                if grad_out is not None:
                                    dxp[s, r, col, ch] += grad_out[s, p, q, o] * kernel[i, j, ch, o]
                                    dk[i, j, ch, o] += grad_out[s, p, q, o] * xp[s, r, col, ch]
                    y[s, p, q, o] = total
                    if grad_out is not None:
                        db[o] += grad_out[s, p, q, o]
    return y, dxp[:, top : top + h, left : left + w], dk, db


# (filters, kernel_size, strides, padding, dilation_rate, use_bias, input shape)
CONV2D_CASES = [
    (1, 3, 1, "valid", 1, True, (5, 5, 1)),
    (3, (3, 2), 2, "same", 1, True, (7, 5, 2)),
    (2, (3, 2), 1, "same", 2, False, (7, 5, 3)),
    (4, 2, (2, 1), "valid", 1, True, (7, 5, 1)),
    (2, 3, 2, "same", 2, True, (8, 6, 2)),
    (2, (2, 3), (1, 2), "valid", (2, 1), False, (7, 5, 2)),
    (3, 1, 1, "valid", 1, True, (4, 3, 2)),  # 1x1: a Dense over channels
    (2, 5, 1, "same", 1, True, (3, 4, 1)),  # kernel larger than the input: some offsets read only zeros
    (2, 4, 3, "same", 1, True, (7, 8, 2)),  # even kernel, stride 3: uneven padding
]
CONV1D_CASES = [
    (2, 3, 1, "valid", 1, True, (7, 1)),
    (3, 2, 2, "same", 1, False, (7, 3)),
    (2, 3, 1, "same", 2, True, (6, 2)),
    (1, 4, 3, "valid", 1, True, (11, 2)),
]


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _layer(cls: type, case: tuple, dtype: Any = "float64", activation: Any = None, seed: int = 0):
    filters, kernel, strides, padding, dilation, use_bias, shape = case
    layer = cls(filters, kernel, strides=strides, padding=padding, dilation_rate=dilation, use_bias=use_bias,
                activation=activation, bias_init="normal")  # fmt: skip
    layer.build_for(shape, np.random.default_rng(seed), np.dtype(dtype))
    return layer


def _as_2d_case(case: tuple) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """A Conv1D case's strides and dilation as those of a convolution over images of height 1."""
    _, kernel, strides, _, dilation, _, _ = case
    return (1, kernel), (1, strides), (1, dilation)


@pytest.mark.parametrize("case", CONV2D_CASES, ids=str)
def test_conv2d_matches_a_naive_loop(case: tuple) -> None:
    layer = _layer(Conv2D, case)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, *case[-1]))
    y = layer.forward(x)
    g = rng.standard_normal(y.shape)
    bias = None if layer.bias is None else layer.bias.value
    ref, dx, dk, db = naive_conv(x, layer.kernel.value, bias, _pair(case[2]), _pair(case[4]), case[3], g)
    assert y.shape == ref.shape == (3, *layer.compute_output_shape(case[-1]))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad, dk, rtol=0, atol=1e-12)
    if layer.bias is not None:
        np.testing.assert_allclose(layer.bias.grad, db, rtol=0, atol=1e-12)
    # the first layer's shortcut gives the same parameter gradients, without dL/dinput
    kept = [p.grad.copy() for p in layer.parameters()]
    for p in layer.parameters():
        p.grad[...] = np.nan
    layer.forward(x)
    assert layer.backward_parameters(g) is None
    for p, grad in zip(layer.parameters(), kept):
        np.testing.assert_array_equal(p.grad, grad)


@pytest.mark.parametrize("case", CONV1D_CASES, ids=str)
def test_conv1d_matches_a_naive_loop(case: tuple) -> None:
    layer = _layer(Conv1D, case)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, *case[-1]))
    y = layer.forward(x)
    g = rng.standard_normal(y.shape)
    _, strides, dilation = _as_2d_case(case)
    bias = None if layer.bias is None else layer.bias.value
    # a sequence is an image of height 1
    ref, dx, dk, db = naive_conv(x[:, None], layer.kernel.value[None], bias, strides, dilation, case[3],
                                 g[:, None])  # fmt: skip
    assert layer.kernel.shape == (case[1], case[-1][-1], case[0])  # (k, in_channels, filters) as Keras
    np.testing.assert_allclose(y, ref[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), dx[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad, dk[0], rtol=0, atol=1e-12)
    if layer.bias is not None:
        np.testing.assert_allclose(layer.bias.grad, db, rtol=0, atol=1e-12)


def test_the_activation_is_applied_and_differentiated() -> None:
    case = CONV2D_CASES[1]
    plain, relu = _layer(Conv2D, case), _layer(Conv2D, case, activation="relu")
    x = np.random.default_rng(3).standard_normal((2, *case[-1]))
    z = plain.forward(x)
    np.testing.assert_array_equal(relu.forward(x), np.maximum(z, 0))
    g = np.random.default_rng(4).standard_normal(z.shape)
    np.testing.assert_allclose(relu.backward(g), plain.backward(g * (z > 0)), rtol=0, atol=1e-13)
    np.testing.assert_allclose(relu.kernel.grad, plain.kernel.grad, rtol=0, atol=1e-13)


# --------------------------------------------------------------------------- PyTorch
def _torch_conv(x, kernel, bias, strides, dilation, padding, g):
    """PyTorch's convolution of channels-last ``x`` with a Keras-layout kernel, and its gradients.

    The layouts are converted explicitly (NHWC -> NCHW, (kh, kw, in, out) -> (out, in, kh, kw))
    and 'same' becomes explicit zero padding computed by Keras's rule, so a mismatch in any of
    these conventions shows as a difference.
    """
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    xt = torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float64, requires_grad=True)
    kt = torch.tensor(kernel.transpose(3, 2, 0, 1), dtype=torch.float64, requires_grad=True)
    bt = None if bias is None else torch.tensor(bias, dtype=torch.float64, requires_grad=True)
    top, bottom = keras_pads(x.shape[1], kernel.shape[0], strides[0], dilation[0], padding)
    left, right = keras_pads(x.shape[2], kernel.shape[1], strides[1], dilation[1], padding)
    padded = f.pad(xt, (left, right, top, bottom))  # the last axis first, as torch orders pads
    y = f.conv2d(padded, kt, bt, stride=strides, dilation=dilation)
    y.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    as_nhwc = lambda t: t.detach().numpy().transpose(0, 2, 3, 1)  # noqa: E731
    return (as_nhwc(y), as_nhwc(xt.grad), kt.grad.numpy().transpose(2, 3, 1, 0),
            None if bt is None else bt.grad.numpy())  # fmt: skip


@pytest.mark.parametrize("case", CONV2D_CASES, ids=str)
def test_conv2d_matches_pytorch(case: tuple) -> None:
    pytest.importorskip("torch")
    layer = _layer(Conv2D, case)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, *case[-1]))
    y = layer.forward(x)
    g = rng.standard_normal(y.shape)
    bias = None if layer.bias is None else layer.bias.value
    ty, tdx, tdk, tdb = _torch_conv(x, layer.kernel.value, bias, _pair(case[2]), _pair(case[4]), case[3], g)
    np.testing.assert_allclose(y, ty, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.backward(g), tdx, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.kernel.grad, tdk, rtol=0, atol=1e-10)
    if tdb is not None:
        np.testing.assert_allclose(layer.bias.grad, tdb, rtol=0, atol=1e-10)


@pytest.mark.parametrize("case", CONV1D_CASES, ids=str)
def test_conv1d_matches_pytorch(case: tuple) -> None:
    torch = pytest.importorskip("torch")
    layer = _layer(Conv1D, case)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, *case[-1]))
    y = layer.forward(x)
    g = rng.standard_normal(y.shape)
    _, kernel_size, strides, padding, dilation, _, _ = case
    xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)  # (batch, channels, steps)
    kt = torch.tensor(layer.kernel.value.transpose(2, 1, 0), requires_grad=True)  # (out, in, k)
    bt = None if layer.bias is None else torch.tensor(layer.bias.value, requires_grad=True)
    left, right = keras_pads(x.shape[1], kernel_size, strides, dilation, padding)
    yt = torch.nn.functional.conv1d(torch.nn.functional.pad(xt, (left, right)), kt, bt, stride=strides,
                                    dilation=dilation)  # fmt: skip
    yt.backward(torch.tensor(g.transpose(0, 2, 1)))
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 1), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy().transpose(0, 2, 1), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.kernel.grad, kt.grad.numpy().transpose(2, 1, 0), rtol=0, atol=1e-10)
    if bt is not None:
        np.testing.assert_allclose(layer.bias.grad, bt.grad.numpy(), rtol=0, atol=1e-10)


def test_the_pytorch_comparison_can_fail() -> None:
    # the comparison must see a swapped kernel layout: (kh, kw) transposed is a different kernel
    pytest.importorskip("torch")
    case = (2, 3, 1, "same", 1, True, (5, 5, 2))
    layer = _layer(Conv2D, case)
    x = np.random.default_rng(7).standard_normal((2, 5, 5, 2))
    y = layer.forward(x)
    swapped = layer.kernel.value.transpose(1, 0, 2, 3)
    ty = _torch_conv(x, swapped, layer.bias.value, (1, 1), (1, 1), "same", np.ones_like(y))[0]
    assert np.max(np.abs(y - ty)) > 1e-3


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize(
    "cls,case",
    [
        (Conv2D, CONV2D_CASES[1]),
        (Conv2D, CONV2D_CASES[4]),
        (Conv2D, (2, 3, 1, "valid", 1, True, (4, 4, 1))),
        (Conv1D, CONV1D_CASES[2]),
    ],
    ids=str,
)
def test_gradients_match_finite_differences(cls: type, case: tuple) -> None:
    layer = _layer(cls, case, activation="tanh")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, *case[-1]))
    weights = rng.standard_normal(layer.forward(x).shape)

    def objective() -> float:
        return float(np.sum(weights * layer.forward(x)))

    layer.forward(x)
    dx = layer.backward(weights.copy()).copy()
    analytic = [p.grad.copy() for p in layer.parameters()]
    np.testing.assert_allclose(dx, testing.numerical_gradient(objective, x), rtol=1e-6, atol=1e-8)
    for p, grad in zip(layer.parameters(), analytic):
        np.testing.assert_allclose(grad, testing.numerical_gradient(objective, p.value), rtol=1e-6, atol=1e-8)


def test_examples_are_small_for_the_conformance_kit() -> None:
    for cls in (Conv2D, Conv1D):
        layer = cls.example()
        layer.build_for(layer.example_input_shape(), np.random.default_rng(0), np.dtype("float64"))
        assert sum(p.size for p in layer.parameters()) <= 300
        assert layer.padding == "same" or cls is Conv1D  # between them: both paddings,
    assert Conv2D.example().strides == (2, 1) and Conv1D.example().dilation_rate == (2,)  # stride, dilation


# --------------------------------------------------------------------------- dtypes and memory
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls,case", [(Conv2D, CONV2D_CASES[4]), (Conv1D, CONV1D_CASES[1])], ids=str)
def test_dtype_is_kept_and_results_are_c_contiguous(cls: type, case: tuple, dtype: str) -> None:
    layer = _layer(cls, case, dtype=dtype, activation="relu")
    x = np.random.default_rng(9).standard_normal((5, *case[-1])).astype(dtype)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.dtype(dtype)
    assert y.flags.c_contiguous and dx.flags.c_contiguous
    for p in layer.parameters():
        assert p.value.dtype == p.grad.dtype == np.dtype(dtype)
    reference = _layer(cls, case, activation="relu")  # the same seed in float64
    np.testing.assert_allclose(y, reference.forward(x.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_results_do_not_alias_the_layers_buffers() -> None:
    # the window matrix is reused between calls; outputs and input gradients must not be
    layer = _layer(Conv2D, CONV2D_CASES[1])
    rng = np.random.default_rng(10)
    x1, x2 = rng.standard_normal((2, 3, 7, 5, 2))
    y1 = layer.forward(x1)
    keep = y1.copy()
    dx1 = layer.backward(np.ones_like(y1))
    keep_dx = dx1.copy()
    layer.forward(x2)
    layer.backward(np.full_like(y1, 2.0))
    np.testing.assert_array_equal(y1, keep)
    np.testing.assert_array_equal(dx1, keep_dx)


def test_a_smaller_batch_after_a_larger_one_and_a_new_image_size() -> None:
    # the buffer is sliced for a smaller batch and remade for another geometry: the padding
    # entries must still read as zeros (7 and 8 rows give the same 4 outputs with stride 2,
    # padded differently)
    layer = Conv2D(2, 3, strides=2, padding="same", bias_init="normal")
    layer.build_for((8, 6, 2), np.random.default_rng(0), np.dtype("float64"))
    rng = np.random.default_rng(11)
    for shape in [(5, 8, 6, 2), (2, 8, 6, 2), (3, 7, 6, 2), (4, 8, 6, 2), (1, 7, 5, 2)]:
        x = rng.standard_normal(shape)
        ref = naive_conv(x, layer.kernel.value, layer.bias.value, (2, 2), (1, 1), "same")[0]
        np.testing.assert_allclose(layer.forward(x), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("keep", [True, False], ids=["window-matrix-kept", "made-again-in-backward"])
@pytest.mark.parametrize(
    "cls,case", [(Conv2D, CONV2D_CASES[4]), (Conv2D, CONV2D_CASES[3]), (Conv1D, CONV1D_CASES[2])], ids=str
)
def test_chunked_batches_give_the_same_results(
    cls: type, case: tuple, keep: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.random.default_rng(12).standard_normal((7, *case[-1]))
    whole = _layer(cls, case, activation="tanh")
    y = whole.forward(x)
    g = np.random.default_rng(13).standard_normal(y.shape)
    dx = whole.backward(g)
    chunked = _layer(cls, case, activation="tanh")
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 1)  # one sample at a time
    monkeypatch.setattr(conv_module, "_PRODUCT_BYTES", 1)  # the kernel's gradient summed row by row
    if not keep:
        monkeypatch.setattr(conv_module, "MAX_WINDOW_BYTES", 0)
    np.testing.assert_allclose(chunked.forward(x), y, rtol=0, atol=1e-13)
    np.testing.assert_allclose(chunked.backward(g), dx, rtol=0, atol=1e-13)
    for p, q in zip(chunked.parameters(), whole.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=0, atol=1e-12)


def test_the_window_matrix_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(14).standard_normal((64, 16, 16, 4)).astype(np.float32)
    windows = 64 * 16 * 16 * (3 * 3 * 4 + 1) * 4  # bytes of the whole batch's window matrix: 2.4 MB
    output = 64 * 16 * 16 * 8 * 4  # 0.5 MB

    def peak() -> int:
        fresh = _layer(Conv2D, (8, 3, 1, "same", 1, True, (16, 16, 4)), dtype="float32")
        tracemalloc.start()
        try:
            fresh.backward(np.ones_like(fresh.forward(x)))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak() > windows  # kept between forward and backward
    monkeypatch.setattr(conv_module, "MAX_WINDOW_BYTES", windows // 2)
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 2**16)
    assert peak() < 3 * output  # chunks of about 64 KB, made again in backward


def test_an_empty_batch_gives_zero_gradients() -> None:
    layer = _layer(Conv2D, CONV2D_CASES[1])
    y = layer.forward(np.zeros((0, 7, 5, 2)))
    assert y.shape == (0, 4, 3, 3)
    for p in layer.parameters():
        p.grad[...] = 1.0
    assert layer.backward(y).shape == (0, 7, 5, 2)
    assert all(not np.any(p.grad) for p in layer.parameters())


def test_gradients_are_written_in_place() -> None:
    # the trainer repoints grad to views of one flat buffer: the layer must write into them
    layer = _layer(Conv2D, CONV2D_CASES[1])
    flat = np.zeros(sum(p.size for p in layer.parameters()))
    views, at = [], 0
    for p in layer.parameters():
        p.grad = flat[at : at + p.size].reshape(p.shape)
        views.append(p.grad)
        at += p.size
    x = np.random.default_rng(14).standard_normal((2, 7, 5, 2))
    layer.backward(np.ones_like(layer.forward(x)))
    assert all(p.grad is v for p, v in zip(layer.parameters(), views)) and np.all(flat != 0)


# --------------------------------------------------------------------------- in a model
def _images(samples: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(15)
    x = rng.standard_normal((samples, 8, 8, 1))
    # the target: how much of the image is a horizontal or a vertical edge, and the mean
    y = np.stack([np.abs(np.diff(x, axis=1)).mean((1, 2, 3)), np.abs(np.diff(x, axis=2)).mean((1, 2, 3)),
                  x.mean((1, 2, 3))], axis=1).reshape(samples, 1, 1, 3)  # fmt: skip
    return x, y


def _model(seed: int = 0) -> Sequential:
    model = Sequential(
        [
            Conv2D(4, 3, padding="same", activation="relu"),
            Conv2D(4, 3, strides=2, activation="tanh"),
            Conv2D(3, 3),
        ],
        input_shape=(8, 8, 1),
        seed=seed,
    )
    model.compile(loss="mse", optimizer=minidl.Adam(learning_rate=0.01))
    return model


def test_a_small_convolutional_model_trains() -> None:
    x, y = _images()
    model = _model()
    assert model.output_shape == (1, 1, 3)
    shapes = [(3, 3, 1, 4), (4,), (3, 3, 4, 4), (4,), (3, 3, 4, 3), (3,)]
    assert [w.shape for w in model.get_weights()] == shapes
    model.fit(x, y, epochs=30, batch_size=16)
    losses = model.history.history["loss"]
    assert losses[-1] < 0.2 * losses[0]


def test_a_float32_model_trains_in_float32() -> None:
    x, y = _images()
    layers = [Conv2D(4, 3, padding="same", activation="relu"), Conv2D(3, 8)]
    model = Sequential(layers, seed=0, dtype="float32")
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=5, batch_size=16)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x).dtype == np.float32


def test_save_load_and_resume_are_bit_for_bit(tmp_path: Path) -> None:
    x, y = _images()
    straight = _model()
    straight.fit(x, y, epochs=4, batch_size=16)
    first = _model()
    first.fit(x, y, epochs=2, batch_size=16)
    first.save(tmp_path / "cnn.minidl")
    loaded = minidl.load(tmp_path / "cnn.minidl")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in first.layers]
    for a, b in zip(loaded.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))
    loaded.fit(x, y, epochs=2, batch_size=16)
    for a, b in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.history.history == straight.history.history


def test_conv1d_in_a_model_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    x = rng.standard_normal((20, 12, 2))
    model = Sequential([Conv1D(3, 3, padding="same", activation="relu"), Conv1D(1, 12)], seed=1)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, x.sum((1, 2)).reshape(20, 1, 1), epochs=2, batch_size=5)
    model.save(tmp_path / "seq.minidl")
    np.testing.assert_array_equal(minidl.load(tmp_path / "seq.minidl").predict(x), model.predict(x))


def test_summary_and_names() -> None:
    model = _model()
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert re.search(r"conv2d_0 \(Conv2D\)\s+\(None, 8, 8, 4\)\s+40\n", text)  # 3*3*1*4 + 4 parameters
    assert re.search(r"conv2d_2 \(Conv2D\)\s+\(None, 1, 1, 3\)\s+111\n", text)
    assert model.layers[1].describe() == "Conv2D 3x3 4 -> 4, Tanh"
    assert minidl.layers.get({"type": "conv1d", "filters": 2, "kernel_size": 3}).kernel_size == (3,)


CNN_TOML = """
[model]
seed = 0
input_shape = [28, 28, 3]

[[model.layers]]
type = "conv2d"
filters = 8
kernel_size = [3, 3]
strides = [1, 2]
padding = "same"
activation = "relu"

[[model.layers]]
type = "conv2d"
filters = 2
kernel_size = 3

[compile]
loss = "mse"
optimizer = "sgd"

[data]
dataset = "digits"
"""


def test_a_configuration_file_builds_a_cnn() -> None:
    model = TrainingConfig.from_dict(tomllib.loads(CNN_TOML)).build()
    assert model.layers[0].get_config() == {
        "filters": 8, "kernel_size": [3, 3], "strides": [1, 2], "padding": "same", "dilation_rate": [1, 1],
        "use_bias": True, "activation": "relu", "kernel_init": "glorot_uniform", "bias_init": "zeros",
    }  # fmt: skip
    assert model.output_shape == (26, 12, 2)  # (28, 14) after the first layer
    broken = CNN_TOML.replace('type = "conv2d"\nfilters = 2', 'type = "conv1d"\nfilters = 2')
    message = r"takes samples of shape \(steps, channels\); received samples of shape \(28, 14, 8\)"
    with pytest.raises(ShapeError, match=message):
        TrainingConfig.from_dict(tomllib.loads(broken)).build()


# --------------------------------------------------------------------------- refused
@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            {"kernel_size": 0},
            r"kernel_size must be a positive integer or a sequence of 2 positive integers, "
            r"e.g. 3 or \(3, 3\); received kernel_size=0\.",
        ),
        ({"kernel_size": (3, 0)}, r"kernel_size must be a positive integer.*received kernel_size=\(3, 0\)"),
        ({"kernel_size": (3, 3, 3)}, r"a sequence of 2 positive integers.*received kernel_size=\(3, 3, 3\)"),
        ({"kernel_size": 2.5}, "kernel_size must be a positive integer"),
        ({"kernel_size": True}, "kernel_size must be a positive integer"),
        ({"kernel_size": "3"}, "kernel_size must be a positive integer"),
        ({"strides": -1}, r"strides must be a positive integer.*received strides=-1"),
        ({"strides": (1, -2)}, "strides must be a positive integer"),
        ({"dilation_rate": 0}, "dilation_rate must be a positive integer"),
        ({"padding": "full"}, r"padding must be one of 'valid', 'same'; received padding='full'"),
        ({"padding": "SAME"}, "padding must be one of"),
        ({"filters": 0}, r"filters must be a positive integer; received filters=0"),
        ({"filters": 2.0}, "filters must be a positive integer"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ConfigError, match=message):
        Conv2D(**arguments)


def test_bad_flags_and_components_are_refused() -> None:
    with pytest.raises(minidl.ComponentTypeError, match="use_bias must be True or False"):
        Conv2D(2, 3, use_bias=1)
    with pytest.raises(minidl.UnknownComponentError, match="relu"):
        Conv2D(2, 3, activation="rleu")
    one = r"or a list of one, e.g. 3 or \[3\]; received kernel_size=\(3, 3\)\.$"
    with pytest.raises(ConfigError, match=one):
        Conv1D(2, (3, 3))


def test_shapes_it_cannot_take() -> None:
    with pytest.raises(ShapeError, match=r"padding='valid' needs inputs of at least 3x3.*\(2, 5, 1\)"):
        Conv2D(2, 3).compute_output_shape((2, 5, 1))
    with pytest.raises(ShapeError, match=r"at least 5x3 \(dilated to 5x3\)|at least 5x3"):
        Conv2D(2, 3, dilation_rate=(2, 1)).compute_output_shape((4, 4, 1))
    images = r"takes samples of shape \(height, width, channels\); received samples of shape \(28, 28\)\.$"
    with pytest.raises(ShapeError, match=images):
        Conv2D(2, 3).compute_output_shape((28, 28))
    with pytest.raises(ShapeError, match=r"\(steps, channels\); received samples of shape \(8, 8, 1\)"):
        Conv1D(2, 3).compute_output_shape((8, 8, 1))
    with pytest.raises(ShapeError, match=r"cannot take|valid"):  # in a model: refused before any is built
        Sequential([Conv2D(2, 3), Conv2D(2, 7)], input_shape=(8, 8, 1))
    layer = _layer(Conv2D, CONV2D_CASES[1])
    with pytest.raises(ShapeError, match="built for 2 input channels; received samples of shape"):
        layer.compute_output_shape((7, 5, 3))
    with pytest.raises(ShapeError, match=r"with 2 channels; received an array of shape \(1, 7, 5, 3\)"):
        layer.forward(np.zeros((1, 7, 5, 3)))
    with pytest.raises(ShapeError, match="received an array of shape"):
        layer.forward(np.zeros((7, 5, 2)))
    with pytest.raises(ShapeError, match=r"padding='valid' needs inputs of at least 3x3"):
        _layer(Conv2D, CONV2D_CASES[0]).forward(np.zeros((1, 2, 9, 1)))


def test_an_unbuilt_layer_says_so() -> None:
    with pytest.raises(minidl.NotCompiledError, match="not built yet"):
        Conv2D(2, 3).forward(np.zeros((1, 5, 5, 1)))


# --------------------------------------------------------------------------- hostile files
@pytest.fixture()
def cnn_file(tmp_path: Path) -> Path:
    x, y = _images(16)
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8)
    path = tmp_path / "cnn.minidl"
    model.save(path)
    minidl.load(path)  # warm-up, as test_io_hostile's fixture: lazy imports happen now
    return path


def _layer_config(document: dict[str, Any], i: int) -> dict[str, Any]:
    return document["model"]["layers"][i]


def test_huge_filters_in_a_file_are_refused_before_allocation(cnn_file: Path, tmp_path: Path) -> None:
    def edit(document: dict[str, Any], members: dict[str, bytes]) -> None:
        _layer_config(document, 0)["filters"] = 10**12
        entry(document, "weights/0/0")[1]["shape"] = [3, 3, 1, 10**12]
        entry(document, "weights/0/1")[1]["shape"] = [10**12]
        entry(document, "weights/1/0")[1]["shape"] = [3, 3, 10**12, 4]  # the next layer takes 10**12 channels

    refused(rewritten(cnn_file, tmp_path, edit), FormatError, r"declares shape \(3, 3, 1, 1000000000000\)",
            max_bytes=2**20)  # fmt: skip


def test_huge_filters_in_the_configuration_only(cnn_file: Path, tmp_path: Path) -> None:
    path = rewritten(cnn_file, tmp_path, lambda d, m: _layer_config(d, 1).update(filters=10**12))
    message = r"\(3, 3, 4, 1000000000000\) in the model, but the file holds shape \(3, 3, 4, 4\)"
    refused(path, FormatError, message, max_bytes=2**20)


@pytest.mark.parametrize(
    "change,error,message",
    [
        ({"kernel_size": [0, 3]}, ConfigError, r"kernel_size must be .*received kernel_size=\[0, 3\]"),
        ({"strides": [-1, 1]}, ConfigError, r"strides must be .*received strides=\[-1, 1\]"),
        ({"padding": "full"}, ConfigError, "padding must be one of 'valid', 'same'"),
        ({"dilation_rate": "2"}, ConfigError, "dilation_rate must be a positive integer"),
        ({"kernel_size": [10**12, 3]}, FormatError, "cannot take its input.*padding='valid' needs inputs"),
        ({"kernel_size": [9, 9]}, FormatError, "cannot take its input"),  # larger than the 8x8 input
        ({"filters": True}, ConfigError, "filters must be a positive integer"),
    ],
    ids=str,
)
def test_hostile_configurations_in_a_file(
    cnn_file: Path, tmp_path: Path, change: dict[str, Any], error: type, message: str
) -> None:
    def edit(document: dict[str, Any], members: dict[str, bytes]) -> None:
        _layer_config(document, 0)["padding"] = "valid"  # so a kernel larger than the input cannot fit
        _layer_config(document, 0).update(change)

    refused(rewritten(cnn_file, tmp_path, edit), error, message, max_bytes=2**20)


def test_the_file_holds_keras_layouts(cnn_file: Path) -> None:
    document, _ = read_archive(cnn_file)
    shapes = {e["name"]: e["shape"] for e in document["arrays"] if e["name"].startswith("weights/")}
    assert shapes["weights/0/0"] == [3, 3, 1, 4] and shapes["weights/2/0"] == [3, 3, 4, 3]
    assert _layer_config(document, 0)["type"] == "conv2d"
