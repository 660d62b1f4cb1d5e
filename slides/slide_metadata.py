"""RISE slide metadata for the notebooks, so instructors can present them live in JupyterLab.

    python -m slides.slide_metadata            # set metadata.slideshow.slide_type everywhere
    python -m slides.slide_metadata --check    # change nothing; exit 1 if anything is missing

The rule, applied to every cell (idempotent: a second run changes nothing):

==============================================  ============
markdown cell starting with ``#`` or ``##``      ``slide``
markdown cell starting with ``###``              ``subslide``
cell tagged ``colab-setup``                      ``skip``
exercise solution (tagged ``solution``)          ``fragment`` (appears on the next click)
any other cell (text, code)                      ``-`` (continues the current slide)
==============================================  ============

Open a notebook in JupyterLab and press the RISE button (or Alt+R) to present it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
RISE_SETTINGS = {"scroll": True}  # long slides scroll instead of being cut off


def slide_type(cell) -> str:
    tags = cell.get("metadata", {}).get("tags", [])
    if "colab-setup" in tags:
        return "skip"
    if "solution" in tags:
        return "fragment"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith("### "):
            return "subslide"
        if first.startswith(("# ", "## ")):
            return "slide"
    return "-"


def update(nb):
    for cell in nb.cells:
        cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type(cell)
    nb.metadata["rise"] = {**nb.metadata.get("rise", {}), **RISE_SETTINGS}
    return nb


def run(paths: list[Path], check: bool = False) -> list[Path]:
    stale = []
    for path in paths:
        before = nbformat.read(path, as_version=4)
        after = update(nbformat.read(path, as_version=4))
        if after != before:
            stale.append(path)
            if not check:
                nbformat.write(after, path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when stale")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    stale = run(paths, check=args.check)
    for path in stale:
        print(f"{'missing slide metadata' if args.check else 'updated'}: {path}")
    if args.check and stale:
        print("run: python -m slides.slide_metadata (or make colab)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
