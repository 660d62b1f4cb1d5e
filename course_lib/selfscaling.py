"""Self-scaling dense networks: hidden layers that grow and prune their own neurons.

The method (Dynamic Auto-Sizing, Cahlik, Kordik & Cepek, IEEE CSIT 2022) in short:
every hidden layer's weights, with the bias as an extra row, carry a penalty that pushes
whole neurons towards zero. Each *self-scaling epoch* then

1. checks the validation loss; when it stopped improving (times ``stall_coefficient``)
   the penalty is multiplied by ``penalty_multiplier``, once per stall;
2. **grows** every hidden layer by ``max(min_new_neurons, int(0.2 * units))`` neurons whose
   incoming and outgoing weights are the initializer times a tiny factor (the threshold),
   so the network's outputs barely change;
3. trains one epoch (compiled ``model.fit``, not an eager per-batch loop);
4. **prunes** every hidden neuron whose largest incoming ``|weight|`` or ``|bias|`` is below
   the threshold, removing its column and the next layer's matching row.

After the self-scaling epochs the penalty is dropped and training continues normally.

How this is built on Keras 3
----------------------------
The network's *state* (weights, Adam's moments, the step counter) lives in NumPy arrays
owned by :class:`SelfScalingNet`. Growing and pruning are plain array operations on that
state. Training happens in a Keras model with *spare capacity*: each hidden layer is
built a little wider than needed (``capacity_headroom``, 10% by default), the live
neurons come first and a non-trainable mask switches the spare ones off. Before each
epoch the state is copied into the model's variables and Adam's moments (zero-padded),
the model trains one ``model.fit`` epoch, and the live part is read back.

So no variable is ever replaced: grow and prune change *values*, not shapes, and the
compiled (by default XLA-compiled) training step stays valid for as long as the sizes fit
the capacity. Only when a layer outgrows its capacity, or shrinks well below it, is a new
model built and compiled. This avoids the traps that break the 2021 reference code on
Keras 3 (replaced variables under an optimizer, a compiled step training orphaned
variables) and the cost of compiling a new step every epoch.

Optimizer-state policy on structure changes (``optimizer_state``):

- ``"carry"`` (default): Adam's first and second moments of every surviving weight are
  carried over unchanged (rows/columns of pruned neurons are dropped); weights of newly
  grown neurons start with zero moments; the step counter continues.
- ``"reset"``: every structure change (grow or prune) starts Adam afresh: zero moments,
  step counter 0 (what the 2021 code did, by replacing its variables every epoch).

Example
-------
>>> import numpy as np
>>> reg = SelfScalingRegularizer(0.5, "weighted_l1")
>>> float(reg(np.ones((2, 3), dtype="float32")))   # 0.5 * 2 rows * (1 + 2 + 3)
6.0
>>> net = SelfScalingNet([4, 6, 3], penalty=1e-3, seed=0)
>>> net.hidden_sizes
[6]
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

METHODS = ("weighted_l1", "group_sparsity")
OPTIMIZER_STATES = ("carry", "reset")


# ---------------------------------------------------------------------------
# Argument checks: errors name the bad value and the valid choices
# ---------------------------------------------------------------------------


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(
            f"Unknown regularization method {method!r}; choose one of {', '.join(METHODS)}."
        )
    return method


def _check_non_negative(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return value


def _check_sizes(layer_sizes: Sequence[int]) -> list[int]:
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


# ---------------------------------------------------------------------------
# The penalty
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course_lib")
class SelfScalingRegularizer(keras.regularizers.Regularizer):
    """The self-scaling penalty on a weight matrix of shape (inputs [+ bias row], neurons).

    - ``"weighted_l1"``: ``sum(scale * |W|)`` with ``scale[j] = (j + 1) * penalty``, so
      later neurons cost more and are the first to die;
    - ``"group_sparsity"``: ``penalty * sum_j ||W[:, j]||_2``, one group per neuron.

    The group norm's gradient is 0 (a valid subgradient), not NaN, for an all-zero column.

    >>> w = np.array([[3.0, 0.0], [4.0, 0.0]], dtype="float32")
    >>> float(SelfScalingRegularizer(0.1, "group_sparsity")(w))   # 0.1 * (5 + 0)
    0.5
    """

    def __init__(self, penalty: float, method: str = "weighted_l1"):
        self.penalty = _check_non_negative("penalty", penalty)
        self.method = _check_method(method)

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        if self.method == "weighted_l1":
            return self.penalty * ops.sum(self._positions(x) * ops.abs(x))
        return self.penalty * self._group_norms(ops.sum(ops.square(x), axis=0))

    def on_layer(self, kernel, bias, penalty=None):
        """The penalty of ``concat([kernel, bias[None]])``, computed without the copy.

        ``penalty`` (a number or a scalar variable) overrides ``self.penalty``; a variable
        lets a compiled training step follow penalty changes without being retraced.
        """
        penalty = self.penalty if penalty is None else penalty
        if self.method == "weighted_l1":
            per_neuron = ops.sum(ops.abs(kernel), axis=0) + ops.abs(bias)
            return penalty * ops.sum(self._positions(kernel) * per_neuron)
        return penalty * self._group_norms(ops.sum(ops.square(kernel), axis=0) + ops.square(bias))

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


@keras.saving.register_keras_serializable(package="course_lib")
class PenalizedDense(keras.layers.Layer):
    """A dense layer whose penalty sees the bias as an extra row of the kernel.

    The penalty is added with ``self.add_loss`` inside ``call``, so Keras adds it to the
    training loss of a compiled ``model.fit``. Its strength lives in a non-trainable
    variable (``penalty``), and a non-trainable ``mask`` (1 = live neuron, 0 = spare
    capacity) multiplies the outputs: both can change between epochs without retracing.
    A masked neuron with zero weights gets zero gradients, so it stays exactly zero.
    """

    def __init__(
        self,
        units: int,
        activation=None,
        regularizer: SelfScalingRegularizer | None = None,
        kernel_initializer="lecun_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.regularizer = regularizer
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.units,), initializer=self.bias_initializer
        )
        self.mask = self.add_weight(
            name="mask", shape=(self.units,), initializer="ones", trainable=False
        )
        if self.regularizer is not None:
            self.penalty = self.add_weight(
                name="penalty", shape=(), trainable=False,
                initializer=keras.initializers.Constant(self.regularizer.penalty),
            )

    def call(self, inputs):
        if self.regularizer is not None:
            # == self.regularizer(concat([kernel, bias[None]])), without copying the kernel
            self.add_loss(self.regularizer.on_layer(self.kernel, self.bias, self.penalty))
        return self.activation(ops.matmul(inputs, self.kernel) + self.bias) * self.mask

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            regularizer=None if self.regularizer is None else self.regularizer.get_config(),
        )
        return config


# ---------------------------------------------------------------------------
# Pure array helpers (testable without Keras)
# ---------------------------------------------------------------------------


def neuron_magnitudes(kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Largest incoming ``|weight|`` or ``|bias|`` of every neuron (column).

    >>> neuron_magnitudes(np.array([[0.1, -2.0]]), np.array([0.5, 0.0])).tolist()
    [0.5, 2.0]
    """
    return np.max(np.abs(np.vstack([kernel, bias[None, :]])), axis=0)


