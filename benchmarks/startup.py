"""How fast the course starts: ``import course_lib``, and the error a learner offline meets in full mode.

Each measurement is a fresh Python process, timed from start to exit, repeated ``--repeats``
times (median and range): ``import course_lib``; ``import course_lib, keras`` for comparison;
and ``course_lib.load_mnist()`` in full mode with no data folder and an empty Keras cache, which
must end, quickly, with the error that says how to get the data. Writes ``results/startup.md``.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import provenance

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "results" / "startup.md"
CODE = ["benchmarks/startup.py", "course_lib/__init__.py", "course_lib/quiet.py", "course_lib/config.py",
        "course_lib/data", "course_lib/arrays.py", "course_lib/environment.py"]
TARGET_S = 3.0
CASES = {
    "import course_lib": ("import course_lib", False),
    "import course_lib, keras (for comparison)": ("import course_lib, keras", False),
    "offline full-mode error (load_mnist, no data)": ("import course_lib; course_lib.load_mnist()", True),
}
METHOD = (
    f"Target: the offline full-mode error within {TARGET_S:g} s on an idle 2-core machine. Each row "
    "is a fresh `python -c` process, timed from start to exit, several times (median, min-max). "
    "The offline case runs with `COURSE_FAST=0`, no `COURSE_DATA_DIR` and an empty `KERAS_HOME`, "
    "on a machine without internet access: `load_mnist()` checks that the download host answers "
    "before Keras is imported, and must exit with `DataUnavailableError`, which names the three "
    "ways to get the data. Here the name lookup fails at once; where a network drops packets "
    "silently, the check gives up after `NETWORK_CHECK_SECONDS` (2.5 s).")


def once(code: str, must_fail: bool, keras_home: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_DATA_DIR", "COURSE_FAST")}
    env.update(COURSE_FAST="0", KERAS_HOME=keras_home)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    seconds = time.perf_counter() - start
    if must_fail != (done.returncode != 0) or (must_fail and "DataUnavailableError" not in done.stderr):
        raise RuntimeError(f"{code!r} ended unexpectedly (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    started = provenance.start(CODE)
    rows = []
    with tempfile.TemporaryDirectory() as keras_home:
        for name, (code, must_fail) in CASES.items():
            times = [once(code, must_fail, keras_home) for _ in range(args.repeats)]
            median = statistics.median(times)
            met = "yes" if median <= TARGET_S else "**no**"
            rows.append(f"| {name} | {median:.2f} | {min(times):.2f}-{max(times):.2f} | "
                        f"{met if 'offline' in name else ''} |")
            print(rows[-1], flush=True)
    command = "python benchmarks/startup.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = provenance.markdown_header(command.strip(), CODE, METHOD, started=started)
    table = ["| what | median s | min-max s | offline target met? |", "|---|---:|---:|---|", *rows]
    args.out.write_text("\n".join(["# Start-up time", "", header, "", *table]) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
