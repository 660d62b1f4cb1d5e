"""Test-suite settings shared by unit tests and notebooks (nbval).

- Fast mode is on (``COURSE_FAST=1``) unless the caller set ``COURSE_FAST`` already.
- Plots never open windows (``MPLBACKEND=Agg``).
- The summary at the end prints each notebook's wall time and where its data came from,
  read from the line every data load prints (``course_lib.data.announced_sources``).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import tempfile
import time
import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from queue import Empty

import pytest

from tools.site_execute import CHAINED, KERNEL_START_ATTEMPTS, openmp_threads

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# A process that crashes (a notebook's kernel, a training job a test starts) prints the Python
# stack of every thread to its stderr first, which the reports below then show.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")
# pytest-xdist workers (``make test`` runs two) share the cores, and so do the notebook kernels
# they start: each gets its share of OpenMP threads (PyTorch slows down 25-fold otherwise; see
# ``openmp_threads``). Set before anything imports PyTorch; the kernels inherit it.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(openmp_threads(_workers)))
# Results notebooks hand to each other (notebook 10 -> 11) go to a folder of this test run,
# never into the user's own cache: tests write only into the repo, the temp folder and the venv.
# The folders this process made for the run are removed at its end (pytest_unconfigure);
# pytest-xdist's workers inherit the controller's.
_run_folders: list[str] = []


def _run_folder(variable: str, prefix: str) -> None:
    if variable not in os.environ:
        os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
        _run_folders.append(os.environ[variable])


_run_folder("COURSE_CACHE_DIR", "course_cache_")
# On JAX every new model, and every new shape of an eager operation, is an XLA compile (up to
# a second each on a laptop CPU); many tests and notebooks compile the same programs again in
# their own processes. JAX's persistent compilation cache, keyed by the program, the JAX
# version and the machine, lets them share one folder of this test run. Other backends
# ignore these variables. (Where JAX cannot reload an entry, as on some Intel CPUs in
# jax-ml/jax#38445, it compiles again and logs an error: slower, never wrong.)
_run_folder("JAX_COMPILATION_CACHE_DIR", "jax_compilation_cache_")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# The job scripts' fixture notebook is input to tests/test_jobs.py, which runs it through the
# scripts; nbval running it on its own as well, in every stage, checked nothing more.
collect_ignore_glob = ["tests/fixtures/*"]

# Test modules whose results cannot depend on the Keras backend (packaging, linting, the
# slides, the website's build and browser checks, the attendee notebooks, whose instructor
# versions nbval runs on every backend, and the batch-job scripts, which pass the environment
# through to what they run and are tested on a fixture notebook without Keras):
# CI runs them once, on TensorFlow, and the JAX and PyTorch runs deselect them with
# -m "not backend_independent". (The self-scaling runs the seeds job starts are tested on every
# backend in test_selfscaling.py and notebook 10.)
BACKEND_INDEPENDENT = {"test_browser.py", "test_exercises.py", "test_jobs.py", "test_lint.py",
                       "test_notebook_hygiene.py", "test_packaging.py", "test_site.py",
                       "test_slides.py"}
# Test modules that never use Keras (dataset loading, the exercise checkers): the backend
# cannot change their results, Python's and NumPy's versions can. CI runs them in the lock's and
# the Colab stack's TensorFlow runs; the JAX and PyTorch runs deselect them with -m "not keras_free".
KERAS_FREE = {"test_data.py", "test_exercise_checks.py"}

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_failed: set[str] = set()
_notebook_sources: dict[str, set[str]] = defaultdict(set)


#: Notebooks that must run in this order in one process: 11 reads what 10 leaves in the
#: test run's ``COURSE_CACHE_DIR`` (the site build chains the same two).
RUN_TOGETHER = CHAINED


#: How often a cell's wait for its kernel checks that the kernel is still alive.
KERNEL_CHECK_SECONDS = 5.0
#: How much of a kernel's stderr a failure report shows (its end).
KERNEL_STDERR_SHOWN = 3000
# Every kernel's stderr, a temporary file kept open as long as its kernel manager lives.
_kernel_stderr: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# The kernels whose stderr a failure report has shown.
_stderr_reported: weakref.WeakSet = weakref.WeakSet()


def start_kernel_retrying(start: Callable, attempts: int = KERNEL_START_ATTEMPTS, **kwargs):
    """Start a notebook's kernel with ``start`` (nbval's), again if it dies before running a cell.

    A kernel can die at start for reasons outside its notebook: jupyter_client picks free ports,
    and another process may take one before the kernel binds it (two test workers start
    kernels side by side). Nothing has run yet, so a new kernel loses nothing. nbval throws
    the kernel's stderr away; here it goes to a temporary file, shown in the warning or the
    final error, and kept for the kernel's life (``kernel_stderr``).

    >>> start_kernel_retrying(lambda stderr, **kwargs: ("manager", "client"))
    ('manager', 'client')
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts!r}")
    for attempt in range(1, attempts + 1):
        stderr = tempfile.TemporaryFile()  # the kernel writes into it through its own handle
        try:
            manager, client = start(**{**kwargs, "stderr": stderr})
        except RuntimeError as error:
            why = f"{error}; the kernel printed: {_tail(stderr) or '(nothing)'}"
            stderr.close()
            if attempt == attempts:
                raise RuntimeError(f"no kernel after {attempts} starts: {why}") from error
            warnings.warn(f"a notebook kernel died at start (try {attempt} of {attempts}): {why}",
                          stacklevel=2)
        else:
            try:
                _kernel_stderr[manager] = stderr
            except TypeError:  # a stand-in manager (a string in the tests) cannot be a weak key
                stderr.close()
            return manager, client


