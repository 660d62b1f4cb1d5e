"""Files generated from another source of truth: write them, or check that they have not drifted.

Shared by ``tools/export_requirements.py`` (``requirements/*.txt`` from ``uv.lock``) and
``tools/package_files.py`` (``course_lib/course_files`` from the repository's originals);
:func:`prepare_out` by the slide and website builders (``tools/build_slides.py``,
``tools/build_site.py``).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path


def sync(path: Path, text: str, check: bool) -> bool:
    """Make ``path`` hold ``text`` (unless ``check``); return whether it differed."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    if not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return True


def command_line(run: Callable[[bool], list[str]], description: str, in_sync: str,
                 argv: list[str] | None = None) -> int:
    """``--check`` only reports (exit 1 on drift); without it the files are rewritten."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    args = parser.parse_args(argv)
    stale = run(args.check)
    verb = "out of date" if args.check else "written"
    print(f"{verb}: {', '.join(stale)}" if stale else in_sync)
    return 1 if (stale and args.check) else 0


def prepare_out(out: Path, marker: str, what: str) -> None:
    """Empty ``out`` for a new build of ``what`` (e.g. "slide build"), but only if it is empty or
    holds an earlier one; leave ``marker`` in it.

    A folder the builder did not write (no ``marker`` file in it) is never deleted: ``--out``
    pointed at the wrong place must cost nothing.
    """
    if out.exists():
        if not out.is_dir():
            raise RuntimeError(f"--out {out} is a file; give a folder for the {what}.")
        if any(out.iterdir()) and not (out / marker).is_file():
            raise RuntimeError(
                f"--out {out} holds files that are not an earlier {what} (no {marker}); "
                "choose an empty or new folder, or delete it yourself."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / marker).write_text(f"{what}, written by the course's tools; safe to delete\n",
                              encoding="utf-8")
