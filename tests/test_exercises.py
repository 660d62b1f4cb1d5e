"""Exercises with solutions: every notebook has them, and the attendee version drops the solutions.

The instructor version (the committed notebooks) runs in the notebook tests (nbval). Here:
the solutions are marked and each ends with its answer in words, the exercises come in order,
``release/make_attendee.py`` removes every solution and nothing else, and the attendee versions
of two small notebooks still run top to bottom.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from release import make_attendee
from slides import slide_metadata

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
# Executed in attendee form (time budget): one small notebook whose solutions are removed.
RUN_ATTENDEE = [p for p in NOTEBOOKS if p.name.startswith("01_")][:1] or NOTEBOOKS[:1]


def _solutions(nb) -> list:
    return [c for c in nb.cells if make_attendee.is_solution(c)]


def _code_lines(source: str) -> set[str]:
    """Lines that carry code (comments and short tokens like ')' are not evidence)."""
    lines = (line.strip() for line in source.splitlines())
    return {line for line in lines if len(line) > 3 and not line.startswith("#")}


@pytest.fixture(scope="module")
def attendee_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("attendee")
    done = subprocess.run(
        [sys.executable, "-m", "release.make_attendee", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_exercises_and_solutions(path):
    nb = nbformat.read(path, as_version=4)

    def first_cell_with(heading: str) -> int | None:
        pattern = re.compile(rf"^{re.escape(heading)}\s*$", re.MULTILINE)
        hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and pattern.search(c.source)]
        return hits[0] if hits else None

    summary, exercises = first_cell_with("## Summary"), first_cell_with("## Exercises")
    assert exercises is not None, f"{path.name} has no '## Exercises' section"
    assert summary is not None and summary <= exercises, f"{path.name}: '## Summary' must come before the exercises"
    solutions = [i for i, c in enumerate(nb.cells) if make_attendee.is_solution(c)]
    assert solutions, f"{path.name}: no solution cells (tag them 'solution', see CONTRIBUTING.md)"
    assert min(solutions) > exercises, f"{path.name}: a solution cell sits before '## Exercises'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_ends_with_a_worded_answer(path):
    """The last lines of each solution cell are a comment block that starts "# Answer:"."""
    for c in _solutions(nbformat.read(path, as_version=4)):
        if c.cell_type != "code":
            continue
        lines = c.source.rstrip().splitlines()
        tail = list(itertools.takewhile(lambda line: line.startswith("#"), reversed(lines)))
        assert tail and tail[-1].startswith("# Answer:"), \
            f"{path.name}: a solution ends without a '# Answer:' block:\n{c.source[-300:]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_come_in_their_order(path):
    cells = nbformat.read(path, as_version=4).cells
    offered = [int(m) for c in cells for m in re.findall(r'exercise\("\d+\.(\d+)"\)', c.source)]
    assert offered == sorted(offered), f"{path.name}: check cells in the order {offered}"
    start = next(i for i, c in enumerate(cells) if "## Exercises" in c.source)
    text = "\n".join(c.source for c in cells[start:] if c.cell_type == "markdown")
    listed = [int(m) for m in re.findall(r"^(\d+)\. ", text[text.find("## Exercises"):], re.M)]
    assert listed == list(range(1, len(listed) + 1)), f"{path.name}: exercises listed as {listed}"


def test_check_and_hint_are_explained_once_in_notebook_00():
    explained = [p.name for p in NOTEBOOKS for c in nbformat.read(p, as_version=4).cells
                 if c.cell_type == "markdown" and ".hint()" in c.source]
    assert explained == [NOTEBOOKS[0].name], explained


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_attendee_version_has_no_solutions(path, attendee_dir):
    instructor = nbformat.read(path, as_version=4)
    attendee = nbformat.read(attendee_dir / path.name, as_version=4)
    assert len(attendee.cells) == len(instructor.cells)
    solution_code = set().union(*(_code_lines(c.source) for c in _solutions(instructor)))
    kept_code = set().union(*(_code_lines(c.source) for c in instructor.cells if not make_attendee.is_solution(c)))
    leaked = []
    for before, after in zip(instructor.cells, attendee.cells, strict=True):
        if make_attendee.is_solution(before):
            assert after.metadata["tags"] == ["exercise"]
            assert after.source in (make_attendee.CODE_PLACEHOLDER, make_attendee.MARKDOWN_PLACEHOLDER)
            assert after.cell_type == before.cell_type
        else:
            assert after.source == before.source and after.cell_type == before.cell_type
            leaked += sorted(_code_lines(after.source) & (solution_code - kept_code))
    assert not any(make_attendee.is_solution(c) for c in attendee.cells)
    assert leaked == [], f"{path.name}: solution code left in the attendee version: {leaked}"
    assert all(not c.get("outputs") for c in attendee.cells if c.cell_type == "code")


def test_attendee_tool_is_deterministic(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 · Test\n\n## Exercises\n1. Compute 6 × 7."),
        nbformat.v4.new_code_cell("answer = 6 * 7\nprint(answer)", metadata={"tags": ["solution"]}),
        nbformat.v4.new_markdown_cell("Forty-two, because…", metadata={"tags": ["solution"]}),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="42\n")]
    src = tmp_path / "99_test.ipynb"
    nbformat.write(nb, src)
    first = make_attendee.build([src], tmp_path / "a")
    second = make_attendee.build([src], tmp_path / "b")
    assert first == second == {"99_test.ipynb": 2}
    assert (tmp_path / "a" / src.name).read_bytes() == (tmp_path / "b" / src.name).read_bytes()
    text = (tmp_path / "a" / src.name).read_text()
    assert "6 * 7" not in text and "Forty-two" not in text
    assert '"outputs": []' in text
    assert nbformat.read(src, as_version=4).cells[1].source.startswith("answer")  # source untouched


@pytest.mark.slow
@pytest.mark.parametrize("path", RUN_ATTENDEE, ids=lambda p: p.name)
def test_attendee_version_runs(path, attendee_dir):
    from course_lib import runner
    from course_lib.config import RunMode

    nb = nbformat.read(attendee_dir / path.name, as_version=4)
    # same working directory as the original
    run = runner.execute(nb, RunMode.from_env(), name=path.name, cwd=path.parent, timeout=300,
                         measure=False)
    assert run.ok, run.traceback
    setup_out = "".join(o.get("text", "") for c in run.notebook.cells for o in c.get("outputs", []))
    assert "Running in fast mode" in setup_out


# --- RISE slide metadata --------------------------------------------------------------------


def test_slide_metadata_rules():
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell
    cases = [
        (md("# 01 · Title"), "slide"),
        (md("## Section"), "slide"),
        (md("### Detail"), "subslide"),
        (md("Plain text"), "-"),
        (code("x = 1"), "-"),
        (code("x = 2", metadata={"tags": ["solution"]}), "fragment"),
        (code("import sys", metadata={"tags": ["colab-setup"]}), "skip"),
    ]
    for cell, expected in cases:
        assert slide_metadata.slide_type(cell) == expected, cell.source


def test_notebooks_have_slide_metadata():
    stale = slide_metadata.run(NOTEBOOKS, check=True)
    assert stale == [], f"no RISE metadata in {[p.name for p in stale]}; run `make colab` (or `python -m slides.slide_metadata`)"
