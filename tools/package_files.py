"""Copy the repository files that notebooks show into ``course_lib/course_files``.

    python tools/package_files.py            # refresh the packaged copies
    python tools/package_files.py --check    # change nothing; exit 1 if a copy drifted

The list lives in ``course_lib.course_files.ORIGINALS``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course_lib.course_files import ORIGINALS  # noqa: E402

TARGET = ROOT / "course_lib" / "course_files"


def run(check: bool = False) -> list[str]:
    """Copy (or, with ``check``, compare) every original; return the copies that differ."""
    stale = []
    for name, original in ORIGINALS.items():
        text = (ROOT / original).read_text(encoding="utf-8")
        copy = TARGET / name
        if not copy.exists() or copy.read_text(encoding="utf-8") != text:
            stale.append(str(copy.relative_to(ROOT)))
            if not check:
                copy.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report copies that drifted")
    args = parser.parse_args(argv)
    stale = run(check=args.check)
    verb = "out of date" if args.check else "written"
    print(f"{verb}: {', '.join(stale)}" if stale else "course_lib/course_files matches the originals")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
