"""Initial weights drawn with NumPy, from a Keras initializer's distribution.

Grown neurons need weights of a new shape every epoch: Keras's initializers would make JAX
compile every shape anew (0.5-0.9 s each), NumPy draws any shape at once, and one seed gives
the same weights on every backend.

Notebook 09's written-out ``lecun_normal`` is the same draw: from one seed, the same numbers
(``tests/test_selfscaling.py``).
"""

from __future__ import annotations

import math

import keras
import numpy as np

#: The standard deviation of a standard normal cut at +-2 (Keras scales by its inverse).
TRUNCATED_STD = 0.87962566103423978


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a dense kernel ``(inputs, outputs)`` or a bias ``(units,)``."""
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    raise ValueError(f"expected a kernel (inputs, outputs) or a bias (units,), got shape {shape}")


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal values cut at +-2: values outside are drawn again, as Keras does."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values


def draw(initializer, shape: tuple[int, ...], rng: np.random.Generator, *,
         whole: tuple[int, ...] | None = None) -> np.ndarray:
    """``initializer``'s values for ``shape`` (float32), drawn with ``rng``.

    ``initializer``: a variance-scaling one (``"lecun_normal"``, ``"glorot_uniform"``,
    ``"he_normal"``, ...) or a constant (``"zeros"``, ``"ones"``, ``Constant``); others raise
    ValueError. ``whole``: ``shape`` is part of a kernel of this shape, scaled for its fans.

    >>> w = draw("lecun_normal", (400, 300), np.random.default_rng(0))
    >>> w.shape, w.dtype.name, round(float(w.std()) * 20, 1)  # LeCun: std 1/sqrt(400)
    ((400, 300), 'float32', 1.0)
    >>> draw("zeros", (3,), np.random.default_rng(0))
    array([0., 0., 0.], dtype=float32)
    """
    init = keras.initializers.get(initializer)
    if isinstance(init, keras.initializers.VarianceScaling):
        fan_in, fan_out = fans(shape if whole is None else whole)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[init.mode]
        variance = init.scale / max(1.0, fan)
        if init.distribution == "truncated_normal":
            values = truncated_normal(rng, shape) * (math.sqrt(variance) / TRUNCATED_STD)
        elif init.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(variance), shape)
        else:  # uniform, with the same variance
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, shape)
        return values.astype("float32")
    constants = {keras.initializers.Zeros: 0.0, keras.initializers.Ones: 1.0}
    if type(init) in constants or isinstance(init, keras.initializers.Constant):
        value = constants.get(type(init), getattr(init, "value", None))
        return np.broadcast_to(np.asarray(value, "float32"), shape).copy()
    raise ValueError(
        f"initializer {initializer!r} is not supported by the self-scaling network: use one of "
        f"the variance-scaling family ('lecun_normal', 'glorot_uniform', 'he_normal', ...) "
        f"or a constant ('zeros', 'ones')."
    )
