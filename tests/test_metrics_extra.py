"""Precision, recall, F1, the top-k accuracies, R^2 and AUC against implementations written here
(loops over samples and pairs) and, when installed, scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from extras import require

from minidl import Dense, Sequential, metrics
from minidl.errors import ConfigError, DataError, ShapeError


# --------------------------------------------------------------------------- written out
def naive_scores(truth, predicted, classes):
    """(precision, recall, f1) per class, by counting sample by sample."""
    out = []
    for c in classes:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append((precision, recall, f1))
    return out


def naive_auc(positive, scores) -> float:
    """The Mann-Whitney statistic: the share of (positive, negative) pairs ranked right, ties half."""
    pos = [s for s, y in zip(scores, positive, strict=True) if y]
    neg = [s for s, y in zip(scores, positive, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def naive_top_k(truth, scores, k) -> float:
    # a hit when fewer than k classes score strictly higher than the true one (ties count)
    hits = [sum(1 for s in row if s > row[t]) < k for t, row in zip(truth, scores, strict=True)]
    return sum(hits) / len(hits)


def _multiclass(seed: int, n: int = 60, classes: int = 4):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    scores = rng.uniform(size=(n, classes))
    scores[np.arange(n), labels] += rng.uniform(0, 0.6, n)  # better than chance
    return labels, scores


NAMES = {"precision": 0, "recall": 1, "f1": 2}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_binary_and_macro_against_counting(name: str, seed: int) -> None:
    labels, scores = _multiclass(seed)
    macro = np.mean(
        [
            s[NAMES[name]]
            for s in naive_scores(labels, scores.argmax(1), sorted(set(labels) | set(scores.argmax(1))))
        ]
    )
    assert metrics.get(name, average="macro")(labels, scores) == pytest.approx(macro, rel=1e-14)
    assert metrics.get(name, average="macro")(np.eye(4)[labels], scores) == pytest.approx(macro, rel=1e-14)
    y = (labels >= 2).astype(float)[:, None]
    p = scores[:, 2:3] * 0.7
    binary = naive_scores(y[:, 0] > 0.5, p[:, 0] > 0.5, [True])[0][NAMES[name]]
    assert metrics.get(name)(y, p) == pytest.approx(binary, rel=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_against_scikit_learn(seed: int) -> None:
    skm = require("sklearn.metrics", "sklearn")
    labels, scores = _multiclass(seed, n=80)
    predicted = scores.argmax(1)
    for name, sk in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        theirs = sk(labels, predicted, average="macro", zero_division=0)
        assert metrics.get(name, average="macro")(labels, scores) == pytest.approx(theirs, rel=1e-14)
        y, p = (labels == 1).astype(float), scores[:, 1] - 0.3
        theirs = sk(y.astype(int), (p > 0.5).astype(int), zero_division=0)
        assert metrics.get(name)(y[:, None], p[:, None]) == pytest.approx(theirs, rel=1e-14)
    probabilities = scores / scores.sum(
        1, keepdims=True
    )  # scikit-learn's one-vs-rest wants rows summing to 1
    assert metrics.get("auc")(labels, probabilities) == pytest.approx(
        skm.roc_auc_score(labels, probabilities, multi_class="ovr", average="macro"), rel=1e-14
    )
    tied = np.round(scores[:, 0], 1)  # many ties
    assert metrics.get("auc")((labels == 0)[:, None], tied[:, None]) == pytest.approx(
        skm.roc_auc_score(labels == 0, tied), rel=1e-14
    )
    y = scores @ np.array([1.0, -1.0, 0.5, 2.0])
    pred = np.c_[y + np.random.default_rng(seed).normal(size=80), 2 * y]
    truth = np.c_[y, y + 1.0]
    assert metrics.get("r2")(truth, pred) == pytest.approx(skm.r2_score(truth, pred), rel=1e-13)
    for k in (1, 2, 3):
        theirs = skm.top_k_accuracy_score(labels, scores, k=k)
        assert metrics.get("sparse_top_k_categorical_accuracy", k=k)(labels, scores) == pytest.approx(
            theirs, rel=1e-14
        )


@pytest.mark.parametrize("seed", range(4))
def test_auc_is_the_mann_whitney_statistic_ties_included(seed: int) -> None:
    rng = np.random.default_rng(seed)
    positive = rng.uniform(size=50) < 0.3
    scores = np.round(rng.normal(size=50) + positive, 1)  # rounded: ties within and across classes
    assert metrics.get("auc")(positive[:, None].astype(float), scores[:, None]) == pytest.approx(
        naive_auc(positive, scores), rel=1e-14
    )
    labels, multi = _multiclass(seed, n=40, classes=3)
    multi = np.round(multi, 1)
    ovr = np.mean([naive_auc(labels == c, multi[:, c]) for c in range(3)])
    assert metrics.get("auc")(labels, multi) == pytest.approx(ovr, rel=1e-14)


def test_top_k_counts_ties_as_keras_does() -> None:
    labels, scores = _multiclass(7, n=50, classes=5)
    scores = np.round(scores, 1)
    for k in (1, 2, 4, 9):
        want = naive_top_k(labels, scores, k)
        assert metrics.get("sparse_top_k_categorical_accuracy", k=k)(labels, scores) == pytest.approx(
            want, rel=1e-15
        )
        assert metrics.get("top_k_categorical_accuracy", k=k)(np.eye(5)[labels], scores) == pytest.approx(
            want, rel=1e-15
        )


def test_r2_against_its_formula_and_constant_targets() -> None:
    y, p = np.array([[1.0], [2.0], [4.0]]), np.array([[1.5], [2.0], [3.0]])
    assert metrics.get("r2")(y, p) == pytest.approx(
        1 - (0.25 + 0 + 1) / ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2)
    )
    assert metrics.get("r2")(np.ones((3, 1)), np.ones((3, 1))) == 1.0
    assert metrics.get("r2")(np.ones((3, 1)), np.zeros((3, 1))) == 0.0


def test_wrong_uses_are_refused_clearly() -> None:
    labels, scores = _multiclass(0)
    with pytest.raises(DataError, match=r"average='binary'.*4 classes.*average='macro'"):
        metrics.get("precision")(labels, scores)
    with pytest.raises(ConfigError, match="average must be one of 'binary', 'macro'"):
        metrics.get("f1", average="micro")
    with pytest.raises(ShapeError, match="sparse_top_k_categorical_accuracy"):
        metrics.get("top_k_categorical_accuracy")(labels, scores)
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        metrics.get("top_k_categorical_accuracy", k=0)


def test_new_metrics_in_fit_with_a_sparse_loss_and_their_direction() -> None:
    labels, _ = _multiclass(1, n=30, classes=3)
    x = np.random.default_rng(1).normal(size=(30, 4)) + labels[:, None]
    m = Sequential([Dense(4, 3)], seed=0)
    names = ["precision", "recall", "auc", "sparse_top_k_categorical_accuracy"]
    m.compile(
        loss={"type": "sparse_categorical_crossentropy", "from_logits": True},
        optimizer="adam",
        metrics=[{"type": n, "average": "macro"} if n in ("precision", "recall") else n for n in names],
    )
    history = m.fit(x, labels, epochs=2, validation_data=(x, labels))
    for name in names:
        assert len(history.history[f"val_{name}"]) == 2
        assert metrics.get(name).higher_is_better
