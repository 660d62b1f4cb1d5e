"""Room check: how long the day's longest notebooks will take on this machine (notebook 00).

:func:`probe` trains the course CNN (:func:`course_lib.models.mnist_cnn`) on one batch of random
images for a few seconds and times a step. The same probe on the measured 2-core CPU is
recorded in ``results/roomcheck.md`` (``benchmarks/roomcheck.py``), and the notebooks' wall
times on that CPU in ``results/notebook_runs.md``. Their ratio calibrates the probe: a
notebook's estimate here is its measured time × this machine's seconds per step / the
reference's (:func:`scale`). :func:`room_check` does it all in 10-20 seconds and recommends full
mode, fast mode or Colab's GPU for the day.

>>> scale(step_seconds=0.2, reference_seconds=0.1, measured_seconds=574.4)
1148.8
>>> recommend({("06", "full"): 500.0, ("06", "fast"): 60.0}, gpu=False)[0]
'full mode'
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The probe: the course CNN's batch size, seconds of timed steps, untimed warm-up steps.
BATCH_SIZE = 128
PROBE_SECONDS = 8.0
WARMUP_STEPS = 3
MIN_STEPS = 5
#: The results files the estimates rest on (in ``results/`` of a checkout, or packaged).
RUNS_FILE, REFERENCE_FILE = "notebook_runs.md", "roomcheck.md"
#: Notebook 06 (the CNN, the longest notebook of a one-day course) decides the verdict: full
#: mode when its full-mode run fits in 15 minutes, a quarter of its class time; Colab's GPU when
#: even its fast-mode run would keep learners waiting more than 4 minutes.
FULL_WITHIN_S = 15 * 60
COLAB_BEYOND_S = 4 * 60
#: Notebook 10 (the longest of all) runs live in full mode only when it fits in 30 minutes.
NB10_FULL_WITHIN_S = 30 * 60
VERDICTS = ("full mode", "fast mode", "Colab's GPU")


def format_seconds(seconds: float | None) -> str:
    """A duration as people read it: seconds below 90 s, then minutes.

    >>> format_seconds(61.1), format_seconds(164.9), format_seconds(2509.9), format_seconds(None)
    ('61 s', '2.7 min', '42 min', 'not measured')
    """
    if seconds is None:
        return "not measured"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 600 else f"{seconds / 60:.0f} min"


# --- the measured tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One notebook's run in ``results/notebook_runs.md``."""

    seconds: float
    machine: str  # e.g. "AMD EPYC, 2 cores"
    peak_gib: float

    @property
    def cores(self) -> str:
        """The machine in short.

        >>> Measured(1.0, "AMD EPYC, 2 cores", 1.0).cores
        '2-core CPU'
        """
        found = re.search(r"(\d+) cores?", self.machine)
        return f"{found.group(1)}-core CPU" if found else self.machine


def _rows(text: str):
    """Each table row of a Markdown text as a dict keyed by its table's header cells."""
    columns: list[str] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            columns = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not columns:
            columns = cells
        elif not set(line) <= set("|-: ") and len(cells) == len(columns):
            yield dict(zip(columns, cells, strict=True))


def notebook_runs(text: str, backend: str = "tensorflow") -> dict[tuple[str, str], Measured]:
    """The rows of a notebook-runs table for one Keras backend, by (notebook number, mode).

    Columns are found by their header names.

    >>> notebook_runs('''| notebook | mode | Keras backend | wall s | peak RSS GiB | machine |
    ... |---|---|---|---:|---:|---|
    ... | 06_cnn.ipynb | full | tensorflow | 574.4 | 1.68 | AMD EPYC, 2 cores |
    ... | 06_cnn.ipynb | fast | jax | 104.2 | 1.72 | AMD EPYC, 2 cores |''')
    {('06', 'full'): Measured(seconds=574.4, machine='AMD EPYC, 2 cores', peak_gib=1.68)}
    """
    runs = {}
    for row in _rows(text):
        name = row.get("notebook", "")
        if name[:2].isdigit() and row.get("Keras backend", "tensorflow") == backend:
            runs[(name[:2], row["mode"])] = Measured(float(row["wall s"]),
                                                     row.get("machine", "unknown machine"),
                                                     float(row.get("peak RSS GiB") or "nan"))
    return runs


