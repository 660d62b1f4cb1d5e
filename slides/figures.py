"""Figures for the instructor slides, computed (never pasted) when the decks are built.

Each ``*_figure`` function does the computation it illustrates with NumPy and returns
a Matplotlib figure; :func:`render` writes the ones a deck asks for, by name.
``slides/build_slides.py`` calls it for every ``![caption](fig:NAME)`` in ``slides/*.md``.

>>> sorted(FIGURES)[:3]
['activation_functions', 'conv_feature_map', 'cross_entropy_vs_quadratic']
>>> fig = softmax_figure()
>>> len(fig.axes)
2
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are written to files; never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "course-slides",  # stable element ids: rebuilding gives identical files
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def activation_functions_figure():
    """Sigmoid, tanh, ReLU, leaky ReLU and ELU on the same axis range."""
    z = np.linspace(-4, 4, 401)
    curves = {
        "sigmoid": _sigmoid(z),
        "tanh": np.tanh(z),
        "ReLU": np.maximum(0.0, z),
        "leaky ReLU (0.1)": np.maximum(0.1 * z, z),
        "ELU (α = 1)": np.where(z >= 0, z, np.expm1(z)),
    }
    fig, axes = plt.subplots(1, len(curves), figsize=(15, 3.2), sharey=True)
    for ax, (name, y) in zip(axes, curves.items(), strict=True):
        ax.axhline(0, color="0.8", lw=1)
        ax.axvline(0, color="0.8", lw=1)
        ax.plot(z, y, lw=2.5)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.set_ylim(-1.5, 4)
    axes[0].set_ylabel("σ(z)")
    fig.tight_layout()
    return fig


def sigmoid_vs_sign_figure():
    """The perceptron's hard sign step next to the sigmoid that smooths it."""
    z = np.linspace(-6, 6, 601)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.step(z, np.sign(z), where="mid", lw=2.5, label="sign(z): perceptron")
    ax.plot(z, 2 * _sigmoid(z) - 1, lw=2.5, label="2·sigmoid(z) − 1: smooth neuron")
    ax.plot(z, 2 * _sigmoid(3 * z) - 1, lw=1.5, ls="--", label="2·sigmoid(3z) − 1: larger weights")
    ax.set_xlabel("z = wᵀx + b")
    ax.set_ylabel("output")
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def softmax_figure():
    """The lecture's example: an image of an 8, 80% sure it is an 8 and 6% that it is a 4.

    The evidence is chosen as the log of those probabilities (plus any constant, which softmax
    ignores), so softmax gives back exactly 0.80, 0.06 and 0.0175 for each other digit.
    """
    probs_wanted = np.full(10, 0.14 / 8)
    probs_wanted[8], probs_wanted[4] = 0.80, 0.06
    evidence = np.log(probs_wanted) + 3.0  # evidence is defined up to a constant
    probs = _softmax(evidence)
    digits = np.arange(10)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    left.bar(digits, evidence, color=np.where(evidence >= 0, "tab:blue", "tab:red"))
    left.axhline(0, color="0.5", lw=1)
    left.set_title("evidence zᵢ (any real number)")
    right.bar(digits, probs, color="tab:green")
    for d, p in zip(digits, probs, strict=True):
        right.text(d, p + 0.01, f"{p:.2f}", ha="center", fontsize=10)
    right.set_title(f"softmax(z): positive, sums to {probs.sum():.0f}")
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.set_xticks(digits)
        ax.set_xlabel("digit")
    fig.tight_layout()
    return fig


