"""Figures the notebooks share: image grids, learning curves, confusion matrices. Each
returns its figure (or axes) to tweak or save; none calls ``plt.show()``.

>>> import numpy as np
>>> fig = show_images(np.zeros((4, 28, 28), dtype=np.uint8), labels=[0, 1, 2, 3])
>>> len(fig.axes)
4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def show_images(
    images: np.ndarray,
    labels: Sequence | None = None,
    predictions: Sequence | None = None,
    *,
    ncols: int = 8,
    size: float = 1.3,
    cmap: str = "gray_r",
    class_names: Sequence[str] | None = None,
):
    """A grid of (N, H, W[, C]) or flat (N, 784) images with optional labels and predictions
    (wrong ones in red)."""
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim not in (3, 4):
        raise ValueError(f"show_images expects (N, H, W[, C]) images, got shape {images.shape}.")
    n = len(images)
    if n == 0:
        raise ValueError("show_images got no images.")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for ax in axes.ravel()[n:]:
        fig.delaxes(ax)

    def name(v):
        v = int(np.asarray(v).reshape(-1)[0])
        return class_names[v] if class_names is not None else str(v)

    for i, ax in enumerate(axes.ravel()[:n]):
        img = images[i]
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        title, color = "", "black"
        if labels is not None:
            title = name(labels[i])
        if predictions is not None:
            pred = name(predictions[i])
            wrong = labels is not None and pred != title
            title = f"{pred} (true {title})" if wrong else pred
            color = "crimson" if wrong else "black"
        if title:
            ax.set_title(title, fontsize=9, color=color)
    fig.tight_layout()
    return fig


def plot_history(
    history, metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None
):
    """Training vs validation curves from a Keras ``History`` (or its ``.history`` dict), one
    panel per metric."""
    hist: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    present = [m for m in metrics if m in hist]
    if not present:
        raise ValueError(f"none of {list(metrics)} is in the history; it has {sorted(hist)}.")
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], present):
        epochs = np.arange(1, len(hist[metric]) + 1)
        ax.plot(epochs, hist[metric], "o-", ms=3, label="train")
        if f"val_{metric}" in hist:
            ax.plot(epochs, hist[f"val_{metric}"], "s-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_histories(
    histories: Mapping[str, object], metric: str = "val_accuracy", ax=None, ylim=None
):
    """One line per named run (e.g. sigmoid / tanh / ReLU) for a single metric."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, history in histories.items():
        hist = getattr(history, "history", history)
        if metric not in hist:
            raise ValueError(f"run {label!r} has no {metric!r}; it has {sorted(hist)}.")
        ax.plot(np.arange(1, len(hist[metric]) + 1), hist[metric], "o-", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int = 10) -> np.ndarray:
    """Counts: row = true class, column = predicted class (scikit-learn's, with every class).

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2).tolist()
    [[1, 0], [1, 1]]
    """
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.shape[0]} labels but y_pred has {y_pred.shape[0]}.")
    # labels=range(...): a class that never occurs still gets its row and column
    return sklearn_confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


def plot_confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    class_names: Sequence[str] | None = None,
    ax=None,
):
    """Heatmap of the confusion matrix with counts written in each cell."""
    num_classes = len(class_names) if class_names is not None else 10
    cm = confusion_matrix(y_true, y_pred, num_classes)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    # log colours, so the few mistakes stay visible next to the large diagonal
    shown = np.log1p(cm)
    ax.imshow(shown, cmap="Blues")
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    ax.set_xticks(range(num_classes), names, rotation=45 if class_names is not None else 0)
    ax.set_yticks(range(num_classes), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(cm):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    return ax
