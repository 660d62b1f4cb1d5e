"""Data-parallel training with ``tf.distribute``: one device, all GPUs of a node, several nodes.

The recipe is the same at every scale: every replica holds a full copy of the model, each
one works on its own slice of every global batch, the gradients are summed across
replicas (an *all-reduce*) and every replica applies the same update, so the copies stay
identical. What changes is where the replicas live:

==================  ================================================================
``default``         one device (the CPU or one GPU): no distribution at all
``mirrored``        ``MirroredStrategy``: every GPU of this machine, one process
``multiworker``     ``MultiWorkerMirroredStrategy``: several processes (usually one
                    per node), cluster described by the ``TF_CONFIG`` variable
``slurm``           the same, cluster read from Slurm by ``SlurmClusterResolver``
==================  ================================================================

Two rules come with it:

- **Batch size and learning rate scale with the replicas.** Each replica keeps the
  per-replica batch it trained well with, so the global batch is
  ``per_replica_batch * replicas``; a larger batch gives a less noisy gradient, and
  the linear scaling rule (Goyal et al., 2017) raises the learning rate by the same
  factor: ``lr = base_lr * replicas``.
- **Only the chief writes.** Every worker holds the same weights, so one copy of the
  checkpoint and the results is enough; the other workers save into a temporary
  folder (saving may involve collective operations all workers must join) and delete it.

Keras 3 note: ``model.fit`` works under ``MirroredStrategy``, but under
``MultiWorkerMirroredStrategy`` it fails in Keras 3.x (keras-team/keras#20585,
tensorflow/tensorflow#72388). :func:`train_mnist` therefore uses a short custom
training loop with ``strategy.run``, which works for every strategy above.

Example
-------
>>> scale_for_replicas(per_replica_batch=64, base_lr=0.01, replicas=4)
(256, 0.04)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "slurm")
SLURM_PORT_BASE = 8888


# --------------------------------------------------------------------------- small pure helpers


def scale_for_replicas(per_replica_batch: int, base_lr: float, replicas: int) -> tuple[int, float]:
    """Global batch size and linearly scaled learning rate for ``replicas`` replicas.

    >>> scale_for_replicas(32, 0.1, 1)
    (32, 0.1)
    >>> scale_for_replicas(32, 0.1, 8)
    (256, 0.8)
    """
    for name, value in (("per_replica_batch", per_replica_batch), ("replicas", replicas)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not base_lr > 0:
        raise ValueError(f"base_lr must be positive, got {base_lr!r}.")
    return per_replica_batch * replicas, round(base_lr * replicas, 12)


def tf_config(hosts: Sequence[str], index: int, task_type: str = "worker") -> str:
    """The ``TF_CONFIG`` JSON that tells worker ``index`` who is in the cluster.

    >>> tf_config(["127.0.0.1:2222", "127.0.0.1:2223"], 1)
    '{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 1}}'
    """
    if not hosts:
        raise ValueError("hosts is empty; give one 'host:port' per worker.")
    if not 0 <= index < len(hosts):
        raise ValueError(f"index {index} is outside 0..{len(hosts) - 1} for {len(hosts)} hosts.")
    return json.dumps({"cluster": {task_type: list(hosts)}, "task": {"type": task_type, "index": index}})


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports that are free on ``host`` right now (loopback by default).

    >>> ports = free_ports(2)
    >>> len(set(ports)) == 2 and all(1024 <= p < 65536 for p in ports)
    True
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


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


def chief_of(task_type: str | None, task_id: int | None, cluster: dict[str, Any]) -> bool:
    """Whether the task ``(task_type, task_id)`` is the chief of ``cluster``.

    The chief is the task of type ``chief`` if there is one, otherwise worker 0; a
    process outside any cluster (``task_type`` None) is its own chief.

    >>> chief_of(None, None, {})
    True
    >>> chief_of("worker", 0, {"worker": ["a:1", "b:1"]}), chief_of("worker", 1, {"worker": ["a:1", "b:1"]})
    (True, False)
    >>> chief_of("worker", 0, {"chief": ["c:1"], "worker": ["a:1"]})
    False
    """
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


# --------------------------------------------------------------------------- strategies


def _count_nvidia_gpus() -> int:
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        visible = os.environ["CUDA_VISIBLE_DEVICES"].strip()
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(
            ["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return 0
    return sum(line.startswith("GPU ") for line in out.splitlines())


def slurm_resolver(port_base: int = SLURM_PORT_BASE):
    """A ``SlurmClusterResolver`` for the current ``srun`` step, with or without GPUs.

    Call it before TensorFlow touches a GPU: it sets ``CUDA_VISIBLE_DEVICES`` so that
    tasks sharing a node get different GPUs. On CPU-only nodes the resolver's GPU
    bookkeeping is switched off (it cannot divide zero GPUs among tasks).
    """
    import tensorflow as tf

    if "SLURM_PROCID" not in os.environ:
        raise ValueError(
            "strategy 'slurm' needs a Slurm job step: start the script with srun inside "
            "an sbatch job (see jobs/slurm/train_distributed.sh), or use 'multiworker' "
            "with TF_CONFIG."
        )
    gpus = _count_nvidia_gpus()
    if gpus:
        return tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=port_base, gpus_per_node=gpus
        )
    return tf.distribute.cluster_resolver.SlurmClusterResolver(
        port_base=port_base, gpus_per_node=1024, gpus_per_task=1, auto_set_gpu=False
    )


def make_strategy(kind: str = "auto", *, port_base: int = SLURM_PORT_BASE):
    """Create the ``tf.distribute`` strategy named by ``kind`` (see the module table).

    ``auto`` picks ``multiworker`` when ``TF_CONFIG`` is set, ``slurm`` inside an
    ``srun`` step with more than one task, ``mirrored`` with two or more GPUs and
    ``default`` otherwise.

    >>> make_strategy("default").num_replicas_in_sync
    1
    """
    if kind not in STRATEGIES:
        raise ValueError(f"strategy {kind!r} is unknown; choose one of {', '.join(STRATEGIES)}.")
    if kind == "auto":
        if os.environ.get("TF_CONFIG"):
            kind = "multiworker"
        elif int(os.environ.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1:
            kind = "slurm"
        elif _count_nvidia_gpus() > 1:
            kind = "mirrored"
        else:
            kind = "default"
    if kind == "slurm":
        resolver = slurm_resolver(port_base)  # before TensorFlow initialises the GPUs
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multiworker" and not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "strategy 'multiworker' needs the TF_CONFIG environment variable (the cluster "
            "and this task's place in it); see course_lib.distributed.tf_config."
        )
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    if kind == "slurm":
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=resolver, communication_options=options
        )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def strategy_name(strategy) -> str:
    """A readable name: ``MirroredStrategy``, ``MultiWorkerMirroredStrategy`` or ``default``.

    >>> strategy_name(make_strategy("default"))
    'default'
    """
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "MirroredStrategy"
    return "default"


def task_of(strategy) -> tuple[str | None, int | None, dict[str, Any]]:
    """``(task_type, task_id, cluster)`` of this process; ``(None, None, {})`` outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None, None, {}
    return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def is_chief(strategy) -> bool:
    """Whether this process should write checkpoints and results."""
    return chief_of(*task_of(strategy))


