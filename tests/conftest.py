"""Fixtures shared by the tests that drive a real headless Chromium."""

from __future__ import annotations

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
