"""The Playground generators against their definitions, and train_test_split."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import datasets
from minidl.errors import ConfigError, DataError

GENERATORS = [datasets.xor, datasets.circle, datasets.gaussians, datasets.spiral]


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_shapes_labels_seeds(make) -> None:
    x, y = make(101, 10, seed=4, labels=(-1, 1))
    assert x.shape == (101, 2) and x.dtype == np.float64 and y.shape == (101,)
    assert set(np.unique(y)) <= {-1, 1}
    again = make(101, 10, seed=4, labels=(-1, 1))
    assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
    assert not np.array_equal(x, make(101, 10, seed=5)[0])
    with pytest.raises(ConfigError, match="noise"):
        make(10, -1)


def test_xor_without_noise_is_the_sign_of_the_product_and_padded() -> None:
    x, y = datasets.xor(2000, 0, seed=0)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(int))
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3


def test_xor_noise_40_caps_accuracy_near_87_percent() -> None:
    # The figure: labels come from the noisy point, so the true boundary scores ~87%.
    x, y = datasets.xor(200_000, 40, seed=1)
    assert np.mean((x[:, 0] * x[:, 1] >= 0) == (y == 1)) == pytest.approx(0.87, abs=0.01)


def test_circle_radii() -> None:
    x, y = datasets.circle(1000, 0, seed=0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.all(r[y == 1] < 2.5) and np.all((r[y == 0] >= 3.5) & (r[y == 0] <= 5))
    assert np.sum(y == 1) == 500


def test_gaussians_centres_and_variance() -> None:
    for noise, variance in ((0, 0.5), (50, 4.0)):
        x, y = datasets.gaussians(40_000, noise, seed=0)
        pos, neg = x[y == 1], x[y == 0]
        np.testing.assert_allclose(pos.mean(axis=0), [2, 2], atol=0.05)
        np.testing.assert_allclose(neg.mean(axis=0), [-2, -2], atol=0.05)
        np.testing.assert_allclose(pos.var(axis=0), variance, rtol=0.03)


def test_spiral_without_noise_follows_its_arms() -> None:
    x, y = datasets.spiral(400, 0, seed=0)
    arm = x[y == 1]
    r = np.hypot(arm[:, 0], arm[:, 1])
    np.testing.assert_allclose(np.sort(r), np.arange(200) / 200 * 5, atol=1e-12)
    i = 7  # point 7 of the positive arm: radius 5*7/200, angle 3.5*pi*7/200
    t = 1.75 * 7 / 200 * 2 * np.pi
    expected = 5 * i / 200 * np.array([np.sin(t), np.cos(t)])
    assert np.min(np.linalg.norm(arm - expected, axis=1)) < 1e-12
    assert np.allclose(np.sort(np.hypot(*x[y == 0].T)), np.sort(r))  # the other arm, turned by pi


def test_train_test_split() -> None:
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    x_train, x_test, y_train, y_test = datasets.train_test_split(x, y, test_size=0.3, seed=0)
    assert len(x_test) == 3 and len(x_train) == 7
    assert sorted(np.concatenate([y_train, y_test])) == list(range(10))
    assert np.array_equal(x_train[:, 0] // 2, y_train) and np.array_equal(x_test[:, 0] // 2, y_test)
    ordered = datasets.train_test_split(x, y, test_size=0.3, shuffle=False)
    assert list(ordered[3]) == [7, 8, 9]
    with pytest.raises(DataError, match="same number"):
        datasets.train_test_split(x, y[:5])
    with pytest.raises(DataError, match="leaves 10 for testing and 0 for training"):
        datasets.train_test_split(x, y, test_size=0.95)


@pytest.mark.parametrize(
    "samples,test_size,tested",
    # scikit-learn's rule, ceil(samples * test_size), worked by hand: 1797 * 0.25 = 449.25 -> 450
    # (the digits), 10 * 0.25 = 2.5 -> 3, 10 * 0.01 = 0.1 -> 1, 500 * 0.4 = 200 exactly
    [(1797, 0.25, 450), (10, 0.25, 3), (10, 0.01, 1), (500, 0.4, 200), (7, 0.5, 4)],
)
def test_train_test_split_counts_as_scikit_learn(samples: int, test_size: float, tested: int) -> None:
    x, y = np.zeros((samples, 2)), np.arange(samples)
    x_train, x_test, y_train, y_test = datasets.train_test_split(x, y, test_size=test_size, seed=1)
    assert (len(x_test), len(y_test), len(x_train), len(y_train)) == (
        tested,
        tested,
        samples - tested,
        samples - tested,
    )


def test_load_checks_names_and_arguments() -> None:
    assert datasets.load("xor", samples=10, seed=0)[0].shape == (10, 2)
    with pytest.raises(ConfigError, match="Unknown data set 'xro'"):
        datasets.load("xro")
    with pytest.raises(ConfigError, match="'noize'"):
        datasets.load("xor", noize=3)


def test_digits_needs_scikit_learn(monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "sklearn.datasets", None)
    with pytest.raises(ConfigError, match=r"pip install 'minidl\[datasets\]'"):
        datasets.digits()


def test_digits_as_images_are_the_flat_digits_reshaped() -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    images, labels = datasets.digits(images=True)
    flat, same_labels = datasets.digits()
    raw = load_digits()
    assert images.shape == (1797, 8, 8, 1) and flat.shape == (1797, 64)
    np.testing.assert_array_equal(
        images[..., 0], raw.images / 16.0
    )  # rows of pixels, as scikit-learn shows them
    np.testing.assert_array_equal(flat, raw.data / 16.0)
    np.testing.assert_array_equal(labels, same_labels)
    with pytest.raises(ConfigError, match="images must be True or False"):
        datasets.digits(images="yes")
