"""The two self-scaling penalties, which push whole neurons (columns) towards zero.

The bias is part of its neuron: the penalty sees it as an extra row of the kernel. Notebook 09
works both out by hand; these are the ``keras.ops`` versions.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from course_lib.selfscaling.checks import check_method, check_non_negative


@keras.saving.register_keras_serializable(package="course_lib")
class SelfScalingRegularizer(keras.regularizers.Regularizer):
    """The self-scaling penalty on a weight matrix of shape (inputs [+ bias row], neurons).

    ``"weighted_l1"``: ``sum(scale * |W|)``, ``scale[j] = (j + 1) * penalty``, so the last
    neurons die first; ``"group_sparsity"``: ``penalty * sum_j ||W[:, j]||_2``, one group per
    neuron (its gradient is 0, not NaN, for an all-zero column).

    >>> w = np.array([[3.0, 0.0], [4.0, 0.0]], dtype="float32")
    >>> float(SelfScalingRegularizer(0.1, "group_sparsity")(w))   # 0.1 * (5 + 0)
    0.5
    """

    def __init__(self, penalty: float, method: str = "weighted_l1"):
        self.penalty = check_non_negative("penalty", penalty)
        self.method = check_method(method)

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        if self.method == "weighted_l1":
            return self.penalty * ops.sum(self._positions(x) * self._abs(x))
        return self.penalty * self._group_norms(ops.sum(ops.square(x), axis=0))

    def on_layer(self, kernel, bias, penalty=None):
        """The penalty of ``concat([kernel, bias[None]])`` without the copy; ``penalty`` (a
        number, or a variable a compiled step follows without retracing) overrides ``self.penalty``."""
        penalty = self.penalty if penalty is None else penalty
        if self.method == "weighted_l1":
            per_neuron = ops.sum(self._abs(kernel), axis=0) + self._abs(bias)
            return penalty * ops.sum(self._positions(kernel) * per_neuron)
        return penalty * self._group_norms(ops.sum(ops.square(kernel), axis=0) + ops.square(bias))

    @staticmethod
    def _abs(x):
        """``|x|`` as ``x * sign(x)``: slope 0 at 0 on every backend (JAX's ``abs`` has 1 there)."""
        return ops.multiply(x, ops.sign(x))

    @staticmethod
    def _positions(x):
        """1, 2, ..., n for the n neurons (columns): neuron j costs (j + 1) times the penalty."""
        return ops.arange(1, x.shape[-1] + 1, dtype=x.dtype)

    @staticmethod
    def _group_norms(squared):
        positive = squared > 0
        # sqrt has an infinite slope at 0: feed it a harmless 1 where the column is zero
        safe = ops.where(positive, squared, ops.ones_like(squared))
        return ops.sum(ops.where(positive, ops.sqrt(safe), ops.zeros_like(squared)))

    def get_config(self) -> dict:
        return {"penalty": self.penalty, "method": self.method}


def neuron_magnitudes(kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Largest incoming ``|weight|`` or ``|bias|`` of every neuron (column).

    >>> neuron_magnitudes(np.array([[0.1, -2.0]]), np.array([0.5, 0.0])).tolist()
    [0.5, 2.0]
    """
    return np.max(np.abs(np.vstack([kernel, bias[None, :]])), axis=0)
