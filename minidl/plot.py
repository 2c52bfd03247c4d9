"""Pictures of a training run with matplotlib, an optional extra (``pip install 'minidl[plot]'``).

Figures are made with ``matplotlib.figure.Figure`` directly, never through pyplot's global
state, so saving works without a display and leaves no window or figure behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from .callbacks import History
    from .model import Sequential

__all__ = [
    "history_figure",
    "plot_history",
    "plot_decision_boundary",
    "save_run_figure",
    "require_matplotlib",
    "check_image_path",
]

GRID = 200  # points per axis of the decision-boundary grid


def require_matplotlib() -> None:
    """Raises the ConfigError saying how to install matplotlib when it is missing, else nothing.

    ``minidl train --plot`` calls it before training, so a missing extra costs no training run.
    """
    _figure_class()


def check_image_path(path: str | Path) -> None:
    """Checks, before a run, that a figure can be saved at ``path``.

    Args:
        path: the image file to be written; its suffix picks the format.

    Raises:
        ConfigError: when matplotlib is missing, the folder does not exist, or the suffix is not
            a format matplotlib writes (the message lists them).
    """
    target = Path(path)
    formats = sorted(_figure_class()().canvas.get_supported_filetypes())
    suffix = target.suffix[1:].lower()
    if suffix not in formats:
        raise ConfigError(
            f"Cannot save a figure to {str(target)!r}: give the file one of the suffixes "
            f"{', '.join('.' + f for f in formats)}."
        )
    if target.is_dir():
        raise ConfigError(f"Cannot save a figure to {str(target)!r}: it is a folder; give a file name.")
    if not target.parent.is_dir():
        raise ConfigError(
            f"Cannot save a figure to {str(target)!r}: the folder {str(target.parent)!r} does not exist."
        )


def _figure_class() -> Any:
    try:  # imported here: matplotlib is an optional extra, and import minidl must stay fast
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError(
            "Plotting needs matplotlib, an optional extra; install it with: pip install 'minidl[plot]' "
            "(or pip install matplotlib)."
        ) from None
    return Figure


def _groups(history: History) -> list[str]:
    """The figures to draw, one panel each: ``loss`` first, then each metric (validation with it)."""
    names = [k for k in history.history if not k.startswith("val_")]
    return sorted(names, key=lambda k: k != "loss")


def plot_history(history: History, axes: Any) -> None:
    """Draws ``history`` onto a sequence of matplotlib axes, one per figure (loss, then metrics).

    Each value is drawn at its own epoch; an epoch without a figure (NaN) leaves a gap, and a
    curve with gaps marks its points, so a value between two gaps still shows.

    Args:
        history: the run's ``History``.
        axes: one matplotlib axes per figure.
    """
    for ax, name in zip(axes, _groups(history), strict=False):  # a grid may hold more axes than figures
        _curve(ax, history, name, f"training {name}")
        if f"val_{name}" in history.history:
            _curve(ax, history, f"val_{name}", f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)


def _curve(ax: Any, history: History, key: str, label: str) -> None:
    values = np.asarray(history.history[key], dtype=float)
    epochs = history.epochs[: len(values)]  # equal lengths, but a hand-made History may be shorter
    gaps = bool(np.isnan(values[: len(epochs)]).any())
    ax.plot(epochs, values[: len(epochs)], label=label, marker="." if gaps else None)


def history_figure(history: History, path: str | Path | None = None) -> Any:
    """A matplotlib Figure of the loss and metric curves; saved to ``path`` when given.

    Args:
        history: the run's ``History``.
        path: an image file to save the figure to (None: not saved).
    """
    if not history.history:
        raise ConfigError("This History is empty: train the model with fit() before plotting it.")
    groups = _groups(history)
    figure = _figure_class()(figsize=(5 * len(groups), 4), layout="constrained")
    plot_history(history, figure.subplots(1, len(groups), squeeze=False)[0])
    if path is not None:
        figure.savefig(path)
    return figure


def _scores(model: Sequential, points: np.ndarray) -> tuple[np.ndarray, bool]:
    """One score per point (the output, or the predicted class) and whether it is a class index."""
    out = model.predict(points)
    if out.shape[1] == 1:
        return out[:, 0], False
    return np.argmax(out, axis=1).astype(float), True


def plot_decision_boundary(
    model: Sequential, x: np.ndarray, y: np.ndarray, ax: Any, *, title: str = ""
) -> None:
    """Colours the plane by the model's output and draws the points ``(x, y)`` over it (two inputs only).

    Args:
        model: a trained model with two inputs.
        x: the points, ``(samples, 2)``.
        y: their labels.
        ax: the matplotlib axes to draw on.
        title: the axes' title.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ConfigError(f"A decision boundary needs two input features; the data has shape {x.shape}.")
    low, high = x.min(axis=0), x.max(axis=0)
    margin = 0.05 * (high - low) + 1e-9
    g1, g2 = np.meshgrid(
        np.linspace(low[0] - margin[0], high[0] + margin[0], GRID),
        np.linspace(low[1] - margin[1], high[1] + margin[1], GRID),
    )
    scores, classes = _scores(model, np.column_stack([g1.ravel(), g2.ravel()]))
    labels = np.asarray(y).reshape(len(x), -1)
    labels = labels[:, 0] if labels.shape[1] == 1 else np.argmax(labels, axis=1)
    lo, hi = (min(scores.min(), labels.min()), max(scores.max(), labels.max()))
    ax.contourf(
        g1,
        g2,
        scores.reshape(g1.shape),
        levels=20 if not classes else len(np.unique(scores)),
        cmap="RdBu",
        vmin=lo,
        vmax=hi,
        alpha=0.6,
    )
    ax.scatter(
        x[:, 0], x[:, 1], c=labels, cmap="RdBu", vmin=lo, vmax=hi, edgecolors="k", linewidths=0.5, s=18
    )
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)


def save_run_figure(
    path: str | Path,
    history: History,
    model: Sequential | None = None,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
) -> None:
    """Saves the curves of ``history`` and, for two-input data, the decision boundary over the points.

    Args:
        path: the image file to write.
        history: the run's ``History``.
        model: the trained model (for the decision boundary).
        x: the training inputs.
        y: the training labels.
        x_test: the test inputs, drawn too when given.
        y_test: the test labels.
    """
    groups = _groups(history)
    # (model, x, y) and the test pair, each drawn only when all of it is given and x has two inputs
    boundaries: list[tuple[Sequential, np.ndarray, np.ndarray, str]] = []
    if model is not None and x is not None and y is not None and np.ndim(x) == 2 and np.shape(x)[1] == 2:
        boundaries.append((model, x, y, "training data"))
        if x_test is not None and y_test is not None:
            boundaries.append((model, x_test, y_test, "test data"))
    panels = len(groups) + len(boundaries)
    figure = _figure_class()(figsize=(4.5 * panels, 4), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    plot_history(history, axes[: len(groups)])
    for ax, (drawn, points, labels, title) in zip(axes[len(groups) :], boundaries, strict=True):
        plot_decision_boundary(drawn, points, labels, ax, title=title)
    figure.savefig(path)
