"""The code and the notebooks pass the linter (ruff; nbqa runs it on notebooks)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LINT_TIMEOUT_S = 300


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed: pip install -e '.[dev]' (or use `make test`)")
    return str(found)


def test_ruff_on_code():
    done = subprocess.run([tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=LINT_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_on_notebooks():
    done = subprocess.run(
        [tool("nbqa"), "ruff", "notebooks/"], cwd=ROOT, capture_output=True, text=True,
        timeout=LINT_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
