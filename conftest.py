"""Test-suite settings shared by the unit tests and the notebooks (run by nbval).

Fast mode unless ``COURSE_FAST`` says otherwise; figures never open windows; each pytest-xdist
worker (``make test`` runs ``-n 2 --dist loadfile``) takes whole test files and whole notebooks.
Notebook 11 uses what notebook 10 leaves when it is there, and trains its networks itself when not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from course_lib.runner import openmp_threads

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONFAULTHANDLER", "1")  # a crashing kernel prints its Python stack
# Side-by-side workers and their kernels share the cores (PyTorch's OpenMP threads spin).
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(openmp_threads(_workers)))
# Notebook 10's handoff to 11 and JAX's compilation cache live in this run's own folders, never
# in the user's cache; xdist's workers inherit the controller's, removed at its end.
_run_folders: list[str] = []
for _variable in ("COURSE_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR"):
    if _variable not in os.environ:
        os.environ[_variable] = tempfile.mkdtemp(prefix=_variable.lower() + "_")
        _run_folders.append(os.environ[_variable])
for _variable in ("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"):
    os.environ.setdefault(_variable, "0")  # share every compiled program

collect_ignore_glob = ["tests/fixtures/*"]  # input to tests/test_jobs.py, not a notebook to test

# Files whose results cannot depend on the Keras backend (CI runs them on TensorFlow only), and
# files that never use Keras (CI runs them once per Python/NumPy stack).
BACKEND_INDEPENDENT = {"test_browser.py", "test_docs.py", "test_exercises.py", "test_jobs.py",
                       "test_lint.py", "test_notebook_hygiene.py", "test_packaging.py",
                       "test_provenance.py", "test_results_files.py", "test_site.py",
                       "test_slides.py", "build_slides.py", "figures.py", "slide_metadata.py"}
KERAS_FREE = {"test_data.py", "test_errors.py", "test_exercise_checks.py", "test_runner.py"}
# Keras layers, training and one notebook that checks backprop against the backend's autodiff on
# real data: what CI runs per push in the environments besides the lock's TensorFlow.
SMOKE = {"test_models.py", "03_cross_entropy.ipynb"}
_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.name in BACKEND_INDEPENDENT:
            item.add_marker(pytest.mark.backend_independent)
        if path.name in KERAS_FREE:
            item.add_marker(pytest.mark.keras_free)
        if path.name in SMOKE:
            item.add_marker(pytest.mark.smoke)
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = Path(report.nodeid.split("::")[0])
    if path.suffix == ".ipynb":
        _notebook_seconds[path.name] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if _notebook_seconds:
        terminalreporter.section("notebooks: wall time (kernel start and every cell)")
        for name, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{name:<45} {seconds:7.1f} s")


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _run_folders:
        shutil.rmtree(folder, ignore_errors=True)
