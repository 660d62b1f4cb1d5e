"""The test suite's own setup (the repository's ``conftest.py``): how pytest-xdist splits the work."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from queue import Empty

import pytest

ROOT = Path(__file__).resolve().parents[1]


def root_conftest():
    spec = importlib.util.spec_from_file_location("course_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_notebook_or_a_test_file_is_one_work_unit():
    work_unit = root_conftest().work_unit
    cells = {work_unit(f"notebooks/04_five_layer_network.ipynb::Cell {i}") for i in range(30)}
    assert cells == {"notebooks/04_five_layer_network.ipynb"}
    assert work_unit("tests/test_site.py::test_search[mnist]") == "tests/test_site.py"
    assert work_unit("notebooks/05_overfitting_and_dropout.ipynb::Cell 0") != work_unit(
        "notebooks/06_convolutional_networks.ipynb::Cell 0")


def test_notebook_11_runs_with_notebook_10_which_leaves_it_results():
    conftest = root_conftest()
    tenth, eleventh = (conftest.work_unit(f"notebooks/{name}::Cell 2") for name in conftest.RUN_TOGETHER)
    assert tenth == eleventh
    # and in that order: a work unit runs in collection order, which is the file names' order
    assert list(conftest.RUN_TOGETHER) == sorted(conftest.RUN_TOGETHER)
    assert all((ROOT / "notebooks" / name).is_file() for name in conftest.RUN_TOGETHER)


def test_workers_side_by_side_get_their_share_of_openmp_threads():
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) < 2:
        pytest.skip("checks pytest-xdist workers: run with -n 2 (as make test does)")
    # set by conftest.py before PyTorch loads, inherited by every notebook kernel
    assert int(os.environ["OMP_NUM_THREADS"]) >= 1


def kernel_that_dies(times: int, last_words: bytes):
    """A stand-in for nbval's kernel start that dies ``times`` times, printing ``last_words``."""
    calls = []

    def start(stderr, **kwargs):
        calls.append(kwargs)
        if len(calls) <= times:
            stderr.write(last_words)
            raise RuntimeError("Kernel died before replying to kernel_info")
        return "manager", "client"

    return start, calls


def test_a_kernel_that_dies_at_start_is_started_again_and_its_last_words_are_shown():
    start, calls = kernel_that_dies(1, b"zmq.error.ZMQError: Address already in use")
    with pytest.warns(UserWarning, match="try 1 of 3.*Address already in use"):
        assert root_conftest().start_kernel_retrying(start, kernel_name="python3") == ("manager", "client")
    assert calls == [{"kernel_name": "python3"}] * 2


def test_a_kernel_that_keeps_dying_fails_with_what_it_printed():
    start, calls = kernel_that_dies(5, b"ImportError: no module named ipykernel")
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="after 3 starts.*ImportError"):
        root_conftest().start_kernel_retrying(start, attempts=3)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="got 0"):
        root_conftest().start_kernel_retrying(start, attempts=0)


def test_notebooks_kernels_start_through_the_retry():
    import nbval.kernel

    assert nbval.kernel.start_new_kernel.func.__name__ == "start_kernel_retrying"


def test_a_kernel_that_dies_while_a_cell_runs_fails_the_cell_at_once_saying_how():
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel

    kernel = RunningKernel(CURRENT_ENV_KERNEL_NAME)  # as nbval starts a notebook's kernel
    try:
        msg_id = kernel.execute_cell_input(
            "import os, signal\n"  # a native library writes to the process's stderr, then aborts
            "os.write(2, b'last words before the abort')\n"
            "os.kill(os.getpid(), signal.SIGABRT)\n")
        started = time.monotonic()
        # nbval's own wait would sit out the whole timeout: the reply never comes.
        with pytest.raises(RuntimeError, match="(?s)killed by SIGABRT.*last words before the abort"):
            kernel.await_reply(msg_id, timeout=600)
        assert time.monotonic() - started < 60
    finally:
        kernel.stop()


def test_a_living_kernel_that_does_not_reply_in_time_times_out_as_before():
    class SilentKernel:
        km = None

        def is_alive(self):
            return True

    waits = []

    def no_reply(kernel, msg_id, timeout):
        waits.append(timeout)
        time.sleep(timeout)
        raise Empty

    with pytest.raises(Empty):
        root_conftest().await_reply_watching(no_reply, SilentKernel(), "id", timeout=0.3, check_every=0.1)
    assert 2 <= len(waits) <= 5 and max(waits) <= 0.1
