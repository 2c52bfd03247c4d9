"""AdamW and gradient clipping (clipnorm, clipvalue, global_clipnorm): against computations
written here and, when installed, PyTorch's AdamW and clip_grad_norm_/clip_grad_value_ in float64;
clipping as base-class behaviour (a plugin optimizer gets it) that costs nothing when off."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl import SGD, Adam, AdamW, Dense, Optimizer, Parameter, Sequential, optimizers
from minidl.errors import ConfigError
from minidl.schedules import CosineDecay

SHAPES = ((3, 4), (5,), (2, 2, 3))


def _gradients(seed: int, steps: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    # scaled per array and step so that clipping bites on some and not on others
    return [[rng.normal(size=s) * rng.choice([0.05, 1.0, 20.0]) for s in SHAPES] for _ in range(steps)]


def _run(opt: Optimizer, start: list[np.ndarray], grads: list[list[np.ndarray]]) -> list[np.ndarray]:
    params = [Parameter(v.copy()) for v in start]
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad[...] = g
        opt.step(params)
    return [p.value for p in params]


def _start(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in SHAPES]


# --------------------------------------------------------------------------- AdamW
def naive_adamw(start, grads, lr, wd, b1, b2, eps, rates=None):
    """AdamW written out element by element, in the paper's order (Loshchilov and Hutter; PyTorch)."""
    out = []
    for i, p0 in enumerate(start):
        p, m, v = p0.ravel().tolist(), [0.0] * p0.size, [0.0] * p0.size
        for t, step in enumerate(grads, start=1):
            rate = lr if rates is None else rates[t - 1]
            g = step[i].ravel().tolist()
            for k in range(len(p)):
                p[k] = p[k] - rate * wd * p[k]
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                m_hat, v_hat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
                p[k] = p[k] - rate * m_hat / (math.sqrt(v_hat) + eps)
        out.append(np.array(p).reshape(p0.shape))
    return out