def decision_boundary_figure():
    """The perceptron's credit decision: a straight line through (age, salary) space."""
    w_age, w_salary, b = 0.03, 0.06, -3.5  # the notebook 01 example (gender weight 0)
    applicants = np.array([[23, 30], [45, 52], [31, 41], [62, 25], [28, 58], [38, 35]], float)
    approve = applicants @ np.array([w_age, w_salary]) + b > 0
    ages = np.linspace(18, 70, 100)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    boundary = -(w_age * ages + b) / w_salary
    ax.plot(ages, boundary, "k-", lw=2, label="w·x + b = 0")
    ax.fill_between(ages, boundary, 80, color="tab:green", alpha=0.12, label="approve")
    ax.scatter(*applicants[approve].T, c="tab:green", s=70, label="approved")
    ax.scatter(*applicants[~approve].T, c="tab:red", marker="x", s=70, label="refused")
    ax.set(xlabel="age (years)", ylabel="salary (k$)", ylim=(15, 80))
    ax.legend(frameon=False, fontsize=10, loc="upper right")
    fig.tight_layout()
    return fig


def initialisation_figure(width: int = 100, depth: int = 8, seed: int = 0):
    """Signal size through a deep tanh/ReLU network: naive 0.01 weights vs Glorot/He."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, width))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for name, act, std in (
        ("tanh, weights N(0, 0.01²)", np.tanh, 0.01),
        ("tanh, Glorot", np.tanh, np.sqrt(2 / (2 * width))),
        ("ReLU, weights N(0, 0.01²)", lambda z: np.maximum(z, 0), 0.01),
        ("ReLU, He", lambda z: np.maximum(z, 0), np.sqrt(2 / width)),
    ):
        h, sizes = x, []
        for _ in range(depth):
            h = act(h @ rng.normal(0, std, (width, width)))
            sizes.append(h.std())
        ax.plot(range(1, depth + 1), sizes, "o-" if "0.01" not in name else "o--", label=name)
    ax.set(yscale="log", xlabel="layer", ylabel="std of the layer's output")
    ax.legend(frameon=False, fontsize=10)
    fig.tight_layout()
    return fig


def cross_entropy_vs_quadratic_figure():
    """Loss and its gradient for one sigmoid output whose target is 1."""
    z = np.linspace(-6, 6, 601)
    a = _sigmoid(z)
    quadratic = 0.5 * (a - 1.0) ** 2
    cross_entropy = -np.log(a)
    # dC/dz: quadratic (a - y) σ'(z) vanishes when the neuron is saturated and wrong;
    # cross-entropy gives (a - y), large exactly when the prediction is bad.
    grad_quadratic = (a - 1.0) * a * (1.0 - a)
    grad_cross_entropy = a - 1.0
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    left.plot(z, quadratic, lw=2.5, label="quadratic ½(a − 1)²")
    left.plot(z, cross_entropy, lw=2.5, label="cross-entropy −log a")
    left.set_ylim(0, 4)
    left.set_title("loss (target y = 1)")
    right.plot(z, np.abs(grad_quadratic), lw=2.5, label="quadratic")
    right.plot(z, np.abs(grad_cross_entropy), lw=2.5, label="cross-entropy")
    right.set_title("|∂C/∂z|: how hard the neuron is pushed")
    for ax in (left, right):
        ax.set_xlabel("z (a = sigmoid(z))")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _line_data(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    return x, 2.0 * x + 0.5 + rng.normal(0, 0.3, n)


def _mse(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return ((w[..., None] * x + b[..., None] - y) ** 2).mean(axis=-1)


def gradient_descent_figure(learning_rate: float = 0.3, steps: int = 25):
    """Least squares solved by gradient descent: the path on the loss surface."""
    x, y = _line_data()
    w, b = -1.5, 2.0
    path = [(w, b)]
    for _ in range(steps):
        error = w * x + b - y
        w -= learning_rate * 2 * (error * x).mean()
        b -= learning_rate * 2 * error.mean()
        path.append((w, b))
    path = np.array(path)
    ww, bb = np.meshgrid(np.linspace(-2, 4, 121), np.linspace(-1.5, 2.5, 101))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    left.contour(ww, bb, _mse(ww, bb, x, y), levels=np.geomspace(0.1, 12, 14), cmap="viridis")
    left.plot(path[:, 0], path[:, 1], "o-", color="tab:red", ms=4)
    left.set_xlabel("w")
    left.set_ylabel("b")
    left.set_title(f"loss J(w, b), {steps} steps of size {learning_rate}")
    grid = np.linspace(-1, 1, 2)
    left_w, left_b = path[0]
    right.scatter(x, y, s=18, color="0.3", label="data")
    right.plot(grid, left_w * grid + left_b, "--", color="tab:red", label="start")
    right.plot(grid, path[-1, 0] * grid + path[-1, 1], color="tab:red", lw=2.5, label="after descent")
    right.set_xlabel("x")
    right.set_ylabel("y")
    right.legend(frameon=False)
    right.set_title(f"fit: y = {path[-1, 0]:.2f} x + {path[-1, 1]:.2f}")
    fig.tight_layout()
    return fig


def minibatch_figure(epochs: int = 6, learning_rate: float = 0.1, seed: int = 1):
    """Training loss over epochs for full-batch, mini-batch and single-example steps."""
    x, y = _line_data(n=64, seed=seed)
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for batch_size, label in ((64, "batch (64)"), (8, "mini-batch (8)"), (1, "stochastic (1)")):
        w, b = -1.5, 2.0
        losses, updates = [], []
        step = 0
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                error = w * x[idx] + b - y[idx]
                w -= learning_rate * 2 * (error * x[idx]).mean()
                b -= learning_rate * 2 * error.mean()
                step += 1
                updates.append(step * batch_size / len(x))
                losses.append(float(_mse(np.array(w), np.array(b), x, y)))
        per_epoch = len(x) // batch_size
        ax.plot(updates, losses, lw=2, label=f"{label}: {per_epoch} update{'s' * (per_epoch > 1)} per epoch")
    ax.set_yscale("log")
    ax.set_xlabel("epochs (passes over the training set)")
    ax.set_ylabel("training loss")
    ax.set_title(f"{epochs} epochs over the same 64 points")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def overfitting_figure(seed: int = 3):
    """Polynomials of growing degree fitted to 12 noisy points, judged on fresh points."""
    rng = np.random.default_rng(seed)

    def truth(t: np.ndarray) -> np.ndarray:
        return np.sin(2.5 * t)

    x_train = np.sort(rng.uniform(-1, 1, 12))
    y_train = truth(x_train) + rng.normal(0, 0.2, x_train.size)
    x_test = rng.uniform(-1, 1, 200)
    y_test = truth(x_test) + rng.normal(0, 0.2, x_test.size)
    grid = np.linspace(-1, 1, 300)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
    for ax, degree in zip(axes, (1, 3, 11), strict=True):
        poly = np.polynomial.Polynomial.fit(x_train, y_train, degree)
        train_mse = np.mean((poly(x_train) - y_train) ** 2)
        test_mse = np.mean((poly(x_test) - y_test) ** 2)
        ax.scatter(x_test, y_test, s=6, color="0.75", label="test")
        ax.scatter(x_train, y_train, s=30, color="tab:blue", label="train")
        ax.plot(grid, poly(grid), color="tab:red", lw=2)
        ax.set_ylim(-2, 2)
        ax.set_title(f"degree {degree}: train {train_mse:.3f}, test {test_mse:.3f}")
    axes[0].legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def unstable_gradients_figure(max_layers: int = 30):
    """How a gradient scales through a chain of layers: vanishing and exploding."""
    layers = np.arange(1, max_layers + 1)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for factor, label in (
        (0.25, "×0.25 per layer (sigmoid′ at its best)"),
        (1.0, "×1 per layer"),
        (1.5, "×1.5 per layer (large weights)"),
    ):
        ax.plot(layers, factor ** layers, lw=2.5, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layers between the loss and the weight")
    ax.set_ylabel("gradient scale")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _drawn_digit() -> np.ndarray:
    """A 28×28 seven, drawn with NumPy, for when MNIST is not on this machine."""
    img = np.zeros((28, 28))
    img[6:9, 6:22] = 1.0
    for row in range(9, 24):
        col = int(21 - (row - 9) * 0.55)
        img[row, col - 1 : col + 2] = 1.0
    return img


def _mnist_digit() -> tuple[np.ndarray, str]:
    from course_lib.data import DataError, load_mnist

    try:
        (x_train, y_train), _ = load_mnist(n_train=100, n_test=10, verbose=False)
    except DataError:
        return _drawn_digit(), "drawn 7 (MNIST not found)"
    index = int(np.flatnonzero(y_train == 7)[0]) if (y_train == 7).any() else 0
    return x_train[index].astype(float) / 255.0, f"MNIST training image #{index}"


def conv2d_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Slide ``kernel`` over ``image`` (no padding, stride 1): one shared set of weights.

    >>> conv2d_valid(np.eye(3), np.ones((2, 2))).tolist()
    [[2.0, 1.0], [1.0, 2.0]]
    """
    kh, kw = kernel.shape
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))
    return np.einsum("ijkl,kl->ij", windows, kernel)


