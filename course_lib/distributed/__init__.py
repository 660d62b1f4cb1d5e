"""Data-parallel training with ``tf.distribute``: one device, all GPUs of a node, several nodes.

Every replica holds a full copy of the model and trains on its slice of each global batch; the
gradients are summed across replicas (all-reduce), so the copies stay identical. Strategies:
``default`` (one device), ``mirrored`` (every GPU of this machine), ``multiworker`` (processes
described by ``TF_CONFIG``), ``slurm`` (the cluster read from Slurm). The global batch and the
learning rate grow with the replicas (the linear scaling rule, Goyal et al. 2017), and only
the chief writes. Modules: ``strategies``, ``training`` (a custom loop: ``model.fit`` fails
under ``MultiWorkerMirroredStrategy`` in Keras 3), ``launcher`` (local workers standing in for
nodes), ``cli`` (``python -m course_lib.distributed``).

>>> scale_for_replicas(per_replica_batch=64, base_lr=0.01, replicas=4)
(256, 0.04)
"""

from course_lib.distributed.cli import main
from course_lib.distributed.launcher import (
    PORT_RANGE,
    PORT_TAKEN_MESSAGE,
    WorkerRun,
    free_ports,
    launch_local_workers,
    stop_workers,
)
from course_lib.distributed.strategies import (
    SLURM_PORT_BASE,
    STRATEGIES,
    chief_of,
    is_chief,
    make_strategy,
    scale_for_replicas,
    slurm_resolver,
    strategy_name,
    task_of,
    tf_config,
    write_dir,
)
from course_lib.distributed.training import TrainResult, train_mnist, weights_digest

__all__ = [
    "PORT_RANGE", "PORT_TAKEN_MESSAGE", "SLURM_PORT_BASE", "STRATEGIES", "TrainResult",
    "WorkerRun", "chief_of", "free_ports", "is_chief", "launch_local_workers", "main",
    "make_strategy", "scale_for_replicas", "slurm_resolver", "stop_workers", "strategy_name",
    "task_of", "tf_config", "train_mnist", "weights_digest", "write_dir",
]
