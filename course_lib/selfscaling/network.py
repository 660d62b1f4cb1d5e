"""A self-scaling network's state, and the algorithm: grow, train, prune, adapt the penalty.

:class:`SelfScalingNet` owns the weights, Adam's moments and the neurons' ids as NumPy arrays
and hands each training epoch to :mod:`~course_lib.selfscaling.engine`.

``optimizer_state`` decides what Adam keeps when grow or prune change the shapes:

- ``"carry"`` (default): the moments of surviving weights move with them, grown weights'
  moments start at zero, and the step counter goes on.
- ``"reset"``: a fresh Adam at every grow and every prune that removes a neuron: every moment
  zero and the step counter back to 0, so the bias correction starts over.
- ``"reference"``: the 2021 notebook's semantics. Its grow and prune (even a prune that removed
  nothing) rebuilt every kernel and hidden bias as new variables, which the same Keras optimizer
  met with zero moments while its step counter went on; the output bias, never rebuilt, kept
  its moments. With the bias correction near 1 at a late step, the updates after a rebuild
  reach about 6.6 times the learning rate for a steady gradient (about 12 steps in), where a
  fresh Adam's stay near 1 times.

>>> net = SelfScalingNet([4, 3, 2], optimizer_state="reference", seed=0)
>>> net.iterations = 50
>>> _ = net.grow(min_new_neurons=1)
>>> net.iterations, float(np.abs(net.moments[0][0]).max())
(50, 0.0)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from course_lib.selfscaling.checks import check_method, check_non_negative, check_sizes
from course_lib.selfscaling.engine import KerasEngine
from course_lib.selfscaling.initial import draw
from course_lib.selfscaling.penalties import neuron_magnitudes
from course_lib.selfscaling.state import LayerState, is_placeholder, placeholder

OPTIMIZER_STATES = ("carry", "reset", "reference")  # see the module docstring


def _take(a: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``np.take`` along ``axis`` where index -1 means "a new entry": filled with zeros."""
    out = np.take(a, np.maximum(index, 0), axis=axis)
    new = index < 0
    if new.any():
        sl = [slice(None)] * a.ndim
        sl[axis] = new
        out[tuple(sl)] = 0
    return out


