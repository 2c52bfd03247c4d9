"""Pooling layers on images laid out ``(height, width, channels)`` per sample, as Keras does.

``MaxPooling2D`` and ``AveragePooling2D`` slide a ``pool_size`` window with ``strides`` over the
height and width of each channel; ``GlobalMaxPooling2D`` and ``GlobalAveragePooling2D`` pool
each channel over the whole image, to ``(channels,)``.

How they are computed: a window's max (or sum) is separable, the max over its rows of the max
over each row's columns, so a pooling runs as two one-axis poolings, along the width and then
along the height. Each one-axis pooling is a loop over the pool's offsets (2 for a pool of 2),
every step one numpy call on a strided view of the whole batch: no loop over samples, pixels or
channels. On W6's 2x2 max pooling of a (64, 28, 28, 16) float32 batch, forward and backward
took 4.1-5.3 ms of CPU where a loop over the 4 offsets of the 2-D window took 5.6-6.7 ms, and
reducing a ``sliding_window_view`` (or the (n, h/2, 2, w/2, 2, c) reshape) with
``max(axis=...)`` took 16-22 ms: numpy reduces over short strided axes slowly
(``python -m benchmarks.pooling`` measures them all, and PyTorch's ``max_pool2d``).

``padding="same"`` pads as Keras does: the output has ``ceil(size / stride)`` positions and the
``max((out - 1) * stride + pool - size, 0)`` padded positions are split with the extra one after
(bottom, right). The padding is never materialised: each offset reads only the real inputs it
covers, so max pooling ignores the padding and average pooling divides by the number of real
inputs in each window (as Keras, whose TensorFlow backend excludes the padding from the count).
Every window holds at least one real input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import choice
from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, expect_rank, register

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"]

PADDINGS = ("valid", "same")

# One pool offset along one axis: the output positions it contributes to and the input
# positions it reads there (both slices along that axis).
_Offset = tuple[slice, slice]


def _pair(name: str, value: Any) -> tuple[int, int]:
    """``value`` (an int or a pair of ints, each >= 1) as a pair, else ConfigError."""
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        pair = tuple(items)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in pair
    ):
        raise ConfigError(
            f"{name} must be a positive integer or a pair of them (height, width), e.g. 2 or (2, 2); "
            f"received {name}={value!r}."
        )
    return int(pair[0]), int(pair[1])


def _output_size(size: int, pool: int, stride: int, padding: str) -> int:
    """Output positions along one axis (0 when a 'valid' pool does not fit)."""
    if padding == "same":
        return -(-size // stride)
    return 0 if size < pool else (size - pool) // stride + 1


def _pad_before(size: int, pool: int, stride: int, padding: str) -> int:
    if padding == "valid":
        return 0
    out = -(-size // stride)
    return max((out - 1) * stride + pool - size, 0) // 2  # the odd one goes after, as Keras


def _offsets(size: int, pool: int, stride: int, pad_before: int, out: int) -> list[_Offset]:
    """For each pool offset that reads real inputs: (output slice, input slice) along one axis.

    Offset ``d`` of output position ``o`` reads input ``o * stride - pad_before + d``; only the
    outputs where that index lies inside the input are kept, so a padded position is never read.
    Offsets that read no input at all are skipped without being visited (a huge pool costs
    nothing more than the input size).
    """
    offsets = []
    for d in range(max(0, pad_before - (out - 1) * stride), min(pool, pad_before + size)):
        lo = max(0, -((d - pad_before) // stride))  # the first o with o * stride - pad_before + d >= 0
        hi = min(out, (size - 1 + pad_before - d) // stride + 1)
        if lo < hi:
            start = lo * stride - pad_before + d
            offsets.append((slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)))
    return offsets


def _along(axis: int, index: slice) -> tuple[slice, ...]:
    """An index tuple taking ``index`` along ``axis`` of a (batch, height, width, channels) array."""
    return (slice(None),) * axis + (index,)


def _is_partition(offsets: list[_Offset], size: int, out: int) -> bool:
    """True when every input position is read exactly once, by an offset covering every output.

    Then a backward pass can assign each offset's gradient instead of accumulating it into zeros.
    """
    full = slice(0, out)
    covered = sum(o == full and i.step == len(offsets) for o, i in offsets) == len(offsets)
    return covered and len(offsets) * out == size


def _lowest(dtype: np.dtype[Any]) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _fold_along(
    x: np.ndarray, axis: int, offsets: list[_Offset], out: int, ufunc: np.ufunc, fill: Any
) -> np.ndarray:
    """Pooling along one axis of ``x``: ``ufunc`` (maximum or add) folds each window's inputs.

    ``fill`` starts the outputs that no offset covers whole (the padding of 'same').
    """
    full = slice(0, out)
    if len(offsets) >= 2 and offsets[0][0] == full and offsets[1][0] == full:
        # the common case: the first two offsets make the result, the others fold into it in place
        y = ufunc(x[_along(axis, offsets[0][1])], x[_along(axis, offsets[1][1])])
        rest = offsets[2:]
    elif offsets[0][0] == full:
        y, rest = x[_along(axis, offsets[0][1])].copy(), offsets[1:]
    else:
        shape = list(x.shape)
        shape[axis] = out
        y, rest = np.full(shape, fill, dtype=x.dtype), offsets
    for o, i in rest:
        target = y[_along(axis, o)]
        ufunc(target, x[_along(axis, i)], out=target)
    return y


def _max_along(x: np.ndarray, axis: int, offsets: list[_Offset], out: int) -> np.ndarray:
    """Max pooling along one axis of ``x`` (the padding is never picked)."""
    return _fold_along(x, axis, offsets, out, np.maximum, _lowest(x.dtype))


def _max_backward(
    x: np.ndarray, y: np.ndarray, g: np.ndarray, axis: int, offsets: list[_Offset]
) -> np.ndarray:
    """dL/dx of ``y = _max_along(x, ...)``: each window's gradient goes to its first maximum.

    ``rest`` is the part of ``g`` not yet routed: an offset whose input equals the window's
    maximum takes it and leaves 0 behind (``rest - taken`` is exact: ``g - g`` or ``g - 0``).
    The last offset takes what is left without a comparison: a window whose maximum came
    earlier has nothing left.
    """
    out = y.shape[axis]
    last = len(offsets) - 1
    if _is_partition(offsets, x.shape[axis], out):
        # Each input lies in one window (W6's 2x2 pools), so dx needs no zero fill, and each
        # share is written straight into its strided place: no temporary the size of the output.
        # Fewer large temporaries matter more than it seems: glibc hands freed blocks of a few
        # MB back to the system, and taking them again costs a page fault per 4 KiB. Writing
        # the shares through temporaries instead cost W6's pooling 1683 page faults and 7.1-7.8
        # ms of CPU per forward and backward, against none and 4.1-4.5 ms (benchmarks/pooling.py).
        dx = np.empty_like(x)
        rest = g
        for k, (_, i) in enumerate(offsets):
            target = dx[_along(axis, i)]
            if k == last:  # one offset only (a pool of 1)
                target[...] = rest
                break
            np.multiply(rest, x[_along(axis, i)] == y, out=target)
            if k == last - 1:  # the last offset takes what is left: g minus the shares taken
                np.subtract(rest, target, out=dx[_along(axis, offsets[last][1])])
                break
            rest = rest - target
        return dx
    # overlapping windows, strides past the pool, padding or a cropped edge: accumulate into zeros
    dx = np.zeros_like(x)
    rest = g
    for k, (o, i) in enumerate(offsets):
        src, dst = _along(axis, o), _along(axis, i)
        taken = rest[src] if k == last else rest[src] * (x[dst] == y[src])
        dx[dst] += taken
        if k < last:
            if o == slice(0, out):
                rest = rest - taken
            else:
                rest = rest.copy() if rest is g else rest
                rest[src] -= taken
    return dx


def _sum_along(x: np.ndarray, axis: int, offsets: list[_Offset], out: int) -> np.ndarray:
    """Sum pooling along one axis of ``x`` (the real inputs only)."""
    return _fold_along(x, axis, offsets, out, np.add, 0)


def _sum_backward(g: np.ndarray, size: int, axis: int, offsets: list[_Offset]) -> np.ndarray:
    """dL/dx of a sum pooling along one axis: each input gets the gradients of its windows."""
    out = g.shape[axis]
    if _is_partition(offsets, size, out):
        # non-overlapping windows tiling the axis: each input takes its window's gradient
        return np.repeat(g, len(offsets), axis=axis)
    shape = list(g.shape)
    shape[axis] = size
    dx = np.zeros(shape, dtype=g.dtype)
    for o, i in offsets:
        dx[_along(axis, i)] += g[_along(axis, o)]
    return dx


class _Pooling2D(Layer):
    """What max and average pooling share: arguments, shapes, the per-axis offsets, config."""

    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: str = "valid", *, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.pool_size = _pair("pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _pair("strides", strides)
        self.padding = choice("padding", padding, PADDINGS)
        self.built = True  # no parameters and no randomness: the model spawns no generator for it
        self._plan_key: tuple[int, int] | None = None
        self._plan: tuple[list[_Offset], list[_Offset], int, int] | None = None
        self._x: np.ndarray | None = None

    @classmethod
    def example(cls) -> _Pooling2D:
        # overlapping windows, a stride per axis and padding on both sides: the kit checks the
        # general path, not only the common 2x2 one
        return cls(pool_size=(3, 2), strides=(2, 1), padding="same")

    def example_input_shape(self) -> Shape:
        return self.input_shape or (6, 5, 2)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        expect_rank(self, input_shape, 3, "(height, width, channels)")
        height, width, channels = input_shape
        out = tuple(
            _output_size(size, pool, stride, self.padding)
            for size, pool, stride in zip((height, width), self.pool_size, self.strides, strict=True)
        )
        if 0 in out:
            raise ShapeError(
                f"{self.describe()} needs images of at least {self.pool_size[0]}x{self.pool_size[1]} with "
                f"padding='valid'; received samples of shape {tuple(input_shape)}. Use padding='same' or a "
                "smaller pool_size."
            )
        return (out[0], out[1], channels)

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """No parameters (a model file is checked against this before it is read)."""
        return []

    def _offsets_for(self, x: np.ndarray) -> tuple[list[_Offset], list[_Offset], int, int]:
        if x.ndim != 4:
            raise ShapeError(
                f"{self.describe()} takes batches of shape (batch, height, width, channels); "
                f"received {x.shape}."
            )
        key = (x.shape[1], x.shape[2])
        if key != self._plan_key:  # computed once per image size, not at every step
            out_h, out_w, _ = self.compute_output_shape((*key, 1))
            (ph, pw), (sh, sw) = self.pool_size, self.strides
            rows = _offsets(key[0], ph, sh, _pad_before(key[0], ph, sh, self.padding), out_h)
            cols = _offsets(key[1], pw, sw, _pad_before(key[1], pw, sw, self.padding), out_w)
            self._plan, self._plan_key = (rows, cols, out_h, out_w), key
        return self._plan  # type: ignore[return-value]

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding}

    def describe(self) -> str:
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        return f"{type(self).__name__} {ph}x{pw}, strides {sh}x{sw}, {self.padding}"


@register("max_pooling2d")
class MaxPooling2D(_Pooling2D):
    """Max over each ``pool_size`` window: ``y[i, j, c] = max x[i*sh + a, j*sw + b, c]`` over the window.

    ``pool_size`` and ``strides`` are an int or a ``(height, width)`` pair; ``strides`` defaults
    to ``pool_size`` (non-overlapping windows). ``padding="valid"`` keeps whole windows only
    (``floor((size - pool) / stride) + 1`` outputs); ``"same"`` gives ``ceil(size / stride)``
    outputs, and the padding never wins a max.

    Backward routes each window's gradient to its maximum. Ties: the gradient goes to the first
    maximal input of the window in row-major order (top row first, then left to right), as
    PyTorch's CPU kernel does; the others get 0. With overlapping windows an input collects the
    gradients of every window it wins.

    Args:
        pool_size: the window, an int or a ``(height, width)`` pair.
        strides: the step between windows, an int or a pair (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
        name: the layer's name in summaries and saved files (default: from its class).

    Examples:
        >>> layer = MaxPooling2D(2)
        >>> layer.compute_output_shape((28, 28, 16))
        (14, 14, 16)
    """

    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: str = "valid", *, name: str | None = None
    ) -> None:
        super().__init__(pool_size, strides, padding, name=name)
        self._rows_max: np.ndarray | None = None
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        rows, cols, out_h, out_w = self._offsets_for(x)
        # along the width first, then the height: the max of each row of a window, then the
        # first row holding the window's max; this order gives the row-major tie rule
        row_max = _max_along(x, 2, cols, out_w)
        y = _max_along(row_max, 1, rows, out_h)
        self._x, self._rows_max, self._y = x, row_max, y
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        rows, cols, _, _ = self._offsets_for(self._x)  # type: ignore[arg-type]  # forward ran first
        d_row_max = _max_backward(self._rows_max, self._y, grad_output, 1, rows)  # type: ignore[arg-type]
        return _max_backward(self._x, self._rows_max, d_row_max, 2, cols)  # type: ignore[arg-type]


@register("average_pooling2d")
class AveragePooling2D(_Pooling2D):
    """Mean over each ``pool_size`` window: ``y[i, j, c] = sum x[...] / count[i, j]`` over the window.

    Arguments as ``MaxPooling2D``. ``count`` is ``pool_height * pool_width`` with
    ``padding="valid"``; with ``"same"`` it is the number of real inputs in the window (the
    padding is not averaged in, as in Keras). Backward: each input receives ``g / count`` from
    every window it lies in.

    Args:
        pool_size: the window, an int or a ``(height, width)`` pair.
        strides: the step between windows, an int or a pair (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
        name: the layer's name in summaries and saved files (default: from its class).
    """

    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: str = "valid", *, name: str | None = None
    ) -> None:
        super().__init__(pool_size, strides, padding, name=name)
        self._count_key: tuple[tuple[int, int], np.dtype[Any]] | None = None
        self._count: Any = None

    def _counts(self, x: np.ndarray) -> Any:
        """The number of real inputs in each window: a number, or an (out_h, out_w, 1) array."""
        key = ((x.shape[1], x.shape[2]), x.dtype)
        if key != self._count_key:
            rows, cols, out_h, out_w = self._offsets_for(x)
            per_axis = []
            for offsets, out in ((rows, out_h), (cols, out_w)):
                count = np.zeros(out)
                for o, _ in offsets:
                    count[o] += 1
                per_axis.append(count)
            counts = np.multiply.outer(per_axis[0], per_axis[1])[:, :, None].astype(x.dtype)
            first = float(counts.flat[0])
            self._count = first if np.all(counts == first) else counts  # a number when all are equal
            self._count_key = key
        return self._count

    def forward(self, x: np.ndarray) -> np.ndarray:
        rows, cols, out_h, out_w = self._offsets_for(x)
        self._x = x
        total = _sum_along(_sum_along(x, 2, cols, out_w), 1, rows, out_h)
        total /= self._counts(x)
        return total

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x = self._x
        rows, cols, _, _ = self._offsets_for(x)  # type: ignore[arg-type]  # forward ran first
        g = grad_output / self._counts(x)  # type: ignore[arg-type]
        d_row_sums = _sum_backward(g, x.shape[1], 1, rows)  # type: ignore[union-attr]
        return _sum_backward(d_row_sums, x.shape[2], 2, cols)  # type: ignore[union-attr]


class _GlobalPooling2D(Layer):
    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.built = True  # no parameters and no randomness: the model spawns no generator for it
        self._shape: tuple[int, ...] = ()  # the last input's batch shape, set by forward

    def example_input_shape(self) -> Shape:
        return self.input_shape or (6, 5, 2)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        expect_rank(self, input_shape, 3, "(height, width, channels)")
        return (input_shape[2],)

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """No parameters (a model file is checked against this before it is read)."""
        return []

    def _check(self, x: np.ndarray) -> None:
        if x.ndim != 4:
            raise ShapeError(
                f"{self.describe()} takes batches of shape (batch, height, width, channels); "
                f"received {x.shape}."
            )


@register("global_average_pooling2d")
class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the image: ``(height, width, channels)`` to ``(channels,)``.

    ``y[c] = sum x[:, :, c] / (height * width)``; backward gives every pixel ``g[c] / (height * width)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        self._shape = x.shape
        return x.mean(axis=(1, 2))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        _n, height, width, _channels = self._shape
        dx = np.empty(self._shape, dtype=grad_output.dtype)
        dx[...] = (grad_output / (height * width))[:, None, None, :]  # a real array, not a broadcast view
        return dx


@register("global_max_pooling2d")
class GlobalMaxPooling2D(_GlobalPooling2D):
    """The max of each channel over the image: ``(height, width, channels)`` to ``(channels,)``.

    Backward routes ``g[c]`` to the first maximal pixel of channel ``c`` in row-major order (as
    ``MaxPooling2D`` and PyTorch); every other pixel gets 0.

    Args:
        name: the layer's name in summaries and saved files (default: from its class).
    """

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._where: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        self._shape = x.shape
        pixels = x.reshape(x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        where = self._where = np.argmax(pixels, axis=1)[:, None, :]  # argmax: the first maximum
        return np.take_along_axis(pixels, where, axis=1)[:, 0, :]

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        n, height, width, channels = self._shape
        dx = np.zeros((n, height * width, channels), dtype=grad_output.dtype)
        np.put_along_axis(dx, self._where, grad_output[:, None, :], axis=1)  # type: ignore[arg-type]
        return dx.reshape(self._shape)
