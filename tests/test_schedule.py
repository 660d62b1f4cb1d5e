"""The instructor's day: one schedule, and everything generated from it, agree.

- ``release/course.toml``'s schedule loads, and every file generated from it is current: the
  decks' closing slides and the instructor guide (``release/schedule.py``), the notebooks' header
  lines and the README's table (``release/colab.py``, checked in ``tests/test_launch.py`` too);
- every deck ends by linking its notebooks (course website and Colab), every notebook's header
  names its decks and its class and run times, every slide's notes say the point to make and the
  question to ask;
- run times come from ``results/notebook_runs.md``, never typed; the guide's pitfalls match the
  code they describe;
- notebook 00's room check: its arithmetic, its verdicts, its errors, and (slow) that on the
  machine that measured the notebooks its estimates land within a factor of 2 of the measured
  times.
"""

from __future__ import annotations

import doctest
import inspect
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib import roomcheck
from release import schedule
from slides import build_slides

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
DECKS = build_slides.find_decks(ROOT / "slides")
GUIDE = (ROOT / "website" / "instructors.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sched() -> schedule.Schedule:
    return schedule.Schedule.load()


def test_module_examples():
    for module in (schedule, roomcheck):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted >= 4 and result.failed == 0, module.__name__


def test_generated_files_are_up_to_date(sched):
    stale = schedule.run(check=True, sched=sched)
    assert stale == [], f"out of date: {stale}; run `make colab` (or `python -m release.schedule`)"


# --- decks, notebooks, notes ----------------------------------------------------------------


@pytest.mark.parametrize("path", DECKS, ids=lambda p: p.name)
def test_every_deck_ends_by_linking_its_notebooks(sched, path):
    deck = build_slides.parse_deck(path)
    last = deck.slides[-1].body
    notebooks = sched.notebooks_of(sched.decks[path.stem])
    assert notebooks, f"{path.name} leads to no notebook: name it in a notebook's slides"
    assert last.startswith("## Now open notebook"), f"{path.name}: the last slide is {last[:60]!r}"
    for nb in notebooks:
        assert f"]({sched.site_page(nb)})" in last, f"{path.name}: no link to {nb.name} on the site"
        assert f"]({sched.repo.colab(nb.name)})" in last, f"{path.name}: no Colab link to {nb.name}"
        assert nb.number in last.splitlines()[0]


@pytest.mark.parametrize("path", DECKS, ids=lambda p: p.name)
def test_every_slide_has_notes_with_the_point_and_the_question(path):
    deck = build_slides.parse_deck(path)
    for i, slide in enumerate(deck.slides, start=2):  # slide 1 is the title slide
        heading = slide.body.splitlines()[0]
        assert slide.notes, f"{path.name}, slide {i} ({heading}): no speaker notes"
        assert len(slide.point) > 20, f"{path.name}, slide {i} ({heading}): no 'Point:' paragraph"
        assert slide.question.endswith("?"), (
            f"{path.name}, slide {i} ({heading}): the 'Ask:' paragraph must be a question, "
            f"got {slide.question!r}")


def test_notes_show_their_labels_in_the_built_deck(monkeypatch):
    deck = build_slides.Deck("x", "X", "", [build_slides.Slide(
        "## A", "Point: the loss\ngoes down.\n\nAsk: why?\n\nMore.")])
    monkeypatch.setattr(build_slides, "render_math", lambda items: [])  # no formulas: no KaTeX
    page = build_slides.deck_html(deck)
    assert "<strong>Point:</strong> the loss\ngoes down." in page
    assert "<strong>Ask:</strong> why?" in page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_header_names_its_decks_and_times(sched, path):
    title = nbformat.read(path, as_version=4).cells[0].source
    lines = [line for line in title.splitlines() if line.startswith("**Slides:**")]
    assert len(lines) == 1, f"{path.name}: no header line under the title; run `make colab`"
    number = path.name[:2]
    assert lines[0] == schedule.header_line(sched, number), f"{path.name}: run `make colab`"
    nb = sched.notebooks[number]
    for deck in nb.decks:
        assert f"[{deck.label}](../slides/{deck.stem}.md)" in lines[0]
    if not nb.decks:
        assert lines[0].startswith("**Slides:** none")
    for fact in schedule.page_facts(sched, number):
        assert fact in lines[0], f"{path.name}: the header lacks {fact!r}"


def test_run_times_come_from_the_results_file(sched):
    runs = roomcheck.notebook_runs((ROOT / sched.results).read_text(encoding="utf-8"))
    assert runs, f"no rows read from {sched.results}"
    for number, nb in sched.notebooks.items():
        for mode in schedule.MODES:
            run = runs.get((number, mode))
            expected = roomcheck.format_seconds(run.seconds if run else None)
            assert nb.run_time(mode) == expected
    assert sched.notebooks["00"].run_time("full") == "not measured"  # a fast-mode row only
    config = (ROOT / "release" / "course.toml").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(seconds|wall|fast|full)\w*\s*=", config, re.MULTILINE), (
        "run times are read from the results file, never typed into the schedule")


