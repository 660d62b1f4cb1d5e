"""Headless Chromium for the tests: find an installed one, launch it, keep it offline.

Used by ``tests/test_slides.py``, ``tests/test_site.py`` and ``tests/test_browser.py``. Playwright drives the
system Chromium (``executable_path``); ``playwright install`` is never needed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

# Flags that work headless as root in containers, and keep Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
]


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    for path in ([env] if env else []) + list(CANDIDATES):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


INSTALL_HINT = (
    "install Chromium to enable them (Debian/Ubuntu: `sudo apt-get install chromium`), "
    "or point CHROMIUM=/path/to/chrome at one"
)


def chromium_or_reason() -> tuple[str | None, str]:
    """Return (path, "") or (None, a one-line instruction). Never installs anything.

    The tests only use a browser that is already there: a test suite must not change the
    machine it runs on. CI provisions Chromium itself (``.ci/run``).
    """
    found = find_chromium()
    return (found, "") if found else (None, f"no Chromium found: {INSTALL_HINT}")


@contextmanager
def launch(executable: str):
    """A Playwright Chromium with a fresh profile; yields the browser."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 800},
            )
            try:
                yield context
            finally:
                context.close()


def block_outside(context, allowed: tuple[str, ...]) -> list[str]:
    """Abort every request whose URL does not start with one of ``allowed``.

    Returns the list the blocked URLs are appended to, so a test can assert it stays empty
    (nothing reached for the network) or report how much was held back.
    """
    blocked: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(allowed):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    return blocked


def nonblank_fraction(png: bytes) -> float:
    """Share of pixels that differ clearly from the most common colour (the background)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    differs = np.abs(pixels - background).sum(axis=1) > 60
    return float(differs.mean())
