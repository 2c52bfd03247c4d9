"""Convolutions: ``Conv2D`` on images ``(height, width, channels)`` and ``Conv1D`` on sequences
``(steps, channels)``, channels last and with kernels shaped as in Keras.

Both run the same code: a ``Conv1D`` is a ``Conv2D`` over images of height 1, with a kernel of
height 1. A forward pass is im2col and one matrix product: the receptive fields of every output
position are copied into a window matrix ``cols`` of shape ``(batch, out_h, out_w, kh, kw,
in_channels)`` (one strided copy per kernel offset, so at most ``kh * kw`` numpy calls), and
``cols @ kernel.reshape(-1, filters)`` is the output. The backward pass reuses that matrix for the
kernel's gradient (``cols.T @ g``) and gets the input's gradient by the transposed product
``g @ kernel.T``, scattered back with one strided add per kernel offset (col2im).

Zero padding is never materialised: for each kernel offset only the output positions whose
receptive field lies inside the input are copied, and the window matrix's other entries are the
zeros of padding. The layer keeps its window matrix between calls (its zero entries stay zero,
because the same geometry writes the same entries), which saves reallocating and zeroing it on
every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .. import initializers
from .._checks import choice, positive_int
from ..errors import ComponentTypeError, ConfigError, ShapeError
from ..parameter import Parameter
from . import activations
from .base import Layer, Shape, expect_rank, register

__all__ = ["Conv1D", "Conv2D", "PADDINGS", "MAX_WINDOW_BYTES"]

PADDINGS = ("valid", "same")

#: The largest window matrix (im2col buffer) a convolution holds, in bytes. A batch whose window
#: matrix would be larger is processed in chunks of samples, so the temporary memory of a
#: convolution stays near this bound whatever the batch size (at least one sample per chunk: a
#: single sample larger than this is processed alone).
MAX_WINDOW_BYTES = 64 * 2**20


def _sizes(name: str, value: Any, rank: int) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``rank`` ints) as ``rank`` positive ints, else ConfigError."""
    items = (value,) * rank if isinstance(value, (int, np.integer)) else value
    if (
        not isinstance(items, (list, tuple))
        or len(items) != rank
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in items)
    ):
        sequence = "a list of one, e.g. 3 or [3]"
        if rank == 2:
            sequence = "a sequence of 2 positive integers, e.g. 3 or (3, 3)"
        raise ConfigError(f"{name} must be a positive integer or {sequence}; received {name}={value!r}.")
    return tuple(int(n) for n in items)


