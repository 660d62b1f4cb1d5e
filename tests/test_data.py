"""The data layer: sources in order, clear errors, stand-in data, prefetch."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from course_lib import arrays, data, data_files, standin
from course_lib.data import CIFAR10, MNIST

# The real data, when the machine has it (CI points COURSE_DATA_DIR at it).
SHARED = Path(os.environ.get("COURSE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def small_arrays(spec, n_train=50, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, *spec.image_shape), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, *spec.image_shape), dtype=np.uint8)
    y_train = rng.integers(0, 10, (n_train, *spec.label_shape)).astype(np.uint8)
    y_test = rng.integers(0, 10, (n_test, *spec.label_shape)).astype(np.uint8)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No data folder, an empty Keras cache, full mode, no stand-in."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_STANDIN", raising=False)
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path


@pytest.fixture
def offline(monkeypatch):
    """Make the network unreachable: every connection attempt hangs, as on a firewalled node."""

    def hang(*args, **kwargs):
        time.sleep(60)
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(socket, "getaddrinfo", hang)


@pytest.mark.parametrize("spec, loader", [(MNIST, data.load_mnist), (CIFAR10, data.load_cifar10)])
def test_round_trip_from_data_dir(isolated, monkeypatch, spec, loader, capsys):
    arrays = small_arrays(spec)
    np.savez_compressed(isolated / spec.filename, **arrays)
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated))
    (x_train, y_train), (x_test, y_test) = loader()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert "COURSE_DATA_DIR" in capsys.readouterr().out


def test_subsets_keep_the_first_samples(isolated):
    arrays = small_arrays(MNIST)
    np.savez(isolated / "mnist.npz", **arrays)
    (x, y), (xt, yt) = data.load_mnist(data_dir=isolated, n_train=10, n_test=5, verbose=False)
    assert x.shape == (10, 28, 28) and xt.shape == (5, 28, 28)
    np.testing.assert_array_equal(y, arrays["y_train"][:10])


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_bad_subset_size(isolated, n):
    np.savez(isolated / "mnist.npz", **small_arrays(MNIST))
    with pytest.raises(ValueError, match="n_train"):
        data.load_mnist(data_dir=isolated, n_train=n, verbose=False)


@pytest.mark.skipif(not (SHARED / "mnist.npz").exists(), reason="no real MNIST here: set COURSE_DATA_DIR")
def test_real_mnist_from_shared_folder(isolated):
    (x_train, y_train), (x_test, y_test) = data.load_mnist(data_dir=SHARED, verbose=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_corrupt_file_names_the_file(isolated):
    path = isolated / "mnist.npz"
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(data.DataFileError, match=str(path)) as info:
        data.load_mnist(data_dir=isolated, verbose=False)
    assert "corrupt or truncated" in str(info.value)


def test_truncated_file_names_the_file(isolated):
    path = isolated / "cifar10.npz"
    np.savez_compressed(path, **small_arrays(CIFAR10))
    full = path.read_bytes()
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(data.DataFileError, match="cifar10.npz"):
        data.load_cifar10(data_dir=isolated, verbose=False)


def test_wrong_keys(isolated):
    arrays = small_arrays(MNIST)
    arrays["images"] = arrays.pop("x_train")
    np.savez(isolated / "mnist.npz", **arrays)
    with pytest.raises(data.DataFileError, match=r"missing arrays \['x_train'\]"):
        data.load_mnist(data_dir=isolated, verbose=False)


def test_wrong_image_shape(isolated):
    # CIFAR images saved where MNIST is expected.
    np.savez(isolated / "mnist.npz", **small_arrays(CIFAR10))
    with pytest.raises(data.DataFileError, match=r"x_train has shape \(50, 32, 32, 3\)"):
        data.load_mnist(data_dir=isolated, verbose=False)


def test_label_count_mismatch(isolated):
    arrays = small_arrays(MNIST)
    arrays["y_test"] = arrays["y_test"][:-1]
    np.savez(isolated / "mnist.npz", **arrays)
    with pytest.raises(data.DataFileError, match="y_test has shape"):
        data.load_mnist(data_dir=isolated, verbose=False)


def test_wrong_dtype(isolated):
    arrays = small_arrays(MNIST)
    arrays["x_train"] = arrays["x_train"].astype(np.float32)
    np.savez(isolated / "mnist.npz", **arrays)
    with pytest.raises(data.DataFileError, match="dtype float32"):
        data.load_mnist(data_dir=isolated, verbose=False)


def test_data_dir_that_is_not_a_folder(isolated, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(isolated / "nowhere"))
    with pytest.raises(data.DataUnavailableError, match="not a folder"):
        data.load_mnist(verbose=False)


def test_unknown_source(isolated):
    with pytest.raises(ValueError, match="source='web'"):
        data.load_mnist(source="web")


def test_keras_cache_is_used(isolated):
    cache = isolated / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", **small_arrays(MNIST))
    loaded = data.locate(MNIST)
    assert loaded.source == "keras_cache"


def test_offline_error_is_fast_and_names_three_fixes(isolated, offline):
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_mnist(verbose=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"the offline error took {elapsed:.1f} s"
    message = str(info.value)
    assert "COURSE_DATA_DIR" in message
    assert "prefetch" in message
    assert f"copy mnist.npz into {data.keras_cache_dir()}" in message


def test_stalled_download_ends_with_the_offline_error(isolated, monkeypatch):
    """A server that accepts the connection and then sends nothing must not hang the notebook."""
    import threading
    import urllib.request

    import keras

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/mnist.npz"

    def keras_like_download():  # like keras.utils.get_file: urllib, no timeout of its own
        with urllib.request.urlopen(url) as response:
            response.read()

    monkeypatch.setattr(data, "DOWNLOAD_STALL_SECONDS", 1.0)
    monkeypatch.setattr(data, "network_reachable", lambda host: True)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", keras_like_download)
    start = time.perf_counter()
    try:
        with pytest.raises(data.DataUnavailableError, match="stalled") as info:
            data.load_mnist(verbose=False)
    finally:
        server.close()
    assert time.perf_counter() - start < 10
    assert "COURSE_DATA_DIR" in str(info.value)
    assert socket.getdefaulttimeout() is None, "the timeout must not leak out of the download"


def test_standin_used_in_fast_mode_offline_and_announced(isolated, offline, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    out = capsys.readouterr().out
    assert "STAND-IN DATA" in out and "MNIST" in out
    assert x_train.shape[1:] == (28, 28) and x_train.dtype == np.uint8
    assert y_train.dtype == np.uint8 and y_train.ndim == 1
    assert set(np.unique(y_test)) <= set(range(10))
    # MNIST's sizes: the notebooks hold out 10,000 training images for validation.
    assert (len(x_train), len(x_test)) == (60_000, 10_000)


def test_standin_cifar_shapes_and_announcement(isolated, capsys):
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(source="standin")
    assert "STAND-IN DATA" in capsys.readouterr().out
    assert x_train.shape[1:] == (32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (len(x_train), 1) and y_test.shape == (len(x_test), 1)
    assert len(np.unique(y_train)) == 10
    assert (len(x_train), len(x_test)) == (50_000, 10_000)  # CIFAR-10's sizes


def test_standin_on_request_in_full_mode(isolated, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_STANDIN", "1")
    data.load_mnist()
    assert "STAND-IN DATA" in capsys.readouterr().out


def test_standin_never_silent_in_full_mode(isolated, offline):
    with pytest.raises(data.DataUnavailableError):
        data.load_cifar10(verbose=False)


def test_standin_classes_are_learnable():
    """A nearest-centroid rule must beat chance by far, or the stand-in teaches nothing."""
    for make in (standin.mnist_like, standin.cifar10_like):
        (x, y), (xt, yt) = make(n_train=2000, n_test=500)
        x = x.reshape(len(x), -1).astype(np.float32)
        xt = xt.reshape(len(xt), -1).astype(np.float32)
        y, yt = y.ravel(), yt.ravel()
        centroids = np.stack([x[y == c].mean(axis=0) for c in range(10)])
        pred = np.argmin(((xt[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
        assert (pred == yt).mean() > 0.5, make.__name__


def test_prefetch_into_empty_dir_then_again(isolated, monkeypatch):
    source = isolated / "source"
    source.mkdir()
    for spec in (MNIST, CIFAR10):
        np.savez(source / spec.filename, **small_arrays(spec))
    monkeypatch.setenv("COURSE_DATA_DIR", str(source))
    target = isolated / "target"
    first = data_files.prefetch(target)
    assert all("wrote" in line for line in first)
    stamps = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    assert set(stamps) == {"mnist.npz", "cifar10.npz"}
    second = data_files.prefetch(target)
    assert all("already present and verified" in line for line in second)
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == stamps
    assert not list(target.glob("*.tmp*"))
    # What was written loads back through the normal path.
    (x, _), _ = data.load_mnist(data_dir=target, verbose=False)
    np.testing.assert_array_equal(x, np.load(source / "mnist.npz")["x_train"])


def test_prefetch_does_not_overwrite_a_bad_user_file(isolated, monkeypatch):
    source = isolated / "source"
    source.mkdir()
    np.savez(source / "mnist.npz", **small_arrays(MNIST))
    monkeypatch.setenv("COURSE_DATA_DIR", str(source))
    target = isolated / "target"
    target.mkdir()
    (target / "mnist.npz").write_bytes(b"my own notes, not a dataset")
    with pytest.raises(data.DataFileError, match="mnist.npz"):
        data_files.prefetch(target, ["mnist"])
    assert (target / "mnist.npz").read_bytes() == b"my own notes, not a dataset"


def test_prefetch_offline_fails_fast_without_partial_files(isolated, offline):
    target = isolated / "target"
    with pytest.raises(data.DataUnavailableError):
        data_files.prefetch(target, ["mnist"])
    assert list(target.iterdir()) == []


def test_cli_verify_and_errors(isolated, capsys):
    np.savez(isolated / "mnist.npz", **small_arrays(MNIST))
    assert data_files.main(["verify", "--dir", str(isolated), "--datasets", "mnist"]) == 0
    assert "OK (50 train / 20 test)" in capsys.readouterr().out
    assert data_files.main(["verify", "--dir", str(isolated), "--datasets", "cifar10"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_rejects_unknown_dataset(isolated):
    with pytest.raises(SystemExit):
        data_files.main(["prefetch", "--to", str(isolated), "--datasets", "imagenet"])


def test_helpers():
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert arrays.flatten(x).shape == (2, 784)
    scaled = arrays.scale(np.array([0, 51, 255], dtype=np.uint8))
    np.testing.assert_allclose(scaled, [0.0, 0.2, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        arrays.scale(np.array([0.5]))
    train, test = arrays.standardize(np.array([[1.0, 10.0], [3.0, 30.0]]), np.array([[2.0, 20.0]]))
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(test, [[0.0, 0.0]], atol=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        arrays.standardize(np.zeros((2, 3)), np.zeros((2, 4)))
    assert arrays.one_hot(np.array([[3]]), 5).tolist() == [[0, 0, 0, 1, 0]]
    with pytest.raises(ValueError, match="0..9"):
        arrays.one_hot(np.array([10]))
    xs, ys = arrays.pick_classes(np.arange(5), np.array([[1], [5], [1], [9], [5]]), [1, 5], relabel=True)
    assert xs.tolist() == [0, 1, 2, 4] and ys.ravel().tolist() == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="at least one class"):
        arrays.pick_classes(xs, ys, [])


def test_run_mode_parsing(monkeypatch):
    from course_lib.config import RunMode

    assert RunMode.from_env({"COURSE_FAST": "1"}).fast
    assert not RunMode.from_env({}).fast
    assert RunMode.from_env({"COURSE_SEED": "3"}).seed == 3
    with pytest.raises(ValueError, match="COURSE_FAST='maybe'"):
        RunMode.from_env({"COURSE_FAST": "maybe"})
    with pytest.raises(ValueError, match="not an integer"):
        RunMode.from_env({"COURSE_SEED": "x"})


def test_network_check_runs_in_bounded_time_even_if_lookup_hangs(offline):
    start = time.perf_counter()
    assert data.network_reachable(("example.invalid", 443), timeout=1.0) is False
    assert time.perf_counter() - start < 3
