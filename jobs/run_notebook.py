#!/usr/bin/env python
"""Run one notebook headless and keep everything it produced in a timestamped folder.

Used by the Slurm and PBS scripts next to this file, and fine to call by hand::

    python jobs/run_notebook.py notebooks/07_gpu_vs_cpu.ipynb --fast
    python jobs/run_notebook.py notebooks/03_mnist_mlp.ipynb --epochs 5 --out results/runs

What ends up in ``<out>/<YYYYmmdd-HHMMSS>_<notebook>[_job<ID>]/``:

- ``<notebook>.ipynb``  the executed notebook, outputs included (also when a cell failed);
- ``figures/``          every figure the notebook showed, as PNG files;
- ``run.log``           the cells' printed output as they ran, and the runner's messages;
- ``environment.txt``   host, job id, CPU, GPUs (``nvidia-smi``), versions, load;
- ``summary.json``      notebook, mode, parameters, wall time, status.

Mode: ``--fast`` / ``--full`` set ``COURSE_FAST`` for the notebook (default: keep the
caller's ``COURSE_FAST``, i.e. full mode unless it is set). Parameters (``--epochs N``,
``-p name value``) are injected by papermill after the cell tagged ``parameters``; a
notebook without such a cell gets them in a new first cell, where its own later
assignments override them, so the runner warns.

Figures: the caller's environment has ``MPLBACKEND=Agg`` (nothing may try to open a
window on a compute node); the notebook's kernel gets Matplotlib's *inline* backend,
which also renders off-screen with Agg but keeps each figure in the notebook, from
where it is saved to ``figures/``.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import platform
import socket
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # course_lib without pip install
from course_lib import environment  # noqa: E402

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def job_id() -> str | None:
    """The scheduler's job id (Slurm or PBS), or None outside a batch job."""
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("PBS_JOBID") or None


def run_dir(out: Path, notebook: Path, now: datetime | None = None) -> Path:
    """A fresh folder ``out/YYYYmmdd-HHMMSS_<stem>[_job<ID>]`` (suffixed if it exists)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    jid = job_id()
    name = f"{stamp}_{notebook.stem}" + (f"_job{jid.split('.')[0]}" if jid else "")
    path, n = out / name, 1
    while path.exists():
        n += 1
        path = out / f"{name}-{n}"
    path.mkdir(parents=True)
    return path


def parse_value(text: str):
    """Papermill parameter values from the command line: numbers, booleans, None, else text.

    >>> parse_value("5"), parse_value("0.5"), parse_value("true"), parse_value("adam")
    (5, 0.5, True, 'adam')
    """
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def environment_report() -> str:
    """Where and on what this ran: enough to interpret any timing in the notebook."""
    lines = [
        f"date: {datetime.now().isoformat(timespec='seconds')}",
        f"host: {socket.gethostname()}",
        f"job id: {job_id() or '(not a batch job)'}",
        f"python: {sys.executable} ({platform.python_version()})",
        f"cpus usable: {environment.cpu_cores()} of {os.cpu_count()}",
    ]
    if hasattr(os, "getloadavg"):
        lines.append("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    for var in ("COURSE_FAST", "COURSE_DATA_DIR", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_PARTITION",
                "SLURM_JOB_NODELIST", "SLURM_GPUS_ON_NODE", "PBS_QUEUE", "PBS_NODEFILE"):
        if var in os.environ:
            lines.append(f"{var}={os.environ[var]}")
    smi = environment.nvidia_smi()
    lines += ["", "nvidia-smi:", smi.strip()] if smi else \
        ["", "nvidia-smi: not available (no NVIDIA driver on this node, or it failed)"]
    return "\n".join(lines) + "\n"


def save_figures(notebook_path: Path, figures: Path) -> list[Path]:
    """Write every PNG the executed notebook shows to ``figures/cellNNN_K.png``."""
    nb = json.loads(notebook_path.read_text(encoding="utf-8"))
    saved = []
    for c, cell in enumerate(nb.get("cells", [])):
        k = 0
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                figures.mkdir(exist_ok=True)
                k += 1
                path = figures / f"cell{c:03d}_{k}.png"
                path.write_bytes(base64.b64decode("".join(png) if isinstance(png, list) else png))
                saved.append(path)
    return saved


def has_parameters_cell(notebook: Path) -> bool:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.get("cells", []))


class Tee:
    """Write to the terminal (the scheduler's output file) and to run.log at once."""

    def __init__(self, path: Path, stream) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.file.write(text)
        self.file.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebook", type=Path)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true", help="COURSE_FAST=1: small data, few epochs")
    mode.add_argument("--full", action="store_true", help="COURSE_FAST=0: the real thing")
    p.add_argument("--epochs", type=int, help="papermill parameter 'epochs'")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="any papermill parameter (repeatable)")
    p.add_argument("--out", type=Path, default=Path("results/runs"), help="parent of the run folder")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = p.parse_args(argv)

    if not args.notebook.is_file():
        p.error(f"notebook {args.notebook} not found (run from the repository root?)")
    params = {name: parse_value(value) for name, value in args.parameter}
    if args.epochs is not None:
        if args.epochs < 1:
            p.error(f"--epochs must be at least 1, got {args.epochs}")
        params["epochs"] = args.epochs
    if args.fast or args.full:
        os.environ["COURSE_FAST"] = "1" if args.fast else "0"
    mode_name = "fast" if os.environ.get("COURSE_FAST", "").strip().lower() in ("1", "true", "yes", "on") else "full"

    folder = run_dir(args.out, args.notebook)
    log = Tee(folder / "run.log", sys.stdout)
    executed = folder / args.notebook.name
    say = lambda msg: log.write(f"[run_notebook] {msg}\n")  # noqa: E731
    say(f"notebook {args.notebook}, {mode_name} mode, parameters {params or 'none'}")
    say(f"writing to {folder}")
    if params and not has_parameters_cell(args.notebook):
        say("WARNING: the notebook has no cell tagged 'parameters'; papermill puts the "
            "parameters in a new first cell, and the notebook may overwrite them.")
    (folder / "environment.txt").write_text(environment_report(), encoding="utf-8")

    os.environ.setdefault("MPLBACKEND", "Agg")
    kernel_env_backend = os.environ["MPLBACKEND"]
    os.environ["MPLBACKEND"] = INLINE_BACKEND  # for the kernel only: figures stay in the notebook
    import papermill as pm

    start = time.perf_counter()
    status, error = "ok", ""
    # With log_output, papermill logs every cell's printed output: send it to run.log.
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("papermill").addHandler(handler)
    logging.getLogger("papermill").setLevel(logging.INFO)
    try:
        pm.execute_notebook(
            str(args.notebook), str(executed), parameters=params, log_output=True,
            progress_bar=False, cwd=str(args.notebook.resolve().parent), execution_timeout=args.timeout,
            kernel_name="python3",
        )
    except Exception as exc:  # papermill raises PapermillExecutionError on a failing cell
        status, error = "failed", f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    finally:
        logging.getLogger("papermill").removeHandler(handler)
        os.environ["MPLBACKEND"] = kernel_env_backend
    seconds = round(time.perf_counter() - start, 1)
    figures = save_figures(executed, folder / "figures") if executed.exists() else []
    summary = {
        "notebook": str(args.notebook), "mode": mode_name, "parameters": params,
        "status": status, "error": error, "seconds": seconds, "figures": len(figures),
        "executed": str(executed), "job_id": job_id(), "host": socket.gethostname(),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"{status} in {seconds} s; {len(figures)} figure(s); executed notebook {executed}")
    if error:
        say(f"error: {error}")
    log.close()
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