def test_every_notebook_is_scheduled_with_sensible_minutes(sched):
    assert sorted(sched.notebooks) == sorted(p.name[:2] for p in NOTEBOOKS)
    for nb in sched.notebooks.values():
        assert 5 <= nb.teach <= 60 and 5 <= nb.exercises <= 40, nb.label
        assert nb.exercise_set, f"{nb.label}: set at least one exercise"
        assert all(p < nb.number for p in nb.prerequisites)


def test_the_three_formats_fit_their_days(sched):
    formats = {f.name: f for f in sched.formats}
    assert list(formats) == ["Half day", "One day", "Two days"]
    assert sum(d.minutes for d in formats["Half day"].days) <= 4 * 60
    for fmt in formats.values():
        for day in fmt.days:
            assert day.start + day.minutes <= 17 * 60, f"{fmt.name} ends after 17:00"
    taught = {b.notebook.number for d in formats["Two days"].days for b in d.blocks if b.notebook}
    assert taught == set(sched.notebooks), "the two-day format covers every notebook"


def test_a_bad_schedule_is_refused_with_the_fix(tmp_path):
    config = (ROOT / "release" / "course.toml").read_text(encoding="utf-8")
    bad_prereq = config.replace('prerequisites = ["00"]\nslides = ["01_machine_learning"',
                                'prerequisites = ["10"]\nslides = ["01_machine_learning"', 1)
    bad_set = config.replace('set = ["01.1"]', 'set = ["02.1"]', 1)
    bad_deck = config.replace('slides = ["04_convolutional_networks"]', 'slides = ["04_cnn"]', 1)
    slow_live = config.replace('{ notebook = "10", run = "fast", exercises = true }',
                               '{ notebook = "10", run = "full", exercises = true }', 1)
    for text, message in ((bad_prereq, r"prerequisites \['10'\] are not earlier notebooks"),
                          (bad_set, r"set \['02.1'\]: not exercises of this notebook"),
                          (bad_deck, r"slides \['04_cnn'\] are not decks"),
                          (slow_live, r"notebook 10 runs live in full mode.*fast mode")):
        assert text != config
        path = tmp_path / "course.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            schedule.Schedule.load(config=path)


# --- the guide tells the truth ---------------------------------------------------------------


def test_guide_pitfalls_match_the_code():
    import keras

    from course_lib import config, models

    default = inspect.signature(keras.optimizers.Adadelta).parameters["learning_rate"].default
    assert f"defaults to a learning rate of {default:g}" in GUIDE
    assert "learning_rate=1.0" in inspect.getdoc(models.lecture_cnn) and "Adadelta(learning_rate=1.0)" in GUIDE
    if keras.backend.backend() == "tensorflow":
        report = config.backend_report({"KERAS_BACKEND": "jax"})
        assert report.startswith("Keras backend: tensorflow, but KERAS_BACKEND='jax'.")
        assert "restart the kernel" in report and "restart the kernel" in GUIDE
    nb10 = (ROOT / "notebooks" / "10_self_scaling_cifar10_drift.ipynb").read_text(encoding="utf-8")
    assert "(run_wide is False)" in nb10 and "(run_wide is False)" in GUIDE
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^prefetch:", makefile, re.MULTILINE) and "make prefetch DIR=" in GUIDE
    assert "COURSE_DATA_DIR" in GUIDE


# --- the room check --------------------------------------------------------------------------

