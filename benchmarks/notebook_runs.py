"""Run notebooks top to bottom, as a learner would, and record wall time and peak memory.

Each notebook runs once, alone, in a fresh kernel through ``course_lib.runner`` (the course's
one notebook runner), which also samples the kernel's memory and CPU time. The rows measured
replace those of the same notebook, mode and Keras backend in ``results/notebook_runs.md``;
every row names its commit, and the file's header names this run (``benchmarks/provenance.py``).

Usage::

    .venv/bin/python benchmarks/notebook_runs.py --mode full               # every notebook
    .venv/bin/python benchmarks/notebook_runs.py --mode fast notebooks/01_*.ipynb
    .venv/bin/python benchmarks/notebook_runs.py --mode full notebooks/06_*.ipynb --out /tmp/06.md

Set ``COURSE_DATA_DIR`` as for the notebooks. The wall time includes starting the kernel and
importing TensorFlow, as "Restart kernel and run all" would.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import date
from pathlib import Path

import provenance

from course_lib import runner
from course_lib.config import RunMode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "results" / "notebook_runs.md"
CODE = ["benchmarks/notebook_runs.py", "course_lib", "notebooks"]
#: Wall-time targets in seconds, by mode and notebook-name prefix (the first that matches).
TARGET_SECONDS = {"full": (("0[1-6]_", 360.0), ("10_", 1200.0), ("", 600.0)),
                  "fast": (("", 120.0),)}
TARGET_GIB = (("10_", 3.0), ("", 4.0))
COLUMNS = ("notebook", "mode", "Keras backend", "wall s", "kernel CPU s", "peak RSS GiB", "result",
           "targets", "data source", "load avg (1 min) before → after", "commit", "machine", "date")
METHOD = (
    "Targets: full mode within 360 s for notebooks 01-06, 1,200 s for notebook 10 and 600 s for "
    "the others; fast mode within 120 s; peak kernel memory within 3 GiB for notebook 10 and "
    "4 GiB for the others. Each notebook runs alone in a fresh kernel (course_lib.runner, "
    "nbclient); wall time covers kernel start to last cell. Peak RSS is the largest sum of "
    "resident memory of the kernel and its child processes, sampled every 0.2 s; kernel CPU s is "
    "their user + system time, which changes little when other work competes for the CPU. A load "
    "average above the 2 cores means something else ran. Each row is the latest measurement of "
    "its notebook, mode and backend, and names its commit and machine; the line above names the "
    "newest run. The data source `data_dir` is `COURSE_DATA_DIR`.")


def target(table: tuple, name: str) -> float:
    """The first target whose prefix pattern matches ``name``.

    >>> target(TARGET_SECONDS["full"], "04_five_layer_network.ipynb"), target(TARGET_GIB, "09_x")
    (360.0, 4.0)
    """
    return next(value for prefix, value in table if re.match(prefix, name))


def targets(name: str, mode: str, seconds: float, peak_gib: float) -> str:
    """Whether a run met its targets.

    >>> targets("04_five_layer_network.ipynb", "full", 391.2, 1.7)
    'time NOT met, memory met'
    """
    time_ok = seconds <= target(TARGET_SECONDS[mode], name)
    memory_ok = peak_gib <= target(TARGET_GIB, name)
    return f"time {'met' if time_ok else 'NOT met'}, memory {'met' if memory_ok else 'NOT met'}"


def row(run: runner.Run, mode: str, load: tuple[float, float], commit: str, machine: str) -> list[str]:
    return [run.name, mode, os.environ.get("KERAS_BACKEND", "tensorflow"), f"{run.seconds:.1f}",
            f"{run.cpu_seconds:.0f}", f"{run.peak_gib:.2f}",
            "pass" if run.ok else f"FAIL ({run.error})", "", run.data_sources,
            f"{load[0]:.2f} → {load[1]:.2f}", commit, machine, date.today().isoformat()]


def read_rows(path: Path) -> dict[tuple[str, str, str], list[str]]:
    """The table rows of an existing results file, by (notebook, mode, backend)."""
    rows = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == len(COLUMNS) and cells[0].endswith(".ipynb"):
                rows[(cells[0], cells[1], cells[2])] = cells
    return rows


def render(rows: dict, header: str, commit: str) -> str:
    """The results file: this run's rows (``commit``) by mode, then rows measured at other
    commits under their own heading; every row judged against today's targets."""
    for r in rows.values():
        r[7] = targets(r[0], r[1], float(r[3]), float(r[5]))
    lines = ["# Notebook runs: wall time and peak memory", "", header]
    sections = [(f"{mode.capitalize()} mode", lambda r, m=mode: r[1] == m and r[10] == commit)
                for mode in ("full", "fast")]
    sections.append(("Older measurements, at other commits (the code may have changed since)",
                     lambda r: r[10] != commit))
    for title, keep in sections:
        chosen = [r for _, r in sorted(rows.items()) if keep(r)]
        if chosen:
            lines += ["", f"## {title}", "", "| " + " | ".join(COLUMNS) + " |",
                      "|---|---|---|---:|---:|---:|---|---|---|---|---|---|---|"]
            lines += ["| " + " | ".join(r) + " |" for r in chosen]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--mode", choices=("fast", "full"), default="full")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file to update")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.out.exists() and not args.out.is_file():
        parser.error(f"--out {args.out} is not a file; give the Markdown file to update")

    command = "python benchmarks/notebook_runs.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = provenance.start(CODE)
    machine = provenance.machine_info()
    where = f"{machine['cpu']}, {machine['cores']} cores"
    mode = RunMode.named(args.mode, RunMode.from_env().seed)
    rows, ok = read_rows(args.out), True
    for path in paths:
        print(f"{path.name} ({mode.name} mode) ...", flush=True)
        before = os.getloadavg()[0]
        run = runner.execute(path, mode, timeout=args.timeout)
        ok &= run.ok
        new = row(run, mode.name, (before, os.getloadavg()[0]), started["commit"], where)
        rows[tuple(new[:3])] = new
        print(f"  {run.seconds:.1f} s wall, {run.cpu_seconds:.0f} s CPU, peak {run.peak_gib:.2f} GiB, "
              f"{new[6]}; {targets(run.name, mode.name, run.seconds, run.peak_gib)}", flush=True)
    header = provenance.markdown_header(command.strip(), CODE, METHOD, started=started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, header, started["commit"]), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
