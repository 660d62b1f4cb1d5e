"""The room check's reference: its probe on the machine that measured the notebooks.

Notebook 00's room check (``course_lib.roomcheck``) times training steps of the course CNN and
scales the notebooks' measured wall times (``results/notebook_runs.md``) by its seconds per step
over this table's. Run it on the machine whose notebook runs the table holds, at a quiet moment.
Each run is a fresh Python process that imports Keras and calls ``course_lib.roomcheck.probe()``
as notebook 00 does; the table keeps the median over ``--repeats`` runs. Writes
``results/roomcheck.md``.

    .venv/bin/python benchmarks/roomcheck.py                 # 3 runs, about a minute
    .venv/bin/python benchmarks/roomcheck.py --repeats 5 --out /tmp/roomcheck.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import provenance

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "results" / "roomcheck.md"
CODE = ["benchmarks/roomcheck.py", "course_lib/roomcheck.py", "course_lib/models.py"]
PROBE = ("import json, course_lib, keras\n"
         "from course_lib import roomcheck\n"
         "p = roomcheck.probe()\n"
         "print(json.dumps(p.__dict__))")
METHOD = (
    "The probe trains `course_lib.models.mnist_cnn` (Adam) on one batch of 128 random 28x28 "
    "images: 3 untimed warm-up steps (tracing), then `train_on_batch` steps for at least 8 s "
    "(`course_lib.roomcheck.PROBE_SECONDS`), each returning its loss, so every step has finished "
    "when the next starts. Each run is a fresh Python process that imports Keras first; the "
    "seconds per step are the median over the runs (their spread beside it), the check's wall "
    "time covers building the model, the warm-up and the timed steps. Notebook 00 divides its "
    "own seconds per step by this median and multiplies `results/notebook_runs.md`'s wall times "
    "by that ratio. A load average above the 2 cores means other work competed for the CPU.")


def once() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"the probe failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the table to write")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.out.exists() and not args.out.is_file():
        parser.error(f"--out {args.out} is not a file; give the Markdown file to write")
    started = provenance.start(CODE)
    runs = []
    for i in range(args.repeats):
        runs.append(once())
        print(f"run {i + 1}: {runs[-1]['seconds_per_step']:.4f} s per step, "
              f"{runs[-1]['steps']} steps, {runs[-1]['wall_seconds']:.1f} s in all", flush=True)
    machine = provenance.machine_info()
    steps = [r["seconds_per_step"] for r in runs]
    walls = [r["wall_seconds"] for r in runs]
    backend = runs[0]["backend"]
    row = (f"| course CNN training step, batch {runs[0]['batch_size']} | {backend} | "
           f"{statistics.median(steps):.4f} | {min(steps):.4f}-{max(steps):.4f} | "
           f"{statistics.median(walls):.1f} | {len(runs)} | {'GPU' if runs[0]['gpu'] else 'CPU'} | "
           f"{machine['cpu']}, {machine['cores']} cores |")
    table = ["| probe | Keras backend | seconds per step | min-max | check's wall s | runs | device "
             "| machine |", "|---|---|---:|---:|---:|---:|---|---|", row]
    command = "python benchmarks/roomcheck.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = provenance.markdown_header(command.strip(), CODE, METHOD, started=started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(["# Room check: the reference probe", "", header, "", *table])
                        + "\n", encoding="utf-8")
    print(row)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
