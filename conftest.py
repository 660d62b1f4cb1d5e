"""Test-suite settings shared by unit tests and notebooks (nbval).

- Fast mode is on (``COURSE_FAST=1``) unless the caller set ``COURSE_FAST`` already.
- Plots never open windows (``MPLBACKEND=Agg``).
- Each notebook's kernel learns its notebook's name, so the data layer can log which
  data source every notebook used; the summary at the end prints that table together
  with each notebook's wall time.
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
_DATA_LOG = Path(tempfile.gettempdir()) / f"course_data_log_{os.getpid()}.tsv"
os.environ["COURSE_DATA_LOG"] = str(_DATA_LOG)
_DATA_LOG.unlink(missing_ok=True)

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_failed: set[str] = set()


def _notebook_of(item: pytest.Item) -> str | None:
    path = Path(str(item.fspath))
    return path.name if path.suffix == ".ipynb" else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Runs before nbval starts the notebook's kernel, which inherits the environment.
    # Data loaded by other tests (and their subprocesses) is not attributed to a notebook.
    os.environ["COURSE_NOTEBOOK"] = _notebook_of(item) or "(unit tests)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        name = _notebook_of(item)
        if name:
            _notebook_seconds[name] += time.perf_counter() - start


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and report.nodeid.split("::")[0].endswith(".ipynb"):
        _notebook_failed.add(Path(report.nodeid.split("::")[0]).name)


def pytest_terminal_summary(terminalreporter) -> None:
    if not _notebook_seconds:
        return
    sources: dict[str, set[str]] = defaultdict(set)
    if _DATA_LOG.exists():
        for line in _DATA_LOG.read_text(encoding="utf-8").splitlines():
            notebook, dataset, source, _detail = line.split("\t")
            sources[notebook].add(f"{dataset}: {source}")
    tr = terminalreporter
    tr.section("notebooks: wall time and data source")
    mode = "fast" if os.environ.get("COURSE_FAST") not in ("0", "", None) else "full"
    tr.write_line(f"mode: {mode}; data dir: {os.environ.get('COURSE_DATA_DIR') or '(unset)'}")
    for name in sorted(_notebook_seconds):
        status = "FAILED" if name in _notebook_failed else "ok"
        used = ", ".join(sorted(sources.get(name, []))) or "no dataset"
        tr.write_line(f"{name:<45} {_notebook_seconds[name]:7.1f} s  {status:<6}  {used}")
