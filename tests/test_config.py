"""Run settings: the seed makes a run repeatable, fast mode switches sizes."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import config


def train_once(seed: int) -> list[np.ndarray]:
    import keras

    config.set_seed(seed)
    x = np.random.default_rng(0).random((256, 20), dtype=np.float32)
    y = (x.sum(axis=1) > 10).astype("int32")
    model = keras.Sequential([
        keras.Input(shape=(20,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(2),
    ])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=32, shuffle=True, verbose=0)
    return model.get_weights()


def test_same_seed_same_weights():
    first, second = train_once(7), train_once(7)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_seed_other_weights():
    first, other = train_once(7), train_once(8)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        config.set_seed(bad)


def test_setup_reads_environment(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_SEED", "5")
    mode = config.setup()
    assert mode.fast and mode.seed == 5
    assert mode.pick(full=100, fast=3) == 3
    assert "fast mode" in capsys.readouterr().out


def test_tensorflow_settings_at_import_respect_the_learners_choice():
    from course_lib.quiet import quiet_tensorflow_startup

    env = {}
    quiet_tensorflow_startup(env, import_now=False)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "true"}
    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "false"}
    env = dict(chosen)
    quiet_tensorflow_startup(env, import_now=False)
    assert env == chosen


def test_backend_report_names_the_backend_and_asks_for_a_restart_when_it_differs():
    import keras

    from course_lib.config import backend_report

    running = keras.backend.backend()
    assert backend_report({}) == f"Keras backend: {running}."
    other = "jax" if running != "jax" else "torch"
    message = backend_report({"KERAS_BACKEND": other})
    assert running in message and repr(other) in message and "restart the kernel" in message