def _tail(stderr, size: int = KERNEL_STDERR_SHOWN) -> str:
    """The last ``size`` bytes of a file a child process writes to, read without moving its
    offset (the child shares it: a seek here would make it overwrite what it wrote)."""
    stderr.flush()  # what this process wrote itself (the tests' stand-ins)
    length = os.fstat(stderr.fileno()).st_size
    start = max(0, length - size)
    return os.pread(stderr.fileno(), length - start, start).decode(errors="replace").strip()


def kernel_stderr(manager) -> str:
    """The end of what a kernel started by ``start_kernel_retrying`` wrote to its stderr.

    After a crash, Python's fault handler (``PYTHONFAULTHANDLER``) prints every thread's stack;
    the part kept is what came before it (a native library's last message) and the stack of
    the thread that crashed.
    """
    stderr = _kernel_stderr.get(manager)
    if stderr is None or stderr.closed:
        return ""
    text = _tail(stderr, 10 * KERNEL_STDERR_SHOWN)
    fatal = text.find("Fatal Python error")
    if fatal < 0:
        return text[-KERNEL_STDERR_SHOWN:]
    crashed = text.find("Current thread", fatal)
    return "\n".join([text[:fatal][-KERNEL_STDERR_SHOWN:].strip(), text[fatal:].splitlines()[0],
                      text[crashed:][:KERNEL_STDERR_SHOWN] if crashed >= 0 else ""]).strip()


def how_it_ended(manager) -> str:
    """'killed by SIGABRT', 'exited with code 1', or 'ended' when the exit status is unknown."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    code = getattr(process, "returncode", None)
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def await_reply_watching(await_reply: Callable, kernel, msg_id: str, timeout: float | None = None,
                         check_every: float = KERNEL_CHECK_SECONDS):
    """nbval's wait for a cell's reply, which also fails within ``check_every`` seconds when the
    kernel dies, saying how it ended and what it printed last.

    nbval checks that the kernel is alive only before each cell: a kernel that dies while a
    cell runs (a native library aborting, the memory killer) left the test waiting out the whole
    cell timeout (900 s) and then failing with no reason given.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = check_every if deadline is None else min(check_every, deadline - time.monotonic())
        try:
            return await_reply(kernel, msg_id, timeout=max(wait, 0.0))
        except Empty:
            if not kernel.is_alive():
                raise RuntimeError(
                    f"the notebook's kernel {how_it_ended(kernel.km)} while this cell ran; "
                    f"its stderr ends with:\n{kernel_stderr(kernel.km) or '(nothing)'}") from None
            if deadline is not None and time.monotonic() >= deadline:
                raise


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("nbval"):
        import nbval.kernel

        # nbval's RunningKernel starts every notebook's kernel through this module function.
        nbval.kernel.start_new_kernel = functools.partial(start_kernel_retrying,
                                                          nbval.kernel.start_new_kernel)
        # ...and every cell waits for its kernel's reply through this method.
        nbval_await_reply = nbval.kernel.RunningKernel.await_reply

        def await_reply(kernel, msg_id: str, timeout: float | None = None):
            return await_reply_watching(nbval_await_reply, kernel, msg_id, timeout)

        nbval.kernel.RunningKernel.await_reply = await_reply


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _run_folders:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).name in BACKEND_INDEPENDENT:
            item.add_marker(pytest.mark.backend_independent)
        if Path(str(item.fspath)).name in KERAS_FREE:
            item.add_marker(pytest.mark.keras_free)
        if _notebook_of(item.nodeid):
            item.add_marker(pytest.mark.notebook)


def work_unit(nodeid: str) -> str:
    """What one pytest-xdist worker runs whole and in order: a test file, or a notebook's cells.

    A notebook's cells share one kernel, and a module's fixtures (a built site, a wheel) are
    made once; notebooks 10 and 11 form one unit, so that 11 finds what 10 left
    (``tests/test_suite_setup.py``).
    """
    path = nodeid.split("::")[0]
    if Path(path).name in RUN_TOGETHER:
        return str(Path(path).with_name(RUN_TOGETHER[0]))
    return path


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without xdist there is nothing to do
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``-n N`` (``make test`` uses 2): hand whole work units to workers, largest first."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        # The scope-splitting method is what xdist's own loadfile and loadgroup modes override.
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


def _notebook_of(nodeid: str) -> str | None:
    path = Path(nodeid.split("::")[0])
    return path.name if path.suffix == ".ipynb" else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Runs where the cell ran (an xdist worker, or this process): user properties travel with
    # the report to the process that prints the summary.
    if call.when == "call" and _notebook_of(item.nodeid):
        # nbval keeps what the cell printed this run in ``test_outputs``.
        from course_lib.data import announced_sources, printed_text

        printed = printed_text(getattr(item, "test_outputs", None) or [])
        item.user_properties.append(("data_sources", sorted(announced_sources(printed))))
    report = yield
    kernel = getattr(item.parent, "kernel", None)  # nbval's, for a notebook's cell
    if report.failed and kernel is not None and kernel.km not in _stderr_reported:
        # What the kernel printed outside the notebook (native libraries' messages, such as
        # XLA's about a stuck collective), once per kernel: its later cells fail after it.
        _stderr_reported.add(kernel.km)
        if "its stderr ends with" not in str(report.longrepr):
            report.sections.append(("kernel stderr", kernel_stderr(kernel.km) or "(nothing)"))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = _notebook_of(report.nodeid)
    if not name:
        return
    _notebook_seconds[name] += report.duration  # setup (the kernel's start), call, teardown
    for key, value in report.user_properties:
        if key == "data_sources":
            _notebook_sources[name] |= set(value)
    if report.failed:
        _notebook_failed.add(name)


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
