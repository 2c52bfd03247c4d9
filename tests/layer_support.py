"""A plugin-style layer with weights, shared by the tests of the build protocol, the conformance
kit and installed plugins (whose package source includes this class's source)."""

from __future__ import annotations

import numpy as np

from minidl import Layer, Parameter


class Scale(Layer):
    """y = x * w, w of the sample's shape, created in ``build`` from the input shape."""

    def build(self, input_shape, rng, dtype):
        self.w = Parameter(rng.uniform(0.5, 1.5, input_shape).astype(dtype), name="scale")

    def parameters(self):
        return [self.w]

    def forward(self, x):
        self.x = x
        return x * self.w.value

    def backward(self, grad_output):
        np.add.reduce(grad_output * self.x, axis=0, out=self.w.grad)
        return grad_output * self.w.value
