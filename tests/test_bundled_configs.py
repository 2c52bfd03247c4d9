"""The bundled classification configurations reach their accuracy through `minidl train`;
data-set configuration keys; plots."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from minidl import cli, config
from minidl.errors import ConfigError

# The issue asks for >= 80% test accuracy for every seed tried. Model seeds 17, 23 and 29 of
# 0-29 do not reach it in the configuration's 1000 epochs: the 2-4-2-1 tanh network sits on a
# plateau near 62% (its two-unit layer computes one useful feature). Longer runs escape it for
# two of them: seed 29 reaches 83.5% at 5000 epochs (58.5% at 4000), seed 23 83.5% at 15,000
# (61.5% at 10,000); seed 17 is still at 62% after 40,000. They are strict expected failures,
# so the shortfall shows in every run and a fix that makes them pass is noticed;
# test_xor_stuck_seed_is_the_networks_own_minimum shows that an independent implementation of
# the Playground's algorithm gets stuck the same way.
XOR_STUCK_SEEDS = {17, 23, 29}
XOR_SEEDS = [
    pytest.param(s, marks=pytest.mark.xfail(strict=True, reason="plateau near 62% at 1000 epochs"))
    if s in XOR_STUCK_SEEDS
    else s
    for s in range(30)
]


def _playground_sgd(weights: list, x, y, epochs: int, batch: int = 30, lr: float = 0.03) -> list:
    """The Playground's algorithm written out independently: tanh units, half squared error,
    gradients averaged over each batch, batches visited in order."""
    ws, bs = [w.copy() for w in weights[0::2]], [b.copy() for b in weights[1::2]]
    y = y.reshape(-1, 1).astype(float)
    for _ in range(epochs):
        for s in range(0, len(x), batch):
            acts = [x[s : s + batch]]
            for w, b in zip(ws, bs):
                acts.append(np.tanh(acts[-1] @ w + b))
            g = (acts[-1] - y[s : s + batch]) * (1 - acts[-1] ** 2) / len(acts[0])
            for i in reversed(range(len(ws))):
                grad_w, grad_b = acts[i].T @ g, g.sum(axis=0)
                g = (g @ ws[i].T) * (1 - acts[i] ** 2)
                ws[i] -= lr * grad_w
                bs[i] -= lr * grad_b
    return [a for pair in zip(ws, bs) for a in pair]


@pytest.mark.slow
def test_xor_stuck_seed_is_the_networks_own_minimum() -> None:
    # the expected failures above are the Playground network's, not minidl's: from the same
    # initial weights, an independent loop ends at the same weights, on the same 62% plateau
    c = config.load("playground-xor")
    x_train, y_train, x_test, y_test = c.split()
    model = c.build(seed=min(XOR_STUCK_SEEDS))
    expected = _playground_sgd(model.get_weights(), x_train, y_train, epochs=1000)
    model.fit(x_train, y_train, epochs=1000, batch_size=30, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    _loss, accuracy = model.evaluate(x_test, y_test)
    assert accuracy < 0.70, f"seed {min(XOR_STUCK_SEEDS)} no longer stuck: test accuracy {accuracy}"


@pytest.mark.slow
def _playground_accuracy(weights: list, x, y) -> float:
    """Test accuracy of the Playground network ``weights``, computed without minidl: the sign of the tanh output."""
    h = x
    for w, b in zip(weights[0::2], weights[1::2]):
        h = np.tanh(h @ w + b)
    return float(np.mean(np.where(h[:, 0] >= 0, 1, -1) == y))


@pytest.mark.slow
def test_xor_seed_29_leaves_its_plateau_between_4000_and_5000_epochs() -> None:
    # the figures the guide and the comment above quote (58.5% at 4000 epochs, 83.5% at 5000),
    # from the independent loop; minidl ends on the same weights at both points (fit continues
    # bit for bit, so one run evaluated at both points is both runs)
    c = config.load("playground-xor")
    x_train, y_train, x_test, y_test = c.split()
    model = c.build(seed=29)
    settings = {k: v for k, v in c.fit.items() if k not in ("epochs", "verbose")}
    reference = model.get_weights()
    for epochs, figure in ((4000, 0.585), (1000, 0.835)):
        reference = _playground_sgd(reference, x_train, y_train, epochs=epochs)
        model.fit(x_train, y_train, epochs=epochs, **settings)
        for got, want in zip(model.get_weights(), reference, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        assert _playground_accuracy(reference, x_test, y_test) == pytest.approx(figure)


@pytest.mark.slow
@pytest.mark.parametrize("seed", XOR_SEEDS)
def test_playground_xor_reaches_80_percent(seed: int) -> None:
    accuracy = config.train(config.load("playground-xor"), seed=seed, stream=io.StringIO()).test["accuracy"]
    assert 0.80 <= accuracy <= 0.90  # noise 40 caps any classifier near 87%


@pytest.mark.slow
def test_playground_spiral_reaches_95_percent() -> None:
    c = config.load("playground-spiral")
    for seed in range(5):
        assert config.train(c, seed=seed, stream=io.StringIO()).test["accuracy"] >= 0.95


@pytest.mark.slow
def test_digits_reaches_96_percent() -> None:
    pytest.importorskip("sklearn")
    c = config.load("digits")
    for seed in range(3):
        run = config.train(c, seed=seed, stream=io.StringIO())
        assert run.test["accuracy"] >= 0.96
        assert "val_accuracy" in run.history.history


def digits_cnn_accuracies(seeds: range) -> list[float]:
    """Test accuracy of the bundled digits-cnn configuration for each seed (the page's table)."""
    c = config.load("digits-cnn")
    return [config.train(c, seed=seed, stream=io.StringIO()).test["accuracy"] for seed in seeds]


@pytest.mark.slow
def test_digits_cnn_reaches_98_5_percent_on_average_and_the_guide_quotes_it() -> None:
    pytest.importorskip("sklearn")
    accuracies = digits_cnn_accuracies(range(10))
    assert np.mean(accuracies) >= 0.985 and min(accuracies) >= 0.975, accuracies
    # the guide's table gives each seed's accuracy; BLAS threads may round differently, so
    # allow one test image (1/450) either way
    page = (Path(__file__).resolve().parents[1] / "docs" / "guide-cnn.md").read_text(encoding="utf-8")
    quoted = [float(v) / 100 for v in re.findall(r"^\| (?:\d) \| ([\d.]+)% \|$", page, re.MULTILINE)]
    assert len(quoted) == 10
    for got, shown in zip(accuracies, quoted, strict=True):
        assert abs(got - shown) <= 1 / 450 + 5e-5, (got, shown)


def test_digits_cnn_is_the_network_the_guide_describes() -> None:
    pytest.importorskip("sklearn")
    c = config.load("digits-cnn")
    model = c.build()
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]
    assert model.input_shape == (8, 8, 1) and model.output_shape == (10,)
    x_train, _, x_test, _ = c.split()
    assert x_train.shape[1:] == (8, 8, 1) and (len(x_train), len(x_test)) == (1347, 450)


