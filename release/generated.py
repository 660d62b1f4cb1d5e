"""Files generated from another source of truth: write them, or check that they have not drifted.

Shared by ``release/export_requirements.py`` (``requirements/*.txt`` from ``uv.lock``) and
``release/package_files.py`` (``course_lib/course_files`` from the repository's originals).
"""

from __future__ import annotations

import argparse
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
