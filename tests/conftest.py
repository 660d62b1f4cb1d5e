"""Fixtures shared by the tests that drive a real headless Chromium."""

from __future__ import annotations

import pytest

from tools import browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path to Debian's Chromium, installed on first use; skip, saying why, where it cannot be."""
    pytest.importorskip("playwright", reason="Playwright is in requirements.txt; pip install it")
    path, why = browser.ensure_chromium()
    if path is None:
        pytest.skip(f"headless Chromium unavailable: {why}")
    return path
