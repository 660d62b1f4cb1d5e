"""Attendee versions of the notebooks: the same notebooks with the exercise solutions removed.

    python -m release.make_attendee                  # notebooks/*.ipynb -> build/attendee/
    python -m release.make_attendee --out DIR NB...  # chosen notebooks, another folder

The committed notebooks are the instructor version. A solution is any cell tagged
``solution`` (see CONTRIBUTING.md): a code solution becomes an empty ``# your code here``
cell, a markdown solution a ``*Your answer here.*`` cell, both tagged ``exercise`` so the
place to write stays visible. Outputs are cleared. Running it again gives the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "attendee"
SOLUTION = "solution"
CODE_PLACEHOLDER = "# your code here"
MARKDOWN_PLACEHOLDER = "*Your answer here.*"


def is_solution(cell) -> bool:
    return SOLUTION in cell.get("metadata", {}).get("tags", [])


def placeholder(cell):
    """The empty cell an attendee sees where the instructor version has a solution."""
    if cell.cell_type == "markdown":
        new = nbformat.v4.new_markdown_cell(MARKDOWN_PLACEHOLDER)
    else:
        new = nbformat.v4.new_code_cell(CODE_PLACEHOLDER)
    new.id = cell.get("id", new.id)
    slideshow = cell.get("metadata", {}).get("slideshow")
    new.metadata = {"tags": ["exercise"], **({"slideshow": slideshow} if slideshow else {})}
    return new


def attendee_version(nb):
    """Return ``(notebook, number of solutions removed)``; ``nb`` is left unchanged."""
    out = nbformat.from_dict(nb)
    removed = 0
    cells = []
    for cell in out.cells:
        if is_solution(cell):
            cells.append(placeholder(cell))
            removed += 1
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    out.cells = cells
    return out, removed


def build(paths: list[Path], out: Path = DEFAULT_OUT) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        attendee, removed = attendee_version(nb)
        nbformat.validate(attendee)
        nbformat.write(attendee, out / path.name)
        report[path.name] = removed
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    report = build(paths, args.out)
    for name, removed in report.items():
        note = "" if removed else "  (no solution cells: are its exercises tagged?)"
        print(f"{args.out / name}: {removed} solution cell(s) removed{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
