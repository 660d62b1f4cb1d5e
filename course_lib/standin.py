"""Generated stand-ins for MNIST and CIFAR-10, for machines with neither data nor network.

Real shapes and dtypes and learnable classes, so every notebook runs end to end; not the real
data, so :mod:`course_lib.data` announces them loudly and uses them in full mode only if asked.

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


def _noise(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Uniform pixel noise with standard deviation ``std`` (4x faster to draw than Gaussian)."""
    half_width = std * np.sqrt(3.0, dtype=np.float32)
    return (rng.random(shape, dtype=np.float32) * 2 - 1) * half_width


def mnist_like(n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> Arrays:
    """scikit-learn's 8x8 handwritten digits scaled to 20x20, centred in 28x28 like MNIST, plus
    a little noise; the default sizes are MNIST's, so the notebooks' splits work unchanged."""
    _check_sizes(n_train, n_test)
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    # Split the 1797 source digits first so test images never share a source digit.
    order = rng.permutation(len(digits.target))
    cut = int(0.8 * len(order))
    pools = (order[:cut], order[cut:])
    upscale = np.arange(20) * 8 // 20  # nearest neighbour: 8x8 -> 20x20
    small = (digits.images / 16.0).astype(np.float32)[:, upscale][:, :, upscale]  # 0..1
    out = []
    for pool, n in zip(pools, (n_train, n_test)):
        idx = rng.choice(pool, size=n)
        x = np.empty((n, 28, 28), dtype=np.uint8)
        for start in range(0, n, 10_000):  # in chunks, to keep the float images small
            part = idx[start : start + 10_000]
            frame = np.zeros((len(part), 28, 28), dtype=np.float32)
            frame[:, 4:24, 4:24] = small[part]  # centred, as MNIST centres its digits
            frame += _noise(rng, frame.shape, std=0.03)
            x[start : start + 10_000] = np.clip(frame, 0, 1) * 255
        out.append((x, digits.target[idx].astype(np.uint8)))
    return out[0], out[1]


def cifar10_like(n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> Arrays:
    """Colour-and-stripe images, 32x32x3, ten classes each with its own hue and angle (noise and
    random phase make single pixels unreliable); the default sizes are CIFAR-10's."""
    _check_sizes(n_train, n_test)
    rng = np.random.default_rng(seed)
    hues = rng.uniform(0.2, 0.8, size=(10, 3)).astype(np.float32)
    angles = np.linspace(0, np.pi, 10, endpoint=False)
    rows, cols = (np.mgrid[0:32, 0:32] / 32.0).astype(np.float32)
    out = []
    for n in (n_train, n_test):
        y = rng.integers(0, 10, size=n)
        x = np.empty((n, 32, 32, 3), dtype=np.uint8)
        for start in range(0, n, 5_000):  # in chunks: float images of 50,000 would take 1.2 GB
            part = y[start : start + 5_000]
            phase = rng.uniform(0, 2 * np.pi, size=(len(part), 1, 1)).astype(np.float32)
            cos, sin = (f(angles[part]).astype(np.float32)[:, None, None] for f in (np.cos, np.sin))
            wave = np.sin(2 * np.pi * 3 * (cos * rows + sin * cols) + phase)
            img = hues[part][:, None, None, :] * (0.6 + 0.3 * wave[..., None])
            img += _noise(rng, img.shape, std=0.12)
            x[start : start + 5_000] = np.clip(img, 0, 1) * 255
        out.append((x, y.astype(np.uint8).reshape(-1, 1)))
    return out[0], out[1]
