"""The fast training engine: one compiled training step that survives grow and prune.

:class:`KerasEngine` trains a network's NumPy state one epoch at a time. Hidden layers are built
with spare capacity that a mask switches off, so grow and prune change values, not shapes, and
one compiled step serves many epochs; XLA compiles it where an epoch repays that. Adam is
written with ``keras.ops`` on moments the engine owns (Keras's optimizer, compiled on
TensorFlow, keeps every model it trained alive). ``tests/test_selfscaling.py`` checks it
against notebook 09's plain loop; :mod:`~course_lib.selfscaling.steps` has each backend's step.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from course_lib.selfscaling.checks import check_non_negative, check_sizes
from course_lib.selfscaling.penalties import SelfScalingRegularizer
from course_lib.selfscaling.state import NetState, is_placeholder, placeholder
from course_lib.selfscaling.steps import TrainingStep, training_step

JIT_CHOICES = (True, False, "auto")
XLA_WORK_LIMIT = 1e10  # training images x weights from which "auto" compiles with XLA
MAX_WASTE = 0.5  # share of a layer's capacity left spare before a rebuild (a 2-3 s compile)
MAX_SPARE = 128  # spare neurons per layer at most, whatever the headroom


@keras.saving.register_keras_serializable(package="course_lib")
class PenalizedDense(keras.layers.Layer):
    """A dense layer with a mask on its neurons (1 live, 0 spare) and, optionally, a
    self-scaling penalty; mask and penalty strength are variables, so they change without
    retracing, and a masked neuron with zero weights stays exactly zero."""

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
        return self.activation(ops.matmul(inputs, self.kernel) + self.bias) * self.mask

    def penalty_loss(self):
        """The penalty of ``concat([kernel, bias[None]])`` at the current strength (0 if none)."""
        if self.regularizer is None:
            return 0.0
        return self.regularizer.on_layer(self.kernel, self.bias, self.penalty)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            regularizer=None if self.regularizer is None else self.regularizer.get_config(),
        )
        return config


def pad(a: np.ndarray, shape) -> np.ndarray:
    """``a`` in the leading corner of a zero array of ``shape`` (spare capacity is zero).

    >>> pad(np.ones((1, 2)), (2, 3)).tolist()
    [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    out = np.zeros(tuple(shape), dtype="float32")
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def padded_batch(x: np.ndarray, y: np.ndarray, size: int) -> tuple:
    """``x``, ``y`` padded with zeros to ``size`` rows, and weights (1: real row, 0: padding).

    >>> padded_batch(np.ones((1, 2)), np.array([3]), 2)[2].tolist()
    [1.0, 0.0]
    """
    weights = np.zeros(size, "float32")
    weights[:len(x)] = 1
    x_full = np.zeros((size, *x.shape[1:]), x.dtype)
    y_full = np.zeros(size, y.dtype)
    x_full[:len(x)], y_full[:len(y)] = x, y
    return x_full, y_full, weights


@dataclass
class CompiledModel:
    """One Keras model with spare capacity, its Adam state and its compiled training step."""

    model: keras.Model
    dense: list  # the PenalizedDense layers, output layer last
    momenta: list  # Adam's first moments, one per trainable variable (kernel, bias per layer)
    velocities: list  # Adam's second moments, same order
    iterations: keras.Variable  # Adam's step counter
    totals: keras.Variable  # running sums over an epoch: loss, cross-entropy, correct, images
    step: TrainingStep  # the compiled training step (course_lib.selfscaling.steps)
    capacity: list[int]  # hidden widths the model was built with (>= the live sizes)
    regularize: bool  # whether the hidden layers carry the penalty
    xla: bool  # whether the training step is compiled with XLA
    n_samples: int  # training-set size the XLA choice was made for


class KerasEngine:
    """Trains a :class:`SelfScalingNet`'s state, one compiled epoch at a time.

    ``jit_compile``: ``True``, ``False`` or ``"auto"`` (XLA when training images x weights
    >= ``XLA_WORK_LIMIT``); ``capacity_headroom`` (>= 1): how much wider than the live sizes
    the model is built (at most ``MAX_SPARE`` wider); ``seed``: the minibatch order (``None``:
    from NumPy's global seed); ``keep_moments_above``: kernels with at least this many weights
    keep their Adam moments in the engine between epochs (``None``: always copied back), which
    saves about 0.7 GB for the 4000-neuron start.

    >>> KerasEngine(jit_compile="auto").builds
    0
    """

    def __init__(self, jit_compile: bool | str = "auto", capacity_headroom: float = 1.1,
                 seed: int | None = None, keep_moments_above: int | None = 2**20):
        if jit_compile not in JIT_CHOICES:
            raise ValueError(f"jit_compile must be True, False or 'auto', got {jit_compile!r}.")
        headroom = check_non_negative("capacity_headroom", capacity_headroom)
        if headroom < 1:
            raise ValueError(f"capacity_headroom must be >= 1, got {capacity_headroom!r}.")
        self.jit_compile = jit_compile
        self.capacity_headroom = headroom
        self.keep_moments_above = keep_moments_above
        self.rng = np.random.default_rng(np.random.randint(2**31) if seed is None else seed)
        self.builds = 0  # how many training models were built (and compiled)
        self.current: CompiledModel | None = None

    @property
    def xla(self) -> bool:
        """Whether the current training model uses XLA (False before any training)."""
        return self.current is not None and self.current.xla

    def uses_xla_for(self, net: NetState, n_samples: int) -> bool:
        """The XLA choice for training ``net`` on ``n_samples`` images."""
        if self.jit_compile != "auto":
            return self.jit_compile
        weights = sum(lay.kernel.size + lay.bias.size for lay in net.layers)
        return n_samples * weights >= XLA_WORK_LIMIT

    def train_epoch(self, net: NetState, x, y, batch_size: int = 32) -> dict:
        """One epoch in shuffled minibatches; returns the running means of ``loss`` (with the
        penalty), ``ce`` (cross-entropy) and ``accuracy``, as ``model.fit`` reports them.

        The network's kernels are handed over for the epoch (placeholders meanwhile, so the
        largest arrays are not held twice) and read back afterwards, even on an error.
        """
        current = self.sync(net, len(x), hand_over=True)
        try:
            current.totals.assign(np.zeros(4, dtype="float32"))
            current.step.begin()
            order = self.rng.permutation(len(x))
            full = np.ones(batch_size, "float32")
            for start in range(0, len(x), batch_size):
                batch = order[start:start + batch_size]
                if len(batch) == batch_size:
                    current.step(x[batch], y[batch], full)
                else:  # padded to the batch size; the padding weighs nothing
                    current.step(*padded_batch(x[batch], y[batch], batch_size))
        finally:
            current.step.end()
            self.pull(net)
        loss, ce, correct, n = ops.convert_to_numpy(current.totals.value).astype(float)
        return {"loss": loss / n, "ce": ce / n, "accuracy": correct / n}

    def fits(self, net: NetState, n_samples: int) -> bool:
        """Can the current model train ``net`` as it is now, without wasting much capacity?"""
        current = self.current
        if current is None:
            return False
        # the XLA choice changes only with new data, not with sizes hovering around the limit
        same_xla = current.n_samples == n_samples or current.xla == self.uses_xla_for(net, n_samples)
        return current.regularize == net.regularize and same_xla and all(
            n <= cap and cap - n <= max(16, MAX_WASTE * cap)
            for n, cap in zip(net.hidden_sizes, current.capacity, strict=True)
        )

    def build(self, net: NetState, n_samples: int = 0) -> CompiledModel:
        """A Keras model with spare capacity for ``net``'s current sizes, and its step."""
        # multiples of 8 suit vectorized kernels; a very wide layer shrinks rather than grows
        capacity = [n if self.capacity_headroom == 1
                    else 8 * math.ceil(min(n * self.capacity_headroom, n + MAX_SPARE) / 8)
                    for n in net.hidden_sizes]
        widths = [net.layer_sizes[0]] + capacity + [net.layer_sizes[-1]]
        reg = SelfScalingRegularizer(net.penalty, net.regularization) if net.regularize else None
        inputs = keras.Input((widths[0],))
        x = inputs
        dense = []
        for i, units in enumerate(widths[1:]):
            last = i == len(widths) - 2
            layer = PenalizedDense(
                units,
                activation=None if last else net.activation,
                regularizer=None if last else reg,
                kernel_initializer="zeros",
                name=f"dense_{i}",
            )
            x = layer(x)
            dense.append(layer)
        model = keras.Model(inputs, x)

        def zeros_like(var, name):
            return keras.Variable(np.zeros(var.shape, "float32"), trainable=False, name=name)

        variables = [v for layer in dense for v in (layer.kernel, layer.bias)]
        momenta = [zeros_like(v, f"{v.name}_momentum") for v in variables]
        velocities = [zeros_like(v, f"{v.name}_velocity") for v in variables]
        iterations = keras.Variable(0, dtype="int64", trainable=False, name="iterations")
        totals = keras.Variable(np.zeros(4, "float32"), trainable=False, name="totals")
        xla = self.uses_xla_for(net, n_samples)
        step = training_step(model, dense, momenta, velocities, iterations, totals,
                             net.learning_rate, xla)
        self.builds += 1
        return CompiledModel(model, dense, momenta, velocities, iterations, totals, step,
                             capacity, net.regularize, xla, n_samples)

    def slots(self, layer: PenalizedDense):
        """Per trainable variable of ``layer``: (variable, Adam momentum, Adam velocity)."""
        current = self.current
        first = 2 * current.dense.index(layer)
        for k, var in enumerate((layer.kernel, layer.bias)):
            yield var, current.momenta[first + k], current.velocities[first + k]

    def release(self) -> None:
        """Free the training model now (a compiled model sits in reference cycles, which the
        garbage collector, counting objects rather than bytes, might free only much later)."""
        self.current = None
        gc.collect()

    def sync(self, net: NetState, n_samples: int = 0, hand_over: bool = False) -> CompiledModel:
        """Make the training model hold ``net``'s state (building a new model if needed);
        ``hand_over=True`` leaves placeholders for the copied kernels and kernel moments."""
        if not self.fits(net, n_samples):
            self.fetch_moments(net)  # moments kept here must not go with the old model
            self.release()  # before building: the old and the new model never coexist
            self.current = self.build(net, n_samples)
        current = self.current
        for i, layer in enumerate(current.dense):
            arrays = (net.layers[i].kernel, net.layers[i].bias)
            for (var, m, v), a, a_m, a_v in zip(self.slots(layer), arrays, net.moments[i],
                                                 net.velocities[i], strict=True):
                var.assign(pad(a, var.shape))
                for slot, value in ((m, a_m), (v, a_v)):
                    if not is_placeholder(value):  # a placeholder: the slot already holds it
                        slot.assign(pad(value, slot.shape))
            if hand_over:
                layer_state = net.layers[i]
                layer_state.kernel = placeholder(layer_state.kernel)
                net.moments[i][0] = placeholder(net.moments[i][0])
                net.velocities[i][0] = placeholder(net.velocities[i][0])
            live = net.layers[i].bias.shape[0]
            layer.mask.assign((np.arange(layer.units) < live).astype("float32"))
            if layer.regularizer is not None:
                layer.penalty.assign(net.penalty)
        current.iterations.assign(net.iterations)
        return current

    def fetch_moments(self, net: NetState) -> None:
        """Copy the kernel moments kept in the engine back into ``net`` (as NumPy arrays)."""
        for i, (m_pair, v_pair) in enumerate(zip(net.moments, net.velocities, strict=True)):
            if not is_placeholder(m_pair[0]):
                continue
            n_in, n_out = net.layers[i].kernel.shape
            (_, km, kvel), _ = self.slots(self.current.dense[i])
            m_pair[0] = np.array(ops.convert_to_numpy(km[:n_in, :n_out]))
            v_pair[0] = np.array(ops.convert_to_numpy(kvel[:n_in, :n_out]))

    def has_room(self, hidden_sizes: Sequence[int]) -> bool:
        """Whether the current model's capacity holds these hidden sizes."""
        return self.current is not None and all(
            n <= cap for n, cap in zip(hidden_sizes, self.current.capacity, strict=True))

    def remap_moments(self, i: int, rows: np.ndarray, cols: np.ndarray) -> None:
        """Grow/prune layer ``i``'s kernel moments kept in the engine (needs :meth:`has_room`).

        ``rows``/``cols`` are index maps as in ``SelfScalingNet._remap`` (-1: a new neuron).
        """
        (_, km, kvel), _ = self.slots(self.current.dense[i])
        keep = ((rows >= 0)[:, None] & (cols >= 0)[None, :]).astype("float32")
        padding = [[0, km.shape[0] - len(rows)], [0, km.shape[1] - len(cols)]]
        for slot in (km, kvel):
            moved = ops.take(ops.take(slot.value, np.maximum(rows, 0), axis=0),
                             np.maximum(cols, 0), axis=1)
            # ops.multiply, not `*`: on PyTorch, tensor * ndarray falls to NumPy and warns
            slot.assign(ops.pad(ops.multiply(moved, keep), padding))

    def pull(self, net: NetState) -> None:
        """Read the live part of the weights and Adam's moments back into ``net``."""
        for i, layer in enumerate(self.current.dense):
            n_in, n_out = net.layers[i].kernel.shape
            cut = ((slice(0, n_in), slice(0, n_out)), (slice(0, n_out),))
            (kv, km, kvel), (bv, bm, bvel) = self.slots(layer)

            def live(var, part):  # only the live part is copied out of the variable
                return np.array(ops.convert_to_numpy(var[part]))

            net.layers[i].kernel, net.layers[i].bias = live(kv, cut[0]), live(bv, cut[1])
            keep = self.keep_moments_above is not None and n_in * n_out >= self.keep_moments_above
            net.moments[i] = [placeholder(net.moments[i][0]) if keep else live(km, cut[0]),
                              live(bm, cut[1])]
            net.velocities[i] = [placeholder(net.velocities[i][0]) if keep else live(kvel, cut[0]),
                                 live(bvel, cut[1])]
        net.iterations = int(ops.convert_to_numpy(self.current.iterations.value))
        net.weights_changed()


def static_model(
    layer_sizes: Sequence[int],
    *,
    activation: str = "selu",
    kernel_initializer: str = "lecun_normal",
    learning_rate: float = 2e-4,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """A plain compiled Keras MLP with exactly these sizes (logits out, loss from logits);
    ``jit_compile="auto"`` is Keras's default (on JAX ``False`` is 3x slower), ``True`` is XLA."""
    sizes = check_sizes(layer_sizes)
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