def _take(a: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``np.take`` along ``axis`` where index -1 means "a new entry": filled with zeros."""
    out = np.take(a, np.maximum(index, 0), axis=axis)
    new = index < 0
    if new.any():
        sl = [slice(None)] * a.ndim
        sl[axis] = new
        out[tuple(sl)] = 0
    return out


def _pad(a: np.ndarray, shape) -> np.ndarray:
    """``a`` in the leading corner of a zero array of ``shape`` (spare capacity is zero)."""
    out = np.zeros(tuple(shape), dtype="float32")
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


@dataclass
class _LayerState:
    kernel: np.ndarray
    bias: np.ndarray


@dataclass
class _Engine:
    """The compiled Keras model that trains the network, with spare capacity."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    dense: list  # the PenalizedDense layers, output layer last
    capacity: list[int]  # hidden widths the model was built with (>= the live sizes)
    regularize: bool  # whether the hidden layers carry the penalty
    xla: bool  # whether the training step is compiled with XLA
    n_samples: int  # training-set size the XLA choice was made for


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


class SelfScalingNet:
    """A dense classifier whose hidden layers grow and prune their own neurons.

    Parameters
    ----------
    layer_sizes : input width, hidden sizes..., number of classes, e.g. ``[3072, 300, 10]``.
    regularization : ``"weighted_l1"`` or ``"group_sparsity"``; the output layer is never
        penalized.
    penalty : the penalty strength (``>= 0``).
    threshold : pruning threshold; also the scale of newly grown weights.
    optimizer_state : ``"carry"`` or ``"reset"``, see the module docstring.
    jit_compile : ``True`` compiles the training step with XLA, which fuses the penalty and
        Adam's many small element-wise operations (about 1.5x faster per epoch on a CPU for
        400-wide layers) but costs a compile of a few seconds whenever a new training model
        is built. ``"auto"`` (default) uses XLA when an epoch is large enough to repay that:
        training images x weights >= 1e10 (e.g. 8,400 CIFAR images at 4 x 400 neurons).
    capacity_headroom : how much wider than needed (>= 1) the training model is built, so
        that grow/prune rarely force a new model and a new compile.

    The output layer gives logits; the loss is cross-entropy computed from logits.

    >>> net = SelfScalingNet([4, 3, 2], seed=0)
    >>> net.grow(min_new_neurons=2)
    [5]
    >>> net.prune(threshold=1e-3)   # the two new neurons start far below the threshold
    [3]
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        activation: str = "selu",
        regularization: str = "weighted_l1",
        penalty: float = 1e-6,
        threshold: float = 1e-3,
        kernel_initializer: str = "lecun_normal",
        bias_initializer: str = "zeros",
        learning_rate: float = 2e-4,
        optimizer_state: str = "carry",
        jit_compile: bool | str = "auto",
        capacity_headroom: float = 1.1,
        seed: int | None = None,
    ):
        sizes = _check_sizes(layer_sizes)
        self.activation = activation
        self.regularization = _check_method(regularization)
        self.penalty = _check_non_negative("penalty", penalty)
        self.threshold = _check_non_negative("threshold", threshold)
        self.learning_rate = _check_non_negative("learning_rate", learning_rate)
        if optimizer_state not in OPTIMIZER_STATES:
            raise ValueError(
                f"Unknown optimizer_state {optimizer_state!r}; choose one of "
                f"{', '.join(OPTIMIZER_STATES)}."
            )
        self.optimizer_state = optimizer_state
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"jit_compile must be True, False or 'auto', got {jit_compile!r}.")
        self.jit_compile = jit_compile
        self.capacity_headroom = _check_non_negative("capacity_headroom", capacity_headroom)
        if self.capacity_headroom < 1:
            raise ValueError(f"capacity_headroom must be >= 1, got {capacity_headroom!r}.")
        self.engine_builds = 0  # how many training models were built (and compiled)
        self.regularize = True
        self.history: list[dict] = []
        self._seed = keras.random.SeedGenerator(seed) if seed is not None else None
        self.layers = [
            _LayerState(self._init(kernel_initializer, (n_in, n_out)),
                        self._init(bias_initializer, (n_out,)))
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        # Adam's moments, one (momentum, velocity) pair per kernel and bias, same shapes.
        self.moments = [[np.zeros_like(a) for a in (lay.kernel, lay.bias)] for lay in self.layers]
        self.velocities = [[np.zeros_like(a) for a in (lay.kernel, lay.bias)] for lay in self.layers]
        self.iterations = 0
        # Every hidden neuron gets a lasting id, so plots can follow it across grow/prune.
        self.neuron_ids = [np.arange(n) for n in sizes[1:-1]]
        self._next_id = [n for n in sizes[1:-1]]
        # Per epoch, after training and before pruning: (ids, magnitudes) per hidden layer.
        self.neuron_log: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self._engine: _Engine | None = None  # the training model, see _sync_engine
        self._val_cache: tuple | None = None
        self._version = 0

    # -- small accessors ------------------------------------------------------
    def _init(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        init = keras.initializers.get(name)
        if self._seed is not None and hasattr(init, "seed"):
            init.seed = self._seed
        return np.array(init(shape, dtype="float32"))  # a writable copy

    @property
    def layer_sizes(self) -> list[int]:
        return [self.layers[0].kernel.shape[0]] + [lay.kernel.shape[1] for lay in self.layers]

    @property
    def hidden_sizes(self) -> list[int]:
        return self.layer_sizes[1:-1]

    def get_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copies of every layer's (kernel, bias)."""
        return [(lay.kernel.copy(), lay.bias.copy()) for lay in self.layers]

    def neuron_magnitudes(self) -> list[np.ndarray]:
        """Per hidden layer: each neuron's largest incoming |weight| or |bias|."""
        return [neuron_magnitudes(lay.kernel, lay.bias) for lay in self.layers[:-1]]

    def set_penalty(self, penalty: float) -> None:
        self.penalty = _check_non_negative("penalty", penalty)

    def _changed(self) -> None:
        self._version += 1
        if self.optimizer_state == "reset":
            for store in (self.moments, self.velocities):
                for pair in store:
                    pair[:] = [np.zeros_like(a) for a in pair]
            self.iterations = 0

    # -- structure changes ----------------------------------------------------
    def _remap(self, maps: list[np.ndarray]) -> None:
        """Apply one index map per hidden layer (-1 = new neuron) to weights and moments.

        New neurons get zero weights and zero moments here; :meth:`grow` fills the weights.
        """
        n_in = np.arange(self.layers[0].kernel.shape[0])
        ins = [n_in] + maps
        outs = maps + [np.arange(self.layers[-1].kernel.shape[1])]
        for i, lay in enumerate(self.layers):
            r, c = ins[i], outs[i]
            kernel = _take(_take(lay.kernel, r, 0), c, 1)
            bias = _take(lay.bias, c, 0)
            lay.kernel, lay.bias = kernel, bias
            for store in (self.moments, self.velocities):
                k, b = store[i]
                store[i] = [_take(_take(k, r, 0), c, 1), _take(b, c, 0)]
        for i, m in enumerate(maps):
            ids = _take(self.neuron_ids[i], m, 0)
            n_new = int((m < 0).sum())
            ids[m < 0] = np.arange(self._next_id[i], self._next_id[i] + n_new)
            self._next_id[i] += n_new
            self.neuron_ids[i] = ids
        self._changed()

    def grow(
        self,
        fraction: float = 0.2,
        min_new_neurons: int = 5,
        scaling_factor: float | None = None,
    ) -> list[int]:
        """Add ``max(min_new_neurons, int(units * fraction))`` neurons to every hidden layer.

        New incoming and outgoing weights are the initializer's values times
        ``scaling_factor`` (default: the pruning threshold), new biases come from the bias
        initializer, so outputs barely change. Returns the new hidden sizes.
        """
        fraction = _check_non_negative("fraction", fraction)
        scale = self.threshold if scaling_factor is None else _check_non_negative(
            "scaling_factor", scaling_factor)
        if isinstance(min_new_neurons, bool) or int(min_new_neurons) < 0:
            raise ValueError(f"min_new_neurons must be an integer >= 0, got {min_new_neurons!r}.")
        sizes = self.layer_sizes
        adds = [max(int(min_new_neurons), int(n * fraction)) for n in sizes[1:-1]]
        maps = [np.concatenate([np.arange(n), -np.ones(a, dtype=int)]) for n, a in zip(sizes[1:-1], adds, strict=True)]
        new_sizes = [sizes[0]] + [n + a for n, a in zip(sizes[1:-1], adds, strict=True)] + [sizes[-1]]
        self._remap(maps)
        for i, lay in enumerate(self.layers):
            n_in, n_out = new_sizes[i], new_sizes[i + 1]
            if i < len(adds) and adds[i]:  # new columns of this hidden layer
                full = self._init(self.kernel_initializer, (n_in, n_out))
                lay.kernel[:, -adds[i]:] = full[:, -adds[i]:] * scale
                lay.bias[-adds[i]:] = self._init(self.bias_initializer, (n_out,))[-adds[i]:]
            if i > 0 and adds[i - 1]:  # new rows: outgoing weights of the previous layer's new neurons
                full = self._init(self.kernel_initializer, (n_in, n_out))
                lay.kernel[-adds[i - 1]:, :] = full[-adds[i - 1]:, :] * scale
        return self.hidden_sizes

    def prune(self, threshold: float | None = None) -> list[int]:
        """Remove hidden neurons whose largest incoming |weight| or |bias| is below ``threshold``.

        A layer is never pruned to zero: if every neuron is below the threshold, the
        strongest one stays. Returns the new hidden sizes.
        """
        threshold = self.threshold if threshold is None else _check_non_negative(
            "threshold", threshold)
        maps = []
        for mag in self.neuron_magnitudes():
            keep = np.flatnonzero(mag >= threshold)
            if keep.size == 0:
                keep = np.array([int(np.argmax(mag))])
            maps.append(keep)
        if any(len(m) != n for m, n in zip(maps, self.hidden_sizes, strict=True)):
            self._remap(maps)
        return self.hidden_sizes

    # -- Keras engine ---------------------------------------------------------
    def _capacity_fits(self, engine: _Engine, n_samples: int) -> bool:
        """Can this engine train the current state, without wasting much capacity?"""
        # the XLA choice is revisited only for new data (e.g. the next phase), so sizes
        # hovering around the "auto" limit do not flip it every epoch
        same_xla = engine.n_samples == n_samples or engine.xla == self._use_xla(n_samples)
        return engine.regularize == self.regularize and same_xla and all(
            n <= cap and cap - n <= max(16, 0.25 * cap)
            for n, cap in zip(self.hidden_sizes, engine.capacity, strict=True)
        )

    def _build_engine(self, n_samples: int = 0) -> _Engine:
        """A compiled Keras model with spare capacity for the current sizes."""
        # rounded up to a multiple of 8 (friendlier to vectorized kernels), unless the
        # headroom is 1: exactly the live sizes
        capacity = [n if self.capacity_headroom == 1 else 8 * math.ceil(n * self.capacity_headroom / 8)
                    for n in self.hidden_sizes]
        widths = [self.layer_sizes[0]] + capacity + [self.layer_sizes[-1]]
        reg = SelfScalingRegularizer(self.penalty, self.regularization) if self.regularize else None
        inputs = keras.Input((widths[0],))
        x = inputs
        dense = []
        for i, units in enumerate(widths[1:]):
            last = i == len(widths) - 2
            layer = PenalizedDense(
                units,
                activation=None if last else self.activation,
                regularizer=None if last else reg,
                kernel_initializer="zeros",
                name=f"dense_{i}",
            )
            x = layer(x)
            dense.append(layer)
        model = keras.Model(inputs, x)
        xla = self._use_xla(n_samples)
        optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[
                keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce"),
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            ],
            jit_compile=xla,
        )
        optimizer.build([v for layer in dense for v in (layer.kernel, layer.bias)])
        self.engine_builds += 1
        return _Engine(model, optimizer, dense, capacity, self.regularize, xla, n_samples)

    def _use_xla(self, n_samples: int) -> bool:
        if self.jit_compile != "auto":
            return self.jit_compile
        weights = sum(lay.kernel.size + lay.bias.size for lay in self.layers)
        return n_samples * weights >= 1e10

    def _slots(self, layer: PenalizedDense):
        """Per trainable variable of ``layer``: (variable, Adam momentum, Adam velocity).

        Public API only: ``optimizer.variables``, and the name Keras documents for a slot made
        by ``Optimizer.add_variable_from_reference``, ``<variable path, "/" as "_">_<slot>``.
        """
        slots = {v.name: v for v in self._engine.optimizer.variables}
        for var in (layer.kernel, layer.bias):
            prefix = var.path.replace("/", "_")
            names = (f"{prefix}_momentum", f"{prefix}_velocity")
            if not all(name in slots for name in names):
                raise RuntimeError(
                    f"Adam has no slot variables named {names} for {var.path!r} (Keras "
                    f"{keras.__version__}); the course supports Keras 3.13 or newer within 3.x."
                )
            yield var, slots[names[0]], slots[names[1]]

    def _sync_engine(self, n_samples: int = 0) -> _Engine:
        """Make the training model hold the current state (building one if needed)."""
        if self._engine is None or not self._capacity_fits(self._engine, n_samples):
            self._engine = self._build_engine(n_samples)
        engine = self._engine
        for i, layer in enumerate(engine.dense):
            arrays = (self.layers[i].kernel, self.layers[i].bias)
            for (var, m, v), a, a_m, a_v in zip(self._slots(layer), arrays, self.moments[i],
                                                 self.velocities[i], strict=True):
                var.assign(_pad(a, var.shape))
                m.assign(_pad(a_m, m.shape))
                v.assign(_pad(a_v, v.shape))
            live = self.layers[i].bias.shape[0]
            layer.mask.assign((np.arange(layer.units) < live).astype("float32"))
            if layer.regularizer is not None:
                layer.penalty.assign(self.penalty)
        engine.optimizer.iterations.assign(self.iterations)
        return engine

    def _pull(self) -> None:
        """Read the live part of the weights and Adam's moments back into the state."""
        engine = self._engine
        for i, layer in enumerate(engine.dense):
            n_in, n_out = self.layers[i].kernel.shape
            cut = ((slice(0, n_in), slice(0, n_out)), (slice(0, n_out),))
            (kv, km, kvel), (bv, bm, bvel) = self._slots(layer)
            self.layers[i].kernel = np.array(kv.numpy()[cut[0]])
            self.layers[i].bias = np.array(bv.numpy()[cut[1]])
            self.moments[i] = [np.array(km.numpy()[cut[0]]), np.array(bm.numpy()[cut[1]])]
            self.velocities[i] = [np.array(kvel.numpy()[cut[0]]), np.array(bvel.numpy()[cut[1]])]
        self.iterations = int(engine.optimizer.iterations.numpy())
        self._version += 1

    @property
    def uses_xla(self) -> bool:
        """Whether the current training model is compiled with XLA (False before any training)."""
        return self._engine is not None and self._engine.xla

    @property
    def keras_model(self) -> keras.Model:
        """A plain Keras model (Dense layers, logits out) of exactly the current sizes,
        holding a copy of the current weights; for inspection, export or inference."""
        sizes = self.layer_sizes
        inputs = keras.Input((sizes[0],))
        x = inputs
        for i, lay in enumerate(self.layers):
            last = i == len(self.layers) - 1
            layer = keras.layers.Dense(sizes[i + 1], activation=None if last else self.activation,
                                       name=f"dense_{i}")
            x = layer(x)
            layer.set_weights([lay.kernel, lay.bias])
        return keras.Model(inputs, x)

    # -- inference ------------------------------------------------------------
    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"data of shape {x.shape} does not fit the first layer: expected "
                f"(N, {self.layer_sizes[0]}); flatten images first (course_lib.flatten)."
            )
        return x

    def _check_y(self, y) -> np.ndarray:
        y = np.asarray(y).reshape(-1)
        n = self.layer_sizes[-1]
        if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= n)):
            raise ValueError(f"labels must be integers in 0..{n - 1}, got {y.dtype} {y[:5]}...")
        return y.astype(np.int64)

    def logits(self, x, batch_size: int = 2048) -> np.ndarray:
        """Output logits for ``x`` (N, inputs), computed from the current state."""
        x = self._check_x(x)
        act = keras.activations.get(self.activation)
        out = []
        for start in range(0, len(x), batch_size):
            h = x[start:start + batch_size]
            for i, lay in enumerate(self.layers):
                h = ops.matmul(h, lay.kernel) + lay.bias
                if i < len(self.layers) - 1:
                    h = act(h)
            out.append(np.asarray(h))
        return np.concatenate(out) if out else np.zeros((0, self.layer_sizes[-1]), np.float32)

    def evaluate(self, x, y) -> tuple[float, float]:
        """(cross-entropy from logits, accuracy) without the penalty."""
        y = self._check_y(y)
        z = self.logits(x).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(-log_p[np.arange(len(y)), y].mean())
        return loss, float((z.argmax(axis=1) == y).mean())

    def _val(self, x_val, y_val) -> tuple[float, float]:
        key = (self._version, id(x_val), len(x_val))
        if self._val_cache is None or self._val_cache[0] != key:
            self._val_cache = (key, self.evaluate(x_val, y_val))
        return self._val_cache[1]

    # -- training -------------------------------------------------------------
    def train_epoch(self, x, y, batch_size: int = 32) -> dict:
        """One compiled epoch of ``model.fit``; returns its logs (running averages)."""
        model = self._sync_engine(len(x)).model
        logs = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        self._pull()
        return {k: float(v[-1]) for k, v in logs.history.items()}

    def fit(
        self,
        x,
        y,
        *,
        epochs: int,
        validation_data: tuple,
        self_scaling_epochs: int | None = None,
        batch_size: int = 32,
        min_new_neurons: int = 5,
        growth_fraction: float = 0.2,
        penalty_multiplier: float = 1.0,
        stall_coefficient: float = 1.0,
        phase: str = "",
        verbose: int = 1,
    ) -> list[dict]:
        """Train ``epochs`` epochs, the first ``self_scaling_epochs`` of them self-scaling.

        Returns this call's per-epoch records (also appended to ``self.history``):
        hidden sizes before growth, after growth and after pruning, train loss/accuracy
        (running averages during the epoch, like Keras), validation loss/accuracy after
        the epoch, the penalty used and the epoch's seconds.
        """
        x = self._check_x(x)
        y = self._check_y(y)
        x_val = self._check_x(validation_data[0])
        y_val = self._check_y(validation_data[1])
        if isinstance(epochs, bool) or int(epochs) < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}.")
        scaling_epochs = epochs if self_scaling_epochs is None else int(self_scaling_epochs)
        multiplier = _check_non_negative("penalty_multiplier", penalty_multiplier)
        coefficient = _check_non_negative("stall_coefficient", stall_coefficient)
        best, stalled = np.inf, False
        records = []
        for epoch in range(int(epochs)):
            start = time.perf_counter()
            scaling = epoch < scaling_epochs
            before = grown = self.hidden_sizes
            if scaling:
                self.regularize = True
                val_loss, _ = self._val(x_val, y_val)
                if val_loss >= best * coefficient:
                    if not stalled:
                        self.set_penalty(self.penalty * multiplier)
                        stalled = True
                else:
                    best, stalled = val_loss, False
                grown = self.grow(growth_fraction, min_new_neurons)
            else:
                self.regularize = False  # the penalty is dropped: plain training from here
            builds = self.engine_builds
            logs = self.train_epoch(x, y, batch_size)
            self.neuron_log.append(
                [(ids.copy(), mag) for ids, mag in zip(self.neuron_ids, self.neuron_magnitudes(),
                                                      strict=True)])
            pruned = self.prune() if scaling else self.hidden_sizes
            val_loss, val_acc = self._val(x_val, y_val)
            record = {
                "phase": phase,
                "epoch": len(self.history) + 1,
                "self_scaling": scaling,
                "sizes_before_grow": before,
                "sizes_after_grow": grown,
                "sizes_after_prune": pruned,
                "loss": logs["ce"],
                "total_loss": logs["loss"],
                "accuracy": logs["accuracy"],
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "penalty": self.penalty if scaling else 0.0,
                "seconds": time.perf_counter() - start,
                "new_engine": self.engine_builds > builds,
            }
            self.history.append(record)
            records.append(record)
            if verbose:
                print(
                    f"{phase + ' ' if phase else ''}epoch {record['epoch']:3d}: "
                    f"sizes {before} -> {grown} -> {pruned} (total {sum(pruned)}); "
                    f"loss {record['loss']:.3f} acc {record['accuracy']:.3f} "
                    f"val_loss {val_loss:.3f} val_acc {val_acc:.3f} "
                    f"penalty {record['penalty']:.2g} ({record['seconds']:.1f} s)"
                )
        return records


