"""Execute the website's notebooks two at a time into its jupyter-cache, before Sphinx reads them.

myst-nb runs a notebook when Sphinx reads its page, one page after another, and a notebook's
kernel mostly keeps one core busy (Python, tracing, small batches). ``tools/build_site.py``
calls :func:`execute_missing` first: it runs every notebook the cache lacks in a pool of
processes and stores the results exactly as myst-nb would, so Sphinx then finds each one in the
cache. Each worker runs the notebook Sphinx will read (``course_site.site_notebook``), so the
cache's hash (the code cells and the kernel) matches. Notebooks 10 and 11 run in one worker,
in that order: 11 reads what 10 leaves in ``COURSE_CACHE_DIR``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat

from tools import course_site

#: Notebooks that run in one worker, in this order (11 reads 10's results); the test suite's
#: workers keep them together too (the root ``conftest.py``).
CHAINED = ("10_self_scaling_cifar10_drift.ipynb", "11_self_scaling_vs_static.ipynb")


def openmp_threads(workers: int) -> int:
    """OpenMP threads for each of ``workers`` processes that share this process's cores.

    PyTorch's CPU kernels run on OpenMP threads, which spin while they wait for each other: two
    processes with a thread per core each trained a 5-layer network 25 times slower on 2 cores
    (97 s instead of 4 s). The count is ``course_lib.environment.cpu_cores()``'s, which cannot
    be used here: it imports Keras, and the test suite must set this before any backend loads.

    >>> openmp_threads(1) >= openmp_threads(2) >= 1
    True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def notebook_as_read(path: Path) -> nbformat.NotebookNode:
    """The notebook as Sphinx reads it for its page (what myst-nb would execute)."""
    text = course_site.site_notebook(path.read_text(encoding="utf-8"), path.name,
                                     course_site.Repo.load())
    return nbformat.reads(text, as_version=4)


def chains(paths: list[Path]) -> list[list[Path]]:
    """One list per worker task: the chained notebooks together, every other one alone.

    >>> [[p.name for p in c] for c in chains([Path("a/09_x.ipynb"), Path("a/" + CHAINED[1]),
    ...                                       Path("a/" + CHAINED[0])])]
    [['10_self_scaling_cifar10_drift.ipynb', '11_self_scaling_vs_static.ipynb'], ['09_x.ipynb']]
    """
    together = sorted((p for p in paths if p.name in CHAINED), key=lambda p: CHAINED.index(p.name))
    return ([together] if together else []) + [[p] for p in sorted(paths) if p.name not in CHAINED]


#: How often a notebook's kernel is started before a death at start counts as a failure
#: (here, in the test suite's nbval runs, and in its nbconvert runs).
KERNEL_START_ATTEMPTS = 3
#: What jupyter_client raises when a kernel dies before it answers its first message.
KERNEL_DIED_AT_START = "Kernel died before replying to kernel_info"


def execute_restarting_dead_kernels(
    path: Path, timeout: int, execute=None, attempts: int = KERNEL_START_ATTEMPTS
):
    """Execute ``path`` with ``execute`` (jupyter-cache's), again if its kernel dies at start.

    Two notebooks run side by side, and a kernel can die before its first cell for reasons
    outside the notebook (jupyter_client picks free ports, and another process may take one
    before the kernel listens). Nothing ran, so a new kernel loses nothing. An error after a
    cell ran is the notebook's own and is returned as it is.

    >>> calls = []
    >>> def dies_once(nb, **kwargs):
    ...     calls.append(1)
    ...     if len(calls) == 1:
    ...         raise RuntimeError(KERNEL_DIED_AT_START)
    ...     return "executed"
    >>> execute_restarting_dead_kernels(Path("notebooks/00_setup_and_environment.ipynb"), 60,
    ...                                 dies_once)  # doctest: +ELLIPSIS
    kernel of 00_setup_and_environment.ipynb died at start (try 1 of 3): ...; starting a new one
    'executed'
    """
    if execute is None:
        from jupyter_cache.executors.utils import single_nb_execution as execute
    for attempt in range(1, attempts + 1):
        nb = notebook_as_read(path)  # a fresh copy: execution fills it in place
        try:
            return execute(nb, cwd=str(path.parent), allow_errors=False, timeout=timeout,
                           meta_override=True)
        except RuntimeError as error:
            ran = any(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
            if ran or attempt == attempts:
                raise RuntimeError(f"{path.name}: kernel failed after {attempt} start(s): {error}") \
                    from error
            print(f"kernel of {path.name} died at start (try {attempt} of {attempts}): {error}; "
                  "starting a new one", flush=True)


def run_chain(paths: list[Path], env: dict[str, str], timeout: int) -> list[tuple]:
    """Execute ``paths`` in order in this process: ``(path, notebook, seconds, error text)`` each.

    Stops at the first failure: a later notebook of a chain needs the earlier one's results.
    """
    os.environ.clear()
    os.environ.update(env)  # the kernels inherit it: fast or full mode, the handoff folder
    done = []
    for path in paths:
        result = execute_restarting_dead_kernels(path, timeout)
        done.append((path, result.nb, result.time, result.exc_string if result.err else None))
        if result.err is not None:
            break
    return done


def data_sources(nb: nbformat.NotebookNode) -> str:
    """Where an executed notebook's datasets came from, as its data-loading lines printed them
    (the same summary the test suite prints for nbval's runs)."""
    from course_lib.data import announced_sources, printed_text

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    return ", ".join(sorted(announced_sources(printed_text(outputs)))) or "no dataset"


def execute_missing(notebooks: list[Path], mode: str, env: dict[str, str], workers: int = 2) -> int:
    """Run the notebooks the ``mode`` cache lacks, ``workers`` at a time; return how many ran.

    Raises RuntimeError naming the notebook (with its traceback) when one fails.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    cache = get_cache(str(course_site.cache_dir(mode)))
    missing = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(notebook_as_read(path))
        except KeyError:
            missing.append(path)
    if not missing:
        return 0
    print(f"executing {len(missing)} notebook(s), {workers} at a time: "
          f"{', '.join(p.stem for p in missing)}", flush=True)
    timeout = course_site.CELL_TIMEOUT_S[mode]
    if workers > 1:  # kernels side by side share the cores (see openmp_threads)
        env = dict(env, OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", str(openmp_threads(workers))))
    # spawn, not fork: the workers start clean whatever this process has loaded
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(run_chain, chain, env, timeout) for chain in chains(missing)]
        for future in as_completed(futures):
            for path, nb, seconds, error in future.result():
                if error is not None:
                    raise RuntimeError(f"{path.name} failed while executing for the site:\n{error}")
                # The one writer of the cache is this process, as when myst-nb executes.
                record = cache.add_nb_to_project(str(path))
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, record.uri, data={"execution_seconds": seconds}),
                    check_validity=False, overwrite=True)
                print(f"  {path.stem}: executed in {seconds:.0f} s; data: {data_sources(nb)}",
                      flush=True)
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, start nothing more
    return len(missing)
