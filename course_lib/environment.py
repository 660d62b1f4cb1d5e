"""What machine is this notebook running on? Used by notebook 00.

>>> platform = detect_platform({"SLURM_JOB_ID": "123"})
>>> platform.name
'cluster (Slurm)'
"""

from __future__ import annotations

import os
import platform as _platform
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Platform:
    """Where the course runs, and advice that fits that place."""

    name: str
    advice: str


def detect_platform(environ: dict[str, str] | None = None, modules=None) -> Platform:
    """Recognise Colab, Binder, a Slurm/PBS cluster job, or a plain machine."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "google.colab" in modules or "COLAB_RELEASE_TAG" in environ:
        return Platform(
            "Google Colab",
            "For a GPU: Runtime > Change runtime type > T4 GPU, then run this notebook again.",
        )
    if "BINDER_SERVICE_HOST" in environ or "BINDER_REQUEST" in environ:
        return Platform(
            "Binder",
            "Binder has no GPU and a few CPU cores; the notebooks run, full mode is slow here.",
        )
    if "SLURM_JOB_ID" in environ:
        return Platform(
            "cluster (Slurm)",
            "Ask for a GPU with #SBATCH --gres=gpu:1 (see jobs/README.md); compute nodes are often "
            "offline, so point COURSE_DATA_DIR at prefetched data.",
        )
    if "PBS_JOBID" in environ:
        return Platform(
            "cluster (PBS)",
            "Ask for a GPU with #PBS -l select=1:ngpus=1 (see jobs/README.md); compute nodes are often "
            "offline, so point COURSE_DATA_DIR at prefetched data.",
        )
    return Platform(
        "local machine",
        "Every notebook runs on a CPU; full mode of the CNN and self-scaling notebooks takes minutes.",
    )


def nvidia_smi(*args: str, timeout: float = 20) -> str | None:
    """The output of ``nvidia-smi`` run with ``args`` (None without the command, or when it
    fails), e.g. ``nvidia_smi("--query-gpu=name", "--format=csv,noheader")``: one GPU a line."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def gpu_names() -> list[str]:
    """Names of the NVIDIA GPUs ``nvidia-smi`` lists (empty without the command or a GPU)."""
    out = nvidia_smi("--query-gpu=name", "--format=csv,noheader") or ""
    return [line.strip() for line in out.splitlines() if line.strip()]


def visible_gpu_count(environ: Mapping[str, str] | None = None) -> int:
    """NVIDIA GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else all it lists.

    >>> visible_gpu_count({"CUDA_VISIBLE_DEVICES": "0,2"})
    2
    >>> visible_gpu_count({"CUDA_VISIBLE_DEVICES": "-1"})
    0
    """
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        visible = environ["CUDA_VISIBLE_DEVICES"].strip()
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    return len(gpu_names())


def cpu_cores() -> int:
    """Cores this process may use: the scheduler's allocation on a cluster node, else all.

    >>> cpu_cores() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name, e.g. ``'Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz'``.

    >>> isinstance(cpu_model(), str) and len(cpu_model()) > 0
    True
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    if _platform.system() == "Darwin" and shutil.which("sysctl"):
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return _platform.processor() or _platform.machine() or "unknown CPU"


def cpu_description() -> str:
    """CPU model and the cores this process may use, e.g. 'AMD EPYC 7B13, 2 cores'."""
    cores, total = cpu_cores(), os.cpu_count() or 1
    return f"{cpu_model()}, {cores} cores" + (f" (of {total})" if cores < total else "")


def memory_gib() -> float | None:
    """Total RAM in GiB (None if psutil is missing)."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.virtual_memory().total / 2**30


