"""Normalization layers: ``BatchNormalization`` and ``LayerNormalization``, over the last axis.

Both normalize, then scale by ``gamma`` and shift by ``beta`` (one of each per feature or
channel, the last axis). Batch normalization keeps moving statistics as non-trainable state
(``Buffer``): saved in files, restored on resume, never seen by an
optimizer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import number
from ..errors import ConfigError
from ..parameter import Buffer, Parameter
from .base import Layer, Shape, register

__all__ = ["BatchNormalization", "LayerNormalization"]


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False; received {name}={value!r}.")
    return value


class _Normalization(Layer):
    """What both share: ``epsilon``, the optional ``gamma``/``beta`` and the affine step."""

    def __init__(self, epsilon: float, center: bool, scale: bool, name: str | None) -> None:
        super().__init__(name=name)
        self.epsilon = number("epsilon", epsilon, low=0.0, low_open=True)
        self.center = _flag("center", center)
        self.scale = _flag("scale", scale)
        self.gamma: Parameter | None = None
        self.beta: Parameter | None = None
        self._xhat: np.ndarray | None = None
        self._inv: np.ndarray | None = None

    def example_input_shape(self) -> Shape:
        return self.input_shape or (4, 3)

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """``gamma`` then ``beta`` (those enabled), each of shape ``(channels,)``."""
        return [(input_shape[-1],)] * (int(self.scale) + int(self.center))

    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any]) -> None:
        channels = input_shape[-1]
        if self.scale:
            self.gamma = Parameter(np.ones(channels, dtype=dtype), name="gamma")
        if self.center:
            self.beta = Parameter(np.zeros(channels, dtype=dtype), name="beta")

    def parameters(self) -> list[Parameter]:
        return [p for p in (self.gamma, self.beta) if p is not None]

    def _affine(self, xhat: np.ndarray) -> np.ndarray:
        y = xhat * self.gamma.value if self.gamma is not None else xhat.copy()
        if self.beta is not None:
            y += self.beta.value
        return y

    def _affine_backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Fills gamma's and beta's gradients; returns dL/dxhat."""
        axes = tuple(range(grad_output.ndim - 1))
        if self.gamma is not None:
            np.add.reduce(grad_output * self._xhat, axis=axes, out=self.gamma.grad)
        if self.beta is not None:
            np.add.reduce(grad_output, axis=axes, out=self.beta.grad)
        return grad_output * self.gamma.value if self.gamma is not None else grad_output

    def get_config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale}


@register("batch_normalization")
class BatchNormalization(_Normalization):
    """Normalizes each channel (the last axis) over the batch and every other axis.

    In training: ``xhat = (x - mean) / sqrt(var + epsilon)`` with the batch's mean and (biased)
    variance, and the moving statistics become ``moving = momentum * moving + (1 - momentum) *
    batch`` (Keras's convention); at inference the moving statistics stand in for the batch's.
    Then ``y = gamma * xhat + beta``. In training, with ``m`` values per channel and
    ``g = dL/dy * gamma``: ``dL/dx = (m g - sum(g) - xhat sum(g xhat)) / (m sqrt(var + epsilon))``.

    Args:
        momentum: the weight of the old moving statistics in each update, in [0, 1].
        epsilon: added to the variance before the square root, > 0.
        center: whether to learn the offset ``beta`` (False: ``beta = 0``).
        scale: whether to learn the scale ``gamma`` (False: ``gamma = 1``).
        name: the layer's name in summaries and saved files (default: from its class).

    Examples:
        >>> layer = BatchNormalization()
        >>> layer.build_for((3,), np.random.default_rng(0), np.dtype("float64"))
        (3,)
        >>> [b.name for b in layer.buffers()]
        ['moving_mean', 'moving_variance']
    """

    def __init__(
        self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
        *, name: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(epsilon, center, scale, name)
        self.momentum = number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.moving_mean: Buffer | None = None
        self.moving_variance: Buffer | None = None
        self._batch_statistics = False

    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any]) -> None:
        super().build(input_shape, rng, dtype)
        channels = input_shape[-1]
        self.moving_mean = Buffer(np.zeros(channels, dtype=dtype), name="moving_mean")
        self.moving_variance = Buffer(np.ones(channels, dtype=dtype), name="moving_variance")

    def buffers(self) -> list[Buffer]:
        return [b for b in (self.moving_mean, self.moving_variance) if b is not None]

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.require_built()
        mean_buffer, var_buffer = self.moving_mean.value, self.moving_variance.value  # type: ignore[union-attr]  # require_built() made them
        self._batch_statistics = self.training and len(x) > 0  # an empty batch has no statistics
        if self._batch_statistics:
            axes = tuple(range(x.ndim - 1))
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            # the moving statistics are updated in place: they are the layer's buffers
            mean_buffer *= self.momentum
            mean_buffer += (1.0 - self.momentum) * mean
            var_buffer *= self.momentum
            var_buffer += (1.0 - self.momentum) * var
        else:
            mean, var = mean_buffer, var_buffer
        self._inv = 1.0 / np.sqrt(var + self.epsilon)
        self._xhat = (x - mean) * self._inv
        return self._affine(self._xhat)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        g = self._affine_backward(grad_output)
        if not self._batch_statistics:
            return g * self._inv
        axes = tuple(range(g.ndim - 1))
        m = g.size // g.shape[-1]
        xhat = self._xhat
        sum_g, sum_gx = np.add.reduce(g, axis=axes), np.add.reduce(g * xhat, axis=axes)
        return (g - sum_g / m - xhat * (sum_gx / m)) * self._inv

    def get_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, **super().get_config()}

    def describe(self) -> str:
        return f"BatchNormalization momentum={self.momentum:g}"


@register("layer_normalization")
class LayerNormalization(_Normalization):
    """Normalizes each sample over its last axis: ``xhat = (x - mean) / sqrt(var + epsilon)``,
    ``y = gamma * xhat + beta``, the same in training and at inference.

    With ``n`` features on the last axis and ``g = dL/dy * gamma``:
    ``dL/dx = (n g - sum(g) - xhat sum(g xhat)) / (n sqrt(var + epsilon))``, sums over that axis.

    Args:
        epsilon: added to the variance before the square root, > 0.
        center: whether to learn the offset ``beta`` (False: ``beta = 0``).
        scale: whether to learn the scale ``gamma`` (False: ``gamma = 1``).
        name: the layer's name in summaries and saved files (default: from its class).
    """

    def __init__(
        self, epsilon: float = 1e-3, center: bool = True, scale: bool = True, *, name: str | None = None
    ) -> None:
        super().__init__(epsilon, center, scale, name)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.require_built()
        mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
        self._inv = 1.0 / np.sqrt(var + self.epsilon)
        self._xhat = (x - mean) * self._inv
        return self._affine(self._xhat)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        g = self._affine_backward(grad_output)
        n = g.shape[-1]
        xhat = self._xhat
        sum_g = np.add.reduce(g, axis=-1, keepdims=True)
        sum_gx = np.add.reduce(g * xhat, axis=-1, keepdims=True)
        return (g - sum_g / n - xhat * (sum_gx / n)) * self._inv
