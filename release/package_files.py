"""Copy the repository files that notebooks show into ``course_lib/course_files``.

    python -m release.package_files            # refresh the packaged copies
    python -m release.package_files --check    # change nothing; exit 1 if a copy drifted

The list lives in ``course_lib.course_files.ORIGINALS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course_lib.course_files import ORIGINALS
from release import generated

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "course_lib" / "course_files"


def run(check: bool = False) -> list[str]:
    """Copy (or, with ``check``, compare) every original; return the copies that differ."""
    stale = []
    for name, original in ORIGINALS.items():
        text = (ROOT / original).read_text(encoding="utf-8")
        if generated.sync(TARGET / name, text, check):
            stale.append(str((TARGET / name).relative_to(ROOT)))
    return stale


def main(argv: list[str] | None = None) -> int:
    return generated.command_line(run, __doc__.splitlines()[0],
                                  "course_lib/course_files matches the originals", argv)


if __name__ == "__main__":
    sys.exit(main())
