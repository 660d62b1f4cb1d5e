"""Which devices Keras can compute on, and what hardware they are. Used by notebook 07.

Device names are Keras's, the same on every backend (``"cpu:0"``, ``"gpu:0"``); ``with
keras.device(name):`` places the work there, whichever backend runs.

>>> devices = list_devices()
>>> devices[0].kind, devices[0].name
('CPU', 'cpu:0')
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import keras

from course_lib.environment import backend_version, cpu_cores, cpu_model, nvidia_smi


@dataclass(frozen=True)
class DeviceInfo:
    """One device Keras can compute on: ``name`` as ``keras.device`` takes it, ``description``
    the hardware (CPU model and cores, or the GPU's product name)."""

    kind: str
    name: str
    description: str

    def __str__(self) -> str:
        return f"{self.name:<6} {self.description}"


def _gpu_descriptions() -> list[str]:
    """The product name of every GPU the running backend can use, in its own numbering."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        found = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            cc = details.get("compute_capability")
            name = details.get("device_name", "GPU")
            found.append(f"{name}, compute capability {cc[0]}.{cc[1]}" if cc else name)
        return found
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def list_devices() -> list[DeviceInfo]:
    """The CPU and every GPU the Keras backend sees, with the hardware named."""
    found = [DeviceInfo("CPU", "cpu:0", f"{cpu_model()}, {cpu_cores()} cores usable")]
    found += [DeviceInfo("GPU", f"gpu:{i}", desc) for i, desc in enumerate(_gpu_descriptions())]
    return found


def check_device(name: str) -> str:
    """``name`` in Keras's spelling (``'cpu:0'``), or a ValueError naming the devices there are.

    >>> check_device("CPU:0")
    'cpu:0'
    """
    known = [d.name for d in list_devices()]
    spelled = str(name).strip().lower().removeprefix("/").removeprefix("device:")
    if spelled not in known:
        raise ValueError(f"device {name!r} not found; this machine has {known}.")
    return spelled


def place(name: str | None) -> contextlib.AbstractContextManager:
    """``keras.device(name)`` for a checked device name; no placement at all for ``None``.

    On PyTorch ``"cpu:0"`` becomes ``"cpu"``, the same place: under ``cpu:0`` Keras 3.15 builds
    integer variables (Dropout's seed) that lose their ``Parameter`` type.

    >>> with place("cpu:0"):
    ...     layer = keras.layers.Dropout(0.5)
    """
    if name is None:
        return contextlib.nullcontext()
    name = check_device(name)
    if keras.backend.backend() == "torch" and name == "cpu:0":
        name = "cpu"
    return keras.device(name)


def hardware_summary() -> str:
    """A few lines naming the machine: CPU, GPUs, the Keras backend and versions.

    >>> "CPU:" in hardware_summary()
    True
    """
    import platform

    lines = [f"CPU: {cpu_model()}, {cpu_cores()} cores usable (of {os.cpu_count()})"]
    gpus = [d for d in list_devices() if d.kind == "GPU"]
    backend = keras.backend.backend()
    lines += [f"GPU: {d.name} {d.description}" for d in gpus] or [f"GPU: none found by {backend}"]
    smi = nvidia_smi("--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader")
    lines += [f"nvidia-smi: {line.strip()}" for line in (smi or "").splitlines() if line.strip()]
    lines.append(f"Keras {keras.__version__} on {backend} {backend_version()}, "
                 f"Python {platform.python_version()}")
    return "\n".join(lines)
