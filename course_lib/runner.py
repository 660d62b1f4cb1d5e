"""Run the course's notebooks headless: the one place that executes a notebook outside pytest.

The website build, the notebook benchmark, ``make executed`` and the batch jobs all call
:func:`execute` or :func:`execute_many`; the test suite runs the same notebooks through nbval.
A run is a fresh kernel (nbclient) in the given :class:`~course_lib.config.RunMode`, figures
rendered inline, with its wall time, the kernel's CPU time and peak memory, and where its data
came from. Papermill injects parameters after the cell tagged ``parameters``.

Command line (``make executed``)::

    python -m course_lib.runner notebooks/01_perceptron_to_neuron.ipynb --mode fast --out build/executed

Example
-------
>>> from course_lib.config import RunMode
>>> run = execute("notebooks/01_perceptron_to_neuron.ipynb", RunMode(fast=True))  # doctest: +SKIP
>>> run.ok, run.data_sources                                                        # doctest: +SKIP
(True, 'no dataset')
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.config import RunMode
from course_lib.environment import PeakRSS

#: Notebooks that run in one process, in this order: 11 reads what 10 leaves in COURSE_CACHE_DIR.
CHAINED = ("10_self_scaling_cifar10_drift.ipynb", "11_self_scaling_vs_static.ipynb")
#: How often a kernel is started before a death at start (a port taken by another process
#: between jupyter_client choosing it and the kernel binding it) counts as a failure.
KERNEL_START_ATTEMPTS = 3
#: Matplotlib's inline backend: figures render off-screen and stay in the executed notebook.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
GIB = 1024**3


def openmp_threads(workers: int) -> int:
    """OpenMP threads for each of ``workers`` processes sharing this process's cores.

    PyTorch's OpenMP threads spin while they wait: two processes with a thread per core each
    trained 25 times slower on 2 cores.

    >>> openmp_threads(1) >= openmp_threads(2) >= 1
    True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


