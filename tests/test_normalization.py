"""Batch and layer normalization, and non-trainable state (buffers) through files, guard and summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl import (
    BatchNormalization,
    Buffer,
    ConfigError,
    Dense,
    DivergenceError,
    Layer,
    LayerNormalization,
    Sequential,
)
from minidl.testing import numerical_gradient


def built(layer: Layer, shape: tuple[int, ...], dtype: str = "float64") -> Layer:
    layer.build_for(shape, np.random.default_rng(0), np.dtype(dtype))
    return layer


def naive_batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Channel by channel, with Python loops: the textbook formula."""
    out = np.empty_like(x)
    for c in range(x.shape[-1]):
        values = x[..., c]
        mean = sum(values.ravel()) / values.size
        var = sum((v - mean) ** 2 for v in values.ravel()) / values.size
        out[..., c] = (values - mean) / np.sqrt(var + eps) * gamma[c] + beta[c]
    return out


@pytest.mark.parametrize("shape", [(6, 3), (4, 5, 3, 2)])
def test_batch_norm_in_training_matches_the_textbook_and_moves_its_statistics(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, shape)
    layer = built(BatchNormalization(momentum=0.9, epsilon=1e-3), shape[1:])
    layer.gamma.value[...] = rng.uniform(0.5, 2, shape[-1])
    layer.beta.value[...] = rng.normal(size=shape[-1])
    layer.training = True
    y = layer.forward(x)
    np.testing.assert_allclose(y, naive_batch_norm(x, layer.gamma.value, layer.beta.value, 1e-3), rtol=1e-12)
    axes = tuple(range(x.ndim - 1))
    np.testing.assert_allclose(layer.moving_mean.value, 0.1 * x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.value, 0.9 + 0.1 * x.var(axis=axes), rtol=1e-12)
    layer.training = False  # inference: the moving statistics stand in for the batch's
    expected = (x - layer.moving_mean.value) / np.sqrt(layer.moving_variance.value + 1e-3)
    np.testing.assert_allclose(layer.forward(x), expected * layer.gamma.value + layer.beta.value, rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, shape", [(BatchNormalization, (3, 4, 2, 3)), (LayerNormalization, (3, 2, 5))])
def test_normalization_gradients_against_finite_differences(cls: type, shape: tuple, training: bool) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 4.0, shape)
    weights = rng.standard_normal(shape)

    def fresh() -> Layer:  # moving statistics start anew each time, so every evaluation is alike
        layer = built(cls(), shape[1:])
        layer.gamma.value[...] = np.linspace(0.5, 1.5, shape[-1])
        layer.beta.value[...] = np.linspace(-1, 1, shape[-1])
        layer.training = training
        return layer

    layer = fresh()
    layer.forward(x)
    grad_x = layer.backward(weights)
    np.testing.assert_allclose(
        grad_x,
        numerical_gradient(lambda: float(np.sum(weights * fresh().forward(x))), x),
        rtol=1e-6,
        atol=1e-8,
    )
    for name in ("gamma", "beta"):
        probe = fresh()  # in training the output uses the batch's statistics, never the moving ones
        numeric = numerical_gradient(
            lambda probe=probe: float(np.sum(weights * probe.forward(x))), getattr(probe, name).value
        )
        probe.forward(x)
        probe.backward(weights)
        np.testing.assert_allclose(getattr(probe, name).grad, numeric, rtol=1e-6, atol=1e-8)


def test_layer_norm_normalizes_each_sample_over_its_last_axis() -> None:
    x = np.random.default_rng(3).normal(5.0, 2.0, (4, 3, 6))
    layer = built(LayerNormalization(epsilon=1e-5), (3, 6))
    y = layer.forward(x)
    for sample in np.ndindex(4, 3):
        row = x[sample]
        np.testing.assert_allclose(y[sample], (row - row.mean()) / np.sqrt(row.var() + 1e-5), rtol=1e-12)


def test_against_pytorch_when_installed() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 2.0, (5, 4, 4, 3))  # NHWC
    g = rng.standard_normal(x.shape)
    layer = built(BatchNormalization(momentum=0.8, epsilon=1e-3), (4, 4, 3))
    layer.gamma.value[...] = [0.5, 1.0, 2.0]
    layer.beta.value[...] = [0.1, -0.2, 0.3]
    layer.training = True
    y = layer.forward(x)
    grad_x = layer.backward(g)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)  # NCHW, converted explicitly
    mean, var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    yt = torch.nn.functional.batch_norm(
        xt,
        mean,
        var,
        torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64),
        torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64),
        training=True,
        momentum=0.2,
        eps=1e-3,
    )  # PyTorch's momentum is 1 - Keras's
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        layer.moving_mean.value, mean.numpy(), rtol=1e-10
    )  # (PyTorch's variance is unbiased)
    ln = built(LayerNormalization(epsilon=1e-5), (4, 4, 3))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.layer_norm(xt, (3,), eps=1e-5)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ln.forward(x), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ln.backward(g), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- non-trainable state