RUNS = """| notebook | mode | Keras backend | wall s | peak RSS GiB | machine |
|---|---|---|---:|---:|---|
| 06_convolutional_networks.ipynb | full | tensorflow | 600.0 | 1.7 | CPU X, 2 cores |
| 06_convolutional_networks.ipynb | fast | tensorflow | 60.0 | 1.5 | CPU X, 2 cores |
| 10_self_scaling_cifar10_drift.ipynb | full | tensorflow | 2400.0 | 3.8 | CPU Y, 2 cores |
"""
REFERENCE = """| probe | Keras backend | seconds per step | machine |
|---|---|---:|---|
| course CNN training step | tensorflow | 0.1000 | CPU X, 2 cores |
"""


def _fake_probe(step: float, gpu: bool = False):
    return lambda seconds=roomcheck.PROBE_SECONDS: roomcheck.Probe(step, 80, 128, "tensorflow", gpu, 12.0)


@pytest.mark.parametrize(("step", "gpu", "verdict"), [
    (0.1, False, "full mode"),       # as fast as the reference: 06 in 10 min
    (0.2, False, "fast mode"),       # twice as slow: 06 in 20 min in full mode, 2 min in fast
    (0.5, False, "Colab's GPU"),     # five times: even fast mode takes 5 min
    (0.5, True, "full mode"),        # a GPU
])
def test_room_check_scales_the_measured_times_and_recommends(monkeypatch, step, gpu, verdict):
    monkeypatch.setattr(roomcheck, "probe", _fake_probe(step, gpu))
    found = roomcheck.room_check(runs_text=RUNS, reference_text=REFERENCE)
    ratio = step / 0.1
    assert found.estimates[("06", "full")] == pytest.approx(600.0 * ratio)
    assert found.estimates[("10", "full")] == pytest.approx(2400.0 * ratio)
    assert found.verdict == verdict
    report = str(found)
    assert f"Recommendation: {verdict}" in report and "notebook 06, full mode" in report
    assert "(40 min on CPU Y, 2 cores)" in report  # measured elsewhere: said so


def test_room_check_without_results_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(roomcheck, "probe", _fake_probe(0.1))

    def missing(name):
        raise FileNotFoundError(f"results/{name} is not next to this course_lib")

    monkeypatch.setattr(roomcheck, "results_text", missing)
    found = roomcheck.room_check()
    assert found.verdict == "unknown" and "notebook_runs.md" in found.why
    assert "Room check: 0.100 s per training step" in str(found)


def test_room_check_refuses_bad_input_with_the_fix():
    with pytest.raises(ValueError, match=r"seconds=-1: give the probe's timed seconds"):
        roomcheck.probe(-1)
    with pytest.raises(ValueError, match=r"batch_size=0: give a positive integer"):
        roomcheck.probe(batch_size=0)
    with pytest.raises(ValueError, match=r"no reference probe for the Keras backend 'jax'"):
        roomcheck.reference(REFERENCE, backend="jax")


def test_importing_the_room_check_loads_no_keras():
    done = subprocess.run([sys.executable, "-c", "import sys, course_lib.roomcheck; "
                           "print('keras' in sys.modules or 'tensorflow' in sys.modules)"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.slow
def test_estimates_here_are_within_a_factor_of_two_of_the_measured_times():
    """On the machine that measured the notebooks, the room check's estimates (from 10-20 s of
    probing) land within a factor of 2 of what the whole notebooks took."""
    from course_lib.environment import cpu_cores, cpu_model

    ref_seconds, ref_machine = roomcheck.reference(roomcheck.results_text(roomcheck.REFERENCE_FILE))
    here = f"{cpu_model()}, {cpu_cores()} cores"
    if here != ref_machine:
        pytest.skip(f"the reference probe ran on {ref_machine}, this is {here}")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the reference and the notebook times were measured on TensorFlow")
    found = roomcheck.room_check()  # how long it takes is results/roomcheck.md's, not a test's
    compared = {key: (found.estimates[key], run.seconds) for key, run in found.measured.items()
                if run.machine == ref_machine and run.seconds >= 30}
    assert ("06", "full") in compared
    off = {key: f"estimated {est:.0f} s, measured {measured:.0f} s"
           for key, (est, measured) in compared.items() if not 0.5 <= est / measured <= 2}
    assert off == {}, f"estimates more than 2x off: {off} (probe {found.probe})"
