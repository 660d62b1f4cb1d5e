"""Run notebooks top to bottom, as a learner would, and record wall time and peak memory.

Each notebook is executed in a fresh Jupyter kernel with nbclient, in fast or full mode
(``COURSE_FAST`` is set for the kernel). While it runs, a background thread samples the
resident memory (RSS) of the kernel process and everything it started, every 0.2 s, and
keeps the peak. The committed notebooks are only read: outputs stay in memory and are
never written back.

The result is a markdown table (notebook, mode, wall time, peak RSS, pass/fail, data
source, load average) with a description of the machine, written to
``results/notebook_runs.md`` unless ``--out`` says otherwise.

Targets (from the course's issue): a notebook finishes within 10 minutes in full mode and
2 minutes in fast mode, and its kernel peaks at no more than 4 GiB.

Usage::

    .venv/bin/python benchmarks/notebook_runs.py --mode full
    .venv/bin/python benchmarks/notebook_runs.py --mode fast notebooks/01_*.ipynb --out /tmp/fast.md
    .venv/bin/python benchmarks/notebook_runs.py --mode full notebooks/04_*.ipynb --append

Set ``COURSE_DATA_DIR`` as for the notebooks themselves. The wall time includes starting
the kernel and importing TensorFlow, as "Restart kernel and run all" would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from course_lib.environment import BACKEND_PACKAGES, cpu_model

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "results" / "notebook_runs.md"

TARGET_SECONDS = {"full": 600.0, "fast": 120.0}
# The self-scaling experiment (four CIFAR-10 drift runs) has its own aim in full mode.
TARGET_FULL_SECONDS_BY_NOTEBOOK = {"10_self_scaling_cifar10_drift.ipynb": 1800.0}
TARGET_PEAK_GIB = 4.0
GIB = 1024**3


@dataclass
class Run:
    notebook: str
    mode: str
    seconds: float
    cpu_seconds: float
    peak_bytes: int
    ok: bool
    error: str
    data_source: str
    load_before: float
    load_after: float

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / GIB

    def targets(self) -> str:
        limit = TARGET_SECONDS[self.mode]
        if self.mode == "full":
            limit = TARGET_FULL_SECONDS_BY_NOTEBOOK.get(self.notebook, limit)
        time_ok = self.seconds <= limit
        memory_ok = self.peak_gib <= TARGET_PEAK_GIB
        return ", ".join([
            f"time {'met' if time_ok else 'NOT met'}",
            f"memory {'met' if memory_ok else 'NOT met'}",
        ])


class PeakMemory:
    """Sample the summed RSS of this process's descendants (the kernel and its children).

    Only one notebook runs at a time and this script starts no other processes, so the
    descendants are exactly the kernel and whatever it spawned.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._cpu: dict[int, float] = {}  # last CPU time (user + system) seen per process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._me = psutil.Process()

    def _sample(self) -> int:
        total = 0
        for proc in self._me.children(recursive=True):
            try:
                total += proc.memory_info().rss
                times = proc.cpu_times()
                self._cpu[proc.pid] = times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass  # a child that just exited
        return total

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        """CPU time used by the kernel and its children, as of the last sample."""
        return sum(self._cpu.values())


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_description() -> list[str]:
    vm = psutil.virtual_memory()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return [
        f"- CPU: {cpu_model()}; {psutil.cpu_count(logical=True)} logical cores "
        f"({psutil.cpu_count(logical=False)} physical)",
        f"- RAM: {vm.total / GIB:.1f} GiB total, {vm.available / GIB:.1f} GiB available at start",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"TensorFlow {version('tensorflow')}, Keras {version('keras')}",
        # The kernels inherit KERAS_BACKEND, which chooses the backend their Keras runs on.
        f"- Keras backend: {backend} {version(BACKEND_PACKAGES.get(backend, backend))} "
        f"(KERAS_BACKEND)",
    ]


