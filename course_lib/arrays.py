"""Small array helpers the notebooks use on loaded data: flatten, scale, standardize, one-hot,
hold out a validation set, pick classes.

>>> x = np.zeros((3, 28, 28), dtype=np.uint8)
>>> flatten(scale(x)).shape
(3, 784)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 784): one row of pixels per image.

    >>> flatten(np.zeros((2, 28, 28))).shape
    (2, 784)
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"flatten expects a batch of images (N, ...), got shape {x.shape}.")
    return x.reshape(len(x), -1)


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 in 0..1.

    >>> scale(np.array([0, 255], dtype=np.uint8))
    array([0., 1.], dtype=float32)
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"scale expects uint8 pixels (0..255), got dtype {x.dtype}.")
    return x.astype(np.float32) / 255.0


def standardize(
    x_train: np.ndarray, *others: np.ndarray, eps: float = 1e-7
) -> tuple[np.ndarray, ...]:
    """Zero mean, unit variance per feature, with ``x_train``'s statistics for every array
    (so nothing leaks from test data).

    >>> a, b = standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    >>> a.ravel().round(3).tolist(), b.ravel().round(3).tolist()
    ([-1.0, 1.0], [3.0])
    """
    x_train = np.asarray(x_train, dtype=np.float32)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + eps
    out = [(x_train - mean) / std]
    for x in others:
        x = np.asarray(x, dtype=np.float32)
        if x.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"standardize: shape {x.shape} does not match the training data {x_train.shape}."
            )
        out.append((x - mean) / std)
    return tuple(out)


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Integer labels -> one-hot float32 rows; labels of shape (N, 1) are accepted.

    >>> one_hot(np.array([8]), 10)[0].tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot expects integer labels, got dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {y.min()}..{y.max()}.")
    return np.eye(num_classes, dtype=np.float32)[y]


def hold_out(x: np.ndarray, y: np.ndarray, n_val: int) -> tuple[tuple, tuple]:
    """Split a *training* set into (train, validation): the last ``n_val`` samples validate
    (MNIST's training set is in no particular order), and the test set waits for the report.

    >>> (a, b), (c, d) = hold_out(np.arange(10), np.arange(10) % 2, n_val=3)
    >>> a.tolist(), c.tolist()
    ([0, 1, 2, 3, 4, 5, 6], [7, 8, 9])
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}.")
    if isinstance(n_val, bool) or not isinstance(n_val, int | np.integer) or not 0 < n_val < len(x):
        raise ValueError(
            f"n_val must be an integer between 1 and {len(x) - 1} (the training set has "
            f"{len(x)} samples), got {n_val!r}."
        )
    cut = len(x) - int(n_val)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def pick_classes(
    x: np.ndarray, y: np.ndarray, classes: int | Sequence[int], relabel: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Keep only samples whose label is in ``classes`` (an int or a list, each present in ``y``);
    optionally renumber them 0..k-1.

    >>> x, y = pick_classes(np.arange(4), np.array([1, 5, 1, 9]), [1, 9], relabel=True)
    >>> x.tolist(), y.tolist()
    ([0, 2, 3], [0, 0, 1])
    >>> pick_classes(np.arange(4), np.array([1, 5, 1, 9]), [1, 7])
    Traceback (most recent call last):
    ...
    ValueError: pick_classes: class 7 is not in the labels (they hold [1, 5, 9]); pick from those.
    """
    classes = [classes] if isinstance(classes, int | np.integer) else list(classes)
    if not classes:
        raise ValueError("pick_classes needs at least one class.")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"pick_classes expects integer labels, got dtype {y.dtype}; convert them first, "
            "e.g. y.astype(int)."
        )
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match.")
    flat = y.reshape(len(y), -1)[:, 0]
    present = np.unique(flat).tolist()
    absent = [c for c in classes if c not in present]
    if absent:
        which = f"class {absent[0]!r} is" if len(absent) == 1 else f"classes {absent} are"
        raise ValueError(
            f"pick_classes: {which} not in the labels (they hold {present}); pick from those."
        )
    keep = np.isin(flat, classes)
    x_kept, y_kept = np.asarray(x)[keep], y[keep]
    if relabel:
        lookup = {c: i for i, c in enumerate(classes)}
        y_kept = np.vectorize(lookup.__getitem__, otypes=[y.dtype])(y_kept)
    return x_kept, y_kept
