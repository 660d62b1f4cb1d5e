"""The command line of ``jobs/train_mnist_distributed.py`` and ``python -m course_lib.distributed``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from course_lib.distributed.launcher import launch_local_workers
from course_lib.distributed.strategies import SLURM_PORT_BASE, STRATEGIES, make_strategy
from course_lib.distributed.training import train_mnist


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
        args.epochs = args.epochs or 1
        args.steps_per_epoch = args.steps_per_epoch or 5
        args.n_train = args.n_train or 2048
    args.epochs = args.epochs or 3

    if args.local_workers:
        inner = [sys.executable, "-m", "course_lib.distributed", "--strategy", "multiworker",
                 "--per-replica-batch", str(args.per_replica_batch), "--base-lr", str(args.base_lr),
                 "--epochs", str(args.epochs), "--out", args.out, *(["--fast"] if args.fast else [])]
        for flag, value in (("--steps-per-epoch", args.steps_per_epoch), ("--n-train", args.n_train),
                            ("--verify-dir", args.verify_dir)):
            if value is not None:
                inner += [flag, str(value)]
        runs = launch_local_workers(args.local_workers, inner, timeout=args.timeout,
                                    env=dict(os.environ, KERAS_BACKEND="tensorflow"))
        for r in runs:
            print(f"--- worker {r.index} ---")
            print("\n".join(line for line in r.output.splitlines() if line.startswith(("[", "epoch", "MNIST"))))
        return 0

    strategy = make_strategy(args.strategy, port_base=args.port_base)
    train_mnist(
        strategy, per_replica_batch=args.per_replica_batch, base_lr=args.base_lr, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, n_train=args.n_train, out_dir=args.out,
        verify_dir=args.verify_dir, allow_standin=True if args.fast else None,
    )
    return 0