class PeakMemory(PeakRSS):
    """:class:`~course_lib.environment.PeakRSS` of this process's descendants (its kernel)
    instead of itself, with their CPU time.

    >>> with PeakMemory(interval=0.01) as memory:
    ...     pass
    >>> memory.peak >= 0
    True
    """

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(interval)
        self._cpu: dict[int, float] = {}

    def _poll(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in self._process.children(recursive=True):
                try:
                    total += proc.memory_info().rss
                    times = proc.cpu_times()
                    self._cpu[proc.pid] = times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass  # a child that just exited
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    """One executed notebook: outputs, timing, memory and the error (None when it passed)."""

    name: str
    notebook: Any = field(repr=False)  # nbformat.NotebookNode, outputs filled in
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_bytes: int = 0
    error: str | None = None
    traceback: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / GIB

    @property
    def data_sources(self) -> str:
        """Where its datasets came from, as its data-loading lines announced it."""
        from course_lib.data import announced_sources, printed_text

        outputs = [o for c in self.notebook.cells if c.cell_type == "code" for o in c.outputs]
        return ", ".join(sorted(announced_sources(printed_text(outputs)))) or "no dataset"


def kernel_environ(mode: RunMode, workers: int = 1, base: Mapping[str, str] | None = None
                   ) -> dict[str, str]:
    """The environment a kernel runs in: ``base`` (default: this process's), the mode, inline
    figures, and each of ``workers`` side-by-side kernels' share of OpenMP threads.

    >>> env = kernel_environ(RunMode(fast=True), base={})
    >>> env["COURSE_FAST"], env["MPLBACKEND"] == INLINE_BACKEND
    ('1', True)
    """
    env = dict(os.environ if base is None else base)
    env.update(mode.environ(), MPLBACKEND=INLINE_BACKEND)
    if workers > 1:
        env.setdefault("OMP_NUM_THREADS", str(openmp_threads(workers)))
    return env


def read(path: Path | str):
    """The notebook at ``path`` (nbformat v4), for :func:`execute`."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


def parameterize(nb, parameters: Mapping[str, Any]):
    """``nb`` with papermill's cell of ``parameters`` after its cell tagged ``parameters``."""
    if not parameters:
        return nb
    from papermill.parameterize import parameterize_notebook

    for cell in nb.cells:  # papermill reads what its own loader sets: every cell's tags, ...
        cell.metadata.setdefault("tags", [])
    nb.metadata.setdefault("papermill", {})  # ... and its own metadata
    return parameterize_notebook(nb, dict(parameters), kernel_name="python3", language="python")


def execute(notebook, mode: RunMode, *, name: str = "notebook", cwd: Path | str | None = None,
            parameters: Mapping[str, Any] | None = None, timeout: int = 1800,
            env: Mapping[str, str] | None = None, measure: bool = True,
            on_cell: Callable[[str], None] | None = None) -> Run:
    """Run ``notebook`` (a path, or a notebook read already with its folder as ``cwd``) in a
    fresh kernel, top to bottom, stopping at the first error; never raises for the notebook's
    own failures (see :attr:`Run.error`). ``on_cell`` receives each cell's printed text."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(notebook, str | Path):
        path = Path(notebook)
        if not path.is_file():
            raise FileNotFoundError(f"no notebook at {path}; give the path of an .ipynb file.")
        name, cwd, source = path.name, cwd or path.resolve().parent, read(path)
    else:
        source = notebook
    env = kernel_environ(mode) if env is None else dict(env)
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        nb = parameterize(copy.deepcopy(source), parameters or {})
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                record_timing=False,  # cells unchanged but for outputs (jupyter-cache hashes the rest)
                                resources={"metadata": {"path": str(cwd or Path.cwd())}})
        if on_cell is not None:
            from course_lib.data import printed_text

            client.on_cell_executed = lambda cell, **_: on_cell(printed_text(cell.outputs))
        run = Run(name, nb)
        start = time.perf_counter()
        with PeakMemory() if measure else _NoMemory() as memory:
            try:
                client.execute(env=env)
            except CellExecutionError as exc:
                run.error, run.traceback = f"{exc.ename}: {exc.evalue}"[:300], str(exc)
            except (CellTimeoutError, DeadKernelError, RuntimeError) as exc:
                run.error, run.traceback = f"{type(exc).__name__}: {exc}"[:300], str(exc)
        run.seconds, run.cpu_seconds = time.perf_counter() - start, memory.cpu_seconds
        run.peak_bytes = memory.peak
        started = any(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
        if run.ok or started or attempt == KERNEL_START_ATTEMPTS:
            return run
        print(f"{name}: the kernel died at start (try {attempt} of {KERNEL_START_ATTEMPTS}): "
              f"{run.error}; starting a new one", file=sys.stderr, flush=True)
    raise AssertionError("unreachable")


class _NoMemory:
    peak, cpu_seconds = 0, 0.0

    def __enter__(self) -> _NoMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def chains(paths: Sequence[Path]) -> list[list[Path]]:
    """One list per process: the chained notebooks together and in order, every other alone.

    >>> [[p.name for p in c] for c in chains([Path("09_x.ipynb"), Path(CHAINED[1]), Path(CHAINED[0])])]
    [['10_self_scaling_cifar10_drift.ipynb', '11_self_scaling_vs_static.ipynb'], ['09_x.ipynb']]
    """
    together = sorted((p for p in paths if p.name in CHAINED), key=lambda p: CHAINED.index(p.name))
    return ([together] if together else []) + [[p] for p in sorted(paths) if p.name not in CHAINED]


def _run_chain(paths: list[Path], mode: RunMode, env: dict[str, str], timeout: int,
               prepare: Callable[[Path], Any] | None) -> list[Run]:
    done: list[Run] = []
    for path in paths:
        nb = prepare(path) if prepare else path
        done.append(execute(nb, mode, name=path.name, cwd=path.resolve().parent, timeout=timeout,
                            env=env))
        if not done[-1].ok:
            break  # a later notebook of a chain needs the earlier one's results
    return done


def execute_many(paths: Sequence[Path], mode: RunMode, *, workers: int = 2, timeout: int = 1800,
                 env: Mapping[str, str] | None = None,
                 prepare: Callable[[Path], Any] | None = None) -> Iterator[Run]:
    """Run ``paths``, ``workers`` at a time (notebooks 10 and 11 in one process, in order),
    yielding each :class:`Run` as it ends. ``prepare(path)`` (picklable) may give the notebook
    to run instead of the file's own."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}.")
    env = kernel_environ(mode, workers, env)
    if workers == 1:
        for chain in chains(paths):
            yield from _run_chain(chain, mode, env, timeout, prepare)
        return
    # spawn, not fork: each process starts clean whatever this one has loaded
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_chain, c, mode, env, timeout, prepare) for c in chains(paths)]
        try:
            for future in as_completed(futures):
                yield from future.result()
        finally:
            pool.shutdown(cancel_futures=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: execute notebooks into a folder (``make executed``); exit 1 if one fails."""
    p = argparse.ArgumentParser(prog="python -m course_lib.runner", description=main.__doc__)
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--mode", choices=("fast", "full"),
                   help="default: what COURSE_FAST says (unset: full)")
    p.add_argument("--out", type=Path, required=True, help="folder for the executed notebooks")
    p.add_argument("--workers", type=int, default=1, help="notebooks at a time (default 1)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = p.parse_args(argv)
    missing = [str(n) for n in args.notebooks if not n.is_file()]
    if missing:
        p.error(f"no such notebook: {', '.join(missing)}")
    if args.workers < 1:
        p.error(f"--workers must be at least 1, got {args.workers}")
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file; give a folder for the executed notebooks")
    base = RunMode.from_env()
    mode = RunMode.named(args.mode, base.seed) if args.mode else base
    args.out.mkdir(parents=True, exist_ok=True)
    import nbformat

    failed = 0
    for run in execute_many(args.notebooks, mode, workers=args.workers, timeout=args.timeout):
        nbformat.write(run.notebook, str(args.out / run.name))
        failed += not run.ok
        print(f"{run.name}: {'ok' if run.ok else 'FAILED: ' + str(run.error)} in {run.seconds:.0f} s "
              f"({mode.name} mode, peak {run.peak_gib:.2f} GiB; data: {run.data_sources})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
