"""course_lib.timing: warm-up really is excluded, tables and errors behave."""

from __future__ import annotations

import time

import keras
import numpy as np
import pandas as pd
import pytest

from course_lib import timing
from course_lib.devices import list_devices
from course_lib.environment import cpu_model


def test_time_callable_excludes_warmup_and_takes_the_median():
    calls = []

    def slow_first():
        calls.append(1)
        time.sleep(0.3 if len(calls) == 1 else 0.01)

    t = timing.time_callable(slow_first, repeats=3, warmup=1)
    assert len(calls) == 4 and len(t.times) == 3
    assert t.seconds < 0.1, "the slow warm-up call must not be timed"
    t0 = timing.time_callable(lambda: time.sleep(0.05), repeats=3, warmup=0)
    assert 0.04 < t0.seconds < 0.5


def test_time_epoch_times_one_pass_without_tracing():
    x = np.random.default_rng(0).normal(size=(1000, 20)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    def build():
        m = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m

    t = timing.time_epoch(build, x, y, batch_size=100, epochs=2, device="/CPU:0")
    assert len(t.times) == 2 and t.samples == 1000 and t.batch_size == 100
    assert t.ms_per_step == pytest.approx(1000 * t.seconds / 10)
    if keras.backend.backend() == "torch":
        return  # PyTorch runs eagerly: its first epoch traces nothing, so there is no gap to see.
    # Untimed, the first epoch includes tracing (several times a later epoch on TensorFlow
    # and JAX); time_epoch's epochs must be far below it.
    timer = timing.EpochTimer()
    build().fit(x, y, batch_size=100, epochs=3, verbose=0, callbacks=[timer])
    assert t.seconds < timer.times[0]


def test_time_epoch_warms_up_on_every_batch_shape_before_the_clock():
    fits = []

    class Recorded(keras.Sequential):
        def fit(self, x, y, **kwargs):
            fits.append((len(x), kwargs.get("callbacks")))
            return super().fit(x, y, **kwargs)

    def build():
        m = Recorded([keras.Input((3,)), keras.layers.Dense(2)])
        m.compile(optimizer="sgd", loss="mse")
        return m

    x, y = np.zeros((250, 3), "float32"), np.zeros((250, 2), "float32")
    timing.time_epoch(build, x, y, batch_size=100, warmup_batches=1)
    # Warm-up: one full batch plus the 50-sample remainder, untimed; then the timed pass.
    assert [n for n, _ in fits] == [150, 250]
    assert fits[0][1] is None and isinstance(fits[1][1][0], timing.EpochTimer)


def test_time_epoch_rejects_bad_input():
    x, y = np.zeros((10, 3), "float32"), np.zeros(10)
    with pytest.raises(ValueError, match="do not fill one batch"):
        timing.time_epoch(lambda: None, x, y, batch_size=32)
    with pytest.raises(ValueError, match="must match"):
        timing.time_epoch(lambda: None, x, y[:5], batch_size=2)
    with pytest.raises(ValueError, match="not found"):
        timing.time_epoch(lambda: None, x, y, batch_size=2, device="/GPU:7")
    with pytest.raises(ValueError, match="sets 'callbacks' itself"):
        timing.time_epoch(lambda: None, x, y, batch_size=2, epochs=1, **{"callbacks": []})
    uncompiled = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="not compiled"):
        timing.time_epoch(uncompiled, x, y, batch_size=2)


def test_list_devices_names_the_cpu():
    devices = list_devices()
    cpu = devices[0]
    assert cpu.kind == "CPU" and cpu.name == "cpu:0"
    assert cpu_model() in cpu.description
    assert all(d.kind in ("CPU", "GPU") for d in devices)


def test_comparison_table_speedup_per_group_and_markdown():
    rows = [{"model": m, "device": d, "batch": 32, "epoch_s": s}
            for m, d, s in [("cnn", "CPU", 100.0), ("cnn", "GPU", 5.0),
                            ("mlp", "CPU", 4.0), ("mlp", "GPU", 2.0)]]
    df = timing.comparison_table(rows, baseline={"device": "CPU"}, time_col="epoch_s",
                                 group=["model", "batch"])
    assert df["speedup"].tolist() == [1.0, 20.0, 1.0, 2.0]
    md = timing.to_markdown(df).splitlines()
    assert md[0] == "| model | device | batch | epoch_s | speedup |"
    assert md[1] == "|---|---|---:|---:|---:|"
    assert md[3] == "| cnn | GPU | 32 | 5 | 20 |"
    with pytest.raises(ValueError, match="no baseline rows"):
        timing.comparison_table(rows, baseline={"device": "TPU"}, time_col="epoch_s")
    with pytest.raises(ValueError, match="no rows"):
        timing.comparison_table([])
    assert timing.to_markdown(pd.DataFrame({"a": ["x|y"]})).splitlines()[-1] == "| x\\|y |"


def test_time_epoch_wants_a_model_from_the_function():
    x, y = np.zeros((10, 3), "float32"), np.zeros(10)
    with pytest.raises(ValueError, match="returned NoneType, not a Keras model"):
        timing.time_epoch(lambda: None, x, y, batch_size=2)
