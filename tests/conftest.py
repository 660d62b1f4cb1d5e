"""Fixtures shared by the tests: a real headless Chromium, and the results tables' provenance module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from helpers import browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path to an installed Chromium; skip with a one-line instruction where there is none."""
    pytest.importorskip("playwright", reason="Playwright is in the test extra: pip install -e '.[test]'")
    path, why = browser.chromium_or_reason()
    if path is None:
        pytest.skip(f"browser tests skipped, {why}")
    return path


@pytest.fixture(scope="module")
def prov():
    """``benchmarks/provenance.py``, the results tables' provenance (a script, loaded by path)."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("provenance", root / "benchmarks" / "provenance.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