class PeakRSS:
    """The largest resident memory of this process (``peak``, bytes) while the ``with`` block runs.

    >>> with PeakRSS(interval=0.01) as memory:
    ...     pass
    >>> memory.gib > 0
    True
    """

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.interval, self.peak = interval, 0
        self._process, self._stop = psutil.Process(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def gib(self) -> float:
        return self.peak / 2**30


#: Each backend Keras 3 can run on, and the package that provides it.
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def package_version(name: str) -> str | None:
    """The installed version of the package ``name`` (None when it is not installed).

    >>> package_version("no-such-package-here") is None
    True
    """
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed_backends() -> dict[str, str | None]:
    """Each Keras backend and the version of its package here (None: not installed); reads
    package metadata only, so it is safe to call before choosing a backend."""
    return {backend: package_version(package) for backend, package in BACKEND_PACKAGES.items()}


def backend_version() -> str:
    """The version of the package behind the Keras backend that runs, e.g. ``'2.21.0'``."""
    import keras

    package = BACKEND_PACKAGES.get(keras.backend.backend())
    return (package_version(package) if package else None) or "unknown"


def versions() -> dict[str, str]:
    """Versions of Python, Keras, the backend Keras runs on and NumPy, as strings."""
    import keras
    import numpy

    return {
        "Python": _platform.python_version(),
        "Keras": keras.__version__,
        f"backend: {keras.backend.backend()}": backend_version(),
        "NumPy": numpy.__version__,
    }


def git_commit(folder: Path | None = None) -> str | None:
    """Short commit of the checkout ``folder`` (default: course_lib's), '+' when it has local
    changes; None outside a git checkout or without git."""
    folder = folder or Path(__file__).resolve().parent
    git = shutil.which("git")
    if git is None:
        return None
    try:
        head = subprocess.run([git, "-C", str(folder), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run([git, "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


@dataclass(frozen=True)
class RunStamp:
    """When, on what machine and in which mode a notebook ran: the line atop every notebook
    page of the course website (``website/course_site.py`` adds it).

    >>> stamp = RunStamp("2026-11-22 14:03 UTC", "fast", "Intel Xeon, 2 cores, 23.5 GiB RAM, no GPU",
    ...                  "Python 3.11.7, TensorFlow 2.21.0, Keras 3.15.1", "1cbce00")
    >>> print(stamp)
    Executed 2026-11-22 14:03 UTC in fast mode (numbers are not results) on Intel Xeon, 2 cores, 23.5 GiB RAM, no GPU; Python 3.11.7, TensorFlow 2.21.0, Keras 3.15.1; commit 1cbce00.
    """

    when: str
    mode: str  # "fast" or "full"
    machine: str
    versions: str
    commit: str | None = None

    def _parts(self) -> tuple[str, str]:
        caveat = " (numbers are not results)" if self.mode == "fast" else ""
        commit = f"; commit {self.commit}" if self.commit else ""
        if self.commit and self.commit.endswith("+"):
            commit = f"; commit {self.commit[:-1]} with local changes"
        return caveat, commit

    def __str__(self) -> str:
        caveat, commit = self._parts()
        return (f"Executed {self.when} in {self.mode} mode{caveat} on {self.machine}; "
                f"{self.versions}{commit}.")

    def _repr_markdown_(self) -> str:
        caveat, commit = self._parts()
        return (f"**Executed** {self.when} in **{self.mode} mode**{caveat} on {self.machine}; "
                f"{self.versions}{commit}.")


def run_stamp(mode: str) -> RunStamp:
    """The :class:`RunStamp` of this process, now: the run ``mode`` (``"fast"``/``"full"``), this machine.

    >>> run_stamp("fast").mode
    'fast'
    """
    from datetime import UTC, datetime

    gpus = gpu_names()
    ram = memory_gib()
    machine = ", ".join([cpu_description()]
                        + ([f"{ram:.1f} GiB RAM"] if ram else [])
                        + [f"GPU: {', '.join(gpus)}" if gpus else "no GPU"])
    import keras

    found = [f"Keras {keras.__version__}", f"{keras.backend.backend()} {backend_version()}"]
    versions = ", ".join([f"Python {_platform.python_version()}", *found])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return RunStamp(when, mode, machine, versions, git_commit())
