"""A scratch virtual environment for tests that install the course somewhere new.

The tests for the wheel, the Colab setup cell and Binder's postBuild each need an environment
of their own to install ``course_lib`` into, without downloading TensorFlow again. The scratch
venv sees the running environment's packages through a folder of links that leaves
``course_lib`` out, so the only ``course_lib`` it can import is the one the test installs.
Needs symbolic links (POSIX).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

VENV_TIMEOUT_S = 120


def scratch_venv(where: Path) -> tuple[Path, Path]:
    """Create ``where/env``; return (its python, its site-packages folder)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "env")],
                   check=True, timeout=VENV_TIMEOUT_S)
    python = where / "env" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=VENV_TIMEOUT_S,
    ).stdout.strip())
    view = where / "packages"
    view.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name.lower()
        if "course_lib" in name or name.startswith("__editable__") or name.endswith(".pth"):
            continue  # the course itself, and .pth files (a linked folder does not run them)
        (view / entry.name).symlink_to(entry)
    (site / "course_deps.pth").write_text(f"{view}\n", encoding="utf-8")
    return python, site
