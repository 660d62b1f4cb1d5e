"""Timing helpers: how long a call or an epoch takes, and a table to compare them.

Every helper avoids the two traps of timing an accelerator: the first call traces and compiles
(and every new input shape again), so warm-up calls run untimed first; and GPU work is
asynchronous, so a timed result is fetched before the clock stops (``model.fit`` reads the
loss at each epoch's end). Which devices there are: :mod:`course_lib.devices`.

>>> t = time_callable(lambda: sum(range(10_000)), repeats=3, label="sum")
>>> len(t.times), t.seconds > 0
(3, True)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from course_lib.devices import place


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
    """Block until a (possibly asynchronous) result exists: GPU work is queued, not done."""
    if hasattr(result, "block_until_ready"):  # JAX
        result.block_until_ready()
    elif hasattr(result, "numpy") or hasattr(result, "cpu"):  # TensorFlow, PyTorch
        keras.ops.convert_to_numpy(result)
    elif isinstance(result, (list, tuple)):
        for r in result:
            _wait_for(r)


def time_callable(
    fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1, label: str = ""
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed (a tensor result is
    fetched before the clock stops, so GPU work counts).

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
    """Time ``epochs`` epochs of ``model.fit`` (no validation; median in ``seconds``), tracing
    excluded: an untimed ``fit`` on ``warmup_batches`` batches plus the last partial one first
    compiles every batch shape. ``model``: a compiled Keras model, or a function returning one,
    called inside ``keras.device(device)`` so the weights live there too.

    >>> import keras
    >>> def build():
    ...     m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    ...     m.compile(optimizer="sgd", loss="mse")
    ...     return m
    >>> x, y = np.zeros((100, 4), "float32"), np.zeros((100, 2), "float32")
    >>> t = time_epoch(build, x, y, batch_size=32, device="cpu:0")
    >>> t.samples, len(t.times)
    (100, 1)
    """
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
    with place(device):
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



def comparison_table(rows: Iterable[Mapping[str, Any]], *, baseline: Mapping[str, Any] | None = None,
                     time_col: str = "seconds", group: Sequence[str] = ()):
    """Measurements as a pandas DataFrame; with ``baseline`` (e.g. ``{"device": "CPU"}``) a
    ``speedup`` column, baseline time / row time within each ``group`` (e.g. model, batch).

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
