"""Learning-rate schedules: values against their formulas written here (and PyTorch's schedulers
where they agree), their use by optimizers, ReduceLROnPlateau on a schedule, configuration files,
and a resumed run bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl import SGD, Adam, Dense, ReduceLROnPlateau, Sequential, config, schedules
from minidl.errors import ConfigError, UnknownComponentError
from minidl.schedules import Constant, CosineDecay, ExponentialDecay, PiecewiseConstantDecay

STEPS = range(400)


# --------------------------------------------------------------------------- formulas, written apart
def exponential(lr0: float, steps: int, rate: float, staircase: bool, t: int) -> float:
    exponent = math.floor(t / steps) if staircase else t / steps
    return lr0 * math.pow(rate, exponent)


def piecewise(boundaries: list[int], values: list[float], t: int) -> float:
    index = sum(1 for b in boundaries if t > b)  # Keras: values[i] while boundaries[i-1] < t <= boundaries[i]
    return values[index]


def cosine(lr0: float, steps: int, alpha: float, warmup: int, target: float | None, t: int) -> float:
    if warmup and t < warmup:
        return lr0 + (target - lr0) * (t / warmup)
    peak = lr0 if target is None else target
    progress = min(t - warmup, steps) / steps
    return peak * (alpha + (1 - alpha) * (1 + math.cos(math.pi * progress)) / 2)


FORMULAS = [
    (Constant(0.3), lambda t: 0.3),
    (ExponentialDecay(0.1, 7, 0.5), lambda t: exponential(0.1, 7, 0.5, False, t)),
    (ExponentialDecay(0.2, 30, 0.9, staircase=True), lambda t: exponential(0.2, 30, 0.9, True, t)),
    (PiecewiseConstantDecay([10, 50, 200], [1.0, 0.5, 0.1, 0.01]), lambda t: piecewise([10, 50, 200], [1.0, 0.5, 0.1, 0.01], t)),
    (CosineDecay(0.1, 250), lambda t: cosine(0.1, 250, 0.0, 0, None, t)),
    (CosineDecay(0.1, 250, alpha=0.1), lambda t: cosine(0.1, 250, 0.1, 0, None, t)),
    (CosineDecay(1e-3, 200, alpha=0.05, warmup_steps=50, warmup_target=0.5), lambda t: cosine(1e-3, 200, 0.05, 50, 0.5, t)),
]  # fmt: skip


@pytest.mark.parametrize("schedule,formula", FORMULAS, ids=[repr(s) for s, _ in FORMULAS])
def test_values_follow_the_formula(schedule, formula) -> None:
    got = np.array([schedule(t) for t in STEPS])
    want = np.array([formula(t) for t in STEPS])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_every_registered_schedule_is_covered_by_a_formula() -> None:
    covered = {schedules.registry.name_of(type(s)) for s, _ in FORMULAS}
    built_in = {
        n
        for n in schedules.registry.names()
        if schedules.registry.get_class(n).__module__ == "minidl.schedules"
    }
    assert built_in <= covered


def test_keras_boundaries_and_warm_up_by_hand() -> None:
    piece = PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
    assert [piece(t) for t in (0, 100, 101, 200, 201)] == [0.1, 0.1, 0.01, 0.01, 0.001]
    warm = CosineDecay(0.0 + 1e-9, 10, warmup_steps=4, warmup_target=1.0)
    assert warm(4) == 1.0 and warm(14) == 0.0 and warm(100) == 0.0
    assert warm(2) == pytest.approx(0.5, abs=1e-9)


def torch_rates(make, steps: int, lr0: float) -> np.ndarray:
    torch = pytest.importorskip("torch")  # a peer for comparison, never an extra: skipped without it
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0)
    scheduler = make(torch.optim.lr_scheduler, opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(rates)


#: (minidl schedule, the PyTorch scheduler that agrees with it, its initial rate, steps compared, tolerance)
TORCH = [
    (ExponentialDecay(0.1, 1, 0.97), lambda s, o: s.ExponentialLR(o, gamma=0.97), 0.1, 301, 1e-15),
    (ExponentialDecay(0.1, 25, 0.5, staircase=True), lambda s, o: s.StepLR(o, step_size=25, gamma=0.5), 0.1, 301, 1e-15),
    # MultiStepLR changes the rate at the milestone, Keras after the boundary: milestone = boundary + 1
    (PiecewiseConstantDecay([49, 149], [0.1, 0.01, 0.001]), lambda s, o: s.MultiStepLR(o, [50, 150], gamma=0.1), 0.1, 301, 1e-15),
    # PyTorch computes CosineAnnealingLR recursively: it agrees with the closed form to rounding
    (CosineDecay(0.1, 300, alpha=0.01), lambda s, o: s.CosineAnnealingLR(o, T_max=300, eta_min=0.001), 0.1, 301, 1e-13),
    # the warm-up from 0.01 to 0.1: LinearLR from factor 0.1 to 1 of the target rate
    (CosineDecay(0.01, 300, warmup_steps=40, warmup_target=0.1), lambda s, o: s.LinearLR(o, 0.1, 1.0, total_iters=40), 0.1, 41, 1e-15),
]  # fmt: skip


@pytest.mark.parametrize("schedule,make,lr0,steps,tolerance", TORCH, ids=[repr(s) for s, *_ in TORCH])
def test_values_agree_with_pytorch_schedulers(schedule, make, lr0, steps, tolerance) -> None:
    theirs = torch_rates(make, steps, lr0)
    ours = np.array([schedule(t) for t in range(steps)])
    assert np.max(np.abs(ours - theirs)) <= tolerance * lr0


# --------------------------------------------------------------------------- optimizers
def test_each_step_uses_the_rate_of_its_step_count() -> None:
    schedule = ExponentialDecay(0.5, 3, 0.5)
    opt = SGD(learning_rate=schedule)
    p = minidl.Parameter(np.zeros(1))
    p.grad[:] = -1.0
    for t in range(10):
        assert opt.learning_rate == schedule(t)
        before = p.value[0]
        opt.step([p])
        assert p.value[0] - before == pytest.approx(schedule(t), rel=1e-15)
    assert opt.iterations == 10 and opt.schedule == schedule


def test_learning_rate_takes_a_name_a_config_or_an_object_and_errors_are_clear() -> None:
    assert Adam(learning_rate="constant").learning_rate == 0.01
    opt = Adam(learning_rate={"type": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 10})
    assert opt.schedule == CosineDecay(0.1, 10)
    assert minidl.optimizers.get(minidl.optimizers.registry.serialize(opt)).schedule == opt.schedule
    with pytest.raises(UnknownComponentError, match="Did you mean 'cosine_decay'"):
        SGD(learning_rate="cosine_decy")
    with pytest.raises(ConfigError, match="decay_steps must be a positive integer"):
        SGD(learning_rate={"type": "exponential_decay", "decay_steps": 0})
    with pytest.raises(ConfigError, match="warmup_target"):
        CosineDecay(0.1, 10, warmup_steps=5)
    with pytest.raises(ConfigError, match="one rate more than boundaries"):
        PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ConfigError, match="increase strictly"):
        PiecewiseConstantDecay([5, 5], [0.1, 0.2, 0.3])

    class Negative(Constant):
        def __call__(self, step):
            return -1.0

    with pytest.raises(ConfigError, match=r"gave -1\.0 at step 0"):
        SGD(learning_rate=Negative())


def test_a_number_replaces_the_schedule() -> None:
    opt = SGD(learning_rate=ExponentialDecay(0.1, 10, 0.5))
    assert "step" in vars(opt)  # the scheduled step is the instance's
    opt.learning_rate = 0.02
    assert opt.schedule is None and opt.learning_rate == 0.02
    assert "step" not in vars(opt)  # a constant rate adds nothing to a step


def test_reduce_on_plateau_scales_a_schedule() -> None:
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = x @ np.array([1.0, -2.0])
    schedule = ExponentialDecay(0.05, 4, 0.9)
    m = Sequential([Dense(2, 1)], seed=0)
    m.compile(loss="mse", optimizer=SGD(learning_rate=schedule))
    # min_delta larger than any change: no epoch after the first improves, patience 1 reduces at epoch 1
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    history = m.fit(x, y, epochs=3, batch_size=8, shuffle=False, callbacks=[plateau])
    opt = m.optimizer
    assert opt.schedule == schedule  # still the schedule, scaled: 0.5 at epoch 1 and again at epoch 2
    assert opt.learning_rate == pytest.approx(0.25 * schedule(opt.iterations), rel=1e-15)
    # logged before the epoch's reduction, at the next step (2 steps an epoch): halved from epoch 2 on
    logged = history.history["learning_rate"]
    assert logged[:2] == [schedule(2), schedule(4)]
    assert logged[2] == pytest.approx(0.5 * schedule(6), rel=1e-15)


def test_reduce_on_plateau_respects_min_lr_with_a_schedule() -> None:
    opt = SGD(learning_rate=Constant(0.1))
    m = Sequential([Dense(2, 1)], seed=0)
    m.compile(loss="mse", optimizer=opt)
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.1, patience=1, min_delta=1e9, min_lr=0.04)
    m.fit(np.ones((4, 2)), np.ones(4), epochs=3, batch_size=4, callbacks=[plateau])
    assert opt.learning_rate == pytest.approx(0.04, rel=1e-15)


# --------------------------------------------------------------------------- files and configurations
def _model(optimizer) -> Sequential:
    m = Sequential([Dense(3, 8, activation="tanh"), Dense(8, 1)], seed=3)
    m.compile(loss="mse", optimizer=optimizer)
    return m


@pytest.mark.parametrize(
    "optimizer,scale",
    [
        ({"type": "adam", "learning_rate": {"type": "cosine_decay", "initial_learning_rate": 0.05,
                                            "decay_steps": 20, "warmup_steps": 4, "warmup_target": 0.1}}, 1.0),
        ({"type": "sgd", "momentum": 0.9, "learning_rate": {"type": "exponential_decay",
                                                             "initial_learning_rate": 0.05, "decay_steps": 5}}, 0.3),
        ({"type": "adamw", "global_clipnorm": 0.5, "learning_rate": {"type": "piecewise_constant",
                                                                      "boundaries": [7], "values": [0.05, 0.01]}}, 1.0),
    ],
)  # fmt: skip
def test_fit_6_equals_fit_3_save_load_fit_3_bit_for_bit(tmp_path: Path, optimizer, scale: float) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    whole = _model(optimizer)
    whole.optimizer.scale_learning_rate(scale)
    whole.fit(x, y, epochs=6, batch_size=16)
    part = _model(optimizer)
    part.optimizer.scale_learning_rate(scale)
    part.fit(x, y, epochs=3, batch_size=16)
    part.save(tmp_path / "m.minidl")
    resumed = minidl.load(tmp_path / "m.minidl")
    assert resumed.optimizer.schedule == whole.optimizer.schedule
    resumed.fit(x, y, epochs=3, batch_size=16)
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.learning_rate == whole.optimizer.learning_rate
    assert resumed.history.history == whole.history.history


def test_a_learning_rate_factor_without_a_schedule_is_refused() -> None:
    opt = SGD(0.1)
    p = minidl.Parameter(np.zeros(2))
    with pytest.raises(ConfigError, match="learning_rate_factor"):
        opt.set_state([p], {"iterations": 3, "learning_rate_factor": 0.5})
    assert opt.iterations == 0


def test_a_toml_configuration_takes_a_schedule(tmp_path: Path) -> None:
    text = Path(config.__file__).parent.joinpath("configs", "lecture2.toml").read_text()
    text = text.replace(
        'optimizer = { type = "sgd", learning_rate = 1.0 }',
        'optimizer = { type = "sgd", learning_rate = { type = "exponential_decay", '
        "initial_learning_rate = 1.0, decay_steps = 100, decay_rate = 0.5 } }",
    )
    assert "exponential_decay" in text
    path = tmp_path / "decay.toml"
    path.write_text(text)
    m = config.load(path).build()
    assert m.optimizer.schedule == ExponentialDecay(1.0, 100, 0.5)
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("exponential_decay", "exponential_decy"))
    with pytest.raises(UnknownComponentError, match="Did you mean 'exponential_decay'"):
        config.load(bad).build()
