"""Bad input a learner may give: one clear message naming the bad value and the fix.

Command-line cases call ``data_files.main(argv)`` in-process and check the exit status
(2: a bad argument, 1: a failure) and stderr; one test runs the real command to check
that no traceback reaches the user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib import arrays, data_files
from course_lib.data import MNIST, DataFileError

ROOT = Path(__file__).resolve().parents[1]


def save_small_mnist(folder: Path, **changes: np.ndarray) -> Path:
    """A valid (tiny) mnist.npz in ``folder``; ``changes`` replace arrays to make it bad."""
    rng = np.random.default_rng(0)
    content = {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 20).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 10).astype(np.uint8),
    } | changes
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / MNIST.filename, **content)
    return folder / MNIST.filename


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Full mode, no stand-in, an empty Keras cache, and a data folder holding a tiny MNIST."""
    source = tmp_path / "source"
    save_small_mnist(source)
    monkeypatch.setenv("COURSE_DATA_DIR", str(source))
    monkeypatch.delenv("COURSE_STANDIN", raising=False)
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path


def run_main(capsys, *argv: str) -> tuple[int, str]:
    status = data_files.main(list(argv))
    return status, capsys.readouterr().err


# --- 1. prefetch --to: a file, a read-only folder, a folder under a read-only folder ---------


def test_prefetch_into_a_file_names_it_and_asks_for_a_folder(isolated, capsys):
    target = isolated / "notes.txt"
    target.write_text("mine")
    status, err = run_main(capsys, "prefetch", "--to", str(target), "--datasets", "mnist")
    assert status == 2
    assert f"--to {target} is a file, not a folder; give a folder to download into" in err
    assert target.read_text() == "mine"


def test_prefetch_into_a_read_only_folder(isolated, capsys, monkeypatch):
    target = isolated / "readonly"
    target.mkdir()
    real_access = os.access
    # Root may write anywhere, so the read-only folder is simulated where the check asks.
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != target and real_access(p, mode))
    status, err = run_main(capsys, "prefetch", "--to", str(target), "--datasets", "mnist")
    assert status == 2
    assert f"cannot write into {target} (read-only); choose a writable folder with --to" in err
    assert list(target.iterdir()) == []


def test_prefetch_into_a_new_folder_under_a_read_only_folder(isolated, capsys, monkeypatch):
    parent = isolated / "readonly"
    parent.mkdir()

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)  # what a read-only parent does to mkdir
    status, err = run_main(capsys, "prefetch", "--to", str(parent / "data"), "--datasets", "mnist")
    assert status == 2
    assert f"cannot write into {parent} (read-only); choose a writable folder with --to" in err


def test_prefetch_whose_write_is_refused_names_the_folder_not_a_temp_file(
    isolated, capsys, monkeypatch
):
    target = isolated / "target"
    target.mkdir()

    def refuse(prefix="", suffix="", dir=None):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}abc123{suffix}")

    monkeypatch.setattr(data_files.tempfile, "mkstemp", refuse)
    status, err = run_main(capsys, "prefetch", "--to", str(target), "--datasets", "mnist")
    assert status == 2
    assert f"cannot write into {target} (read-only); choose a writable folder with --to" in err
    assert "abc123" not in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders; the tests above simulate them")
def test_prefetch_into_a_really_read_only_folder(isolated, capsys):
    target = isolated / "readonly"
    target.mkdir()
    target.chmod(0o555)
    try:
        status, err = run_main(capsys, "prefetch", "--to", str(target / "sub"), "--datasets", "mnist")
    finally:
        target.chmod(0o755)
    assert status == 2
    assert f"cannot write into {target} (read-only)" in err


# --- 2. verify --dir <a file> -----------------------------------------------------------------


def test_verify_dir_that_is_a_file(isolated, capsys):
    path = save_small_mnist(isolated / "data")
    status, err = run_main(capsys, "verify", "--dir", str(path))
    assert status == 2
    assert f"--dir {path} is a file, not a folder; give the folder that holds mnist.npz" in err


# --- 3. verify(): unknown names, a plain string -----------------------------------------------


@pytest.mark.parametrize("names", [["mnist2"], "mnist2"])
def test_verify_unknown_dataset_names_it_and_the_valid_ones(isolated, names):
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist2'; choose from 'mnist', 'cifar10'"):
        data_files.verify(isolated / "source", names)


def test_verify_accepts_one_name_as_a_plain_string(isolated):
    lines = data_files.verify(isolated / "source", "mnist")
    assert len(lines) == 1 and lines[0].startswith("MNIST:") and "OK" in lines[0]


# --- 4. where: a reported problem exits non-zero ----------------------------------------------


def test_where_with_a_problem_exits_1(isolated, capsys, monkeypatch):
    not_a_folder = isolated / "data.txt"
    not_a_folder.write_text("")
    monkeypatch.setenv("COURSE_DATA_DIR", str(not_a_folder))
    status, err = run_main(capsys, "where")
    assert status == 1
    assert f"COURSE_DATA_DIR points at {not_a_folder}, which is not a folder" in err
    assert "Fix the path or unset COURSE_DATA_DIR" in err
    assert err.count("error:") == 1  # the shared problem is told once, not per dataset


def test_where_with_a_corrupt_file_exits_1(isolated, capsys):
    (isolated / "source" / "mnist.npz").write_bytes(b"not a zip")
    status, err = run_main(capsys, "where")
    assert status == 1
    assert "mnist.npz is not a readable MNIST .npz file" in err and "Delete it" in err


# --- 5. pick_classes: an absent class, float labels --------------------------------------------


def test_pick_classes_absent_class_names_it_and_the_classes_present():
    with pytest.raises(ValueError, match=r"class 7 is not in the labels \(they hold \[1, 5, 9\]\)"):
        arrays.pick_classes(np.arange(4), np.array([1, 5, 1, 9]), [1, 7])


def test_pick_classes_float_labels_name_the_dtype_and_the_fix():
    with pytest.raises(ValueError, match=r"got dtype float64.*y\.astype\(int\)"):
        arrays.pick_classes(np.arange(4), np.array([1.0, 5.0, 1.0, 9.0]), [1, 5])


def test_dataset_file_with_float_labels_names_the_dtype_and_the_fix(isolated):
    save_small_mnist(isolated / "floats", y_train=np.zeros(20, dtype=np.float32))
    with pytest.raises(DataFileError, match=r"y_train has dtype float32.*y_train\.astype\(np\.uint8\)"):
        data_files.verify(isolated / "floats", "mnist")


# --- 6. five_layer_net: an unknown activation --------------------------------------------------


def test_five_layer_net_unknown_activation_lists_the_valid_names(monkeypatch):
    models = pytest.importorskip("course_lib.models")

    def no_building(*args, **kwargs):
        raise AssertionError("the activation must be checked before any layer is built")

    monkeypatch.setattr(models.keras, "Sequential", no_building)
    with pytest.raises(ValueError) as caught:
        models.five_layer_net("relux")
    message = str(caught.value)
    assert "activation='relux' is not a Keras activation (did you mean 'relu'?)" in message
    assert all(f"'{name}'" in message for name in ("relu", "sigmoid", "tanh", "elu"))


# --- The real command: no traceback reaches the user ------------------------------------------


def test_command_line_error_is_one_line_without_traceback(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.data", "prefetch", "--to", str(target)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: --to {target} is a file, not a folder; give a folder to download into."]