def write_dir(base: str | os.PathLike, strategy) -> Path:
    """Where this process saves: ``base`` for the chief, a fresh temporary folder otherwise."""
    if is_chief(strategy):
        path = Path(base)
        path.mkdir(parents=True, exist_ok=True)
        return path
    task_type, task_id, _ = task_of(strategy)
    return Path(tempfile.mkdtemp(prefix=f"{task_type}{task_id}_"))


# --------------------------------------------------------------------------- the MNIST CNN


def mnist_cnn(seed: int = 0):
    """The small MNIST CNN trained in the scaling-out examples (about 0.23 M weights)."""
    import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", kernel_initializer=init),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", kernel_initializer=init),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, kernel_initializer=init),
        ],
        name="mnist_cnn",
    )


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
) -> TrainResult:
    """Train :func:`mnist_cnn` on MNIST with ``strategy`` in a custom training loop.

    Every worker reads its own shard of the data (``distribute_datasets_from_function``),
    gradients are averaged over the *global* batch and applied on every replica. The
    chief writes ``result.json``, ``weights.npz`` and a checkpoint into ``out_dir``;
    other workers write into a temporary folder that is deleted afterwards. With
    ``verify_dir`` every worker also saves its final weights there as
    ``weights_<task>.npz`` so the copies can be compared.
    """
    import keras
    import tensorflow as tf

    from course_lib.data import load_mnist

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    start = time.perf_counter()
    replicas = strategy.num_replicas_in_sync
    global_batch, lr = scale_for_replicas(per_replica_batch, base_lr, replicas)
    task_type, task_id, cluster = task_of(strategy)
    task = "local" if task_type is None else f"{task_type}{task_id}"
    chief = chief_of(task_type, task_id, cluster)
    workers = max(1, sum(len(v) for v in cluster.values()))

    (x_train, y_train), (x_test, y_test) = load_mnist(n_train=n_train, n_test=n_test, verbose=chief and verbose)
    x_train = (x_train[..., None] / 255.0).astype("float32")
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
        return ds.repeat().batch(batch, drop_remainder=True).prefetch(2)

    dist_ds = strategy.distribute_datasets_from_function(dataset_fn)

    with strategy.scope():
        model = mnist_cnn(seed=seed)
        optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

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

    logits = model(x_test, training=False)  # same weights on every worker: evaluate locally
    accuracy = float(np.mean(np.argmax(np.asarray(logits), axis=1) == y_test))
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


# --------------------------------------------------------------------------- local launcher


@dataclass
class WorkerRun:
    """One local worker process: its index, exit code and combined output."""

    index: int
    returncode: int | None
    output: str


