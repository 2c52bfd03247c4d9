"""Convolutions: ``Conv2D`` on images ``(height, width, channels)`` and ``Conv1D`` on sequences
``(steps, channels)``, channels last and with kernels shaped as in Keras.

Both run the same code: a ``Conv1D`` is a ``Conv2D`` over images of height 1 with a kernel of
height 1. The forward pass is im2col and one matrix product: the receptive fields of every output
position are copied into a window matrix ``cols`` of shape ``(batch, out_h, out_w, kh * kw *
in_channels)`` and ``cols @ kernel.reshape(-1, filters)`` is the output. The backward pass reuses
that matrix for the kernel's gradient (``cols.T @ g``). The input's gradient is a transposed
convolution: for stride 1, a forward convolution of the zero-padded ``g`` with the kernel flipped
in space (one more window copy and product); for larger strides, ``g @ kernel.T`` scattered back
with one strided add per kernel offset (col2im).

The timings quoted in the comments are CPU times on W6's two layers (28x28x1 -> 16 and 14x14x16
-> 32 filters, 3x3, 'same', float32, batch 64) with one BLAS thread, on a 2-vCPU AMD EPYC; each
choice was the fastest of the alternatives measured side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import initializers
from .._checks import choice, positive_int
from ..errors import ComponentTypeError, ConfigError, ShapeError
from ..parameter import Parameter
from . import activations
from .base import Layer, Shape, expect_rank, register

__all__ = ["Conv1D", "Conv2D", "PADDINGS", "MAX_WINDOW_BYTES"]

PADDINGS = ("valid", "same")

_Pads = tuple[tuple[int, int], tuple[int, int]]  # zeros (before, after) the rows and the columns

#: The largest window matrix a convolution keeps from its forward pass for its backward pass, in
#: bytes. A batch whose window matrix would be larger is not kept: it is made chunk by chunk
#: (chunks of about 2 MiB) in the forward pass and again in the backward pass, so the temporary
#: memory of a convolution stays bounded whatever the batch size (predict, evaluate).
MAX_WINDOW_BYTES = 64 * 2**20

# Window matrices are made and multiplied in chunks of samples of about this many bytes, so that
# a chunk is still in the CPU's cache when the product reads it: the transposed convolution of
# W6's second layer takes 6.1 ms in chunks of 8 samples (1.8 MB), 7.1 ms in one piece. (The
# forward pass gains nothing measurable from it, and loses nothing.)
_CHUNK_BYTES = 2 * 2**20

# The kernel's gradient cols.T @ g sums over every output position of the batch; OpenBLAS does
# such a long, thin product faster in pieces of about this many bytes of cols (W6's second layer,
# over several runs: 4.7-7.0 ms in pieces of 452 rows, 8.6-9.8 ms in one product; larger pieces
# gain less). Each piece is one more BLAS call, which costs more when BLAS threads must wait for a
# busy CPU: a reason not to make the pieces smaller still.
_PRODUCT_BYTES = 256 * 2**10


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
    """Where the kernel meets one spatial axis: the output size, the zeros before and after the
    input that the windows reach, and, per kernel offset, which outputs read which inputs."""

    __slots__ = ("size", "kernel", "stride", "dilation", "out", "before", "after", "spans")

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
        self.size, self.kernel, self.stride, self.dilation = size, kernel, stride, dilation
        self.out, self.before = out, before
        self.after = max(0, (out - 1) * stride + span - before - size)
        # spans[k] = (output slice, input slice) of the positions where offset k reads the input,
        # or None when it reads only padding: output o reads input o*stride + k*dilation - before
        self.spans: list[tuple[slice, slice] | None] = []
        for k in range(kernel):
            shift = k * dilation - before
            first = max(0, -(shift // stride))  # the smallest o with o*stride + shift >= 0
            last = min(out - 1, (size - 1 - shift) // stride)  # the largest o reading inside
            if first > last:
                self.spans.append(None)
                continue
            start = first * stride + shift
            stop = start + (last - first) * stride + 1
            self.spans.append((slice(first, last + 1), slice(start, stop, stride)))

    def transposed(self) -> tuple[int, int]:
        """The zeros before and after ``g`` (``out`` long) whose stride-1 convolution with the
        flipped kernel is dL/dinput (``size`` long): input i gets g[i + before - k*dilation]."""
        span = (self.kernel - 1) * self.dilation + 1
        before = span - 1 - self.before
        return before, self.size + span - 1 - before - self.out


class _Plan:
    """The geometry of one input shape (height, width, channels)."""

    __slots__ = ("key", "rows", "columns", "channels", "out_h", "out_w", "window", "copies")

    def __init__(self, key: tuple[int, ...], rows: _Axis, columns: _Axis) -> None:
        self.key, self.rows, self.columns, self.channels = key, rows, columns, key[2]
        self.out_h, self.out_w = rows.out, columns.out
        self.window = rows.kernel * columns.kernel * key[2]  # a row of the window matrix
        # col2im (strides above 1), for each kernel offset (i, j) that reads any input:
        # dx[:, in_rows, in_columns, :] += windows[:, out_rows, out_columns, i, j, :]
        self.copies = [
            (i, j, rs[0], cs[0], rs[1], cs[1])
            for i, rs in enumerate(rows.spans)
            if rs is not None
            for j, cs in enumerate(columns.spans)
            if cs is not None
        ]


def _copy_windows(
    source: np.ndarray, windows: np.ndarray, strides: tuple[int, int], dilation: tuple[int, int]
) -> None:
    """``windows[n, p, q, i, j, c] = source[n, p*sh + i*dh, q*sw + j*dw, c]`` (``source`` padded).

    With several channels: one copy from a strided view of all the windows, in which numpy copies
    runs of ``kw * channels`` contiguous values (W6's second layer: 1.5 ms, against 5.6 ms for one
    copy per kernel offset, whose runs are ``channels`` long). With one channel a copy per offset
    is faster (W6's first layer: 0.5 ms against 1.7 ms): its innermost loop runs along a row.
    """
    _, oh, ow, kh, kw, _ = windows.shape
    (sh, sw), (dh, dw) = strides, dilation
    if source.shape[-1] == 1:
        for i in range(kh):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            for j in range(kw):
                windows[:, :, :, i, j, :] = source[:, rows, j * dw : j * dw + (ow - 1) * sw + 1 : sw]
        return
    view = sliding_window_view(source, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    view = view[:, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, :, ::dh, ::dw]
    np.copyto(windows, view.transpose(0, 1, 2, 4, 5, 3))


def _dot_into(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool = False) -> None:
    """``out = a @ b`` (or ``out += a @ b``), written straight into ``out`` when the dtypes allow."""
    if accumulate:
        out += a.dot(b)
    elif out.dtype == np.result_type(a.dtype, b.dtype):
        np.dot(a, b, out=out)
    else:  # mixed dtypes (a float64 batch through a float32 layer): numpy's dot refuses out=
        out[...] = a.dot(b)


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
        # As a Conv2D's: a Conv1D's sizes with a leading 1 for the height of its one-row images
        one = () if self.rank == 2 else (1,)
        self._kernel_2d: tuple[int, int] = (*one, *self.kernel_size)
        self._strides_2d: tuple[int, int] = (*one, *self.strides)
        self._dilation_2d: tuple[int, int] = (*one, *self.dilation_rate)
        self._x: np.ndarray | None = None  # the last input, as (batch, height, width, channels)
        self._plan: _Plan | None = None  # the last input shape's geometry
        self._cols_kept: np.ndarray | None = None  # the last forward's window matrix, when kept
        self._scratch: dict[str, tuple[np.ndarray, Any]] = {}  # buffers kept between calls

    # ------------------------------------------------------------------ shapes
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
            spans = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate, strict=True))
            if any(n < s for n, s in zip(spatial, spans, strict=True)):
                dilated = f" (dilated to {_x(spans)})" if spans != self.kernel_size else ""
                raise ShapeError(
                    f"{self.describe()} with padding='valid' needs inputs of at least {_x(spans)}; its "
                    f"kernel {_x(self.kernel_size)}{dilated} does not fit in samples of shape "
                    f"{tuple(input_shape)}. "
                    "Use padding='same', a smaller kernel or dilation, or larger inputs."
                )
            out = tuple((n - s) // st + 1 for n, s, st in zip(spatial, spans, self.strides, strict=True))
        else:
            out = tuple(-(-n // st) for n, st in zip(spatial, self.strides, strict=True))
        return (*out, self.filters)

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """The shapes ``build`` will create for ``input_shape`` (checked before a file is read)."""
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

    def _plan_for(self, images: np.ndarray) -> _Plan:
        key = images.shape[1:]
        plan = self._plan
        if plan is None or plan.key != key:
            self.compute_output_shape(key[1:] if self.rank == 1 else key)  # raises if it cannot take it
            (kh, kw), (sh, sw), (dh, dw) = self._kernel_2d, self._strides_2d, self._dilation_2d
            rows = _Axis(key[0], kh, sh, dh, self.padding if self.rank == 2 else "valid")
            plan = self._plan = _Plan(key, rows, _Axis(key[1], kw, sw, dw, self.padding))
        return plan

    def _buffer(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype[Any], key: Any
    ) -> tuple[np.ndarray, bool]:
        """A scratch array of ``shape`` kept between calls, and whether it was just made (zeroed).

        It is made again when its trailing dimensions, dtype or ``key`` (the geometry) change, or
        when it has fewer than ``shape[0]`` rows; fewer rows are a slice of it. So the entries
        callers never write (the zero borders of a padded batch, the ones column of the window
        matrix) keep the values they were given when the array was made.
        """
        held = self._scratch.get(name)
        if held is not None:
            array, held_key = held
            if held_key == (shape[1:], dtype, key) and len(array) >= shape[0]:
                return array[: shape[0]], False
        array = np.zeros(shape, dtype)
        self._scratch[name] = (array, (shape[1:], dtype, key))
        return array, True

    def _padded(self, name: str, images: np.ndarray, pads: _Pads, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` of ``images`` with ``pads`` zeros around (a kept buffer), or a view."""
        part = images[start:stop]
        if not any(pads[0] + pads[1]):
            return part
        (top, bottom), (left, right) = pads
        n, h, w, c = part.shape
        padded, _ = self._buffer(name, (n, top + h + bottom, left + w + right, c), part.dtype, (h, w, pads))
        padded[:, top : top + h, left : left + w] = part  # the borders stay zero: nothing writes them
        return padded

    def _step(self, sample_bytes: int, batch: int) -> int:
        """Samples per chunk: about _CHUNK_BYTES of window matrix, at least one."""
        return max(1, min(batch, _CHUNK_BYTES // max(sample_bytes, 1)))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.kernel is None:
            self.require_built()
        images = self._images(x)
        plan = self._plan_for(images)
        batch, filters, per_sample = len(images), self.filters, plan.out_h * plan.out_w
        kernel = self._kernel_matrix()
        out = np.empty((batch, plan.out_h, plan.out_w, filters), np.result_type(images.dtype, kernel.dtype))
        flat = out.reshape(-1, filters)
        sample_bytes = per_sample * len(kernel) * images.dtype.itemsize
        # kept for backward when small enough; else made in chunks, and again in backward
        keep = batch * sample_bytes <= MAX_WINDOW_BYTES
        step = self._step(sample_bytes, batch)
        cols = self._window_matrix(plan, batch if keep else step, images.dtype)
        for start in range(0, batch, step):
            stop = min(start + step, batch)
            part = cols[start:stop] if keep else cols[: stop - start]
            self._gather(images, plan, start, stop, part)
            _dot_into(part.reshape(-1, len(kernel)), kernel, flat[start * per_sample : stop * per_sample])
        self._x = images
        self._cols_kept = cols[:batch].reshape(batch * per_sample, len(kernel)) if keep else None
        if self.rank == 1:
            out = out.reshape(batch, plan.out_w, filters)
        return out if self.activation is None else self.activation.forward(out)

    def _kernel_matrix(self) -> np.ndarray:
        """The kernel as a ``(kh * kw * in_channels, filters)`` matrix, with the bias as one more row.

        The window matrix has a matching column of ones, so one product adds the bias and, in
        backward, gives its gradient: on W6's first layer (9 rows) that saves 0.75 ms of the
        2.2 ms that the product and a separate bias addition take, and 0.4 ms of the 2 ms of the
        kernel's and the bias's gradients.
        """
        kernel = self.kernel.value.reshape(-1, self.filters)
        if self.bias is None:
            return kernel
        matrix = np.empty((len(kernel) + 1, self.filters), kernel.dtype)
        matrix[:-1] = kernel
        matrix[-1] = self.bias.value
        return matrix

    def _window_matrix(self, plan: _Plan, rows: int, dtype: np.dtype[Any]) -> np.ndarray:
        """The window matrix buffer ``(rows, out_h, out_w, width)``; width counts the ones column."""
        width = plan.window + (self.bias is not None)
        cols, fresh = self._buffer("cols", (rows, plan.out_h, plan.out_w, width), dtype, plan.key)
        if fresh and self.bias is not None:
            cols[..., -1] = 1  # nothing else writes the ones column
        return cols

    def _gather(self, images: np.ndarray, plan: _Plan, start: int, stop: int, part: np.ndarray) -> None:
        """Copies the windows of samples ``start:stop`` into ``part``, a slice of the window matrix."""
        rows, columns = plan.rows, plan.columns
        pads = ((rows.before, rows.after), (columns.before, columns.after))
        source = self._padded("input", images, pads, start, stop)
        kh, kw = self._kernel_2d
        windows = part[..., : plan.window].reshape(len(part), plan.out_h, plan.out_w, kh, kw, plan.channels)
        _copy_windows(source, windows, self._strides_2d, self._dilation_2d)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return self._backward(grad_output, True)  # type: ignore[return-value]

    def backward_parameters(self, grad_output: np.ndarray) -> None:
        self._backward(grad_output, False)

    def _backward(self, grad_output: np.ndarray, want_input: bool) -> np.ndarray | None:
        images, plan = self._x, self._plan
        if images is None or plan is None:
            raise ShapeError(f"{self.describe()}: backward was called before forward.")
        g = grad_output if self.activation is None else self.activation.backward(grad_output)
        batch = len(images)
        g = np.ascontiguousarray(g).reshape(batch * plan.out_h * plan.out_w, self.filters)
        self._parameter_gradients(g, images, plan)
        if not want_input:
            return None
        if self._strides_2d == (1, 1):
            dx = self._transposed_convolution(g, images, plan)
        else:
            dx = self._col2im(g, images, plan)
        return dx if self.rank == 2 else dx.reshape(batch, images.shape[2], images.shape[3])

    def _parameter_gradients(self, g: np.ndarray, images: np.ndarray, plan: _Plan) -> None:
        # cols.T @ g: the kernel's gradient, and the bias's in the row of the ones column
        width = plan.window + (self.bias is not None)
        grads = np.empty((width, self.filters), self.kernel.grad.dtype)
        batch, per_sample = len(images), plan.out_h * plan.out_w
        if batch == 0:
            grads[...] = 0
        elif self._cols_kept is not None:
            cols = self._cols_kept
            rows = max(1, _PRODUCT_BYTES // (width * cols.itemsize))
            for start in range(0, len(cols), rows):
                piece = slice(start, start + rows)
                _dot_into(cols[piece].T, g[piece], grads, accumulate=start > 0)
        else:  # not kept (a large batch): the windows are made again, chunk by chunk
            step = self._step(per_sample * width * images.dtype.itemsize, batch)
            buffer = self._window_matrix(plan, step, images.dtype)
            for start in range(0, batch, step):
                stop = min(start + step, batch)
                part = buffer[: stop - start]
                self._gather(images, plan, start, stop, part)
                outputs = g[start * per_sample : stop * per_sample]
                _dot_into(part.reshape(-1, width).T, outputs, grads, accumulate=start > 0)
        # written into the existing arrays: the trainer makes them views of one flat buffer
        self.kernel.grad[...] = grads[: plan.window].reshape(self.kernel.grad.shape)
        if self.bias is not None:
            self.bias.grad[...] = grads[-1]

    def _transposed_convolution(self, g: np.ndarray, images: np.ndarray, plan: _Plan) -> np.ndarray:
        """dL/dinput for stride 1: the padded ``g`` convolved with the kernel flipped in space and
        with its channel axes swapped, each chunk's product written straight into the result.

        W6's second layer: 6.1 ms, against 9.1 ms for ``g @ kernel.T`` and its scatter (col2im)
        in the same chunks and 13 ms for col2im in one piece; both do the same multiplications.
        """
        (kh, kw), dilation = self._kernel_2d, self._dilation_2d
        batch, filters, channels = len(images), self.filters, plan.channels
        kernel = self.kernel.value.reshape(kh, kw, channels, filters)
        flipped = np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(-1, channels)
        dx = np.empty(images.shape, np.result_type(g.dtype, flipped.dtype))
        flat = dx.reshape(-1, channels)
        h, w = images.shape[1:3]
        pads = (plan.rows.transposed(), plan.columns.transposed())
        grads = g.reshape(batch, plan.out_h, plan.out_w, filters)
        step = self._step(h * w * len(flipped) * g.dtype.itemsize, batch)
        windows, _ = self._buffer("gradient windows", (step, h, w, kh, kw, filters), g.dtype, plan.key)
        for start in range(0, batch, step):
            stop = min(start + step, batch)
            part = windows[: stop - start]
            _copy_windows(self._padded("gradient", grads, pads, start, stop), part, (1, 1), dilation)
            _dot_into(part.reshape(-1, len(flipped)), flipped, flat[start * h * w : stop * h * w])
        return dx

    def _col2im(self, g: np.ndarray, images: np.ndarray, plan: _Plan) -> np.ndarray:
        """dL/dinput for strides above 1: ``g @ kernel.T``, each window added back where it was read."""
        (kh, kw), batch, per_sample = self._kernel_2d, len(images), plan.out_h * plan.out_w
        kernel_t = self.kernel.value.reshape(-1, self.filters).T
        dx = np.zeros(images.shape, np.result_type(g.dtype, kernel_t.dtype))
        step = self._step(per_sample * plan.window * dx.dtype.itemsize, batch)
        buffer, _ = self._buffer("input gradient windows", (step * per_sample, plan.window), dx.dtype, None)
        for start in range(0, batch, step):
            stop = min(start + step, batch)
            part = buffer[: (stop - start) * per_sample]
            _dot_into(g[start * per_sample : stop * per_sample], kernel_t, part)
            windows = part.reshape(stop - start, plan.out_h, plan.out_w, kh, kw, plan.channels)
            target = dx[start:stop]
            for i, j, out_rows, out_columns, in_rows, in_columns in plan.copies:
                target[:, in_rows, in_columns, :] += windows[:, out_rows, out_columns, i, j, :]
        return dx

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

    Examples:
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
    ``Conv2D`` on the one axis; it runs Conv2D's code on images of height 1.

    Examples:
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