def reference(text: str, backend: str = "tensorflow") -> tuple[float, str]:
    """The reference probe in ``results/roomcheck.md``: (seconds per step, machine).

    >>> reference('''| probe | Keras backend | seconds per step | machine |
    ... |---|---|---:|---|
    ... | course CNN step | tensorflow | 0.0912 | AMD EPYC, 2 cores |''')
    (0.0912, 'AMD EPYC, 2 cores')
    """
    for row in _rows(text):
        if row.get("Keras backend") == backend and "seconds per step" in row:
            return float(row["seconds per step"]), row.get("machine", "unknown machine")
    raise ValueError(f"no reference probe for the Keras backend {backend!r} in the room-check "
                     "table; run `python benchmarks/roomcheck.py` with that backend")


def results_text(name: str) -> str:
    """A results file: from ``results/`` of the course checkout this ``course_lib`` belongs to,
    else the copy packaged with it (``course_lib.course_files``)."""
    checkout = Path(__file__).resolve().parents[1] / "results" / name
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    from course_lib import course_files

    if name in course_files.ORIGINALS:
        return course_files.read_text(name)
    raise FileNotFoundError(
        f"results/{name} is not next to this course_lib ({Path(__file__).parent}) and not packaged "
        "with it; run the room check in a clone of the course, or pass runs_text= and "
        "reference_text= (the two results files' text) to room_check().")


# --- the probe -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Seconds per training step of the course CNN on this machine, and how they were taken."""

    seconds_per_step: float
    steps: int
    batch_size: int
    backend: str
    gpu: bool
    wall_seconds: float  # the whole probe once Keras is loaded: building, warm-up, steps


def probe(seconds: float = PROBE_SECONDS, batch_size: int = BATCH_SIZE, seed: int = 0) -> Probe:
    """Time training steps of :func:`course_lib.models.mnist_cnn` on one random batch for
    ``seconds`` (at least :data:`MIN_STEPS` steps), after :data:`WARMUP_STEPS` untimed ones
    (tracing, compilation). Keras's global random state is left alone."""
    if not isinstance(seconds, int | float) or not 0 < seconds <= 120:
        raise ValueError(f"seconds={seconds!r}: give the probe's timed seconds, between 0 and 120 "
                         f"(default {PROBE_SECONDS}).")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: give a positive integer (default {BATCH_SIZE}).")
    import keras  # here, not at import: importing course_lib never loads Keras
    import numpy as np

    from course_lib import devices, models

    begun = time.perf_counter()  # after the imports: notebook 00 has loaded Keras already

    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=batch_size)
    model = models.mnist_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(x, y)  # returns the loss as a number: each step has finished
    steps, start = 0, time.perf_counter()
    while True:
        model.train_on_batch(x, y)
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= MIN_STEPS:
            break
    gpu = any(d.kind == "GPU" for d in devices.list_devices())
    return Probe(elapsed / steps, steps, batch_size, keras.backend.backend(), gpu,
                 time.perf_counter() - begun)


def scale(step_seconds: float, reference_seconds: float, measured_seconds: float) -> float:
    """A measured time carried over to this machine: measured × step / reference step."""
    if reference_seconds <= 0 or step_seconds <= 0:
        raise ValueError(f"step times must be positive, got {step_seconds!r} here and "
                         f"{reference_seconds!r} for the reference")
    return measured_seconds * step_seconds / reference_seconds