class _Axis:
    """Where the kernel meets one spatial axis: the output size and, per kernel offset, which
    output positions read which input positions (both as slices)."""

    __slots__ = ("size", "out", "spans")

    def __init__(self, size: int, kernel: int, stride: int, dilation: int, padding: str) -> None:
        span = (kernel - 1) * dilation + 1  # the dilated kernel's extent
        if padding == "same":
            # As TensorFlow and Keras pad: ceil(size / stride) outputs, the total padding split
            # with the smaller half before (so an odd total puts the extra zero after).
            out = -(-size // stride)
            before = max((out - 1) * stride + span - size, 0) // 2
        else:
            out = (size - span) // stride + 1  # the caller has checked that size >= span
            before = 0
        self.size, self.out = size, out
        # spans[k] = (output slice, input slice) of the positions where offset k reads the input,
        # or None when it only ever reads padding; output o reads input o*stride + k*dilation - before.
        self.spans: list[tuple[slice, slice] | None] = []
        for k in range(kernel):
            shift = k * dilation - before
            first = max(0, -(-(-shift) // stride))  # smallest o with o*stride + shift >= 0
            last = min(out - 1, (size - 1 - shift) // stride)  # largest o with o*stride + shift < size
            if first > last:
                self.spans.append(None)
                continue
            start = first * stride + shift
            stop = start + (last - first) * stride + 1
            self.spans.append((slice(first, last + 1), slice(start, stop, stride)))


class _Plan:
    """The geometry of one input shape: output size and the strided copies of im2col/col2im."""

    __slots__ = ("key", "out_h", "out_w", "copies", "window", "sample_size")

    def __init__(
        self, key: tuple[int, ...], rows: _Axis, columns: _Axis, channels: int, kernel: tuple[int, int]
    ) -> None:
        self.key = key
        self.out_h, self.out_w = rows.out, columns.out
        # One entry per kernel offset that reads any input: the window matrix's slice
        # cols[:, out_rows, out_columns, i, j, :] holds x[:, in_rows, in_columns, :].
        self.copies = [
            (i, j, rs[0], cs[0], rs[1], cs[1])
            for i, rs in enumerate(rows.spans)
            if rs is not None
            for j, cs in enumerate(columns.spans)
            if cs is not None
        ]
        self.window = kernel[0] * kernel[1] * channels  # a row of the window matrix
        self.sample_size = rows.out * columns.out * self.window  # one sample's windows


class _Conv(Layer):
    """The convolution both layers share, written once for 2-D inputs (a 1-D input is one row)."""

    rank: ClassVar[int] = 2
    layout: ClassVar[str] = "(height, width, channels)"

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        *,
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        dilation_rate: int | Sequence[int] = 1,
        use_bias: bool = True,
        activation: Any = None,
        kernel_init: Any = "glorot_uniform",
        bias_init: Any = "zeros",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.filters = positive_int("filters", filters)
        self.kernel_size = _sizes("kernel_size", kernel_size, self.rank)
        self.strides = _sizes("strides", strides, self.rank)
        self.dilation_rate = _sizes("dilation_rate", dilation_rate, self.rank)
        self.padding = choice("padding", padding, PADDINGS)
        if not isinstance(use_bias, bool):
            raise ComponentTypeError(f"use_bias must be True or False; received use_bias={use_bias!r}.")
        self.use_bias = use_bias
        self.activation = None if activation is None else activations.get(activation)
        self.kernel_init = initializers.get(kernel_init)
        self.bias_init = initializers.get(bias_init)
        self.kernel: Parameter = None  # type: ignore[assignment]  # made by build, before any forward
        self.bias: Parameter | None = None
        self._x: np.ndarray | None = None  # the last input, as (batch, height, width, channels)
        self._plan: _Plan | None = None  # the last input shape's geometry
        self._cols: np.ndarray | None = None  # the window matrix buffer (see _window_buffer)
        self._cols_hold: np.ndarray | None = None  # set when _cols holds the last forward's windows
        self._cols_key: tuple[int, ...] | None = None  # the input shape _cols was made for
        self._dcols: np.ndarray | None = None  # backward's buffer for dL/dcols
        self._ones_cache: np.ndarray | None = None  # ones for the bias gradient's sum

    # ------------------------------------------------------------------ shapes
    def _as_2d(self, values: tuple[int, ...], one: int = 1) -> tuple[int, int]:
        # a Conv1D's kernel sizes, strides and dilations as those of a Conv2D over one row
        return (one, values[0]) if self.rank == 1 else (values[0], values[1])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        expect_rank(self, input_shape, self.rank + 1, self.layout)
        channels = input_shape[-1]
        if self.kernel is not None and channels != self.kernel.shape[-2]:
            raise ShapeError(
                f"{self.describe()} was built for {self.kernel.shape[-2]} input channels; received samples "
                f"of shape {tuple(input_shape)} ({channels} channels)."
            )
        spatial = input_shape[:-1]
        if self.padding == "valid":
            spans = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
            if any(n < s for n, s in zip(spatial, spans)):
                dilated = f" (dilated to {_x(spans)})" if spans != self.kernel_size else ""
                raise ShapeError(
                    f"{self.describe()} with padding='valid' needs inputs of at least {_x(spans)}; its "
                    f"kernel {_x(self.kernel_size)}{dilated} does not fit in samples of shape "
                    f"{tuple(input_shape)}. "
                    "Use padding='same', a smaller kernel or dilation, or larger inputs."
                )
            out = tuple((n - s) // st + 1 for n, s, st in zip(spatial, spans, self.strides))
        else:
            out = tuple(-(-n // st) for n, st in zip(spatial, self.strides))
        return (*out, self.filters)

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """The shapes :meth:`build` will create for ``input_shape`` (checked before a file is read)."""
        kernel = (*self.kernel_size, input_shape[-1], self.filters)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any]) -> None:
        shapes = self.parameter_shapes(input_shape)
        self.kernel = Parameter(self.kernel_init(shapes[0], rng, dtype), name="kernel")
        if self.use_bias:
            self.bias = Parameter(self.bias_init(shapes[1], rng, dtype), name="bias")

    def parameters(self) -> list[Parameter]:
        if self.kernel is None:
            return []
        return [self.kernel] if self.bias is None else [self.kernel, self.bias]

    # ------------------------------------------------------------------ computing
    def _images(self, x: np.ndarray) -> np.ndarray:
        """``x`` as a batch of images ``(batch, height, width, channels)`` (a view for Conv1D)."""
        if x.ndim != self.rank + 2 or x.shape[-1] != self.kernel.shape[-2]:
            raise ShapeError(
                f"{self.describe()} takes batches shaped (batch, {self.layout[1:-1]}) with "
                f"{self.kernel.shape[-2]} channels; received an array of shape {x.shape}."
            )
        return x if self.rank == 2 else x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])

    def _plan_for(self, x: np.ndarray) -> _Plan:
        key = x.shape[1:]
        plan = self._plan
        if plan is None or plan.key != key:
            kh, kw = self._as_2d(self.kernel_size)
            sh, sw = self._as_2d(self.strides)
            dh, dw = self._as_2d(self.dilation_rate)
            rows = _Axis(key[0], kh, sh, dh, self.padding if self.rank == 2 else "valid")
            columns = _Axis(key[1], kw, sw, dw, self.padding)
            if rows.out < 1 or columns.out < 1:  # forward called directly on too small an input
                self.compute_output_shape(x.shape[1:] if self.rank == 2 else x.shape[2:])
            plan = self._plan = _Plan(key, rows, columns, key[2], (kh, kw))
        return plan

    def _window_buffer(self, plan: _Plan, rows: int, dtype: np.dtype[Any]) -> np.ndarray:
        """The window matrix for ``rows`` samples, ``(rows, out_h, out_w, kh, kw, channels)``.

        The buffer is kept and reused while the geometry and dtype stay the same, and sliced for a
        smaller batch: only the entries a copy writes change, so the padding entries, zeroed once
        when the buffer is made, stay zero.
        """
        cols = self._cols
        if cols is None or cols.dtype != dtype or cols.shape[0] < rows or self._cols_key != plan.key:
            kh, kw = self._as_2d(self.kernel_size)
            cols = self._cols = np.zeros((rows, plan.out_h, plan.out_w, kh, kw, plan.key[2]), dtype)
            self._cols_key = plan.key
        return cols[:rows]

    def _chunk(self, plan: _Plan, batch: int, itemsize: int) -> int:
        # Samples per window matrix: the whole batch unless its windows would take more than
        # MAX_WINDOW_BYTES, so a large batch (predict, evaluate) is convolved in bounded chunks.
        return max(1, min(batch, MAX_WINDOW_BYTES // max(plan.sample_size * itemsize, 1)))

    def _gather(self, x: np.ndarray, plan: _Plan, start: int, stop: int) -> np.ndarray:
        """The window matrix of samples ``start:stop`` of ``x``, as ``(samples * out_h * out_w, K)``."""
        cols = self._window_buffer(plan, stop - start, x.dtype)
        part = x[start:stop]
        for i, j, out_rows, out_columns, in_rows, in_columns in plan.copies:
            cols[:, out_rows, out_columns, i, j, :] = part[:, in_rows, in_columns, :]
        return cols.reshape(len(cols) * plan.out_h * plan.out_w, plan.window)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.kernel is None:
            self.require_built()
        images = self._images(x)
        plan = self._plan_for(images)
        batch, filters = len(images), self.filters
        kernel = self.kernel.value.reshape(-1, filters)
        out = np.empty((batch, plan.out_h, plan.out_w, filters), np.result_type(images.dtype, kernel.dtype))
        flat = out.reshape(-1, filters)
        step = self._chunk(plan, batch, images.dtype.itemsize)
        self._cols_hold = None
        for start in range(0, batch, step):
            stop = min(start + step, batch)
            cols = self._gather(images, plan, start, stop)
            rows = slice(start * plan.out_h * plan.out_w, stop * plan.out_h * plan.out_w)
            _dot_into(cols, kernel, flat[rows])
            if step >= batch:  # one chunk: keep its windows for backward instead of copying them again
                self._cols_hold = cols
        self._x = images
        if self.bias is not None:
            out += self.bias.value
        if self.rank == 1:
            out = out.reshape(batch, plan.out_w, filters)
        return out if self.activation is None else self.activation.forward(out)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return self._backward(grad_output, True)  # type: ignore[return-value]

    def backward_parameters(self, grad_output: np.ndarray) -> None:
        self._backward(grad_output, False)

    def _backward(self, grad_output: np.ndarray, want_input: bool) -> np.ndarray | None:
        g = grad_output if self.activation is None else self.activation.backward(grad_output)
        x, plan = self._x, self._plan
        if x is None or plan is None:
            raise ShapeError(f"{self.describe()}: backward was called before forward.")
        batch, filters = len(x), self.filters
        per_sample = plan.out_h * plan.out_w
        g = np.ascontiguousarray(g).reshape(batch * per_sample, filters)
        if self.bias is not None:
            # the sum over rows as a product with a vector of ones (BLAS gemv): on W6's first layer
            # (50176 x 16) it takes a fifth of the time of np.add.reduce(g, axis=0)
            _dot_into(self._ones(len(g), g.dtype), g, self.bias.grad)
        kernel = self.kernel.value.reshape(-1, filters)
        grad = self.kernel.grad
        # a view of the gradient (the trainer's flat buffer), written in place; a copy only if the
        # gradient is not contiguous, copied back at the end
        direct = grad.flags.c_contiguous
        kernel_grad = grad.reshape(-1, filters) if direct else np.empty(kernel.shape, grad.dtype)
        dx = np.zeros(x.shape, np.result_type(g.dtype, kernel.dtype)) if want_input else None
        step = self._chunk(plan, batch, x.dtype.itemsize)
        if batch == 0:
            kernel_grad[...] = 0
        for start in range(0, batch, step):
            stop = min(start + step, batch)
            rows = slice(start * per_sample, stop * per_sample)
            cols = self._cols_hold
            if cols is None:  # chunked: the buffer holds another chunk's windows; copy them again
                cols = self._gather(x, plan, start, stop)
            _dot_into(cols.T, g[rows], kernel_grad, accumulate=start > 0)
            if dx is not None:
                self._scatter(g[rows], kernel, plan, dx[start:stop])
        if not direct:
            grad[...] = kernel_grad.reshape(grad.shape)
        if dx is None:
            return None
        return dx if self.rank == 2 else dx.reshape(batch, x.shape[2], x.shape[3])

    def _ones(self, size: int, dtype: np.dtype[Any]) -> np.ndarray:
        ones = self._ones_cache
        if ones is None or ones.dtype != dtype or len(ones) < size:
            ones = self._ones_cache = np.ones(size, dtype)
        return ones[:size]

    def _scatter(self, g: np.ndarray, kernel: np.ndarray, plan: _Plan, dx: np.ndarray) -> None:
        """Adds to ``dx`` the input gradient of the windows whose output gradient is ``g`` (col2im)."""
        dcols = self._dcols
        size = (len(g), kernel.shape[0])
        if dcols is None or dcols.dtype != dx.dtype or dcols.size < size[0] * size[1]:
            dcols = self._dcols = np.empty(size[0] * size[1], dx.dtype)
        windows = dcols[: size[0] * size[1]].reshape(size)
        _dot_into(g, kernel.T, windows)
        kh, kw = self._as_2d(self.kernel_size)
        windows = windows.reshape(len(dx), plan.out_h, plan.out_w, kh, kw, dx.shape[-1])
        for i, j, out_rows, out_columns, in_rows, in_columns in plan.copies:
            dx[:, in_rows, in_columns, :] += windows[:, out_rows, out_columns, i, j, :]

    # ------------------------------------------------------------------ description
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "use_bias": self.use_bias,
        }
        if self.activation is not None:
            config["activation"] = activations.registry.serialize(self.activation)
        config.update(
            kernel_init=initializers.registry.serialize(self.kernel_init),
            bias_init=initializers.registry.serialize(self.bias_init),
        )
        return config

    def describe(self) -> str:
        channels = "?" if self.kernel is None else self.kernel.shape[-2]
        act = f", {type(self.activation).__name__}" if self.activation is not None else ""
        return f"{type(self).__name__} {_x(self.kernel_size)} {channels} -> {self.filters}{act}"


def _dot_into(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool = False) -> None:
    """``out = a @ b`` (or ``out += a @ b``), written straight into ``out`` when the dtypes allow."""
    if accumulate:
        out += a.dot(b)
    elif out.dtype == np.result_type(a.dtype, b.dtype):
        np.dot(a, b, out=out)
    else:  # mixed dtypes (a float64 batch through a float32 layer): numpy's dot refuses out=
        out[...] = a.dot(b)


def _x(sizes: tuple[int, ...]) -> str:
    return "x".join(map(str, sizes))


@register("conv2d")
class Conv2D(_Conv):
    """2-D convolution on images ``(height, width, channels)``: ``y = activation(conv(x, K) + b)``.

    ``y[n, p, q, f] = sum over i, j, c of x[n, p*sh + i*dh - top, q*sw + j*dw - left, c] *
    K[i, j, c, f]`` (a cross-correlation, as in every framework), reading zeros outside the input.
    ``K`` has shape ``(kh, kw, in_channels, filters)`` as in Keras, ``b`` shape ``(filters,)``;
    ``in_channels`` is inferred from the input. ``kernel_size``, ``strides`` and ``dilation_rate``
    are an int or a pair. ``padding="valid"`` pads nothing (``out = (in - span) // stride + 1``
    with ``span = (k - 1) * dilation + 1``); ``"same"`` pads as Keras and TensorFlow do: ``out =
    ceil(in / stride)``, ``max((out - 1) * stride + span - in, 0)`` zeros in all, the smaller half
    before.

    Example:
        >>> layer = Conv2D(4, 3, padding="same", activation="relu")
        >>> layer.build_for((8, 8, 1), np.random.default_rng(0), np.dtype("float64"))
        (8, 8, 4)
        >>> layer.forward(np.ones((2, 8, 8, 1))).shape
        (2, 8, 8, 4)
    """

    rank = 2
    layout = "(height, width, channels)"

    @classmethod
    def example(cls) -> Conv2D:
        # small enough for the finite-difference checks: 3*2*2*3 + 3 = 39 parameters, 5x4 images
        return cls(3, (3, 2), strides=(2, 1), padding="same", activation="tanh", bias_init="normal")

    def example_input_shape(self) -> Shape:
        return self.input_shape or (5, 4, 2)


@register("conv1d")
class Conv1D(_Conv):
    """1-D convolution on sequences ``(steps, channels)``: ``y = activation(conv(x, K) + b)``.

    ``y[n, t, f] = sum over i, c of x[n, t*stride + i*dilation - left, c] * K[i, c, f]``; ``K``
    has shape ``(k, in_channels, filters)`` as in Keras. Padding, strides and dilation follow
    :class:`Conv2D` on the one axis; it runs Conv2D's code on images of height 1.

    Example:
        >>> layer = Conv1D(4, 3, padding="same")
        >>> layer.build_for((10, 2), np.random.default_rng(0), np.dtype("float64"))
        (10, 4)
    """

    rank = 1
    layout = "(steps, channels)"

    @classmethod
    def example(cls) -> Conv1D:
        return cls(3, 3, dilation_rate=2, activation="tanh", bias_init="normal")

    def example_input_shape(self) -> Shape:
        return self.input_shape or (7, 2)
