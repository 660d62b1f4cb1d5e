"""Test-suite settings shared by unit tests and notebooks (nbval).

- Fast mode is on (``COURSE_FAST=1``) unless the caller set ``COURSE_FAST`` already.
- Plots never open windows (``MPLBACKEND=Agg``).
- The summary at the end prints each notebook's wall time and where its data came from,
  read from the line every data load prints (``course_lib.data.announced_sources``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Results notebooks hand to each other (notebook 10 -> 11) go to a folder of this test run,
# never into the user's own cache: tests write only into the repo, the temp folder and the venv.
os.environ.setdefault("COURSE_CACHE_DIR", tempfile.mkdtemp(prefix="course_cache_"))

# Test modules whose results cannot depend on the Keras backend (packaging, linting, the
# slides and the website's build and browser checks): CI runs them once, on TensorFlow, and
# the JAX and PyTorch runs deselect them with -m "not backend_independent".
BACKEND_INDEPENDENT = {"test_browser.py", "test_lint.py", "test_notebook_hygiene.py",
                       "test_packaging.py", "test_site.py", "test_slides.py"}

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_failed: set[str] = set()
_notebook_sources: dict[str, set[str]] = defaultdict(set)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).name in BACKEND_INDEPENDENT:
            item.add_marker(pytest.mark.backend_independent)


def _notebook_of(item: pytest.Item) -> str | None:
    path = Path(str(item.fspath))
    return path.name if path.suffix == ".ipynb" else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        name = _notebook_of(item)
        if name:
            _notebook_seconds[name] += time.perf_counter() - start
            # nbval keeps what the cell printed this run in ``test_outputs``.
            from course_lib.data import announced_sources, printed_text

            printed = printed_text(getattr(item, "test_outputs", None) or [])
            _notebook_sources[name] |= announced_sources(printed)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and report.nodeid.split("::")[0].endswith(".ipynb"):
        _notebook_failed.add(Path(report.nodeid.split("::")[0]).name)


def pytest_terminal_summary(terminalreporter) -> None:
    if not _notebook_seconds:
        return
    tr = terminalreporter
    tr.section("notebooks: wall time and data source")
    mode = "fast" if os.environ.get("COURSE_FAST") not in ("0", "", None) else "full"
    tr.write_line(f"mode: {mode}; data dir: {os.environ.get('COURSE_DATA_DIR') or '(unset)'}")
    for name in sorted(_notebook_seconds):
        status = "FAILED" if name in _notebook_failed else "ok"
        used = ", ".join(sorted(_notebook_sources.get(name, []))) or "no dataset"
        tr.write_line(f"{name:<45} {_notebook_seconds[name]:7.1f} s  {status:<6}  {used}")
