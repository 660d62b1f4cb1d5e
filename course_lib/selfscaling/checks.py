"""Argument checks shared by the self-scaling modules: errors name the bad value and the choices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS = ("weighted_l1", "group_sparsity")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(
            f"Unknown regularization method {method!r}; choose one of {', '.join(METHODS)}."
        )
    return method


def check_non_negative(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return value


def check_sizes(layer_sizes: Sequence[int]) -> list[int]:
    sizes = list(layer_sizes)
    if len(sizes) < 3:
        raise ValueError(
            f"layer_sizes must list the input width, at least one hidden layer and the "
            f"output width, e.g. [3072, 300, 10]; got {sizes!r}."
        )
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s <= 0:
            raise ValueError(
                f"layer sizes must be positive integers; got {s!r} in {sizes!r}."
            )
    return [int(s) for s in sizes]