def git_state(paths: list[Path]) -> str:
    """The commit measured, and which of the notebooks differ from it (if any)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True, timeout=60).stdout.strip()
        files = [str(p.resolve()) for p in paths]
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *files], cwd=ROOT,
                               text=True, capture_output=True, check=True,
                               timeout=60).stdout.rstrip("\n")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    if not dirty:
        return f"commit {head}, notebooks unmodified"
    changed = ", ".join(line[3:] for line in dirty.splitlines())  # porcelain: "XY path"
    return f"commit {head}, with uncommitted changes to {changed}"


def read_sources(nb) -> str:
    """Which dataset came from where, as the notebook announced it when loading."""
    from course_lib.data import announced_sources, printed_text

    outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
    return ", ".join(sorted(announced_sources(printed_text(outputs)))) or "no dataset"


def run_notebook(path: Path, mode: str, timeout: int, interval: float) -> Run:
    nb = nbformat.read(path, as_version=4)  # read only; never written back
    os.environ["COURSE_FAST"] = "1" if mode == "fast" else "0"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    load_before = os.getloadavg()[0]
    ok, error = True, ""
    start = time.perf_counter()
    with PeakMemory(interval) as memory:
        try:
            client.execute()
        except CellExecutionError as exc:
            ok = False
            error = f"{exc.ename}: {exc.evalue}"[:200]
        except (CellTimeoutError, DeadKernelError) as exc:
            ok = False
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    seconds = time.perf_counter() - start
    return Run(
        notebook=path.name,
        mode=mode,
        seconds=seconds,
        cpu_seconds=memory.cpu_seconds,
        peak_bytes=memory.peak,
        ok=ok,
        error=error,
        data_source=read_sources(nb),
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )


def header() -> str:
    """The top of the results file: what is measured, how, and against which targets."""
    return "\n".join([
        "# Notebook runs: wall time and peak memory",
        "",
        "Written by `benchmarks/notebook_runs.py`. Targets: wall time <= "
        f"{TARGET_SECONDS['full']:.0f} s per notebook in full mode and <= "
        f"{TARGET_SECONDS['fast']:.0f} s in fast mode ("
        + "; ".join(f"full mode, {nb}: <= {s:.0f} s"
                    for nb, s in TARGET_FULL_SECONDS_BY_NOTEBOOK.items())
        + "); "
        "peak kernel memory <= "
        f"{TARGET_PEAK_GIB:.0f} GiB.",
        "",
        "How it is measured: each notebook runs in a fresh kernel (nbclient); wall time covers "
        "kernel start to last cell. Peak RSS is the largest sum of resident memory of the kernel "
        "and its child processes, sampled every 0.2 s (a spike shorter than that can be missed). "
        "Kernel CPU s is the user + system CPU time of the same processes: it changes little "
        "when other work competes for the CPU, so it helps to read wall times taken under load. "
        "The load average is the machine's; a value above its core count means other work "
        "was competing for the CPU during the run.",
        "",
    ])


def markdown(
    runs: list[Run], mode: str, command: str, started: dt.datetime, version: str
) -> str:
    """One section: when, how, on what machine, and the table of runs."""
    lines = [
        f"## {started:%Y-%m-%d %H:%M}, {mode} mode",
        "",
        f"Command: `{command}`",
        "",
        f"- Notebooks: {version}",
        *machine_description(),
        f"- COURSE_DATA_DIR: {os.environ.get('COURSE_DATA_DIR') or '(unset)'}",
        "",
        "| notebook | mode | wall s | kernel CPU s | peak RSS GiB | result | targets | "
        "data source | load avg (1 min) before → after |",
        "|---|---|---:|---:|---:|---|---|---|---|",
    ]
    for r in runs:
        result = "pass" if r.ok else f"FAIL ({r.error})"
        lines.append(
            f"| {r.notebook} | {r.mode} | {r.seconds:.1f} | {r.cpu_seconds:.0f} | "
            f"{r.peak_gib:.2f} | {result} | "
            f"{r.targets()} | {r.data_source} | {r.load_before:.2f} → {r.load_after:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--mode", choices=("fast", "full"), default="full")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"markdown file to write (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--append", action="store_true",
                        help="add this run as a new section instead of replacing the file")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    parser.add_argument("--interval", type=float, default=0.2, help="memory sampling interval, s")
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if not paths:
        parser.error(f"no notebooks found in {NOTEBOOKS}")

    started = dt.datetime.now()
    version = git_state(paths)
    command = "python benchmarks/notebook_runs.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    runs = []
    for path in paths:
        print(f"{path.name} ({args.mode} mode) ...", flush=True)
        run = run_notebook(path.resolve(), args.mode, args.timeout, args.interval)
        runs.append(run)
        status = "pass" if run.ok else f"FAIL: {run.error}"
        print(f"  {run.seconds:.1f} s wall, {run.cpu_seconds:.0f} s CPU, "
              f"peak {run.peak_gib:.2f} GiB, {status}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    section = markdown(runs, args.mode, command.strip(), started, version)
    if args.append and args.out.exists():
        text = args.out.read_text(encoding="utf-8").rstrip() + "\n\n" + section
    else:
        text = header() + "\n" + section
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
