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

One module per concern:

- :mod:`~course_lib.distributed.strategies` the strategy for this process, who writes;
- :mod:`~course_lib.distributed.training` the MNIST CNN in a custom loop with ``strategy.run``
  (``model.fit`` fails under ``MultiWorkerMirroredStrategy`` in Keras 3);
- :mod:`~course_lib.distributed.launcher` several local workers (a stand-in for nodes);
- :mod:`~course_lib.distributed.cli` the command line (``python -m course_lib.distributed``).

Example
-------
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
