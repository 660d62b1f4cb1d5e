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


def nvidia_smi() -> str | None:
    """The output of ``nvidia-smi`` (None when the command is absent or fails)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


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
    """CPU model and core count, e.g. 'AMD EPYC 7B13, 2 cores'."""
    return f"{cpu_model()}, {os.cpu_count()} cores"


def memory_gib() -> float | None:
    """Total RAM in GiB (None if psutil is missing)."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.virtual_memory().total / 2**30


def versions() -> dict[str, str]:
    """Versions of Python and the main libraries, as strings."""
    import keras
    import numpy
    import tensorflow as tf

    return {
        "Python": _platform.python_version(),
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
        "NumPy": numpy.__version__,
    }


def tf_devices() -> list[str]:
    """Devices TensorFlow can use, e.g. ['/physical_device:CPU:0']."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices()]
