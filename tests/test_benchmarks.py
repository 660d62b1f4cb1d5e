"""The MNIST results benchmark's bookkeeping: record keys per backend and the rendered table.

Training is what the benchmark itself does (on an idle machine, for an hour and more); these
tests feed its table writer synthetic records.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reproduce():
    spec = importlib.util.spec_from_file_location("reproduce_mnist", ROOT / "benchmarks" / "reproduce_mnist.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def runs(*accuracies):
    return [{"seed": 42 + i, "accuracy": a, "val_accuracy": a, "best_epoch": 3, "seconds": 10.0,
             "peak_rss": 2**30, "load_start": 0.5, "load_end": 1.0} for i, a in enumerate(accuracies)]


def test_record_keys_keep_tensorflow_rows_and_add_other_backends(reproduce):
    assert reproduce.record_key("cnn", "tensorflow") == "cnn"
    assert reproduce.record_key("cnn", "torch") == "cnn@torch"


def test_table_has_a_row_per_backend_and_says_which_targets_are_missed(reproduce):
    records = {
        "cnn": {"finished": "2026-12-01 10:00", "runs": runs(0.9935, 0.9931, 0.9937)},
        "cnn@jax": {"finished": "2026-12-01 11:00", "runs": runs(0.9925, 0.9921, 0.9927)},
        "relu_twin": {"finished": "2026-12-01 10:00", "runs": runs(0.9823, 0.9815, 0.9831)},
        "relu_dropout": {"finished": "2026-12-01 10:00", "runs": runs(0.9828, 0.9823, 0.9832)},
    }
    table = reproduce.render(records)
    rows = [line for line in table.splitlines() if line.startswith("| CNN (16-32-64")]
    assert [row.split(" | ")[1] for row in rows] == ["tensorflow", "jax"]
    assert "| yes |" in rows[0] and "| **no** |" in rows[1]  # 99.35% vs 99.24% for >= 99.3%
    assert "99.34% ± 0.03% (min 99.31%, n=3)" in rows[0]
    assert ("- dropout 0.25: +0.05% test accuracy over the twin's mean (largest seed standard "
            "deviation 0.08%): it does not beat its twin by more than the seed spread.") in table
    assert "- 5-layer, ReLU, dropout 0.25: dropout 0.25 after every hidden layer" in table


def test_dropout_variants_are_judged_on_test_and_chosen_on_validation(reproduce):
    twin = runs(0.9820, 0.9822, 0.9824)
    wide = runs(0.9840, 0.9842, 0.9844)
    light = [dict(r, val_accuracy=0.99) for r in runs(0.9818, 0.9822, 0.9826)]
    records = {name: {"finished": "2026-12-01 10:00", "runs": r} for name, r in
               (("relu_twin", twin), ("relu_dropout_wide", wide), ("relu_dropout_light", light))}
    lines = reproduce.dropout_verdict(records)
    assert lines[0].startswith("Dropout vs its twin")
    wide_line = next(line for line in lines if "two wide layers" in line)
    light_line = next(line for line in lines if "dropout 0.1" in line)
    assert "+0.20%" in wide_line and "it beats its twin" in wide_line
    assert "it does not beat its twin" in light_line  # no gain at all
    # the validation set, not the test set, names the one to use: here the light one
    assert "Chosen on validation accuracy (mean over seeds): dropout 0.1 after every hidden layer (99.00%)" in lines[-2]
    assert reproduce.dropout_verdict({"relu_dropout": records["relu_twin"]}) == []


def test_each_row_names_the_machine_it_ran_on(reproduce):
    xeon = "Intel Xeon, 2 cores, 24 GiB RAM; tensorflow 2.21.0"
    epyc = "AMD EPYC, 2 cores, 24 GiB RAM; jax 0.10.2"
    records = {
        "cnn": {"finished": "2026-12-01 10:00", "runs": runs(0.9935), "machine": xeon},
        "cnn@jax": {"finished": "2026-12-01 11:00", "runs": runs(0.9930), "machine": epyc},
        "relu": {"finished": "2026-11-30 10:00", "runs": runs(0.9813)},  # an older record
    }
    table = reproduce.render(records)
    assert f"- {xeon}: CNN (16-32-64 filters) (tensorflow)" in table
    assert f"- {epyc}: CNN (16-32-64 filters) (jax)" in table
    assert "- not recorded (runs made before each row kept its machine): 5-layer, ReLU (tensorflow)" in table
    # the machine of a new run is this one's, whatever machine rendered the older rows
    assert reproduce.cpu_description() in reproduce.machine()


def test_refit_tests_a_network_trained_on_all_the_data_for_the_chosen_epochs(reproduce, monkeypatch):
    """The refit step: validation picks the epoch count, then a fresh network trains on training
    and validation data together for that many epochs, and only it meets the test set."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")  # learnable in a few epochs
    data = ((x[:200], y[:200]), (x[200:250], y[200:250]), (x[250:], y[250:]))
    fits, evaluated = [], []
    real_fit, real_evaluate = keras.Model.fit, keras.Model.evaluate

    def fit(model, xs, ys, **kwargs):
        fits.append((id(model), len(xs), kwargs["epochs"], "validation_data" in kwargs))
        return real_fit(model, xs, ys, **kwargs)

    def evaluate(model, *args, **kwargs):  # Keras's fit validates through evaluate too
        if (args[0] if args else kwargs.get("x")) is data[2][0]:
            evaluated.append(id(model))
        return real_evaluate(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    monkeypatch.setattr(keras.Model, "evaluate", evaluate)
    build = lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])  # noqa: E731
    recipe = reproduce.Recipe("tiny_refit", "tiny", "-", 0.5, build,
                              lambda steps: keras.optimizers.Adam(0.05), 6, 32, refit=True)
    run = reproduce.train_once(recipe, data, seed=42)
    (_, n_select, epochs_select, validated), (refit_id, n_refit, epochs_refit, refit_validated) = fits
    assert (n_select, epochs_select, validated) == (200, 6, True)
    assert (n_refit, epochs_refit, refit_validated) == (250, run["best_epoch"], False)
    assert evaluated == [refit_id], "the test set is touched once, by the refit network"
    assert run["accuracy"] > 0.8 and 1 <= run["best_epoch"] <= 6
    (lecture_refit,) = [r for r in reproduce.RECIPES if r.name == "lecture_cnn_refit"]
    assert lecture_refit.how.endswith("the best of 12 epochs on validation, then that many on all 60,000")
