"""Timing helpers: which devices there are, how long a call or an epoch takes, a table.

Timing on an accelerator has two traps, and every helper here avoids both:

- **The first call is not representative.** TensorFlow traces the Python function into a
  graph (and with ``jit_compile`` compiles it with XLA) on the first call, and again for
  each new input shape; cuDNN picks its algorithms; memory gets allocated. That warm-up
  is excluded: warm-up calls run first and are not timed.
- **GPU work is asynchronous.** A call returns before the GPU has finished. Timed
  callables have their result fetched (``.numpy()``), and ``model.fit`` ends each epoch
  by reading the loss, which waits for the device.

Example
-------
>>> t = time_callable(lambda: sum(range(10_000)), repeats=3, label="sum")
>>> len(t.times), t.seconds > 0
(3, True)
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from course_lib.environment import cpu_model

# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceInfo:
    """One device TensorFlow can compute on.

    ``name`` is what ``tf.device`` accepts (``/CPU:0``, ``/GPU:0``); ``description`` is
    the hardware (CPU model and cores, or the GPU's product name and compute capability).
    """

    kind: str
    name: str
    description: str

    def __str__(self) -> str:
        return f"{self.name:<8} {self.description}"


def cpu_cores() -> int:
    """Cores this process may use (the scheduler's allocation on a cluster node).

    >>> cpu_cores() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def list_devices() -> list[DeviceInfo]:
    """Every CPU and GPU TensorFlow sees, with the hardware named.

    >>> devices = list_devices()
    >>> devices[0].kind, devices[0].name
    ('CPU', '/CPU:0')
    """
    import tensorflow as tf

    found: list[DeviceInfo] = []
    for i, _ in enumerate(tf.config.list_physical_devices("CPU")):
        found.append(DeviceInfo("CPU", f"/CPU:{i}", f"{cpu_model()}, {cpu_cores()} cores usable"))
    for i, gpu in enumerate(tf.config.list_physical_devices("GPU")):
        details = tf.config.experimental.get_device_details(gpu)
        name = details.get("device_name", "GPU")
        cc = details.get("compute_capability")
        desc = f"{name}, compute capability {cc[0]}.{cc[1]}" if cc else name
        found.append(DeviceInfo("GPU", f"/GPU:{i}", desc))
    return found


def nvidia_smi() -> str | None:
    """``nvidia-smi``'s one-line-per-GPU summary (name, memory, driver), or None without it."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version",
             "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def hardware_summary() -> str:
    """A few lines naming the machine: CPU, GPUs, TensorFlow and Keras versions.

    >>> "CPU:" in hardware_summary()
    True
    """
    import tensorflow as tf

    lines = [f"CPU: {cpu_model()}, {cpu_cores()} cores usable (of {os.cpu_count()})"]
    gpus = [d for d in list_devices() if d.kind == "GPU"]
    lines += [f"GPU: {d.name} {d.description}" for d in gpus] or ["GPU: none found by TensorFlow"]
    smi = nvidia_smi()
    if smi:
        lines += [f"nvidia-smi: {line.strip()}" for line in smi.splitlines()]
    lines.append(
        f"TensorFlow {tf.__version__} (built with CUDA: {tf.test.is_built_with_cuda()}), "
        f"Keras {keras.__version__}, Python {platform.python_version()}"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Repeated measurements of one thing, in seconds; ``seconds`` is the median."""

    label: str
    times: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        if not self.times:
            raise ValueError(f"no measurements recorded for {self.label!r}.")
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    def __str__(self) -> str:
        spread = f" (best {self.best:.4g} s of {len(self.times)})" if len(self.times) > 1 else ""
        return f"{self.label}: {self.seconds:.4g} s{spread}"


def _check_count(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def _wait_for(result: Any) -> None:
    """Block until a (possibly asynchronous) TensorFlow result exists."""
    if hasattr(result, "numpy"):
        result.numpy()
    elif isinstance(result, (list, tuple)):
        for r in result:
            _wait_for(r)


def time_callable(
    fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1, label: str = ""
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    A TensorFlow result is fetched before the clock stops, so GPU work is counted.

    >>> t = time_callable(lambda: None, repeats=2, warmup=0)
    >>> len(t.times)
    2
    >>> time_callable(lambda: None, repeats=0)
    Traceback (most recent call last):
    ...
    ValueError: repeats must be an integer >= 1, got 0.
    """
    _check_count("repeats", repeats, 1)
    _check_count("warmup", warmup, 0)
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}.")
    for _ in range(warmup):
        _wait_for(fn())
    timing = Timing(label or getattr(fn, "__name__", "call"))
    for _ in range(repeats):
        start = time.perf_counter()
        _wait_for(fn())
        timing.times.append(time.perf_counter() - start)
    return timing


class EpochTimer(keras.callbacks.Callback):
    """A Keras callback that records the wall time of every epoch in ``.times`` (seconds).

    >>> timer = EpochTimer()
    >>> timer.times
    []
    """

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter() - self._start)


@dataclass
class EpochTiming(Timing):
    """Timed epochs of ``model.fit``: adds how much data one epoch saw."""

    samples: int = 0
    batch_size: int = 0
    device: str = ""

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds

    @property
    def ms_per_step(self) -> float:
        steps = -(-self.samples // self.batch_size)
        return 1000 * self.seconds / steps


def time_epoch(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    epochs: int = 1,
    warmup_batches: int = 2,
    device: str | None = None,
    label: str = "",
    **fit_kwargs: Any,
) -> EpochTiming:
    """Time ``epochs`` epochs of ``model.fit`` with tracing and compilation excluded.

    ``model`` is a compiled Keras model, or a function returning one: a function is
    called inside ``tf.device(device)`` so that the weights live on the timed device too.
    Before the clock starts, one short untimed ``fit`` on ``warmup_batches`` full
    batches plus the final partial batch traces (and XLA-compiles) the training step for
    every batch shape the timed epoch will meet. Each timed epoch is then one pass over
    ``x`` (no validation); the result's ``seconds`` is the median epoch.

    >>> import keras
    >>> def build():
    ...     m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    ...     m.compile(optimizer="sgd", loss="mse")
    ...     return m
    >>> x, y = np.zeros((100, 4), "float32"), np.zeros((100, 2), "float32")
    >>> t = time_epoch(build, x, y, batch_size=32, device="/CPU:0")
    >>> t.samples, len(t.times)
    (100, 1)
    """
    import tensorflow as tf

    _check_count("batch_size", batch_size, 1)
    _check_count("epochs", epochs, 1)
    _check_count("warmup_batches", warmup_batches, 1)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match.")
    if len(x) < batch_size:
        raise ValueError(f"{len(x)} samples do not fill one batch of {batch_size}; use a smaller batch.")
    for key in ("epochs", "validation_data", "validation_split", "callbacks", "x", "y", "batch_size"):
        if key in fit_kwargs:
            raise ValueError(f"time_epoch sets {key!r} itself; do not pass it in fit_kwargs.")
    if device is not None:
        known = {d.name.upper() for d in list_devices()}
        if device.upper() not in known:
            raise ValueError(f"device {device!r} not found; this machine has {sorted(known)}.")

    scope = tf.device(device) if device else contextlib.nullcontext()
    with scope:
        if not isinstance(model, keras.Model):
            if not callable(model):
                raise ValueError(f"model must be a Keras model or a function returning one, got {model!r}.")
            model = model()
            if not isinstance(model, keras.Model):
                raise ValueError(f"the model function returned {type(model).__name__}, not a Keras model.")
        if not model.compiled:
            raise ValueError("model is not compiled; call model.compile(...) first.")
        n_warm = min(len(x), warmup_batches * batch_size + len(x) % batch_size)
        model.fit(x[:n_warm], y[:n_warm], batch_size=batch_size, epochs=1, verbose=0, **fit_kwargs)
        timer = EpochTimer()
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[timer], **fit_kwargs)
    name = label or f"{model.name} on {device or 'default device'}, batch {batch_size}"
    return EpochTiming(name, list(timer.times), samples=len(x), batch_size=batch_size,
                       device=device or "default")


# --------------------------------------------------------------------------- benchmark models


def mnist_mlp(seed: int = 0) -> keras.Model:
    """Keras's classic MNIST MLP example: 784 -> 512 -> 512 -> 10 with dropout (0.67 M weights).

    >>> mnist_mlp().count_params()
    669706
    """
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(512, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(512, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax", kernel_initializer=init),
        ],
        name="mnist_mlp",
    )


def cifar10_cnn(seed: int = 0) -> keras.Model:
    """The classic Keras CIFAR-10 CNN timed in the lecture: 4 conv layers, 1.25 M weights.

    >>> cifar10_cnn().count_params()
    1250858
    """
    init = keras.initializers.GlorotUniform(seed=seed)

    def conv(filters: int, **kw: Any) -> keras.layers.Layer:
        return keras.layers.Conv2D(filters, 3, activation="relu", kernel_initializer=init, **kw)

    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            conv(32, padding="same"), conv(32),
            keras.layers.MaxPooling2D(), keras.layers.Dropout(0.25),
            conv(64, padding="same"), conv(64),
            keras.layers.MaxPooling2D(), keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(512, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax", kernel_initializer=init),
        ],
        name="cifar10_cnn",
    )


# --------------------------------------------------------------------------- tables


def comparison_table(rows: Iterable[Mapping[str, Any]], *, baseline: Mapping[str, Any] | None = None,
                     time_col: str = "seconds", group: Sequence[str] = ()):
    """Collect measurements into a pandas DataFrame, optionally with a ``speedup`` column.

    ``baseline`` names the reference rows (e.g. ``{"device": "CPU"}``); within each
    ``group`` (e.g. model and batch size) every row's speed-up is baseline time / its time.

    >>> rows = [{"model": "mlp", "device": "CPU", "seconds": 2.0},
    ...         {"model": "mlp", "device": "GPU", "seconds": 0.5}]
    >>> comparison_table(rows, baseline={"device": "CPU"}, group=["model"])["speedup"].tolist()
    [1.0, 4.0]
    """
    import pandas as pd

    df = pd.DataFrame(list(rows))
    if df.empty:
        raise ValueError("no rows to tabulate; measure something first.")
    if baseline is None:
        return df
    if time_col not in df:
        raise ValueError(f"column {time_col!r} missing; columns are {list(df.columns)}.")
    missing = [c for c in list(baseline) + list(group) if c not in df]
    if missing:
        raise ValueError(f"columns {missing} missing; columns are {list(df.columns)}.")
    is_base = np.logical_and.reduce([df[k] == v for k, v in baseline.items()])
    base = df[is_base]
    if base.empty:
        raise ValueError(f"no baseline rows match {dict(baseline)}.")
    if group:
        ref = base.groupby(list(group))[time_col].median().rename("_ref")
        df = df.join(ref, on=list(group))
    else:
        df = df.assign(_ref=base[time_col].median())
    return df.assign(speedup=(df["_ref"] / df[time_col]).round(2)).drop(columns="_ref")


def to_markdown(df, *, floatfmt: str = ".3g") -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table (no extra dependency).

    >>> import pandas as pd
    >>> print(to_markdown(pd.DataFrame({"device": ["CPU"], "seconds": [1.23456]})))
    | device | seconds |
    |---|---:|
    | CPU | 1.23 |
    """
    import pandas as pd

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if pd.isna(v) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    cols = list(df.columns)
    align = ["---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in cols]
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "|".join(align) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in cols) + " |")
    return "\n".join(lines)
