"""The engine's training step, compiled the way each Keras backend does it best.

One step (forward pass, cross-entropy plus penalty, gradients, Adam, the epoch's running sums)
is written once with ``keras.ops``; only the gradient and the compiling are each backend's:
``tf.GradientTape`` in a ``tf.function`` (XLA when ``xla``), ``jax.value_and_grad`` of a
stateless loss in ``jax.jit`` (the state travels through the epoch as arrays), and
``torch.autograd.grad``, eagerly. Use: ``step.begin()``, then ``step(x, y, weights)`` per
batch, then ``step.end()``; ``step.traces`` counts the traces (one per model is the goal).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7  # keras.optimizers.Adam's defaults


def adam_values(variable, gradient, momentum, velocity, step, learning_rate) -> tuple:
    """One Adam step as ``keras.optimizers.Adam`` computes it: the new (variable, momentum,
    velocity). ``step`` counts from 1.

    >>> w, m, v = adam_values(1.0, 0.5, 0.0, 0.0, 1, 0.1)
    >>> round(float(w), 4), round(float(m), 4), round(float(v), 6)
    (0.9, 0.05, 0.00025)
    """
    step = ops.cast(step, "float32")
    alpha = learning_rate * ops.sqrt(1 - ops.power(BETA_2, step)) / (1 - ops.power(BETA_1, step))
    momentum = momentum + (gradient - momentum) * (1 - BETA_1)
    velocity = velocity + (ops.square(gradient) - velocity) * (1 - BETA_2)
    return variable - momentum * alpha / (ops.sqrt(velocity) + EPSILON), momentum, velocity


def adam_update(variable, gradient, momentum, velocity, step, learning_rate) -> None:
    """:func:`adam_values` applied in place to Keras variables (``step`` counts from 1)."""
    new = adam_values(variable, gradient, momentum, velocity, step, learning_rate)
    for var, value in zip((variable, momentum, velocity), new, strict=True):
        var.assign(value)


def penalized_loss(model: keras.Model, dense: Sequence, x, y, weights) -> tuple:
    """``(loss, (cross-entropy, correct, images))`` of one padded batch.

    ``weights`` is 1 for a real image and 0 for padding; the loss is the mean cross-entropy
    over the real images plus every hidden layer's penalty.
    """
    logits = model(x, training=True)
    per_image = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    n = ops.sum(weights)
    ce = ops.sum(per_image * weights) / n
    loss = ce + sum(layer.penalty_loss() for layer in dense)
    hits = ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), ops.cast(y, "int32"))
    correct = ops.sum(ops.cast(hits, "float32") * weights)
    return loss, (ce, correct, n)


class TrainingStep:
    """What the three backends' steps share: the variables, and the trace counter."""

    def __init__(self, model, dense, momenta, velocities, iterations, totals, learning_rate):
        self.model, self.dense = model, list(dense)
        self.variables = [v for layer in self.dense for v in (layer.kernel, layer.bias)]
        self.momenta, self.velocities = list(momenta), list(velocities)
        self.iterations, self.totals = iterations, totals
        self.learning_rate = learning_rate
        self.traces = 0

    def begin(self) -> None:
        """Before an epoch: nothing to do where the step updates the variables in place."""

    def end(self) -> None:
        """After an epoch: nothing to do where the step updates the variables in place."""

    def update_in_place(self, gradients, loss, aux) -> None:
        """Adam on every variable and the epoch's running sums, as variable assignments."""
        ce, correct, n = aux
        self.iterations.assign_add(1)
        for var, grad, m, v in zip(self.variables, gradients, self.momenta, self.velocities,
                                   strict=True):
            adam_update(var, grad, m, v, self.iterations, self.learning_rate)
        self.totals.assign_add(ops.stack([loss * n, ce * n, correct, n]))


