"""The built-in losses called directly: array-likes are converted, mismatched shapes refused.

The training step calls ``value_and_gradient`` on arrays the model validated; these tests are
about the public ``loss(y_true, y_pred)`` and ``loss.gradient(y_true, y_pred)`` a user calls.
"""

from __future__ import annotations

import numpy as np
import pytest

from minidl import losses
from minidl.errors import DataError, ShapeError

BUILT_IN = sorted(
    n for n in losses.registry.names() if losses.registry.get_class(n).__module__ == "minidl.losses"
)
RNG_SEED = 3


def _loss_and_batch(name: str) -> tuple[losses.Loss, np.ndarray, np.ndarray]:
    loss = losses.registry.get_class(name).example()
    y_true, y_pred = loss.example_batch(np.random.default_rng(RNG_SEED), 4, 3)
    return loss, y_true, y_pred


def test_the_lectures_published_mse_through_the_public_call() -> None:
    # the lecture's own check: integer lists straight in, exactly 0.5
    assert losses.get("mse")([1, 0, 0, 1], [0, 0, 0, 0]) == 0.5


def test_mse_gradient_of_lists_matches_the_formula() -> None:
    # 2 / n * (y_pred - y_true), n = 4, worked by hand
    grad = losses.get("mse").gradient([1, 0, 0, 1], [0, 0, 0, 0])
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad, [-0.5, 0.0, 0.0, -0.5])


def test_binary_crossentropy_casts_integer_targets() -> None:
    value = losses.get("binary_crossentropy")([1, 0], [0.8, 0.4])
    assert value == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2, rel=1e-12)


def test_integer_targets_keep_float32_predictions_float32() -> None:
    grad = losses.get("mse").gradient(np.array([[1], [0]]), np.array([[0.5], [0.25]], dtype=np.float32))
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [[-0.5], [0.25]])


def test_sparse_labels_as_a_list() -> None:
    p = [[0.25, 0.75], [0.5, 0.5]]
    value = losses.get("sparse_categorical_crossentropy")([1, 0], p)
    assert value == pytest.approx(-(np.log(0.75) + np.log(0.5)) / 2, rel=1e-12)


@pytest.mark.parametrize("name", BUILT_IN)
def test_lists_give_what_arrays_give(name: str) -> None:
    loss, y_true, y_pred = _loss_and_batch(name)
    assert loss(y_true.tolist(), y_pred.tolist()) == loss(y_true, y_pred)
    np.testing.assert_array_equal(
        loss.gradient(y_true.tolist(), y_pred.tolist()), loss.gradient(y_true, y_pred)
    )


def _mismatched(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs each loss must refuse: the issue's (2, 1) against (3,), and pairs numpy would broadcast."""
    if losses.registry.get_class(name).sparse_targets:
        return [(y_true[:1], y_pred), (y_true[:3], y_pred), (np.eye(3)[y_true], y_pred), (y_true, y_pred[0])]
    pairs = [(y_true[:1], y_pred), (y_true[:, :1], y_pred), (y_true, y_pred[0])]
    if name != "categorical_crossentropy":
        pairs.append((np.ones((2, 1)), np.ones(3)))
    return pairs


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_loss_refuses_mismatched_shapes_naming_both(name: str) -> None:
    loss, y_true, y_pred = _loss_and_batch(name)
    for bad_true, bad_pred in _mismatched(name, y_true, y_pred):
        for call in (loss, loss.gradient):
            with pytest.raises(ShapeError) as info:
                call(bad_true, bad_pred)
            message = str(info.value)
            assert str(bad_true.shape) in message and str(bad_pred.shape) in message, message


@pytest.mark.parametrize("name", BUILT_IN)
def test_no_loss_broadcasts_a_single_target_row(name: str) -> None:
    # one target row for four predictions is what numpy would silently stretch
    loss, y_true, y_pred = _loss_and_batch(name)
    with pytest.raises(ShapeError):
        loss(y_true[:1], y_pred)


def test_the_messages_say_what_would_work() -> None:
    with pytest.raises(ShapeError, match=r"y_true.reshape\(4, 1\)"):
        losses.get("mse")(np.ones(4), np.ones((4, 1)))
    with pytest.raises(ShapeError, match="sparse_categorical_crossentropy"):
        losses.get("categorical_crossentropy")([0, 1], np.full((2, 2), 0.5))
    with pytest.raises(ShapeError, match="'categorical_crossentropy'"):
        losses.get("sparse_categorical_crossentropy")(np.eye(2), np.full((2, 2), 0.5))


@pytest.mark.parametrize("labels", [[0, 2], [-1, 0], [0.5, 1]])
def test_sparse_labels_outside_the_classes_are_refused(labels: list[float]) -> None:
    # numpy would index with -1 (the last class) or fail with an IndexError
    with pytest.raises(DataError, match="Class labels"):
        losses.get("sparse_categorical_crossentropy")(labels, np.full((2, 2), 0.5))


def test_text_is_refused_and_an_empty_batch_has_loss_zero() -> None:
    with pytest.raises(DataError, match="dtype <U1"):
        losses.get("mse")(["a"], [1.0])
    # a sum over nothing is 0, and so is the mean (Keras divides without NaN: 0 / 0 -> 0)
    assert losses.get("sse")([], []) == 0.0
    assert losses.get("mse")([], []) == 0.0
    assert losses.get("mse").gradient(np.zeros((0, 2)), np.zeros((0, 2))).shape == (0, 2)
