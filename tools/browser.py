"""Headless Chromium for the tests: find it (installing Debian's package when allowed).

Used by ``tests/test_slides.py`` and ``tests/test_browser.py``. Playwright drives the
system Chromium (``executable_path``); ``playwright install`` is never needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
INSTALL_TIMEOUT_S = 900

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


def ensure_chromium() -> tuple[str | None, str]:
    """Return (path, "") or (None, why it is unavailable), installing with apt-get as root."""
    found = find_chromium()
    if found:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, "Chromium is not installed and apt-get is not available to install it"
    if os.geteuid() != 0:
        return None, "Chromium is not installed; install it with `sudo apt-get install chromium`"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = []
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        try:
            done = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            return None, f"`{' '.join(cmd)}` took longer than {INSTALL_TIMEOUT_S} s"
        log.append(done.stdout[-500:] + done.stderr[-500:])
        if done.returncode != 0:
            return None, f"`{' '.join(cmd)}` failed (no package mirror?):\n" + log[-1]
    found = find_chromium()
    return (found, "") if found else (None, "apt-get install chromium did not provide a binary")


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