def history_column(history: Sequence[dict], key: str) -> np.ndarray:
    """One column of a history as an array; sizes give shape (epochs, hidden layers).

    >>> history_column([{"val_loss": 1.0}, {"val_loss": 0.5}], "val_loss").tolist()
    [1.0, 0.5]
    """
    if history and key not in history[0]:
        raise ValueError(f"history has no column {key!r}; it has {sorted(history[0])}.")
    return np.array([h[key] for h in history])


def static_model(
    layer_sizes: Sequence[int],
    *,
    activation: str = "selu",
    kernel_initializer: str = "lecun_normal",
    learning_rate: float = 2e-4,
    jit_compile: bool | str = False,
) -> keras.Model:
    """A plain compiled Keras MLP with exactly these sizes (logits out, loss from logits).

    ``jit_compile=False`` by default, which is also what Keras's own default (``"auto"``)
    picks on a machine without a GPU; pass ``True`` for XLA.
    """
    sizes = _check_sizes(layer_sizes)
    model = keras.Sequential(
        [keras.Input((sizes[0],))]
        + [keras.layers.Dense(n, activation=activation, kernel_initializer=kernel_initializer)
           for n in sizes[1:-1]]
        + [keras.layers.Dense(sizes[-1], kernel_initializer=kernel_initializer)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model


# ---------------------------------------------------------------------------
# The CIFAR-10 concept-drift experiment (notebook 10, benchmarks/selfscaling_reproduce.py)
# ---------------------------------------------------------------------------

AUTOMOBILE, DOG = 1, 5
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


@dataclass(frozen=True)
class DriftConfig:
    """One run of the drift experiment: phase 1 on automobiles and dogs, phase 2 on all ten."""

    name: str
    regularization: str
    penalty: float
    hidden: int  # starting width of each of the four hidden layers
    phase1_epochs: int  # all self-scaling
    phase2_epochs: int
    phase2_scaling_epochs: int  # the rest of phase 2 trains without the penalty
    penalty_multiplier: float = 1.5  # applied once per validation-loss stall


# The reference's four runs (reference hidden sizes / 10-class accuracy in the results file).
# Group sparsity keeps the reference's multiplier 1: its penalty gradient does not shrink with
# the weights, and at 1.5 it pruned to 61 neurons (3rd layer: 4) with 0.336 validation accuracy,
# against about 136 and 0.38 in the reference (results/selfscaling_results.md has both runs).
DRIFT_CONFIGS = (
    DriftConfig("weighted L1 1e-6", "weighted_l1", 1e-6, 300, 40, 10, 5),
    DriftConfig("weighted L1 1e-5", "weighted_l1", 1e-5, 300, 40, 10, 5),
    DriftConfig("group sparsity 0.01", "group_sparsity", 1e-2, 300, 20, 10, 5, 1.0),
    DriftConfig("weighted L1 1e-7, 4000 start", "weighted_l1", 1e-7, 4000, 20, 10, 5),
)


def drift_configs(fast: bool) -> list[DriftConfig]:
    """The four configurations; in fast mode narrower and with few epochs (a smoke test)."""
    if not fast:
        return list(DRIFT_CONFIGS)
    return [
        dataclasses.replace(c, hidden=32 if c.hidden <= 300 else 128, phase1_epochs=3,
                            phase2_epochs=2, phase2_scaling_epochs=1)
        for c in DRIFT_CONFIGS
    ]


# The 4000-neuron start peaked at 9.1 GiB in notebook 10's kernel (results/notebook_runs.md).
WIDE_START_MIN_RAM_GIB = 12.0


def fits_this_machine(config: DriftConfig, fast: bool) -> bool:
    """Whether to run ``config`` here: wide starts (more than 300 neurons per layer) only in
    fast mode (shrunk) or with at least ``WIDE_START_MIN_RAM_GIB`` of RAM; not when the RAM
    is unknown (psutil missing), because running out of memory kills the kernel.

    >>> fits_this_machine(DRIFT_CONFIGS[0], fast=False)   # 300 per layer: always
    True
    """
    if fast or config.hidden <= 300:
        return True
    from course_lib.environment import memory_gib

    ram = memory_gib()
    return ram is not None and ram >= WIDE_START_MIN_RAM_GIB


def drift_summary(config: DriftConfig, net: SelfScalingNet, data: DriftData) -> dict:
    """What notebook 11 needs of a finished drift run: final sizes, accuracies, epochs and
    the penalties the schedule used (test accuracy measured here, once)."""
    return {
        "hidden_sizes": net.hidden_sizes,
        "val_accuracy": net.history[-1]["val_accuracy"],
        "test_accuracy": net.evaluate(*data.test)[1],
        "phase1_epochs": config.phase1_epochs,
        "phase2_epochs": config.phase2_epochs,
        "penalties": sorted({r["penalty"] for r in net.history if r["penalty"] > 0}),
    }


def drift_results_path(mode_name: str, seed: int) -> Path:
    """Where notebook 10 leaves its results for notebook 11 (a temporary folder)."""
    return Path(tempfile.gettempdir()) / "course_selfscaling" / f"drift_{mode_name}_seed{seed}.json"


def save_drift_results(path: Path, results: dict) -> Path:
    """Save ``{config name: {"hidden_sizes", "val_accuracy", "test_accuracy", ...}}`` as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    return path


def load_drift_results(path: Path) -> dict | None:
    """The saved results, or None when there are none yet."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@dataclass
class DriftData:
    """Standardized, flattened CIFAR-10 split for the drift experiment.

    ``phase1``/``phase2`` hold (x_train, y_train, x_val, y_val); validation images are a
    held-out part of the *training* set. ``test`` / ``test_phase1`` (the test set, all
    classes / automobiles and dogs only) are for final reporting only. Labels stay 0..9.
    """

    phase1: tuple
    phase2: tuple
    test: tuple
    test_phase1: tuple


def drift_data(
    *, n_train: int | None = None, n_test: int | None = None, val_fraction: float = 0.1,
    seed: int = 42, verbose: bool = True,
) -> DriftData:
    """Load CIFAR-10 and cut it for the drift experiment (see :class:`DriftData`)."""
    from course_lib.data import flatten, load_cifar10, pick_classes, standardize

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}.")
    (x, y), (x_test, y_test) = load_cifar10(n_train=n_train, n_test=n_test, verbose=verbose)
    x, x_test = flatten(x), flatten(x_test)
    y, y_test = y.reshape(-1).astype(np.int64), y_test.reshape(-1).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    x_train, x_val, x_test = standardize(x[train], x[val], x_test)
    y_train, y_val = y[train], y[val]
    drift = [AUTOMOBILE, DOG]
    p1 = (*pick_classes(x_train, y_train, drift), *pick_classes(x_val, y_val, drift))
    return DriftData(
        phase1=p1,
        phase2=(x_train, y_train, x_val, y_val),
        test=(x_test, y_test),
        test_phase1=pick_classes(x_test, y_test, drift),
    )


def run_drift(
    config: DriftConfig,
    data: DriftData,
    *,
    min_new_neurons: int = 100,
    penalty_multiplier: float | None = None,
    stall_coefficient: float = 1.0,
    batch_size: int = 32,
    seed: int | None = None,
    verbose: int = 1,
) -> SelfScalingNet:
    """Phase 1 (automobiles and dogs, all self-scaling), then phase 2 (all ten classes).

    ``penalty_multiplier`` defaults to the configuration's own.
    """
    if penalty_multiplier is None:
        penalty_multiplier = config.penalty_multiplier
    width = data.phase1[0].shape[1]
    net = SelfScalingNet(
        [width] + [config.hidden] * 4 + [10],
        regularization=config.regularization, penalty=config.penalty, seed=seed,
    )
    common = dict(batch_size=batch_size, min_new_neurons=min_new_neurons,
                  penalty_multiplier=penalty_multiplier, stall_coefficient=stall_coefficient,
                  verbose=verbose)
    x, y, xv, yv = data.phase1
    net.fit(x, y, epochs=config.phase1_epochs, validation_data=(xv, yv), phase="phase 1",
            **common)
    x, y, xv, yv = data.phase2
    net.fit(x, y, epochs=config.phase2_epochs, self_scaling_epochs=config.phase2_scaling_epochs,
            validation_data=(xv, yv), phase="phase 2", **common)
    return net


def run_static(
    layer_sizes: Sequence[int],
    data: DriftData,
    *,
    phase1_epochs: int,
    phase2_epochs: int,
    batch_size: int = 32,
) -> dict:
    """The same two phases for a static Keras MLP; returns its histories and test scores."""
    model = static_model(layer_sizes)
    x, y, xv, yv = data.phase1
    h1 = model.fit(x, y, batch_size=batch_size, epochs=phase1_epochs,
                   validation_data=(xv, yv), verbose=0).history
    x, y, xv, yv = data.phase2
    h2 = model.fit(x, y, batch_size=batch_size, epochs=phase2_epochs,
                   validation_data=(xv, yv), verbose=0).history
    test_loss, test_acc = model.evaluate(*data.test, batch_size=1024, verbose=0)
    return {"model": model, "phase1": h1, "phase2": h2,
            "val_accuracy": h2["val_accuracy"][-1], "test_accuracy": float(test_acc),
            "test_loss": float(test_loss)}
