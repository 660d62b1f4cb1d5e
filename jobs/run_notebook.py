#!/usr/bin/env python
"""Run one notebook headless and keep everything it produced in a timestamped folder.

Used by the Slurm and PBS scripts next to this file, and fine to call by hand::

    python jobs/run_notebook.py notebooks/07_gpu_vs_cpu.ipynb --fast
    python jobs/run_notebook.py notebooks/04_five_layer_network.ipynb --full --epochs 30

What ends up in ``<out>/<YYYYmmdd-HHMMSS>_<notebook>[_job<ID>]/``:

- ``<notebook>.ipynb``  the executed notebook, outputs included (also when a cell failed);
- ``figures/``          every figure the notebook showed, as PNG files;
- ``run.log``           each cell's printed output as it finished, and the runner's messages;
- ``environment.txt``   host, job id, CPU, GPUs (``nvidia-smi``), versions, load;
- ``summary.json``      notebook, mode, parameters, wall time, peak memory, status.

Mode: ``--fast`` / ``--full`` (default: what ``COURSE_FAST`` says; unset means full).
Parameters (``--epochs N``, ``-p NAME VALUE``) replace the values of the notebook's cell tagged
``parameters`` (notebooks 02, 03 and 04 have one, with ``epochs``); the notebook runs through
``course_lib.runner``, the course's one notebook runner.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import socket
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # course_lib without pip install
from course_lib import environment, runner  # noqa: E402
from course_lib.config import RunMode  # noqa: E402


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
    """Parameter values from the command line: numbers, booleans, None, else text.

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
        "load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    ]
    for var in ("COURSE_FAST", "COURSE_DATA_DIR", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_PARTITION",
                "SLURM_JOB_NODELIST", "SLURM_GPUS_ON_NODE", "PBS_QUEUE", "PBS_NODEFILE"):
        if var in os.environ:
            lines.append(f"{var}={os.environ[var]}")
    smi = environment.nvidia_smi()
    lines += ["", "nvidia-smi:", smi.strip()] if smi else \
        ["", "nvidia-smi: not available (no NVIDIA driver on this node, or it failed)"]
    return "\n".join(lines) + "\n"


def save_figures(nb, figures: Path) -> int:
    """Write every PNG the executed notebook shows to ``figures/cellNNN_K.png``; return how many."""
    saved = 0
    for c, cell in enumerate(nb.cells):
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for k, png in enumerate(pngs, start=1):
            figures.mkdir(exist_ok=True)
            (figures / f"cell{c:03d}_{k}.png").write_bytes(base64.b64decode(png))
            saved += 1
    return saved


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebook", type=Path)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true", help="small data, few epochs")
    mode.add_argument("--full", action="store_true", help="the real thing")
    p.add_argument("--epochs", type=int, help="the 'epochs' parameter (notebooks 02, 03, 04)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="any parameter of the notebook (repeatable)")
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
    nb = runner.read(args.notebook)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if params and not tagged:
        p.error(f"{args.notebook.name} has no cell tagged 'parameters', so {sorted(params)} would "
                "change nothing; notebooks 02, 03 and 04 take --epochs")
    unknown = [n for n in params if tagged and not any(f"{n} =" in c.source for c in tagged)]
    if unknown:
        p.error(f"{args.notebook.name}'s parameters cell sets no {unknown}; it reads:\n"
                + "\n".join(c.source for c in tagged))
    base = RunMode.from_env()
    run_mode = RunMode.named("fast" if args.fast else "full", base.seed) if args.fast or args.full \
        else base

    folder = run_dir(args.out, args.notebook)
    with open(folder / "run.log", "a", encoding="utf-8") as log:
        def say(text: str) -> None:
            print(text, flush=True)
            log.write(text + "\n")
            log.flush()

        say(f"[run_notebook] {args.notebook}, {run_mode.name} mode, parameters {params or 'none'}")
        say(f"[run_notebook] writing to {folder}")
        (folder / "environment.txt").write_text(environment_report(), encoding="utf-8")
        run = runner.execute(nb, run_mode, name=args.notebook.name, cwd=args.notebook.resolve().parent,
                             parameters=params, timeout=args.timeout,
                             on_cell=lambda text: text and say(text.rstrip("\n")))
        executed = folder / args.notebook.name
        import nbformat

        nbformat.write(run.notebook, str(executed))
        figures = save_figures(run.notebook, folder / "figures")
        status = "ok" if run.ok else "failed"
        summary = {
            "notebook": str(args.notebook), "mode": run_mode.name, "parameters": params,
            "status": status, "error": run.error or "", "seconds": round(run.seconds, 1),
            "peak_gib": round(run.peak_gib, 2), "figures": figures, "executed": str(executed),
            "job_id": job_id(), "host": socket.gethostname(),
        }
        (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        say(f"[run_notebook] {status} in {run.seconds:.1f} s; {figures} figure(s); executed "
            f"notebook {executed}" + (f"\n[run_notebook] error: {run.error}" if run.error else ""))
    return 0 if run.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
