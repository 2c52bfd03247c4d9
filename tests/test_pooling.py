"""Pooling layers against a deliberately naive loop implementation, against PyTorch (when
installed), against finite differences, and their errors.

The naive implementation below visits every sample, output pixel, channel and window element in
Python and writes Keras's rules out directly: 'same' gives ceil(size / stride) outputs, pads
``max((out - 1) * stride + pool - size, 0)`` positions with the extra one after, max pooling
never picks the padding and average pooling divides by the number of real inputs; max pooling's
gradient goes to the first maximum of a window in row-major order.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import minidl
from minidl import (
    AveragePooling2D,
    ConfigError,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    Sequential,
    ShapeError,
)
from minidl.testing import numerical_gradient


# --------------------------------------------------------------------------- the naive reference
def naive_windows(size: int, pool: int, stride: int, padding: str) -> list[list[int]]:
    """For each output position along one axis, the real input positions of its window."""
    if padding == "same":
        out = math.ceil(size / stride)
        before = max((out - 1) * stride + pool - size, 0) // 2
    else:
        out, before = (size - pool) // stride + 1, 0
    starts = [o * stride - before for o in range(out)]
    return [[p for p in range(start, start + pool) if 0 <= p < size] for start in starts]


def naive_pool(x: np.ndarray, pool, strides, padding: str, kind: str) -> np.ndarray:
    n, h, w, c = x.shape
    rows = naive_windows(h, pool[0], strides[0], padding)
    cols = naive_windows(w, pool[1], strides[1], padding)
    y = np.zeros((n, len(rows), len(cols), c), dtype=x.dtype)
    for b in range(n):
        for i, window_rows in enumerate(rows):
            for j, window_cols in enumerate(cols):
                for ch in range(c):
                    values = [x[b, r, s, ch] for r in window_rows for s in window_cols]
                    y[b, i, j, ch] = max(values) if kind == "max" else sum(values) / len(values)
    return y


def naive_backward(x: np.ndarray, g: np.ndarray, pool, strides, padding: str, kind: str) -> np.ndarray:
    n, h, w, c = x.shape
    rows = naive_windows(h, pool[0], strides[0], padding)
    cols = naive_windows(w, pool[1], strides[1], padding)
    dx = np.zeros_like(x)
    for b in range(n):
        for i, window_rows in enumerate(rows):
            for j, window_cols in enumerate(cols):
                for ch in range(c):
                    cells = [(r, s) for r in window_rows for s in window_cols]  # row-major order
                    if kind == "max":
                        best = max(x[b, r, s, ch] for r, s in cells)
                        r, s = next((r, s) for r, s in cells if x[b, r, s, ch] == best)  # the first maximum
                        dx[b, r, s, ch] += g[b, i, j, ch]
                    else:
                        for r, s in cells:
                            dx[b, r, s, ch] += g[b, i, j, ch] / len(cells)
    return dx


LAYERS = {"max": MaxPooling2D, "average": AveragePooling2D}
CASES = [
    (kind, pool, stride, padding, channels)
    for kind in ("max", "average")
    for pool in (2, 3)
    for stride in (1, 2, 3)
    for padding in ("valid", "same")
    for channels in (1, 3)
]
# non-square pools and strides, and a pool larger than the image with 'same' padding
ODD_CASES = [
    (kind, pool, stride, padding, 2)
    for kind in ("max", "average")
    for pool, stride, padding in [
        ((3, 2), (1, 3), "same"),
        ((2, 3), (3, 1), "valid"),
        ((8, 6), (2, 4), "same"),
    ]
]


def run(layer, x: np.ndarray, g: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    y = layer.forward(x)
    return y, layer.backward(np.ones_like(y) if g is None else g)


@pytest.mark.parametrize("kind,pool,stride,padding,channels", CASES + ODD_CASES)
def test_forward_and_backward_match_the_naive_loops(kind, pool, stride, padding, channels) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 5, channels))
    layer = LAYERS[kind](pool, stride, padding)
    pool2, stride2 = layer.pool_size, layer.strides
    expected = naive_pool(x, pool2, stride2, padding, kind)
    y = layer.forward(x)
    assert y.shape == expected.shape == (2, *layer.compute_output_shape((7, 5, channels)))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-14)
    g = rng.standard_normal(y.shape)
    expected_dx = naive_backward(x, g, pool2, stride2, padding, kind)
    np.testing.assert_allclose(layer.backward(g), expected_dx, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "pool,stride,padding", [(2, 2, "valid"), (3, 1, "same"), (3, 2, "same"), (2, 1, "valid")]
)
def test_max_pooling_ties_go_to_the_first_maximum_in_row_major_order(pool, stride, padding) -> None:
    # values in {0, 1, 2}: most windows hold tied maxima
    x = np.random.default_rng(1).integers(0, 3, (3, 7, 6, 2)).astype(np.float64)
    layer = MaxPooling2D(pool, stride, padding)
    y = layer.forward(x)
    g = np.random.default_rng(2).standard_normal(y.shape)
    dx = layer.backward(g)
    p = layer.pool_size
    # misrouted gradients would differ by O(1); overlapping windows add in another order (1e-15)
    np.testing.assert_allclose(dx, naive_backward(x, g, p, layer.strides, padding, "max"), rtol=0, atol=1e-14)
    if stride == pool:  # each window passes on its gradient exactly once: the total is kept
        np.testing.assert_allclose(dx.sum(), g.sum(), rtol=1e-12)


def test_a_window_of_equal_values_gives_its_gradient_to_the_top_left() -> None:
    x = np.zeros((1, 2, 2, 1))
    layer = MaxPooling2D(2)
    layer.forward(x)
    dx = layer.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[5.0, 0.0], [0.0, 0.0]])
    x = np.array([[1.0, 3.0], [3.0, 0.0]]).reshape(1, 2, 2, 1)  # two maxima: the one in the top row
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_a_small_example_by_hand() -> None:
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(MaxPooling2D(2).forward(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AveragePooling2D(2).forward(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    # 'same' with a pool of 3, stride 2 on 4 rows: 2 outputs, one padded row after (0 before);
    # the corner window reads rows 2-3 and columns 2-3 only
    same = AveragePooling2D(3, 2, "same").forward(x)[0, :, :, 0]
    np.testing.assert_array_equal(same, [[5.0, 6.5], [11.0, 12.5]])
    assert MaxPooling2D(3, 2, "same").forward(-x)[0, 1, 1, 0] == -10.0  # the padding never wins a max


# --------------------------------------------------------------------------- PyTorch
def torch_pool(x: np.ndarray, g: np.ndarray, layer) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's result for ``layer`` on NHWC ``x`` (converted to NCHW and back).

    Where the conventions differ: PyTorch pads symmetrically, so Keras's 'same' with an odd
    number of padded positions (the extra one after, bottom and right) has no PyTorch pooling
    argument. It is written as a PyTorch user would: max pooling of an explicit -inf pad, and
    average pooling as the windowed sum of an explicit zero pad divided by the windowed count of
    real inputs (both windowed by ``avg_pool2d``), since Keras does not average the padding in.
    """
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_()
    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    pads = [0, 0, 0, 0]  # top, bottom, left, right
    if layer.padding == "same":
        for k, (size, pool, stride) in enumerate(zip(x.shape[1:3], (ph, pw), (sh, sw))):
            total = max((math.ceil(size / stride) - 1) * stride + pool - size, 0)
            pads[2 * k], pads[2 * k + 1] = total // 2, total - total // 2
    symmetric = pads[0] == pads[1] and pads[2] == pads[3]
    if isinstance(layer, MaxPooling2D):
        if symmetric:
            yt = f.max_pool2d(xt, (ph, pw), (sh, sw), padding=(pads[0], pads[2]))
        else:
            padded = f.pad(xt, (pads[2], pads[3], pads[0], pads[1]), value=-math.inf)
            yt = f.max_pool2d(padded, (ph, pw), (sh, sw))
    elif symmetric:
        yt = f.avg_pool2d(xt, (ph, pw), (sh, sw), padding=(pads[0], pads[2]), count_include_pad=False)
    else:
        order = (pads[2], pads[3], pads[0], pads[1])
        sums = f.avg_pool2d(f.pad(xt, order), (ph, pw), (sh, sw), divisor_override=1)
        counts = f.avg_pool2d(f.pad(torch.ones_like(xt), order), (ph, pw), (sh, sw), divisor_override=1)
        yt = sums / counts
    yt.backward(torch.from_numpy(np.ascontiguousarray(g.transpose(0, 3, 1, 2))))
    return yt.detach().numpy().transpose(0, 2, 3, 1), xt.grad.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("kind,pool,stride,padding,channels", CASES + ODD_CASES)