def test_bundled_names() -> None:
    assert {"lecture1", "lecture2", "playground-xor", "playground-spiral", "digits", "digits-cnn"} <= set(
        config.bundled()
    )


def test_playground_xor_is_the_issue_network() -> None:
    c = config.load("playground-xor")
    model = c.build()
    assert [(d.in_features, d.out_features, type(d.activation).__name__) for d in model.layers] == [
        (2, 4, "Tanh"),
        (4, 2, "Tanh"),
        (2, 1, "Tanh"),
    ]
    for layer in model.layers:
        assert layer.W.value.min() >= -0.5 and layer.W.value.max() < 0.5 and (layer.b.value == 0.1).all()
    assert model.loss.get_config() == {"reduction": "mean"} and type(model.loss).__name__ == "HalfMSE"
    assert model.optimizer.learning_rate == 0.03 and c.fit["batch_size"] == 30
    x_train, y_train, x_test, _y_test = c.split()
    assert (len(x_train), len(x_test)) == (300, 200) and set(y_train) == {-1, 1}


def test_cli_reports_test_accuracy(capsys) -> None:
    assert cli.main(["train", "playground-spiral", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^test \(200 samples\): loss: \S+ - accuracy: \S+$", out, re.MULTILINE)
    assert len(re.findall(r"^Epoch \d/3 - ", out, re.MULTILINE)) == 3


@pytest.mark.parametrize(
    "data,message",
    [
        ('dataset = "xor"\nnoize = 3', r"\[data\] key for dataset 'xor'.*'noize'"),
        ('dataset = "moons"', r"dataset must be one of 'xor'.*received 'moons'"),
        ("x = [[1.0]]", "needs 'x' and 'y', or a 'dataset'"),
    ],
)
def test_bad_data_tables(data: str, message: str) -> None:
    text = f'[model]\n[[model.layers]]\ntype="dense"\nin_features=2\nout_features=1\n[compile]\nloss="mse"\n[data]\n{data}\n'
    with pytest.raises(ConfigError, match=message):
        config.TrainingConfig.from_dict(__import__("tomllib").loads(text))


def test_unknown_compile_key() -> None:
    with pytest.raises(ConfigError, match=r"\[compile\] key.*'metric'"):
        config.TrainingConfig.from_dict(
            {"model": {}, "compile": {"metric": []}, "data": {"x": [[1]], "y": [1]}}
        )


def test_plots(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    image = tmp_path / "run.png"
    assert cli.main(["train", "playground-xor", "--epochs", "2", "--plot", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = config.train(config.load("lecture2"), epochs=3, stream=io.StringIO())
    curves = tmp_path / "curves.png"
    figure = run.history.plot(curves)
    assert curves.read_bytes()[:4] == b"\x89PNG" and len(figure.axes) == 1


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.figure", None)
    run = config.train(config.load("lecture2"), epochs=2, stream=io.StringIO())
    with pytest.raises(ConfigError, match=r"pip install 'minidl\[plot\]'"):
        run.history.plot()


def test_plot_without_matplotlib_fails_before_training(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.figure", None)
    out = io.StringIO()
    with pytest.raises(ConfigError, match=r"pip install 'minidl\[plot\]'"):
        config.train(config.load("playground-xor"), epochs=2, stream=out, plot=tmp_path / "run.png")
    assert out.getvalue() == ""  # not one epoch ran, nothing was printed
    assert not (tmp_path / "run.png").exists()