class TensorFlowStep(TrainingStep):
    """``tf.GradientTape`` inside a ``tf.function``, compiled with XLA when ``xla``."""

    def __init__(self, *args, xla: bool):
        super().__init__(*args)
        import tensorflow as tf

        self._tape = tf.GradientTape
        self._compiled = tf.function(self._step, jit_compile=xla, reduce_retracing=True)

    def _step(self, x, y, weights):
        self.traces += 1  # Python code runs only while tracing
        with self._tape() as tape:
            loss, aux = penalized_loss(self.model, self.dense, x, y, weights)
        gradients = tape.gradient(loss, [v.value for v in self.variables])
        self.update_in_place(gradients, loss, aux)

    def __call__(self, x, y, weights) -> None:
        self._compiled(x, y, weights)


class TorchStep(TrainingStep):
    """``torch.autograd.grad`` on the variables' tensors, eagerly."""

    def __call__(self, x, y, weights) -> None:
        import torch

        self.traces = max(self.traces, 1)  # eager: nothing is traced; one "trace" per model
        loss, aux = penalized_loss(self.model, self.dense, x, y, ops.convert_to_tensor(weights))
        gradients = torch.autograd.grad(loss, [v.value for v in self.variables])
        with torch.no_grad():
            self.update_in_place(gradients, loss.detach(), [a.detach() for a in aux])


class JaxStep(TrainingStep):
    """``jax.value_and_grad`` of the stateless loss, in ``jax.jit``; the state as arrays."""

    def __init__(self, *args):
        super().__init__(*args)
        import jax

        self.fixed = [v for v in self.model.variables if not v.trainable]  # masks, penalties
        self.slots = [*self.variables, *self.momenta, *self.velocities, self.iterations,
                      self.totals]
        self._grad = jax.value_and_grad(self._loss, has_aux=True)
        self._compiled = jax.jit(self._step, donate_argnums=0)
        self.state = None

    def _loss(self, trainable, fixed, x, y, weights):
        mapping = [*zip(self.variables, trainable), *zip(self.fixed, fixed)]
        with keras.StatelessScope(state_mapping=mapping):
            return penalized_loss(self.model, self.dense, x, y, weights)

    def _step(self, state, fixed, x, y, weights):
        self.traces += 1  # Python code runs only while tracing
        k = len(self.variables)
        params, momenta, velocities = state[:k], state[k:2 * k], state[2 * k:3 * k]
        iterations, totals = state[3 * k], state[3 * k + 1]
        (loss, (ce, correct, n)), gradients = self._grad(params, fixed, x, y, weights)
        iterations = iterations + 1
        updated = [adam_values(*slots, iterations, self.learning_rate)
                   for slots in zip(params, gradients, momenta, velocities, strict=True)]
        totals = totals + ops.stack([loss * n, ce * n, correct, n])
        return [*(u[0] for u in updated), *(u[1] for u in updated), *(u[2] for u in updated),
                iterations, totals]

    def begin(self) -> None:
        self.state = [v.value for v in self.slots]

    def __call__(self, x, y, weights) -> None:
        if self.state is None:
            raise RuntimeError("call step.begin() before the first batch of an epoch.")
        self.state = self._compiled(self.state, [v.value for v in self.fixed], x, y, weights)

    def end(self) -> None:
        if self.state is not None:
            for var, value in zip(self.slots, self.state, strict=True):
                var.assign(value)
        self.state = None


def training_step(model: keras.Model, dense: Sequence, momenta: Sequence, velocities: Sequence,
                  iterations, totals, learning_rate: float, xla: bool) -> TrainingStep:
    """The training step for the Keras backend in use (see the module's table)."""
    args = (model, dense, momenta, velocities, iterations, totals, learning_rate)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return TensorFlowStep(*args, xla=xla)
    if backend == "jax":
        return JaxStep(*args)
    if backend == "torch":
        return TorchStep(*args)
    raise ValueError(f"the self-scaling engine runs on tensorflow, jax or torch, not {backend!r}.")
