"""Start several worker processes on this machine, wired together by ``TF_CONFIG``: a stand-in
for a multi-node job, on a laptop or in a test."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.distributed.strategies import tf_config

# below the ports the system hands out (from 32768), which any connection could take meanwhile
PORT_RANGE = (15000, 32768)
# what TensorFlow prints when a worker's port was taken after it was picked
PORT_TAKEN_MESSAGE = "Could not start gRPC server"


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports in ``PORT_RANGE`` that are free on ``host`` right now.

    >>> ports = free_ports(2)
    >>> len(set(ports)) == 2 and all(PORT_RANGE[0] <= p < PORT_RANGE[1] for p in ports)
    True
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    # a generator of its own: two seeded runs side by side must not pick the same ports
    rng = random.Random()
    ports: list[int] = []
    for _ in range(200 * n):
        port = rng.randrange(*PORT_RANGE)
        if port in ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue  # in use: try another
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError(
        f"found only {len(ports)} of {n} free ports in {PORT_RANGE[0]}-{PORT_RANGE[1] - 1} on "
        f"{host}; stop some programs that listen there, or run fewer workers."
    )


@dataclass
class WorkerRun:
    """One local worker process: its index, exit code and combined output."""

    index: int
    returncode: int | None
    output: str


def stop_workers(procs: Sequence[subprocess.Popen], grace: float = 5.0) -> None:
    """Stop every process still running: terminate, then kill after ``grace`` seconds."""
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
    tries: int = 3,
) -> list[WorkerRun]:
    """Run ``command`` as ``n`` workers on loopback ports, each with its ``TF_CONFIG``.

    All are killed if one fails or ``timeout`` seconds pass (``RuntimeError`` names it);
    ``cpu_only`` hides the GPUs. When a port was taken before its worker listened, all start
    again on fresh ports, up to ``tries`` times, with a warning.

    >>> import sys
    >>> runs = launch_local_workers(2, [sys.executable, "-c", "print('hi')"], timeout=30)
    >>> [(r.index, r.returncode, r.output.strip()) for r in runs]
    [(0, 0, 'hi'), (1, 0, 'hi')]
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}.")
    if tries < 1:
        raise ValueError(f"tries must be at least 1, got {tries}.")
    base_env = dict(os.environ if env is None else env)
    if cpu_only:
        base_env["CUDA_VISIBLE_DEVICES"] = ""
    for attempt in range(1, tries + 1):
        runs, why = _run_workers(n, command, timeout, base_env)
        if why is None:
            return runs
        port_taken = [r.index for r in runs if PORT_TAKEN_MESSAGE in r.output]
        if not port_taken or attempt == tries:
            break
        warnings.warn(
            f"worker {port_taken[0]} could not listen on its port (another program took it); "
            f"starting all {n} workers again on fresh ports (try {attempt + 1} of {tries}).",
            RuntimeWarning, stacklevel=2,
        )
    tail = "\n".join(f"--- worker {r.index} (exit {r.returncode}) ---\n{r.output[-3000:]}" for r in runs)
    tried = f" (tried {attempt} times with fresh ports)" if attempt > 1 else ""
    raise RuntimeError(f"local multi-worker run failed: {why}{tried}; all workers were stopped.\n{tail}")


def _run_workers(
    n: int, command: Sequence[str], timeout: float, base_env: dict[str, str]
) -> tuple[list[WorkerRun], str | None]:
    """One start of ``n`` workers on fresh ports: their runs, and why it failed (or None)."""
    hosts = [f"127.0.0.1:{p}" for p in free_ports(n)]
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(n)]
    procs: list[subprocess.Popen] = []
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
    if failed is not None:
        return runs, f"worker {failed} exited with code {procs[failed].returncode}"
    if timed_out:
        return runs, f"the workers did not finish within {timeout:g} s"
    return runs, None