class SelfScalingNet:
    """A dense classifier whose hidden layers grow and prune their own neurons.

    Parameters
    ----------
    layer_sizes : input width, hidden sizes..., number of classes, e.g. ``[3072, 300, 10]``.
    regularization : ``"weighted_l1"`` or ``"group_sparsity"``; the output layer is never
        penalized.
    penalty : the penalty strength (``>= 0``).
    threshold : pruning threshold; also the scale of newly grown weights.
    kernel_initializer, bias_initializer : Keras initializers (variance-scaling or constant)
        for the first and the grown weights, drawn with NumPy from ``seed``: the same
        weights on every backend (:mod:`course_lib.selfscaling.initial`).
    optimizer_state : ``"carry"``, ``"reset"`` or ``"reference"`` (the 2021 notebook's),
        see the module docstring.
    jit_compile, capacity_headroom : the training engine's (``net.engine``, a
        :class:`~course_lib.selfscaling.engine.KerasEngine`): XLA on TensorFlow (``"auto"``:
        when training images x weights >= 1e10, e.g. 8,400 CIFAR images at 4 x 400 neurons),
        and how much wider (>= 1) the training model is built so grow/prune rarely recompile.

    The output layer gives logits; the loss is cross-entropy from logits.

    >>> net = SelfScalingNet([64, 3, 2], seed=0)
    >>> net.grow(min_new_neurons=2)
    [5]
    >>> net.prune(threshold=1e-3)   # new weights: at most 0.3 x the threshold from 64 inputs
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
        sizes = check_sizes(layer_sizes)
        self.activation = activation
        self.regularization = check_method(regularization)
        self.penalty = check_non_negative("penalty", penalty)
        self.threshold = check_non_negative("threshold", threshold)
        self.learning_rate = check_non_negative("learning_rate", learning_rate)
        if optimizer_state not in OPTIMIZER_STATES:
            raise ValueError(
                f"Unknown optimizer_state {optimizer_state!r}; choose one of "
                f"{', '.join(OPTIMIZER_STATES)}."
            )
        self.optimizer_state = optimizer_state
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.engine = KerasEngine(jit_compile, capacity_headroom, seed=seed)
        self.regularize = True
        self.history: list[dict] = []
        # initial and grown weights from NumPy, in a stream of their own (the engine shuffles with seed)
        self.rng = np.random.default_rng([1, np.random.randint(2**31) if seed is None else seed])
        self.layers = [
            LayerState(self._init(kernel_initializer, (n_in, n_out)),
                        self._init(bias_initializer, (n_out,)))
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        # Adam's moments: [kernel, bias] per layer, same shapes
        self.moments = [[np.zeros_like(a) for a in (lay.kernel, lay.bias)] for lay in self.layers]
        self.velocities = [[np.zeros_like(a) for a in (lay.kernel, lay.bias)] for lay in self.layers]
        self.iterations = 0
        # lasting neuron ids, so plots can follow a neuron across grow/prune
        self.neuron_ids = [np.arange(n) for n in sizes[1:-1]]
        self._next_id = [n for n in sizes[1:-1]]
        # per epoch, after training and before pruning: (ids, magnitudes) per hidden layer
        self.neuron_log: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self._val_cache: tuple | None = None
        self._version = 0

    # -- small accessors ------------------------------------------------------
    def _init(self, name: str, shape: tuple[int, ...],
              whole: tuple[int, ...] | None = None) -> np.ndarray:
        return draw(name, shape, self.rng, whole=whole)

    @property
    def layer_sizes(self) -> list[int]:
        return [self.layers[0].kernel.shape[0]] + [lay.kernel.shape[1] for lay in self.layers]

    @property
    def hidden_sizes(self) -> list[int]:
        return self.layer_sizes[1:-1]

    def get_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copies of every layer's (kernel, bias)."""
        return [(lay.kernel.copy(), lay.bias.copy()) for lay in self.layers]

    def set_weights(self, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Replace every layer's (kernel, bias) with arrays of the same shapes, e.g. a start
        drawn outside the library; Adam's state stays as it is.

        >>> net = SelfScalingNet([3, 2, 2], seed=0)
        >>> net.set_weights([(np.ones((3, 2)), np.zeros(2)), (np.ones((2, 2)), np.zeros(2))])
        >>> round(float(net.logits(np.ones((1, 3)))[0, 0]), 3)   # 2 x selu(3)
        6.304
        """
        weights = list(weights)
        shapes = [(lay.kernel.shape, lay.bias.shape) for lay in self.layers]
        given = [(np.shape(k), np.shape(b)) for k, b in weights]
        if given != shapes:
            raise ValueError(f"weights of shapes {given} do not fit this network's {shapes}; "
                             "pass one (kernel, bias) pair per layer, as get_weights() returns.")
        for lay, (kernel, bias) in zip(self.layers, weights, strict=True):
            lay.kernel = np.array(kernel, dtype="float32")
            lay.bias = np.array(bias, dtype="float32")
        self.weights_changed()

    def neuron_magnitudes(self) -> list[np.ndarray]:
        """Per hidden layer: each neuron's largest incoming |weight| or |bias|."""
        return [neuron_magnitudes(lay.kernel, lay.bias) for lay in self.layers[:-1]]

    def set_penalty(self, penalty: float) -> None:
        self.penalty = check_non_negative("penalty", penalty)

    @property
    def engine_builds(self) -> int:
        """How many training models the engine built (and compiled) so far."""
        return self.engine.builds

    @property
    def uses_xla(self) -> bool:
        """Whether the current training model is compiled with XLA (False before any training)."""
        return self.engine.xla

    def weights_changed(self) -> None:
        """Tell the network its weights changed outside grow/prune (the engine trained them)."""
        self._version += 1

    def _changed(self) -> None:
        self._version += 1
        self._restart_optimizer()

    def _restart_optimizer(self) -> None:
        """Adam's state after a grow or prune, by ``optimizer_state`` (module docstring)."""
        if self.optimizer_state == "carry":
            return
        output_bias = (len(self.layers) - 1, 1)
        for store in (self.moments, self.velocities):
            for i, pair in enumerate(store):
                # "reference" keeps the output bias's moments: the 2021 code never rebuilt it
                pair[:] = [a if self.optimizer_state == "reference" and (i, k) == output_bias
                           else np.zeros_like(a) for k, a in enumerate(pair)]
        if self.optimizer_state == "reset":
            self.iterations = 0

    # -- structure changes ----------------------------------------------------
    def _remap(self, maps: list[np.ndarray]) -> None:
        """Apply one index map per hidden layer (-1: a new neuron, zero weights and moments)."""
        n_in = np.arange(self.layers[0].kernel.shape[0])
        ins = [n_in] + maps
        outs = maps + [np.arange(self.layers[-1].kernel.shape[1])]
        # big kernel moments kept in the engine are remapped there, or fetched first if they do not fit
        if any(is_placeholder(m[0]) for m in self.moments) and not self.engine.has_room(
                [len(m) for m in maps]):
            self.engine.fetch_moments(self)
        for i, lay in enumerate(self.layers):
            r, c = ins[i], outs[i]
            kernel = _take(_take(lay.kernel, r, 0), c, 1)
            bias = _take(lay.bias, c, 0)
            lay.kernel, lay.bias = kernel, bias
            held = is_placeholder(self.moments[i][0])
            if held:
                self.engine.remap_moments(i, r, c)
            for store in (self.moments, self.velocities):
                k, b = store[i]
                k = placeholder(kernel) if held else _take(_take(k, r, 0), c, 1)
                store[i] = [k, _take(b, c, 0)]
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
        """Add ``max(min_new_neurons, int(units * fraction))`` neurons to every hidden layer;
        return the new hidden sizes. New weights are the initializer's times ``scaling_factor``
        (default: the pruning threshold), so outputs barely change."""
        fraction = check_non_negative("fraction", fraction)
        scale = self.threshold if scaling_factor is None else check_non_negative(
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
            # only the new part is drawn, scaled for the whole kernel's fans
            if i < len(adds) and adds[i]:  # new columns of this hidden layer
                lay.kernel[:, -adds[i]:] = scale * self._init(
                    self.kernel_initializer, (n_in, adds[i]), whole=(n_in, n_out))
                lay.bias[-adds[i]:] = self._init(self.bias_initializer, (adds[i],), whole=(n_out,))
            if i > 0 and adds[i - 1]:  # new rows: outgoing weights of the previous layer's new neurons
                lay.kernel[-adds[i - 1]:, :] = scale * self._init(
                    self.kernel_initializer, (adds[i - 1], n_out), whole=(n_in, n_out))
        return self.hidden_sizes

    def prune(self, threshold: float | None = None) -> list[int]:
        """Remove hidden neurons whose largest incoming |weight| or |bias| is below ``threshold``;
        return the new hidden sizes (a layer keeps at least its strongest neuron)."""
        threshold = self.threshold if threshold is None else check_non_negative(
            "threshold", threshold)
        maps = []
        for mag in self.neuron_magnitudes():
            keep = np.flatnonzero(mag >= threshold)
            if keep.size == 0:
                keep = np.array([int(np.argmax(mag))])
            maps.append(keep)
        if any(len(m) != n for m, n in zip(maps, self.hidden_sizes, strict=True)):
            self._remap(maps)
        elif self.optimizer_state == "reference":
            self._restart_optimizer()  # the 2021 prune rebuilt its variables even when it removed nothing
        return self.hidden_sizes

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
                # ops.add, not `+`: on PyTorch, tensor + ndarray falls to NumPy and warns
                h = ops.add(ops.matmul(h, lay.kernel), lay.bias)
                if i < len(self.layers) - 1:
                    h = act(h)
            out.append(ops.convert_to_numpy(h))
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
        """One training epoch by the engine; returns its logs (running averages)."""
        return self.engine.train_epoch(self, x, y, batch_size)

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

        Returns this call's records (also appended to ``self.history``): hidden sizes before
        growth, after growth and after pruning, train loss/accuracy (running averages, as in
        Keras), validation loss/accuracy, the penalty and the seconds, per epoch.
        """
        x = self._check_x(x)
        y = self._check_y(y)
        x_val = self._check_x(validation_data[0])
        y_val = self._check_y(validation_data[1])
        if isinstance(epochs, bool) or int(epochs) < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}.")
        scaling_epochs = epochs if self_scaling_epochs is None else int(self_scaling_epochs)
        multiplier = check_non_negative("penalty_multiplier", penalty_multiplier)
        coefficient = check_non_negative("stall_coefficient", stall_coefficient)
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
