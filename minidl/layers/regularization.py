"""``Dropout``: a layer that acts only during training, with masks from the model's seeded generators."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import number
from .base import Layer, Shape, register

__all__ = ["Dropout"]


@register("dropout")
class Dropout(Layer):
    """Inverted dropout, as Keras's: in training, ``y = x * mask / (1 - rate)`` with
    ``mask ~ Bernoulli(1 - rate)`` drawn per element; outside training, ``y = x``.

    Each input is zeroed with probability ``rate`` (0 <= rate < 1) and the others are scaled by
    ``1 / (1 - rate)``, so the expected output equals the input and inference needs no change.
    Backward multiplies by the same mask. The model sets ``training`` (True inside ``fit``).

    The masks come from the generator the model gives the layer in ``build``, spawned from the
    model's seed: a seeded model draws the same masks on every run, and since the model saves each
    layer generator's state in its files, a run resumed from a file or checkpoint draws the masks
    the uninterrupted run would have drawn. (Keras's ``seed`` and ``noise_shape`` arguments are
    not offered: a generator of the layer's own would escape the model's files.)

    Args:
        rate: the probability of zeroing each input, 0 <= rate < 1.
        name: the layer's name in summaries and saved files (default: from its class).

    Examples:
        >>> layer = Dropout(0.25)
        >>> layer.build_for((4,), np.random.default_rng(0), np.dtype("float64"))
        (4,)
        >>> layer.training = True
        >>> sorted(set(layer.forward(np.ones((2, 4))).ravel().tolist()))
        [0.0, 1.3333333333333333]
    """

    def __init__(self, rate: float, *, name: str | None = None) -> None:
        super().__init__(name=name)
        # rate 1 would drop everything and divide by 0: refused, as Keras does
        self.rate = number("rate", rate, low=0.0, high=1.0, high_open=True)
        self._rng: np.random.Generator | None = None
        self._mask: np.ndarray | None = None

    @classmethod
    def example(cls) -> Dropout:
        return cls(0.5)

    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any]) -> None:
        self._rng = rng  # kept: every training forward draws its mask from it

    def parameter_shapes(self, input_shape: Shape) -> list[Shape]:
        """No parameters (a model file is checked against this before it is read).

        Args:
            input_shape: the shape of one input sample.
        """
        return []

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.rate == 0.0:
            self._mask = None  # the identity: nothing drawn, so the stream is left as it was
            return x
        if self._rng is None:
            self.require_built()
        rng: np.random.Generator = self._rng  # type: ignore[assignment]
        # uniform draws in x's own dtype (float32 draws cost half as many random bits); the
        # array then becomes the scaled mask in place: 0 or 1 / (1 - rate)
        kind = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        mask = rng.random(x.shape, dtype=kind)
        np.greater_equal(mask, self.rate, out=mask)
        mask *= 1.0 / (1.0 - self.rate)
        self._mask = mask
        return x * mask

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output if self._mask is None else grad_output * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate}

    def describe(self) -> str:
        return f"Dropout {self.rate:g}"