def bn_model(seed: int = 0) -> Sequential:
    model = Sequential(
        [Dense(6, activation="relu"), BatchNormalization(momentum=0.8), Dense(1)], input_shape=(3,), seed=seed
    )
    model.compile(loss="mse", optimizer={"type": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(3.0, 2.0, (40, 3))
    return x, x @ np.array([[0.5], [-1.0], [0.25]])


def test_buffers_are_counted_listed_and_never_touched_by_the_optimizer() -> None:
    model = bn_model()
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 43" in lines[0] and "Non-trainable params: 12" in lines[0]  # 24+6 +12 +7; 2*6
    assert [w.shape for w in model.get_weights()] == [(3, 6), (6,), (6,), (6,), (6,), (6,), (6, 1), (1,)]
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=8)
    bn = model.layers[1]
    assert not np.array_equal(bn.moving_mean.value, np.zeros(6))  # the layer moved its statistics
    flat_size = model.trainer.optimizer_state()["0/velocity"].size
    assert flat_size == sum(p.size for p in model.parameters()) == 43  # the optimizer sees no buffer


def test_buffers_are_saved_and_a_resumed_run_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    x, y = data()
    whole = bn_model()
    whole.fit(x, y, epochs=4, batch_size=8)
    half = bn_model()
    half.fit(x, y, epochs=2, batch_size=8)
    half.save(tmp_path / "half.minidl")
    resumed = minidl.load(tmp_path / "half.minidl")
    assert np.array_equal(resumed.layers[1].moving_variance.value, half.layers[1].moving_variance.value)
    resumed.fit(x, y, epochs=2, batch_size=8)
    for a, b in zip(resumed.get_weights(), whole.get_weights(), strict=True):
        assert np.array_equal(a, b)
    np.testing.assert_array_equal(resumed.predict(x), whole.predict(x))


def test_save_weights_and_set_weights_carry_the_buffers(tmp_path: Path) -> None:
    x, y = data()
    model = bn_model()
    model.fit(x, y, epochs=1, batch_size=8)
    model.save_weights(tmp_path / "w.minidl")
    other = bn_model(seed=3)
    other.load_weights(tmp_path / "w.minidl")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    with pytest.raises(minidl.ShapeError, match="one per parameter and buffer"):
        other.set_weights(model.get_weights()[:-1])


def test_the_guard_checks_the_buffers() -> None:
    x, y = data()
    model = bn_model()
    model.fit(x, y, epochs=1, batch_size=8)
    model.layers[1].moving_variance.value[2] = np.inf
    with pytest.raises(DivergenceError, match="batch_normalization_0"):
        model.fit(x, y, epochs=1, batch_size=8)
    with pytest.raises(DivergenceError, match="moving_variance of layer 'batch_normalization_0'"):
        model.save("never-written.minidl")


class Counter(Layer):
    """A plugin layer with state of its own: counts the samples it saw in training."""

    def build(self, input_shape, rng, dtype):
        self.seen = Buffer(np.zeros(1, dtype=dtype), name="seen")

    def buffers(self):
        return [self.seen]

    def forward(self, x):
        if self.training:
            self.seen.value += len(x)
        return x

    def backward(self, grad_output):
        return grad_output


def test_a_plugin_layer_keeps_state_through_the_same_mechanism(tmp_path: Path) -> None:
    minidl.layers.register("counter_for_test")(Counter)
    try:
        x, y = data()
        model = Sequential([Counter(), Dense(1)], seed=0)
        model.compile(loss="mse", optimizer="sgd")
        model.fit(x, y, epochs=3, batch_size=8)
        assert model.layers[0].seen.value[0] == 120
        model.save(tmp_path / "c.minidl")
        assert minidl.load(tmp_path / "c.minidl").layers[0].seen.value[0] == 120
    finally:
        minidl.layers.registry.unregister("counter_for_test")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BatchNormalization(momentum=1.0), "momentum must be"),
        (lambda: BatchNormalization(epsilon=0), "epsilon must be"),
        (lambda: LayerNormalization(center="yes"), "center must be True or False"),
    ],
)
def test_bad_hyper_parameters_say_what_was_received(make, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()
