"""Generated stand-ins for MNIST and CIFAR-10, for machines with neither data nor network.

They have the real datasets' shapes and dtypes, so every notebook runs end to end, and
their classes are learnable, so a model that works still shows learning. They are not
the real data: :mod:`course_lib.data` announces them loudly and never uses them in full
mode unless asked.

>>> (x, y), (xt, yt) = mnist_like(n_train=100, n_test=10)
>>> x.shape, x.dtype, y.shape, xt.shape
((100, 28, 28), dtype('uint8'), (100,), (10, 28, 28))
"""

from __future__ import annotations

import numpy as np

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _check_sizes(n_train: int, n_test: int) -> None:
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"{name} must be a positive integer, got {n!r}.")


def mnist_like(n_train: int = 6000, n_test: int = 1000, seed: int = 0) -> Arrays:
    """scikit-learn's bundled 8x8 handwritten digits, upscaled to 28x28.

    Each sample is a real (small) handwritten digit scaled to 20x20 and centred in a 28x28
    frame with a 4-pixel border, like MNIST, plus a little pixel noise.
    """
    _check_sizes(n_train, n_test)
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    # Split the 1797 source digits first so test images never share a source digit.
    order = rng.permutation(len(digits.target))
    cut = int(0.8 * len(order))
    pools = (order[:cut], order[cut:])
    out = []
    for pool, n in zip(pools, (n_train, n_test)):
        idx = rng.choice(pool, size=n)
        small = digits.images[idx] / 16.0  # 0..1, shape (n, 8, 8)
        big = np.kron(small, np.ones((1, 5, 5)))[:, 0:40:2, 0:40:2]  # 8x8 -> 40x40 -> 20x20
        frame = np.zeros((n, 28, 28), dtype=np.float32)
        shifts = rng.integers(4, 5, size=(n, 2))  # centred, as MNIST centres its digits
        for i, (r, c) in enumerate(shifts):
            frame[i, r : r + 20, c : c + 20] = big[i]
        frame += rng.normal(0, 0.03, frame.shape)
        x = (np.clip(frame, 0, 1) * 255).astype(np.uint8)
        out.append((x, digits.target[idx].astype(np.uint8)))
    return out[0], out[1]


def cifar10_like(n_train: int = 5000, n_test: int = 1000, seed: int = 0) -> Arrays:
    """Colour-and-stripe images, 32x32x3, ten classes each with its own hue and angle.

    Noise and random phase make single pixels unreliable, so a model must combine many.
    """
    _check_sizes(n_train, n_test)
    rng = np.random.default_rng(seed)
    hues = rng.uniform(0.2, 0.8, size=(10, 3))
    angles = np.linspace(0, np.pi, 10, endpoint=False)
    rows, cols = np.mgrid[0:32, 0:32] / 32.0
    out = []
    for n in (n_train, n_test):
        y = rng.integers(0, 10, size=n)
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
        wave = np.sin(
            2 * np.pi * 3 * (np.cos(angles[y])[:, None, None] * rows
                             + np.sin(angles[y])[:, None, None] * cols) + phase
        )
        img = hues[y][:, None, None, :] * (0.6 + 0.3 * wave[..., None])
        img += rng.normal(0, 0.12, img.shape)
        x = (np.clip(img, 0, 1) * 255).astype(np.uint8)
        out.append((x, y.astype(np.uint8).reshape(-1, 1)))
    return out[0], out[1]