def test_matches_pytorch_in_float64(kind, pool, stride, padding, channels) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 5, channels))
    layer = LAYERS[kind](pool, stride, padding)
    y = layer.forward(x)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    reference = torch_pool(x, g, layer)
    np.testing.assert_allclose(y, reference[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, reference[1], rtol=0, atol=1e-10)


@pytest.mark.parametrize("pool,stride", [(2, 2), (3, 1), (3, 2)])
def test_max_pooling_ties_match_pytorch(pool, stride) -> None:
    # many zeros, as after a ReLU: ties everywhere
    x = np.maximum(np.random.default_rng(4).integers(-2, 3, (2, 8, 6, 3)), 0).astype(np.float64)
    layer = MaxPooling2D(pool, stride)
    g = np.random.default_rng(5).standard_normal(layer.forward(x).shape)
    dx = layer.backward(g)
    reference = torch_pool(x, g, layer)
    # a tie given to another element would differ by O(1); overlapping windows add in another order
    np.testing.assert_allclose(dx, reference[1], rtol=0, atol=1e-14)


def test_global_pooling_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 7, 5, 4))
    g = rng.standard_normal((3, 4))
    for layer, reduce in ((GlobalAveragePooling2D(), torch.mean), (GlobalMaxPooling2D(), torch.amax)):
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_()
        yt = reduce(xt, dim=(2, 3))
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=0, atol=1e-10)
        dx = layer.backward(g)
        np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- finite differences
