"""The test suite's own setup (the repository's ``conftest.py``): how pytest-xdist splits the work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_makefile_hands_whole_files_to_each_xdist_worker():
    """A notebook's cells share one kernel: ``--dist loadfile`` keeps a notebook on one worker."""
    assert (ROOT / "Makefile").read_text().count("--dist loadfile") == 2


def test_notebook_11_works_with_or_without_what_notebook_10_leaves():
    from course_lib.runner import CHAINED

    source = (ROOT / "notebooks" / CHAINED[1]).read_text()
    assert "load_drift_results" in source and "running the self-scaling networks now" in source


def test_the_hand_off_is_written_whole(tmp_path):
    from course_lib.selfscaling.drift import load_drift_results, save_drift_results

    path = save_drift_results(tmp_path / "r.json", {"a": 1}, {"k": 1})
    assert load_drift_results(path, {"k": 1}) == {"a": 1} and sorted(tmp_path.iterdir()) == [path]


def test_workers_side_by_side_get_their_share_of_openmp_threads():
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) < 2:
        pytest.skip("checks pytest-xdist workers: run with -n 2 (as make test does)")
    # set by conftest.py before PyTorch loads, inherited by every notebook kernel
    assert int(os.environ["OMP_NUM_THREADS"]) >= 1
