"""Start several worker processes on this machine, wired together by ``TF_CONFIG``.

A stand-in for a multi-node job, for a laptop or a test: every worker listens on a free
loopback port and learns from ``TF_CONFIG`` who the others are.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.distributed.strategies import tf_config


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