def max_pool(feature_map: np.ndarray, size: int = 2) -> np.ndarray:
    """Largest value in each non-overlapping ``size``×``size`` block.

    >>> max_pool(np.arange(16.0).reshape(4, 4)).tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    h, w = (s - s % size for s in feature_map.shape)
    blocks = feature_map[:h, :w].reshape(h // size, size, w // size, size)
    return blocks.max(axis=(1, 3))


def conv_feature_map_figure():
    """A digit, two 3×3 edge filters, their feature maps after ReLU, and 2×2 max pooling."""
    image, source = _mnist_digit()
    kernels = {
        "vertical edges": np.array([[-1.0, 0.0, 1.0]] * 3),
        "horizontal edges": np.array([[-1.0, 0.0, 1.0]] * 3).T,
    }
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.4))
    for row, (name, kernel) in zip(axes, kernels.items(), strict=True):
        fmap = np.maximum(conv2d_valid(image, kernel), 0.0)
        pooled = max_pool(fmap)
        panels = (
            (image, f"input 28×28\n{source}", "gray_r"),
            (kernel, f"3×3 filter: {name}", "coolwarm"),
            (fmap, f"feature map {fmap.shape[0]}×{fmap.shape[1]} (ReLU)", "magma"),
            (pooled, f"max pool 2×2 → {pooled.shape[0]}×{pooled.shape[1]}", "magma"),
        )
        for ax, (data, title, cmap) in zip(row, panels, strict=True):
            ax.imshow(data, cmap=cmap)
            ax.set_title(title, fontsize=11)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable] = {
    "activation_functions": activation_functions_figure,
    "conv_feature_map": conv_feature_map_figure,
    "cross_entropy_vs_quadratic": cross_entropy_vs_quadratic_figure,
    "decision_boundary": decision_boundary_figure,
    "gradient_descent": gradient_descent_figure,
    "initialisation": initialisation_figure,
    "minibatch": minibatch_figure,
    "overfitting": overfitting_figure,
    "sigmoid_vs_sign": sigmoid_vs_sign_figure,
    "softmax": softmax_figure,
    "unstable_gradients": unstable_gradients_figure,
}


def render(names: Iterable[str], folder: str | Path, fmt: str = "svg") -> dict[str, Path]:
    """Draw the named figures into ``folder`` as ``NAME.fmt``; return name → path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in sorted(set(names)):
        if name not in FIGURES:
            raise ValueError(f"unknown slide figure {name!r}; choose from {sorted(FIGURES)}.")
        with plt.rc_context(STYLE):
            fig = FIGURES[name]()
            path = folder / f"{name}.{fmt}"
            fig.savefig(path, metadata={"Date": None} if fmt == "svg" else None)
            plt.close(fig)
        written[name] = path
    return written
