"""Gradients by the automatic differentiation of whichever backend Keras runs on.

Every framework records the forward computation and applies the chain rule backwards (notebook
03 does it by hand); only the call differs: ``tf.GradientTape``, ``jax.grad`` of a pure function
(the variables swapped for traced values by ``keras.StatelessScope``), ``torch.autograd.grad``.

>>> import keras
>>> w = keras.Variable([1.0, -2.0])
>>> value, (grad,) = value_and_gradients(lambda: keras.ops.sum(w * w), [w])
>>> value, grad.tolist()
(5.0, [2.0, -4.0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np


def value_and_gradients(loss_fn: Callable[[], Any], variables: Sequence[keras.Variable]
                        ) -> tuple[float, list[np.ndarray]]:
    """``loss_fn()`` (no arguments, a scalar, e.g. a model's loss on one batch) and its
    gradients with respect to ``variables``, as NumPy arrays."""
    variables = list(variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, [v.value for v in variables])
    elif backend == "jax":
        import jax

        def pure(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return loss_fn()

        loss, grads = jax.value_and_grad(pure)([v.value for v in variables])
    elif backend == "torch":
        import torch

        loss = loss_fn()
        grads = torch.autograd.grad(loss, [v.value for v in variables])
    else:
        raise ValueError(f"gradients need the tensorflow, jax or torch backend, not {backend!r}.")
    to_numpy = keras.ops.convert_to_numpy
    return float(to_numpy(loss)), [np.asarray(to_numpy(g)) for g in grads]
