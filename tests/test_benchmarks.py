"""The MNIST results benchmark's bookkeeping: record keys per backend and the rendered table.

Training is what the benchmark itself does (on an idle machine, for an hour and more); these
tests feed its table writer synthetic records.
"""

from __future__ import annotations

import importlib.util
import os
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


def test_notebook_runs_replaces_its_own_rows_keeps_the_others_and_names_this_run(tmp_path, monkeypatch):
    import nbformat

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("notebook_runs", ROOT / "benchmarks" / "notebook_runs.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    nb = tmp_path / "01_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), nb)
    out = tmp_path / "runs.md"
    old = ["09_other.ipynb", "full", "tensorflow", "700.0", "650", "1.00", "pass", "time met, memory met",
           "no dataset", "0.50 → 0.60", "abc1234", "CPU X, 2 cores", "2026-12-01"]
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")  # the rows' key names the backend
    stale = ["01_tiny.ipynb", "fast", backend, "99.0", "9", "9.00", "pass", "x", "no dataset",
             "0.50 → 0.60", "abc1234", "CPU X, 2 cores", "2026-12-01"]
    out.write_text(bench.render({tuple(r[:3]): r for r in (old, stale)}, "old header", "abc1234"))
    assert bench.main([str(nb), "--mode", "fast", "--out", str(out)]) == 0
    text = out.read_text()
    rows = bench.read_rows(out)
    assert rows[("09_other.ipynb", "full", "tensorflow")][7] == "time NOT met, memory met"  # 600-s target
    tiny = rows[("01_tiny.ipynb", "fast", backend)]
    assert tiny[3] != "99.0" and tiny[6] == "pass" and float(tiny[5]) < 4
    assert "<!-- provenance" in text and "old header" not in text and "code digest" in text
    assert text.index("## Fast mode") < text.index("| 01_tiny") < text.index("## Older") < text.index("| 09_other")



def test_scripts_that_use_keras_import_course_lib_first():
    """course_lib silences TensorFlow's start-up lines only when it is imported before Keras
    (course_lib.quiet), so a benchmark's terminal output starts clean."""
    import ast

    late = []
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        names = [(alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
                 for node in ast.parse(script.read_text(encoding="utf-8")).body
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in (node.names if isinstance(node, ast.Import) else node.names[:1])]
        heavy = [i for i, name in enumerate(names) if name in ("keras", "tensorflow")]
        if heavy and ("course_lib" not in names or names.index("course_lib") > heavy[0]):
            late.append(script.name)
    assert late == [], f"import course_lib before keras in {late}"
