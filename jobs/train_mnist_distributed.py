#!/usr/bin/env python
"""Train the MNIST CNN with tf.distribute: one device, all GPUs of a node, or several nodes.

    python jobs/train_mnist_distributed.py                      # this machine, all its GPUs
    python jobs/train_mnist_distributed.py --local-workers 2    # two processes on 127.0.0.1
    srun python jobs/train_mnist_distributed.py --strategy slurm   # one task per node

Global batch = per-replica batch x replicas; learning rate scaled by the same factor;
only the chief writes the checkpoint and results. All options: ``--help``. The code is
in course_lib/distributed/ (the job scripts are jobs/slurm/train_distributed.sh and
jobs/pbs/train_distributed.pbs).
"""

import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"  # tf.distribute is TensorFlow's API; before Keras loads

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # course_lib without pip install

from course_lib.distributed import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
