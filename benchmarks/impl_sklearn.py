"""scikit-learn's MLPClassifier, configured to do exactly the suite's training.

Optional: skipped when scikit-learn is not installed. It cannot express the lecture networks
(its classifier pairs a logistic output with log-loss, never with a squared error, and its
regressor's output is linear), so it runs on W3 and W4 only. Its own initialisation is replaced
by the suite's weights through a one-epoch warm-up fit and ``warm_start``.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["available", "mlp_classifier"]

try:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
except ImportError:  # an optional peer
    MLPClassifier = None


def available() -> bool:
    return MLPClassifier is not None


def mlp_classifier(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float
):
    """Plain SGD (no momentum, no L2 penalty, no early stop), batches in data-set order."""
    hidden = tuple(w.shape[1] for w in weights[0:-2:2])
    model = MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate="constant",
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=False,
        max_iter=1,
        tol=0.0,
        n_iter_no_change=10**9,
        warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns of its one iteration and of the batch size it clips
        # one sample of each class builds every internal attribute cheaply; weights are replaced next
        one_each = np.unique(labels, return_index=True)[1]
        model.fit(x[one_each], labels[one_each])
    model.coefs_ = [w.astype(x.dtype) for w in weights[0::2]]
    model.intercepts_ = [b.astype(x.dtype) for b in weights[1::2]]
    model.max_iter = epochs

    def run() -> tuple[list[np.ndarray], float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, labels)
        final = [a.copy() for pair in zip(model.coefs_, model.intercepts_) for a in pair]
        return final, float(model.loss_curve_[-1])

    return run