def test_adamw_matches_the_formula_written_out() -> None:
    grads = _gradients(1, 30)
    opt = AdamW(learning_rate=0.01, weight_decay=0.1, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    got = _run(opt, _start(), grads)
    want = naive_adamw(_start(), grads, 0.01, 0.1, 0.8, 0.99, 1e-6)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_adamw_with_a_schedule_decays_with_the_step_rate() -> None:
    grads = _gradients(2, 25)
    schedule = CosineDecay(0.02, 20, warmup_steps=3, warmup_target=0.05)
    got = _run(AdamW(learning_rate=schedule, weight_decay=0.3), _start(), grads)
    want = naive_adamw(_start(), grads, None, 0.3, 0.9, 0.999, 1e-7, [schedule(t) for t in range(25)])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_adamw_without_decay_is_adam_and_decay_is_decoupled() -> None:
    grads = _gradients(3, 10)
    for a, b in zip(
        _run(AdamW(weight_decay=0.0), _start(), grads), _run(Adam(), _start(), grads), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # a zero gradient: Adam's moments stay 0, so only the decay moves the weights
    p = Parameter(np.array([2.0, -4.0]))
    AdamW(learning_rate=0.1, weight_decay=0.5).step([p])
    np.testing.assert_allclose(p.value, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15)


def torch_adamw_max_difference(dtype=np.float64) -> float:
    torch = pytest.importorskip("torch")  # a peer for comparison, never an extra: skipped without it
    grads = _gradients(4, 60)
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in _start()]
    opt = torch.optim.AdamW(params, lr=0.003, betas=(0.85, 0.995), eps=1e-8, weight_decay=0.05)
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    ours = _run(AdamW(0.003, weight_decay=0.05, beta_1=0.85, beta_2=0.995, epsilon=1e-8), _start(), grads)
    return max(float(np.max(np.abs(a - p.detach().numpy()))) for a, p in zip(ours, params, strict=True))


def test_adamw_matches_pytorch_to_1e_10_in_float64() -> None:
    assert torch_adamw_max_difference() <= 1e-10


# --------------------------------------------------------------------------- clipping, written out
def naive_norm(arrays) -> float:
    return math.sqrt(sum(float(x) ** 2 for a in arrays for x in a.ravel()))


def naive_clipped(grads, kind: str, limit: float) -> list[np.ndarray]:
    if kind == "clipvalue":
        return [np.array([min(max(x, -limit), limit) for x in g.ravel()]).reshape(g.shape) for g in grads]
    if kind == "clipnorm":
        return [g * limit / max(naive_norm([g]), limit) for g in grads]
    norm = naive_norm(grads)
    return [g * limit / max(norm, limit) for g in grads]


CLIPS = [("clipvalue", 0.7), ("clipnorm", 1.5), ("global_clipnorm", 4.0)]


@pytest.mark.parametrize("kind,limit", CLIPS)
def test_sgd_steps_with_clipped_gradients(kind: str, limit: float) -> None:
    # from p = 0 with learning rate 1, one SGD step leaves p = -clipped(g), exactly
    for step in _gradients(5, 12):
        params = [Parameter(np.zeros(g.shape)) for g in step]
        for p, g in zip(params, step, strict=True):
            p.grad[...] = g
        SGD(learning_rate=1.0, **{kind: limit}).step(params)
        for p, want in zip(params, naive_clipped(step, kind, limit), strict=True):
            np.testing.assert_allclose(-p.value, want, rtol=1e-14, atol=0)
        for p, g in zip(params, step, strict=True):
            np.testing.assert_array_equal(p.grad, g)  # the gradients themselves are left alone


@pytest.mark.parametrize("kind,limit", CLIPS)
@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_clipping_then_update_equals_the_update_of_clipped_gradients(
    name: str, kind: str, limit: float
) -> None:
    grads = _gradients(6, 15)
    clipped = [naive_clipped(step, kind, limit) for step in grads]
    got = _run(optimizers.get(name, **{kind: limit}), _start(), grads)
    want = _run(optimizers.get(name), _start(), clipped)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def torch_clipping_max_differences() -> dict[str, float]:
    """Largest |minidl - PyTorch| of clipped gradients, over 12 steps of 3 arrays, float64.

    PyTorch scales by ``max_norm / (norm + 1e-6)``, Keras and minidl by ``max_norm / norm``, so
    the raw difference is of order 1e-6 * |g| / norm; multiplied back by ``norm / (norm + 1e-6)``
    ours must agree with PyTorch's to rounding.
    """
    torch = pytest.importorskip("torch")  # a peer for comparison, never an extra: skipped without it
    utils = torch.nn.utils
    worst = {
        "clipvalue": 0.0,
        "clipnorm": 0.0,
        "global_clipnorm": 0.0,
        "clipnorm raw": 0.0,
        "global raw": 0.0,
    }
    for step in _gradients(7, 12):
        tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in step]
        for kind, limit in CLIPS:
            params = [Parameter(np.zeros(g.shape)) for g in step]
            for p, g in zip(params, step, strict=True):
                p.grad[...] = g
            SGD(learning_rate=1.0, **{kind: limit}).step(params)
            ours = [-p.value for p in params]
            for t, g in zip(tensors, step, strict=True):
                t.grad = torch.tensor(g, dtype=torch.float64)
            if kind == "clipvalue":
                utils.clip_grad_value_(tensors, limit)
                rescale = [1.0] * len(step)
            elif kind == "clipnorm":
                norms = [float(utils.clip_grad_norm_([t], limit)) for t in tensors]
                rescale = [n / (n + 1e-6) if n > limit else 1.0 for n in norms]
            else:
                norm = float(utils.clip_grad_norm_(tensors, limit))
                rescale = [norm / (norm + 1e-6) if norm > limit else 1.0] * len(step)
            for a, t, r in zip(ours, tensors, rescale, strict=True):
                theirs = t.grad.numpy()
                worst[kind] = max(worst[kind], float(np.max(np.abs(a * r - theirs))))
                if kind != "clipvalue":
                    key = "clipnorm raw" if kind == "clipnorm" else "global raw"
                    worst[key] = max(worst[key], float(np.max(np.abs(a - theirs))))
    return worst


def test_clipping_matches_pytorch_up_to_its_epsilon() -> None:
    worst = torch_clipping_max_differences()
    assert worst["clipvalue"] == 0.0
    assert worst["clipnorm"] <= 1e-14 and worst["global_clipnorm"] <= 1e-14
    assert 0.0 < worst["clipnorm raw"] <= 1e-5  # PyTorch's epsilon, and nothing else


