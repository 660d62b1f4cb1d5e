"""The ``tf.distribute`` strategy for where this process runs, and who in it writes.

See :mod:`course_lib.distributed` for the strategies and how batch and learning rate scale.

>>> scale_for_replicas(per_replica_batch=64, base_lr=0.01, replicas=2)
(128, 0.02)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from course_lib.environment import visible_gpu_count

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "slurm")
SLURM_PORT_BASE = 8888


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


def chief_of(task_type: str | None, task_id: int | None, cluster: dict[str, Any]) -> bool:
    """Whether the task is the chief of ``cluster``: the ``chief`` task if there is one, else
    worker 0; a process outside any cluster (``task_type`` None) is its own chief.

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


def slurm_resolver(port_base: int = SLURM_PORT_BASE):
    """A ``SlurmClusterResolver`` for the current ``srun`` step, with or without GPUs; call it
    before TensorFlow touches a GPU (it sets ``CUDA_VISIBLE_DEVICES`` per task)."""
    import tensorflow as tf

    if "SLURM_PROCID" not in os.environ:
        raise ValueError(
            "strategy 'slurm' needs a Slurm job step: start the script with srun inside "
            "an sbatch job (see jobs/slurm/train_distributed.sh), or use 'multiworker' "
            "with TF_CONFIG."
        )
    gpus = visible_gpu_count()
    if gpus:
        return tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=port_base, gpus_per_node=gpus
        )
    return tf.distribute.cluster_resolver.SlurmClusterResolver(
        port_base=port_base, gpus_per_node=1024, gpus_per_task=1, auto_set_gpu=False
    )


def require_tensorflow_backend() -> None:
    """A clear error unless Keras runs on TensorFlow: ``tf.distribute`` trains TensorFlow models
    (``keras.distribution`` is JAX's counterpart; notebook 08 shows both)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"tf.distribute needs Keras on TensorFlow, but Keras runs on {keras.backend.backend()!r}. "
            "Start this program with KERAS_BACKEND=tensorflow (jobs/train_mnist_distributed.py "
            "sets it itself).")


def make_strategy(kind: str = "auto", *, port_base: int = SLURM_PORT_BASE):
    """The ``tf.distribute`` strategy named by ``kind`` (one of ``STRATEGIES``; Keras on
    TensorFlow only). ``auto``: ``multiworker`` when ``TF_CONFIG`` is set, ``slurm`` in an
    ``srun`` step of several tasks, ``mirrored`` with two or more GPUs, else ``default``."""
    if kind not in STRATEGIES:
        raise ValueError(f"strategy {kind!r} is unknown; choose one of {', '.join(STRATEGIES)}.")
    require_tensorflow_backend()
    if kind == "auto":
        if os.environ.get("TF_CONFIG"):
            kind = "multiworker"
        elif int(os.environ.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1:
            kind = "slurm"
        elif visible_gpu_count() > 1:
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
    """A readable name: ``MirroredStrategy``, ``MultiWorkerMirroredStrategy`` or ``default``."""
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
