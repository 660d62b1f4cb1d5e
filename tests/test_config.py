"""Run settings: the seed makes a run repeatable, fast mode switches sizes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

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
    quiet_tensorflow_startup(env, hook=False)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "true"}
    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "false"}
    env = dict(chosen)
    quiet_tensorflow_startup(env, hook=False)
    assert env == chosen


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**environ, **env})


def test_import_course_lib_loads_neither_tensorflow_nor_keras():
    done = _python("import sys, course_lib, course_lib.runner, course_lib.data_files\n"
                   "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("level", ["", "0", "2"])
def test_tensorflow_starts_silently_whatever_log_level_the_learner_set(level):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("checks TensorFlow's start-up lines: TensorFlow is not installed here")
    code = ("import course_lib, keras, numpy as np, tensorflow as tf\n"
            "print(float(tf.reduce_sum(tf.ones(3))))")
    done = _python(code, **({"TF_CPP_MIN_LOG_LEVEL": level} if level else {}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3.0"
    for line in ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard", "oneDNN"):
        assert line not in done.stderr, done.stderr
    loud = _python(code.replace("import course_lib, ", "import "), **({"TF_CPP_MIN_LOG_LEVEL": "0"}))
    assert loud.stderr.strip(), "without course_lib TensorFlow prints its start-up lines (the test can fail)"


@pytest.mark.parametrize("value", ["nonsense", "tensorfow"])
def test_an_unknown_keras_backend_is_named_with_the_three_choices(value):
    with pytest.raises(ValueError) as error:
        config.check_backend({"KERAS_BACKEND": value})
    assert repr(value) in str(error.value) and "tensorflow, jax or torch" in str(error.value)


def test_a_backend_whose_package_is_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ModuleNotFoundError) as error:
        config.check_backend({"KERAS_BACKEND": "torch"})
    assert "make lab BACKEND=torch" in str(error.value) and "pip install torch" in str(error.value)


def test_setup_refuses_a_bad_backend_before_keras_loads():
    done = _python("import course_lib\ncourse_lib.setup()", KERAS_BACKEND="nonsense")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: KERAS_BACKEND='nonsense'") and "jax" in last


def test_backend_report_names_the_backend_and_asks_for_a_restart_when_it_differs():
    import keras

    from course_lib.config import backend_report

    running = keras.backend.backend()
    assert backend_report({}) == f"Keras backend: {running}."
    other = "jax" if running != "jax" else "torch"
    message = backend_report({"KERAS_BACKEND": other})
    assert running in message and repr(other) in message and "restart the kernel" in message
