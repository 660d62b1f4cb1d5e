"""Notebook policy: committed notebooks carry no outputs and follow the course's layout.

Outputs are produced on demand (``make executed``); results are checked by assertions
inside each notebook, which nbval runs in fast mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} carry outputs; clear them with "
        f"`jupyter nbconvert --clear-output --inplace {path}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_layout(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: name it NN_short_title.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        f"{path.name}: the first cell must be a markdown title"
    )
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Summary" in text, f"{path.name}: add a '## Summary' section"
    assert "## Exercises" in text, f"{path.name}: add an '## Exercises' section"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "course_lib.setup()" in code, f"{path.name}: start with mode = course_lib.setup()"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernel must be python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_asks_nbval_to_compare_outputs(path):
    """nbval runs with --nbval-lax and compares no outputs: a notebook passes when every cell
    runs, its assertions included. Checks belong in assertions, which nbval and the site
    build's execution (errors fatal) both enforce."""
    nb = nbformat.read(path, as_version=4)
    marked = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and (
        re.search(r"#\s*NBVAL_(CHECK_OUTPUT|RAISES_EXCEPTION)", cell.source)
        or {"nbval-check-output", "nbval-raises-exception"} & set(cell.metadata.get("tags", [])))]
    assert not marked, f"{path.name}: cells {marked} ask nbval to compare outputs; assert instead"