def stop_workers(procs: Sequence[subprocess.Popen], grace: float = 5.0) -> None:
    """Stop every process still running: terminate, then kill after ``grace`` seconds.

    ``Popen.terminate``/``kill`` work the same on Linux, macOS and Windows.
    """
    running = [p for p in procs if p.poll() is None]
    for p in running:
        p.terminate()
    deadline = time.monotonic() + grace
    for p in running:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=30)


def launch_local_workers(
    n: int,
    command: Sequence[str],
    *,
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    cpu_only: bool = True,
) -> list[WorkerRun]:
    """Run ``command`` as ``n`` worker processes on this machine, wired by ``TF_CONFIG``.

    A stand-in for a multi-node job: each process gets ``TF_CONFIG`` with ``n`` loopback
    addresses (127.0.0.1, free ports) and its own index. All processes are killed if one
    fails or ``timeout`` seconds pass, and ``RuntimeError`` says which one failed.
    ``cpu_only`` hides GPUs so that several processes do not fight over one GPU.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}.")
    hosts = [f"127.0.0.1:{p}" for p in free_ports(n)]
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(n)]
    procs: list[subprocess.Popen] = []
    base_env = dict(os.environ if env is None else env)
    if cpu_only:
        base_env["CUDA_VISIBLE_DEVICES"] = ""
    try:
        for i in range(n):
            worker_env = dict(base_env, TF_CONFIG=tf_config(hosts, i))
            worker_env.pop("SLURM_PROCID", None)
            procs.append(
                subprocess.Popen(
                    list(command), env=worker_env, stdout=logs[i], stderr=subprocess.STDOUT
                )
            )
        deadline = time.monotonic() + timeout
        failed: int | None = None
        while time.monotonic() < deadline:
            codes = [p.poll() for p in procs]
            bad = [i for i, c in enumerate(codes) if c not in (None, 0)]
            if bad:
                failed = bad[0]
                break
            if all(c == 0 for c in codes):
                break
            time.sleep(0.2)
        timed_out = any(p.poll() is None for p in procs) and failed is None
        stop_workers(procs)
        runs = []
        for i, (p, log) in enumerate(zip(procs, logs)):
            log.seek(0)
            runs.append(WorkerRun(i, p.returncode, log.read()))
    finally:
        stop_workers(procs)
        for log in logs:
            log.close()
    if failed is not None or timed_out:
        why = f"worker {failed} exited with code {procs[failed].returncode}" if failed is not None \
            else f"the workers did not finish within {timeout:g} s"
        tail = "\n".join(f"--- worker {r.index} (exit {r.returncode}) ---\n{r.output[-3000:]}" for r in runs)
        raise RuntimeError(f"local multi-worker run failed: {why}; all workers were stopped.\n{tail}")
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: see ``jobs/train_mnist_distributed.py`` (which calls this)."""
    import argparse

    p = argparse.ArgumentParser(
        prog="train_mnist_distributed",
        description="Train the MNIST CNN with tf.distribute (one device, one node, or many).",
    )
    p.add_argument("--strategy", choices=STRATEGIES, default="auto")
    p.add_argument("--local-workers", type=int, default=0, metavar="N",
                   help="start N worker processes on this machine (127.0.0.1, CPU) instead of one")
    p.add_argument("--per-replica-batch", type=int, default=64)
    p.add_argument("--base-lr", type=float, default=0.01, help="learning rate for ONE replica")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--fast", action="store_true", help="few steps on a small subset (for tests)")
    p.add_argument("--out", default="results/runs/distributed", help="folder the chief writes to")
    p.add_argument("--verify-dir", default=None, help="every worker saves its final weights here")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds, for --local-workers")
    p.add_argument("--port-base", type=int, default=SLURM_PORT_BASE, help="first port (slurm)")
    args = p.parse_args(argv)

    if args.fast:
        os.environ["COURSE_FAST"] = "1"  # also lets the data layer use its stand-in offline
        args.epochs = args.epochs or 1
        args.steps_per_epoch = args.steps_per_epoch or 5
        args.n_train = args.n_train or 2048
    args.epochs = args.epochs or 3

    if args.local_workers:
        inner = [sys.executable, "-m", "course_lib.distributed", "--strategy", "multiworker",
                 "--per-replica-batch", str(args.per_replica_batch), "--base-lr", str(args.base_lr),
                 "--epochs", str(args.epochs), "--out", args.out]
        for flag, value in (("--steps-per-epoch", args.steps_per_epoch), ("--n-train", args.n_train),
                            ("--verify-dir", args.verify_dir)):
            if value is not None:
                inner += [flag, str(value)]
        runs = launch_local_workers(args.local_workers, inner, timeout=args.timeout)
        for r in runs:
            print(f"--- worker {r.index} ---")
            print("\n".join(line for line in r.output.splitlines() if line.startswith(("[", "epoch", "MNIST"))))
        return 0

    strategy = make_strategy(args.strategy, port_base=args.port_base)
    train_mnist(
        strategy, per_replica_batch=args.per_replica_batch, base_lr=args.base_lr, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, n_train=args.n_train, out_dir=args.out,
        verify_dir=args.verify_dir,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