def recommend(estimates: dict[tuple[str, str], float], gpu: bool) -> tuple[str, str]:
    """(verdict, why) from the estimated seconds of notebook 06 in full and fast mode."""
    full, fast = estimates.get(("06", "full")), estimates.get(("06", "fast"))
    if gpu:
        return VERDICTS[0], "a GPU trains the course's networks far faster than the measured CPU."
    if full is not None and full <= FULL_WITHIN_S:
        return VERDICTS[0], (f"notebook 06, the CNN, would take about {format_seconds(full)} in "
                             f"full mode, within {format_seconds(FULL_WITHIN_S)}.")
    if fast is not None and fast > COLAB_BEYOND_S:
        return VERDICTS[2], (f"even in fast mode notebook 06 would take about {format_seconds(fast)}"
                             "; in Colab choose Runtime > Change runtime type > T4 GPU.")
    return VERDICTS[1], (f"notebook 06 would take about {format_seconds(full)} in full mode; set "
                         "COURSE_FAST=1 and look at the full-mode outputs on the course website.")


@dataclass
class RoomCheck:
    """What :func:`room_check` found: the probe, the estimates and the verdict."""

    probe: Probe
    verdict: str
    why: str
    reference_seconds: float | None = None
    reference_machine: str = ""
    measured: dict[tuple[str, str], Measured] = field(default_factory=dict)
    estimates: dict[tuple[str, str], float] = field(default_factory=dict)

    def __str__(self) -> str:
        p = self.probe
        lines = [f"Room check: {p.seconds_per_step:.3f} s per training step of the course CNN "
                 f"(batch {p.batch_size}, {p.steps} steps, Keras on {p.backend}, "
                 f"{'GPU' if p.gpu else 'CPU'}; the check took {p.wall_seconds:.0f} s)."]
        if self.reference_seconds is not None:
            lines.append(f"That is {p.seconds_per_step / self.reference_seconds:.2f}x the time of "
                         f"the measured {self.reference_machine} ({self.reference_seconds:.3f} s).")
            if p.backend != "tensorflow":
                lines.append("The measurements are TensorFlow's: on another backend the estimates "
                             "are rougher.")
            lines.append("Estimated here (measured there):")
            for (number, mode), seconds in sorted(self.estimates.items()):
                if number in ("06", "10"):
                    run = self.measured[(number, mode)]
                    where = "" if run.machine == self.reference_machine else f" on {run.machine}"
                    lines.append(f"  notebook {number}, {mode} mode: {format_seconds(seconds):>8}"
                                 f"   ({format_seconds(run.seconds)}{where})")
        lines.append(f"Recommendation: {self.verdict}: {self.why}")
        nb10 = self.estimates.get(("10", "full"))
        if nb10 is not None and self.verdict != VERDICTS[2]:
            lines.append(
                f"Notebook 10 (full mode about {format_seconds(nb10)}): " + (
                    "it fits a teaching slot." if nb10 <= NB10_FULL_WITHIN_S else
                    "run it in fast mode and look at its full-mode page on the course website, "
                    "or run it as a batch job."))
        return "\n".join(lines)


def room_check(seconds: float = PROBE_SECONDS, *, runs_text: str | None = None,
               reference_text: str | None = None) -> RoomCheck:
    """Probe this machine, estimate every measured notebook here, and recommend a mode.

    Without the results files (an install without them) it reports the probe and says so.
    """
    result = probe(seconds)
    try:
        runs_text = runs_text if runs_text is not None else results_text(RUNS_FILE)
        reference_text = reference_text if reference_text is not None else results_text(REFERENCE_FILE)
    except FileNotFoundError as missing:
        return RoomCheck(result, "unknown", str(missing))
    ref_seconds, ref_machine = reference(reference_text)
    measured = notebook_runs(runs_text)
    estimates = {key: scale(result.seconds_per_step, ref_seconds, run.seconds)
                 for key, run in measured.items()}
    verdict, why = recommend(estimates, result.gpu)
    return RoomCheck(result, verdict, why, ref_seconds, ref_machine, measured, estimates)
