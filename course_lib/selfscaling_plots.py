"""Figures for the self-scaling notebooks (09-11); each returns a new figure.

>>> hist = [{"sizes_before_grow": [3], "sizes_after_grow": [5], "sizes_after_prune": [4],
...          "loss": 1.0, "val_loss": 1.1, "accuracy": 0.5, "val_accuracy": 0.4,
...          "penalty": 1e-3}]
>>> len(plot_sizes(hist).axes)
1
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from course_lib.selfscaling import history_column


def _mark_drift(ax, drift_epoch: float | None) -> None:
    if drift_epoch is not None:
        ax.axvline(drift_epoch + 0.5, color="tab:red", ls="--", lw=1)
        ax.annotate("drift", (drift_epoch + 0.5, 0), xycoords=("data", "axes fraction"),
                    xytext=(3, 4), textcoords="offset points", color="tab:red", fontsize=8)


def plot_sizes(history: Sequence[dict], *, drift_epoch: int | None = None, title: str = ""):
    """Hidden sizes per epoch, one panel per layer: before growth, after growth, after pruning.

    ``drift_epoch`` is the number of epochs before the data changed (a dashed line).
    """
    before = history_column(history, "sizes_before_grow")
    grown = history_column(history, "sizes_after_grow")
    pruned = history_column(history, "sizes_after_prune")
    epochs = np.arange(1, len(history) + 1)
    n_layers = before.shape[1]
    fig, axes = plt.subplots(1, n_layers, figsize=(3.2 * n_layers, 2.8), squeeze=False,
                             sharey=True)
    for i, ax in enumerate(axes[0]):
        ax.fill_between(epochs, pruned[:, i], grown[:, i], color="tab:green", alpha=0.15,
                        step="mid", label="grown, then pruned")
        ax.plot(epochs, before[:, i], "o-", ms=3, color="tab:blue", label="before growth")
        ax.plot(epochs, grown[:, i], "^", ms=3, color="tab:green", label="after growth")
        ax.plot(epochs, pruned[:, i], "v", ms=3, color="tab:orange", label="after pruning")
        _mark_drift(ax, drift_epoch)
        ax.set_title(f"hidden layer {i + 1}")
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("neurons")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(history: Sequence[dict], *, drift_epoch: int | None = None, title: str = ""):
    """Loss and accuracy (train and validation) and the penalty, per epoch."""
    epochs = np.arange(1, len(history) + 1)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, key in zip(axes[:2], ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history_column(history, key), label=f"train {key}")
        ax.plot(epochs, history_column(history, f"val_{key}"), label=f"validation {key}")
        _mark_drift(ax, drift_epoch)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend(fontsize=8)
    penalty = history_column(history, "penalty")
    axes[2].step(epochs, np.where(penalty > 0, penalty, np.nan), where="mid")
    if np.any(penalty > 0):
        axes[2].set_yscale("log")
    _mark_drift(axes[2], drift_epoch)
    axes[2].set_xlim(0.5, len(history) + 0.5)
    axes[2].set_title("penalty (gaps: dropped)")
    axes[2].set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_size_vs_accuracy(points: Sequence[dict], *, metric: str = "test accuracy"):
    """Total hidden neurons against accuracy; ``points`` hold name, neurons, accuracy, kind."""
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = {"self-scaling": "o", "static": "s"}
    names = list(dict.fromkeys(p["name"] for p in points))
    colours = {name: f"C{i}" for i, name in enumerate(names)}  # one colour per configuration
    for p in points:
        ax.scatter(p["neurons"], p["accuracy"], marker=markers.get(p["kind"], "x"), s=50,
                   color=colours[p["name"]])
    for name in names:  # join each self-scaling network to its static twin
        pair = [p for p in points if p["name"] == name]
        ax.plot([p["neurons"] for p in pair], [p["accuracy"] for p in pair],
                color=colours[name], lw=1, alpha=0.6, label=name)
    for kind, marker in markers.items():
        ax.scatter([], [], marker=marker, color="grey", label=kind)
    ax.set_xscale("log")
    ax.set_xlabel("hidden neurons in total (log scale)")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_neuron_heatmap(neuron_log: Sequence[list], *, layer: int = 0, threshold: float = 1e-3,
                        drift_epoch: int | None = None):
    """Every neuron that ever lived in one hidden layer (rows) against epochs (columns), coloured
    by log10 of its largest incoming |weight| before pruning (white: not alive)."""
    if not neuron_log:
        raise ValueError("neuron_log is empty: train with SelfScalingNet.fit first.")
    n_ids = 1 + max(int(ids.max()) for epoch in neuron_log for ids, _ in [epoch[layer]])
    grid = np.full((n_ids, len(neuron_log)), np.nan)
    for e, epoch in enumerate(neuron_log):
        ids, mag = epoch[layer]
        grid[ids, e] = np.log10(np.maximum(mag, 1e-12))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lo = np.log10(threshold) - 2
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis",
                      vmin=lo, vmax=max(lo + 1, np.nanmax(grid)),
                      extent=(0.5, len(neuron_log) + 0.5, n_ids - 0.5, -0.5))
    cbar = fig.colorbar(image, ax=ax)
    cbar.set_label("log10 max |incoming weight|")
    cbar.ax.axhline(np.log10(threshold), color="red", lw=2)
    _mark_drift(ax, drift_epoch)
    ax.set_xlabel("epoch")
    ax.set_ylabel("neuron id (in order of birth)")
    ax.set_title(f"hidden layer {layer + 1}: every neuron that ever lived\n"
                 f"(white: not alive; red mark on the colour bar: pruning threshold)", fontsize=10)
    fig.tight_layout()
    return fig
