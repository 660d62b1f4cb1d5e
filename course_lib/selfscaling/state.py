"""A network's state as the engine sees it: layers of NumPy arrays, and placeholders for arrays the engine holds.

>>> is_placeholder(placeholder(np.ones(3))), is_placeholder(np.zeros(3))
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class LayerState:
    """One layer's weights: ``kernel`` (inputs, neurons) and ``bias`` (neurons,)."""

    kernel: np.ndarray
    bias: np.ndarray


class NetState(Protocol):
    """What the engine reads and writes of a network (:class:`~course_lib.selfscaling.SelfScalingNet`)."""

    layers: list[LayerState]
    moments: list[list[np.ndarray]]  # Adam's first moments: [kernel, bias] per layer
    velocities: list[list[np.ndarray]]  # Adam's second moments, same layout
    iterations: int
    penalty: float
    regularization: str
    regularize: bool
    activation: str
    learning_rate: float

    @property
    def layer_sizes(self) -> list[int]: ...

    @property
    def hidden_sizes(self) -> list[int]: ...

    def weights_changed(self) -> None: ...


def placeholder(a: np.ndarray) -> np.ndarray:
    """A read-only array of ``a``'s shape and dtype that takes no memory (all zeros).

    >>> p = placeholder(np.ones((1000, 1000), dtype="float32"))
    >>> p.shape, p.nbytes > 0, p.base.nbytes, p.flags.writeable
    ((1000, 1000), True, 4, False)
    """
    return np.broadcast_to(np.zeros((), dtype=a.dtype), a.shape)


def is_placeholder(a) -> bool:
    """Whether ``a`` is a :func:`placeholder`: its values live in the engine's variables."""
    return (isinstance(a, np.ndarray) and a.size > 0 and not a.flags.writeable
            and not any(a.strides))