def test_clipnorm_is_per_array_in_a_model_and_global_clipnorm_over_all() -> None:
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(32, 3)) * 5, rng.normal(size=32) * 5

    def one_step(**clip) -> list[np.ndarray]:
        m = Sequential([Dense(3, 6, activation="tanh"), Dense(6, 1)], seed=2)
        m.compile(loss="mse", optimizer=SGD(learning_rate=1.0, **clip))
        before = m.get_weights()
        m.fit(x, y, epochs=1, batch_size=32, shuffle=False)
        return [b - a for a, b in zip(m.get_weights(), before, strict=True)]  # = the clipped gradients

    grads = one_step()
    for kind, limit in (("clipnorm", 0.5), ("global_clipnorm", 1.0), ("clipvalue", 0.1)):
        for a, b in zip(one_step(**{kind: limit}), naive_clipped(grads, kind, limit), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- base-class behaviour
class Plain(Optimizer):
    """A plugin-style optimizer written without clipping: its constructor names only its own arguments."""

    def __init__(self, learning_rate: float = 0.1, *, scale: float = 1.0) -> None:
        super().__init__(learning_rate)
        self.scale = scale

    def update(self, param, state):
        param.value -= self.learning_rate * self.scale * param.grad

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def test_a_plugin_optimizer_gets_clipping_in_code_configs_and_files(tmp_path: Path) -> None:
    assert {"clipnorm", "clipvalue", "global_clipnorm"} <= set(inspect.signature(Plain).parameters)
    opt = Plain(0.5, scale=2.0, clipvalue=0.25)
    p = Parameter(np.zeros(3))
    p.grad[...] = [1.0, -0.1, -3.0]
    opt.step([p])
    np.testing.assert_allclose(p.value, [-0.25, 0.1, 0.25], rtol=1e-15)
    optimizers.register("plain_kit_clip")(Plain)
    try:
        saved = optimizers.registry.serialize(opt)
        assert saved == {"type": "plain_kit_clip", "learning_rate": 0.5, "clipvalue": 0.25, "scale": 2.0}
        assert optimizers.get(saved).clipvalue == 0.25
        with pytest.raises(ConfigError, match=r"Unknown argument.*'clip_norm'"):
            optimizers.get({"type": "plain_kit_clip", "clip_norm": 1.0})
        m = Sequential([Dense(2, 1)], seed=0)
        m.compile(loss="mse", optimizer=Plain(0.1, global_clipnorm=0.5))
        m.fit(np.ones((4, 2)), np.zeros(4), epochs=2)
        m.save(tmp_path / "plain.minidl")
        assert minidl.load(tmp_path / "plain.minidl").optimizer.global_clipnorm == 0.5
    finally:
        optimizers.registry.unregister("plain_kit_clip")


def test_clipping_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="at most one of clipnorm, clipvalue and global_clipnorm"):
        Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ConfigError, match=r"clipnorm must be a finite number > 0; received clipnorm=0"):
        SGD(clipnorm=0)
    with pytest.raises(ConfigError, match="global_clipnorm must be a finite number"):
        Plain(global_clipnorm=float("nan"))


def test_off_means_the_class_step_itself() -> None:
    # decided when the optimizer is made: nothing is looked up or tested per step when clipping
    # and schedules are off, the step is the class's own function
    for opt in (SGD(0.1), Adam(), AdamW(), Plain()):
        assert opt.step.__func__ is type(opt).step and "step" not in vars(opt)
    for opt in (SGD(0.1, clipnorm=1.0), Adam(learning_rate=CosineDecay(0.1, 10)), Plain(clipvalue=1.0)):
        assert "step" in vars(opt)


def test_clipnorm_steps_array_by_array_and_the_others_flat() -> None:
    assert SGD().updates_flat and SGD(clipvalue=1.0).updates_flat and SGD(global_clipnorm=1.0).updates_flat
    assert not SGD(clipnorm=1.0).updates_flat


@pytest.mark.parametrize(
    "make", [lambda: SGD(0.1, clipnorm=1.0), lambda: AdamW(CosineDecay(0.1, 10), clipvalue=0.5)]
)
def test_a_clipping_or_scheduled_optimizer_pickles_and_copies(make) -> None:
    import copy
    import pickle

    grads = _gradients(9, 4)
    want = _run(make(), _start(), grads)
    for clone in (pickle.loads(pickle.dumps(make())), copy.deepcopy(make())):
        assert clone.step.__self__ is clone  # its own extended step, not the original's
        for a, b in zip(_run(clone, _start(), grads), want, strict=True):
            np.testing.assert_array_equal(a, b)