def check_finite_differences(layer, x: np.ndarray) -> None:
    weights = np.random.default_rng(7).standard_normal(layer.forward(x).shape)
    layer.forward(x)
    analytic = layer.backward(weights.copy())
    numeric = numerical_gradient(lambda: float(np.sum(weights * layer.forward(x))), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


GRADIENT_CASES = [(2, 2, "valid"), (3, 1, "same"), (3, 2, "same"), ((2, 3), (1, 2), "valid")]


@pytest.mark.parametrize("pool,stride,padding", GRADIENT_CASES)
def test_average_pooling_gradient_is_the_finite_difference(pool, stride, padding) -> None:
    x = np.random.default_rng(8).standard_normal((2, 7, 5, 2))
    check_finite_differences(AveragePooling2D(pool, stride, padding), x)


@pytest.mark.parametrize("pool,stride,padding", GRADIENT_CASES)
def test_max_pooling_gradient_is_the_finite_difference_away_from_ties(pool, stride, padding) -> None:
    # distinct values 0.01 apart, far more than the difference step: no window holds a tie
    rng = np.random.default_rng(9)
    x = (rng.permutation(2 * 7 * 5 * 2) * 0.01).reshape(2, 7, 5, 2)
    check_finite_differences(MaxPooling2D(pool, stride, padding), x)


@pytest.mark.parametrize("layer", [GlobalAveragePooling2D(), GlobalMaxPooling2D()], ids=str)
def test_global_pooling_gradient_is_the_finite_difference(layer) -> None:
    x = (np.random.default_rng(10).permutation(2 * 4 * 3 * 2) * 0.01).reshape(2, 4, 3, 2)
    check_finite_differences(layer, x)


def test_global_pooling_by_hand_and_its_tie_rule() -> None:
    x = np.zeros((1, 2, 3, 2))
    x[0, 1, 2, 0] = 4.0
    x[0, 0, 1, 1] = x[0, 1, 0, 1] = 7.0  # a tie in channel 1
    layer = GlobalMaxPooling2D()
    np.testing.assert_array_equal(layer.forward(x), [[4.0, 7.0]])
    dx = layer.backward(np.array([[1.0, 2.0]]))
    assert dx[0, 1, 2, 0] == 1.0 and dx[0, 0, 1, 1] == 2.0 and dx[0, 1, 0, 1] == 0.0 and dx.sum() == 3.0
    average = GlobalAveragePooling2D()
    np.testing.assert_allclose(average.forward(x), [[4.0 / 6, 14.0 / 6]])
    np.testing.assert_allclose(average.backward(np.array([[6.0, 12.0]]))[0, :, :, 1], np.full((2, 3), 2.0))


# --------------------------------------------------------------------------- dtypes, shapes, memory
@pytest.mark.parametrize(
    "layer",
    [
        MaxPooling2D(2),
        MaxPooling2D(3, 2, "same"),
        AveragePooling2D(2),
        AveragePooling2D(3, 1, "same"),
        GlobalMaxPooling2D(),
        GlobalAveragePooling2D(),
    ],
    ids=lambda layer: layer.describe(),
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept_and_results_are_contiguous(layer, dtype) -> None:
    x = np.random.default_rng(11).standard_normal((4, 7, 6, 3)).astype(dtype)
    y, dx = run(layer, x)
    assert y.dtype == dtype and dx.dtype == dtype
    assert y.flags.c_contiguous and dx.flags.c_contiguous and dx.shape == x.shape


def test_float32_matches_float64_to_float32_rounding() -> None:
    x = np.random.default_rng(12).standard_normal((4, 9, 9, 3))
    for layer in (MaxPooling2D(3, 2, "same"), AveragePooling2D(3, 2, "same")):
        y64, dx64 = run(layer, x)
        y32, dx32 = run(layer, x.astype(np.float32))
        np.testing.assert_allclose(y32, y64, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(dx32, dx64, rtol=1e-6, atol=1e-6)


def test_the_common_case_equals_a_reshape_of_the_batch() -> None:
    x = np.random.default_rng(13).standard_normal((64, 28, 28, 16)).astype(np.float32)
    y = MaxPooling2D(2).forward(x)
    np.testing.assert_array_equal(y, x.reshape(64, 14, 2, 14, 2, 16).max(axis=(2, 4)))
    a = AveragePooling2D(2).forward(x)
    np.testing.assert_allclose(a, x.reshape(64, 14, 2, 14, 2, 16).mean(axis=(2, 4)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "pool,stride,padding,shape,expected",
    [
        (2, None, "valid", (28, 28, 16), (14, 14, 16)),
        (2, None, "valid", (7, 5, 1), (3, 2, 1)),
        (3, 2, "valid", (7, 5, 3), (3, 2, 3)),
        (2, None, "same", (7, 5, 1), (4, 3, 1)),
        (3, 1, "same", (7, 5, 2), (7, 5, 2)),
        ((2, 1), (1, 1), "valid", (3, 3, 1), (2, 3, 1)),
        (5, 3, "same", (2, 2, 1), (1, 1, 1)),
    ],
)
def test_output_shapes_follow_keras(pool, stride, padding, shape, expected) -> None:
    assert MaxPooling2D(pool, stride, padding).compute_output_shape(shape) == expected
    assert AveragePooling2D(pool, stride, padding).compute_output_shape(shape) == expected


def test_empty_batches_and_one_pixel_images() -> None:
    for layer in (MaxPooling2D(2, 1, "same"), AveragePooling2D(3, 2, "same"), GlobalMaxPooling2D()):
        y, dx = run(layer, np.zeros((0, 5, 4, 2)))
        assert y.shape[0] == 0 and dx.shape == (0, 5, 4, 2)
        y, dx = run(layer, np.full((2, 1, 1, 3), 2.0))
        np.testing.assert_array_equal(y.reshape(2, 3), 2.0)
        np.testing.assert_array_equal(dx, 1.0)


def test_a_huge_pool_with_same_padding_costs_no_more_than_the_image() -> None:
    # offsets that read only padding are never visited: a pool of 10**9 is one window per axis
    x = np.random.default_rng(14).standard_normal((2, 4, 3, 2))
    layer = MaxPooling2D(10**9, 10**9, "same")
    y, dx = run(layer, x)
    np.testing.assert_array_equal(y, x.max(axis=(1, 2), keepdims=True))
    assert dx.sum() == 4.0


# --------------------------------------------------------------------------- in a model, in files
def test_a_model_trains_with_pooling_and_saves_and_loads(tmp_path) -> None:
    rng = np.random.default_rng(15)
    x = rng.standard_normal((32, 8, 8, 2))
    y = x[:, :4, :4].mean(axis=(1, 2, 3))[:, None]  # depends on the top-left quarter
    model = Sequential(
        [MaxPooling2D(2), AveragePooling2D(2, 1, "same"), Flatten(), Dense(1)], input_shape=(8, 8, 2), seed=0
    )
    assert model.output_shape == (1,) and [w.shape for w in model.get_weights()] == [(32, 1), (1,)]
    model.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": 0.005})
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=20, batch_size=8)
    assert model.evaluate(x, y) < 0.5 * before
    path = tmp_path / "pool.minidl"
    model.save(path)
    loaded = minidl.load(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.get_config()["layers"][0] == {
        "type": "max_pooling2d",
        "name": "max_pooling2d_0",
        "pool_size": [2, 2],
        "strides": [2, 2],
        "padding": "valid",
    }


def test_pooling_layers_take_no_generator_so_other_layers_draw_the_same_weights() -> None:
    plain = Sequential([Flatten(), Dense(3)], input_shape=(4, 4, 2), seed=3)
    pooled = Sequential([MaxPooling2D(1), GlobalAveragePooling2D(), Dense(3)], input_shape=(4, 4, 8), seed=3)
    wide = Sequential([Dense(3)], input_shape=(32,), seed=3)
    assert np.array_equal(plain.get_weights()[0], wide.get_weights()[0])
    narrow = Sequential([Dense(3)], input_shape=(8,), seed=3)
    assert np.array_equal(pooled.get_weights()[0], narrow.get_weights()[0])


def test_summary_shows_the_pooled_shapes() -> None:
    lines: list[str] = []
    model = Sequential([MaxPooling2D(2), GlobalMaxPooling2D()], input_shape=(28, 28, 16))
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 14, 14, 16)" in text and "(None, 16)" in text


# --------------------------------------------------------------------------- hostile configurations
@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"pool_size": 0}, r"pool_size must be a positive integer or a pair of them .*received pool_size=0"),
        ({"pool_size": (2, 0)}, r"pool_size must be .*received pool_size=\(2, 0\)"),
        ({"pool_size": (2, 2, 2)}, r"pool_size must be .*pair"),
        ({"pool_size": 2.0}, r"pool_size must be"),
        ({"pool_size": True}, r"pool_size must be"),
        ({"pool_size": "2"}, r"pool_size must be"),
        ({"strides": -1}, r"strides must be a positive integer or a pair of them .*received strides=-1"),
        ({"strides": (1, -2)}, r"strides must be .*received strides=\(1, -2\)"),
        ({"padding": "full"}, r"padding must be one of 'valid', 'same'; received padding='full'"),
        ({"padding": "SAME"}, r"padding must be one of"),
    ],
)
@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
def test_hostile_configurations_are_refused(cls, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        cls(**kwargs)


def test_hostile_configurations_are_refused_from_a_config_dict_too() -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        minidl.layers.get({"type": "max_pooling2d", "pool_size": [0, 2]})
    with pytest.raises(ConfigError, match="padding"):
        minidl.layers.get({"type": "average_pooling2d", "padding": "full"})


def test_shapes_that_do_not_fit_are_refused_naming_them() -> None:
    too_small = r"at least 3x3 with padding='valid'; received samples of shape \(2, 5, 1\)"
    with pytest.raises(ShapeError, match=too_small):
        MaxPooling2D(3).compute_output_shape((2, 5, 1))
    with pytest.raises(ShapeError, match=r"\(height, width, channels\); received samples of shape \(10,\)"):
        Sequential([Dense(10), MaxPooling2D(2)], input_shape=(4,))
    with pytest.raises(ShapeError, match=r"\(height, width, channels\)"):
        GlobalAveragePooling2D().compute_output_shape((5, 5))
    with pytest.raises(ShapeError, match=r"\(batch, height, width, channels\); received \(3, 4\)"):
        MaxPooling2D(2).forward(np.zeros((3, 4)))


def test_pooling_descriptions_name_the_settings() -> None:
    assert MaxPooling2D((3, 2), 1, "same").describe() == "MaxPooling2D 3x2, strides 1x1, same"
    assert AveragePooling2D(2).get_config() == {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid"}
    assert list(itertools.islice(iter(MaxPooling2D(4, (1, 2)).strides), 2)) == [1, 2]


@pytest.mark.parametrize(
    "index,change,error,message",
    [
        (0, {"pool_size": [0, 2]}, ConfigError, r"pool_size must be .*received pool_size=\[0, 2\]"),
        (0, {"strides": -2}, ConfigError, r"strides must be .*received strides=-2"),
        (1, {"padding": "full"}, ConfigError, "must be one of 'valid', 'same'; received padding='full'"),
        (0, {"pool_size": 10**12}, minidl.FormatError, r"at least 1000000000000x1000000000000"),
        (2, {"target_shape": [5, 5]}, minidl.FormatError, r"they hold 16 values and \(5, 5\) holds 25"),
        (2, {"target_shape": [-1, -1]}, ConfigError, r"target_shape must be .* at most one -1"),
    ],
    ids=["pool-size-0", "negative-strides", "padding-full", "huge-pool", "reshape-size", "two-minus-ones"],
)
def test_hostile_values_in_a_model_file_are_refused(tmp_path, index, change, error, message) -> None:
    from test_io_support import read_archive, write_archive

    model = Sequential(
        [MaxPooling2D(2), AveragePooling2D(2, 1, "same"), minidl.Reshape((4, 4)), Flatten(), Dense(1)],
        input_shape=(8, 8, 1), seed=0,
    )  # fmt: skip
    path = tmp_path / "model.minidl"
    model.save(path)
    document, members = read_archive(path)
    document["model"]["layers"][index].update(change)
    hostile = tmp_path / "hostile.minidl"
    write_archive(hostile, document, members)
    with pytest.raises(error, match=message):
        minidl.load(hostile)


def test_the_pooling_benchmark_alternatives_compute_minidls_gradient() -> None:
    """benchmarks/pooling.py times other ways of writing W6's pooling; they must agree with minidl's."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import pooling as bench

    assert bench.check((4, 6, 8, 3)) == []
    assert bench.check((2, 28, 28, 16), torch_threads=()) == []
    assert len(bench.alternatives()) >= 5
