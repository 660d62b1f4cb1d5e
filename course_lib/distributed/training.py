"""Training the MNIST CNN data-parallel with any ``tf.distribute`` strategy: a custom loop.

``model.fit`` fails under ``MultiWorkerMirroredStrategy`` in Keras 3 (keras-team/keras#20585,
tensorflow/tensorflow#72388), so :func:`train_mnist` writes the loop with ``strategy.run``,
which works for every strategy in :mod:`course_lib.distributed.strategies`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib.distributed.strategies import (
    chief_of,
    scale_for_replicas,
    strategy_name,
    task_of,
    write_dir,
)


def weights_digest(weights: Sequence[np.ndarray]) -> str:
    """SHA-256 of a list of weight arrays: equal digests mean bit-identical weights.

    >>> a = [np.zeros((2, 2), np.float32), np.ones(3, np.float32)]
    >>> weights_digest(a) == weights_digest([w.copy() for w in a])
    True
    >>> weights_digest(a) == weights_digest([a[0], a[1] * 2])
    False
    """
    h = hashlib.sha256()
    for w in weights:
        w = np.ascontiguousarray(w)
        h.update(str((w.shape, w.dtype.str)).encode())
        h.update(w.tobytes())
    return h.hexdigest()


@dataclass
class TrainResult:
    """What :func:`train_mnist` reports: settings, losses, accuracy and the weights' digest."""

    strategy: str
    task: str
    chief: bool
    replicas: int
    per_replica_batch: int
    global_batch: int
    learning_rate: float
    steps: int
    losses: list[float]
    test_accuracy: float
    seconds: float
    weights_sha256: str
    saved_to: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)


def train_mnist(
    strategy,
    *,
    per_replica_batch: int = 64,
    base_lr: float = 0.01,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    n_train: int | None = None,
    n_test: int = 2000,
    out_dir: str | os.PathLike = "results/runs/distributed",
    verify_dir: str | os.PathLike | None = None,
    seed: int = 0,
    verbose: bool = True,
    allow_standin: bool | None = None,
) -> TrainResult:
    """Train the course CNN on MNIST with ``strategy`` in a custom loop: each worker reads its
    own shard, gradients are averaged over the *global* batch. The chief writes ``result.json``,
    ``weights.npz`` and a checkpoint into ``out_dir``; with ``verify_dir`` every worker saves
    its final weights there as ``weights_<task>.npz`` to compare."""
    import keras
    import tensorflow as tf

    from course_lib.data import load_mnist
    from course_lib.models import mnist_cnn

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    start = time.perf_counter()
    replicas = strategy.num_replicas_in_sync
    global_batch, lr = scale_for_replicas(per_replica_batch, base_lr, replicas)
    task_type, task_id, cluster = task_of(strategy)
    task = "local" if task_type is None else f"{task_type}{task_id}"
    chief = chief_of(task_type, task_id, cluster)
    workers = max(1, sum(len(v) for v in cluster.values()))

    (x_train, y_train), (x_test, y_test) = load_mnist(n_train=n_train, n_test=n_test, verbose=chief and verbose,
                                                      allow_standin=allow_standin)
    # uint8 until a batch is drawn: float32 copies took four times the memory, per worker
    x_train = x_train[..., None]
    x_test = (x_test[..., None] / 255.0).astype("float32")
    y_train = y_train.astype("int64")
    if steps_per_epoch is None:
        steps_per_epoch = len(x_train) // global_batch
    if steps_per_epoch < 1:
        raise ValueError(
            f"{len(x_train)} training images make no full global batch of {global_batch}; "
            "use more data or a smaller per-replica batch."
        )

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # Each worker (input pipeline) reads every n-th example and batches per replica.
        batch = ctx.get_per_replica_batch_size(global_batch)
        ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        ds = ds.shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat().batch(batch, drop_remainder=True)
        return ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y)).prefetch(2)

    dist_ds = strategy.distribute_datasets_from_function(dataset_fn)

    keras.utils.set_random_seed(seed)  # the same initial weights in every worker
    with strategy.scope():
        model = mnist_cnn(synchronized_bn=True)  # BatchNorm over the global batch
        optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    @tf.function
    def train_step(iterator):
        def step_fn(x, y):
            with tf.GradientTape() as tape:
                per_example = loss_fn(y, model(x, training=True))
                # Divide by the GLOBAL batch: the all-reduce then sums to the mean gradient.
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        per_replica = strategy.run(step_fn, args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    iterator = iter(dist_ds)
    losses: list[float] = []
    for epoch in range(epochs):
        total = 0.0
        for _ in range(steps_per_epoch):
            total += float(train_step(iterator))
        losses.append(total / steps_per_epoch)
        if verbose and chief:
            print(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}", flush=True)

    # same weights everywhere: each worker evaluates locally, in slices (all at once: 450 MB)
    predicted = np.concatenate([
        np.argmax(np.asarray(model(x_test[i:i + 250], training=False)), axis=1)
        for i in range(0, len(x_test), 250)
    ])
    accuracy = float(np.mean(predicted == y_test))
    weights = [np.asarray(w) for w in model.get_weights()]
    digest = weights_digest(weights)

    target = write_dir(out_dir, strategy)
    # Every worker saves (checkpointing may need all of them); only the chief's copy is kept.
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    checkpoint.write(str(target / "ckpt"))
    result = TrainResult(
        strategy=strategy_name(strategy),
        task=task,
        chief=chief,
        replicas=replicas,
        per_replica_batch=per_replica_batch,
        global_batch=global_batch,
        learning_rate=lr,
        steps=epochs * steps_per_epoch,
        losses=losses,
        test_accuracy=accuracy,
        seconds=round(time.perf_counter() - start, 2),
        weights_sha256=digest,
        saved_to=str(target) if chief else "",
    )
    if chief:
        np.savez(target / "weights.npz", *weights)
        (target / "result.json").write_text(result.to_json() + "\n", encoding="utf-8")
    else:
        shutil.rmtree(target, ignore_errors=True)
    if verify_dir is not None:
        Path(verify_dir).mkdir(parents=True, exist_ok=True)
        np.savez(Path(verify_dir) / f"weights_{task}.npz", *weights)
    if verbose:
        print(
            f"[{task}] {result.strategy}: {replicas} replica(s) on {workers} worker(s), "
            f"global batch {global_batch}, lr {lr:g}, {result.steps} steps, "
            f"test accuracy {accuracy:.3f}, weights sha256 {digest[:16]}",
            flush=True,
        )
    return result
