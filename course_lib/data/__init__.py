"""Datasets for the course: MNIST and CIFAR-10, from disk first, the network last.

Sources, in order: the folder in ``COURSE_DATA_DIR`` (or ``data_dir``) holding ``mnist.npz`` /
``cifar10.npz`` with the arrays ``x_train y_train x_test y_test``; Keras's cache
(``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``); a download through Keras, after a
quick reachability check, so an offline machine gets an error in seconds, not a hang. When none
works, fast mode, ``source="standin"`` or ``COURSE_STANDIN=1`` give a loudly announced
stand-in; otherwise :class:`DataUnavailableError` explains three ways to get the data. The
command line ``python -m course_lib.data prefetch|verify|where`` is :mod:`course_lib.data_files`.

>>> (x_train, y_train), (x_test, y_test) = load_mnist()          # doctest: +SKIP
MNIST: real data, 60000 train / 10000 test, from /data/mnist.npz (COURSE_DATA_DIR)
"""

from __future__ import annotations

import os
import re
import socket
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib import config

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

KEYS = ("x_train", "y_train", "x_test", "y_test")
SOURCES = ("auto", "data_dir", "keras_cache", "download", "standin")

# where Keras downloads from, for the reachability check
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
CIFAR_HOST = ("www.cs.toronto.edu", 443)
NETWORK_CHECK_SECONDS = 2.5  # a reachable host answers well within it; offline, the error comes soon
DOWNLOAD_STALL_SECONDS = 30.0  # a download read waiting longer fails (urllib has no timeout of its own)


class DataError(Exception):
    """Base class for dataset problems."""


class DataUnavailableError(DataError):
    """No source could provide the dataset (no file, no cache, no network)."""


class DataFileError(DataError, ValueError):
    """A dataset file exists but is corrupt, truncated or has the wrong layout."""


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset looks like on disk and in memory."""

    name: str
    filename: str
    image_shape: tuple[int, ...]
    label_shape: tuple[int, ...]  # per sample: () for MNIST, (1,) for CIFAR-10
    host: tuple[str, int]
    class_names: tuple[str, ...]


MNIST = DatasetSpec(
    name="MNIST",
    filename="mnist.npz",
    image_shape=(28, 28),
    label_shape=(),
    host=DOWNLOAD_HOST,
    class_names=tuple(str(d) for d in range(10)),
)
CIFAR10 = DatasetSpec(
    name="CIFAR-10",
    filename="cifar10.npz",
    image_shape=(32, 32, 3),
    label_shape=(1,),
    host=CIFAR_HOST,
    class_names=(
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ),
)
DATASETS = {"mnist": MNIST, "cifar10": CIFAR10}


@dataclass(frozen=True)
class Loaded:
    """Arrays plus a plain-words note of where they came from."""

    arrays: Arrays
    source: str  # one of SOURCES except "auto"
    detail: str  # a path or a URL, for the announcement


def validate_arrays(arrays: dict[str, np.ndarray], spec: DatasetSpec, origin: str) -> Arrays:
    """Check keys, dtypes, shapes and label range; return Keras's tuple layout.

    Raises :class:`DataFileError` naming ``origin`` and the first problem found.
    """
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise DataFileError(
            f"{origin}: missing arrays {missing}; found {sorted(arrays)}. A {spec.name} file "
            f"must hold {list(KEYS)} as Keras's load_data() returns them."
        )
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8:
            raise DataFileError(f"{origin}: x_{split} has dtype {x.dtype}, expected uint8 pixels.")
        if x.ndim != 1 + len(spec.image_shape) or x.shape[1:] != spec.image_shape:
            raise DataFileError(
                f"{origin}: x_{split} has shape {x.shape}, expected (N, "
                f"{', '.join(map(str, spec.image_shape))}) for {spec.name}."
            )
        if y.shape != (x.shape[0], *spec.label_shape):
            raise DataFileError(
                f"{origin}: y_{split} has shape {y.shape}, expected "
                f"{(x.shape[0], *spec.label_shape)} to match x_{split}."
            )
        if x.shape[0] == 0:
            raise DataFileError(f"{origin}: x_{split} is empty.")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataFileError(f"{origin}: y_{split} has dtype {y.dtype}, expected integer "
                                f"labels 0..9; save them as integers, e.g. y_{split}.astype(np.uint8).")
        if y.min() < 0 or y.max() > 9:
            raise DataFileError(f"{origin}: y_{split} holds labels {y.min()}..{y.max()}, "
                                "expected 0..9 (ten classes).")
        out[split] = (x, y)
    return out["train"], out["test"]


def read_npz(path: str | os.PathLike, spec: DatasetSpec) -> Arrays:
    """Read and validate one ``.npz`` file; errors name the file and the problem."""
    path = Path(path)
    hint = "Delete it and fetch it again (python -m course_lib.data prefetch --to DIR)."
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise DataFileError(
            f"{path} is not a readable {spec.name} .npz file (corrupt or truncated: {exc}). {hint}"
        ) from exc
    return validate_arrays(arrays, spec, str(path))


def keras_cache_dir() -> Path:
    """Keras's dataset cache, following ``KERAS_HOME`` as Keras does."""
    home = os.environ.get("KERAS_HOME")
    base = Path(home) if home else Path.home() / ".keras"
    return base / "datasets"


def _from_data_dir(spec: DatasetSpec, data_dir: Path | None) -> Loaded | None:
    if data_dir is None:
        return None
    if not data_dir.is_dir():
        raise DataUnavailableError(
            f"{config.DATA_DIR_ENV} points at {data_dir}, which is not a folder. "
            f"Fix the path or unset {config.DATA_DIR_ENV}."
        )
    path = data_dir / spec.filename
    if not path.exists():
        return None
    return Loaded(read_npz(path, spec), "data_dir", str(path))


def _from_keras_cache(spec: DatasetSpec) -> Loaded | None:
    cache = keras_cache_dir()
    npz = cache / spec.filename
    if npz.exists():  # our own layout, or Keras's mnist.npz
        return Loaded(read_npz(npz, spec), "keras_cache", str(npz))
    if spec is CIFAR10 and _keras_cifar_cached(cache):
        return _keras_load(spec, "keras_cache", str(cache))
    return None


def _keras_load(spec: DatasetSpec, source: str, detail: str) -> Loaded:
    """``spec`` through Keras's ``load_data`` (its cache, or a download), validated."""
    import keras

    loader = keras.datasets.mnist if spec is MNIST else keras.datasets.cifar10
    arrays = dict(zip(KEYS, (a for pair in loader.load_data() for a in pair), strict=True))
    return Loaded(validate_arrays(arrays, spec, detail), source, detail)


def _keras_cifar_cached(cache: Path) -> bool:
    # Keras extracts the archive into a folder whose name has varied between releases.
    return any((d / "data_batch_1").exists() for d in cache.glob("cifar-10-batches-py*/**/"))


def network_reachable(host: tuple[str, int], timeout: float = NETWORK_CHECK_SECONDS) -> bool:
    """True if a TCP connection to ``host`` opens within ``timeout`` seconds (in a daemon
    thread, abandoned when the time is up: name lookup has no timeout of its own)."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection(host, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


@contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Give every socket opened inside the block a timeout (urllib's default is none).

    >>> with socket_timeout(3.0):
    ...     socket.getdefaulttimeout()
    3.0
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(spec: DatasetSpec) -> Loaded:
    if not network_reachable(spec.host):
        raise DataUnavailableError(_unavailable_message(spec, network=False))
    print(f"{spec.name}: downloading through Keras (once; it is cached afterwards) ...")
    try:
        with socket_timeout(DOWNLOAD_STALL_SECONDS):
            return _keras_load(spec, "download", "Keras download")
    except (TimeoutError, OSError) as exc:
        raise DataUnavailableError(
            _unavailable_message(spec, network=True)
            + f"\n(the download stalled or broke off: {exc!r}; limit {DOWNLOAD_STALL_SECONDS:g} s "
            "without data)"
        ) from exc


def _unavailable_message(spec: DatasetSpec, network: bool) -> str:
    why = "the download failed" if network else f"{spec.host[0]} cannot be reached (offline?)"
    return (
        f"{spec.name} is not available: no {spec.filename} in a data folder or in Keras's cache "
        f"({keras_cache_dir()}), and {why}. Three ways to fix this:\n"
        f"  1. set {config.DATA_DIR_ENV} to a folder that holds {spec.filename} "
        "(e.g. one your instructor provides);\n"
        "  2. on a machine with internet run `python -m course_lib.data prefetch --to DIR`, "
        f"copy DIR here and point {config.DATA_DIR_ENV} at it;\n"
        f"  3. copy {spec.filename} into {keras_cache_dir()}.\n"
        f"For a quick run without the real data, set {config.FAST_ENV}=1 or "
        f"{config.STANDIN_ENV}=1 to use the generated stand-in."
    )


def _standin(spec: DatasetSpec, seed: int) -> Loaded:
    from course_lib import standin

    arrays = standin.mnist_like(seed=seed) if spec is MNIST else standin.cifar10_like(seed=seed)
    return Loaded(arrays, "standin", "generated (course_lib.standin)")


def locate(
    spec: DatasetSpec,
    *,
    source: str = "auto",
    data_dir: str | os.PathLike | None = None,
    allow_standin: bool | None = None,
    seed: int = config.DEFAULT_SEED,
) -> Loaded:
    """Find ``spec``'s arrays following the documented order; see the module doc.

    ``allow_standin`` defaults to fast mode or ``COURSE_STANDIN=1``.
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is not one of {SOURCES}.")
    folder = Path(data_dir).expanduser() if data_dir is not None else config.data_dir_from_env()
    if allow_standin is None:
        allow_standin = config.RunMode.from_env().fast or config.env_flag(config.STANDIN_ENV)
    if source == "standin" or (source == "auto" and config.env_flag(config.STANDIN_ENV)):
        return _standin(spec, seed)
    if source == "data_dir":
        if folder is None:
            raise DataUnavailableError(
                f"source='data_dir' needs {config.DATA_DIR_ENV} or the data_dir argument."
            )
        found = _from_data_dir(spec, folder)
        if found is None:
            raise DataUnavailableError(f"No {spec.filename} in {folder}.")
        return found
    if source == "keras_cache":
        found = _from_keras_cache(spec)
        if found is None:
            raise DataUnavailableError(f"No {spec.name} in Keras's cache {keras_cache_dir()}.")
        return found
    if source == "download":
        return _download(spec)
    # auto
    found = _from_data_dir(spec, folder) or _from_keras_cache(spec)
    if found is not None:
        return found
    try:
        return _download(spec)
    except Exception as exc:  # offline, or a download that broke half-way (network, checksum)
        if allow_standin:
            return _standin(spec, seed)
        if isinstance(exc, DataUnavailableError):
            raise
        raise DataUnavailableError(_unavailable_message(spec, network=True) + f"\n({exc})") from exc


def announce(spec: DatasetSpec, loaded: Loaded) -> str:
    """The line (or banner, for stand-in data) telling the learner what was loaded."""
    (x_train, _), (x_test, _) = loaded.arrays
    sizes = f"{len(x_train)} train / {len(x_test)} test"
    if loaded.source == "standin":
        bar = "!" * 78
        return (
            f"{bar}\n{spec.name}: STAND-IN DATA ({sizes}), generated because the real data was "
            f"not found.\nShapes and dtypes match, but numbers will NOT match the lecture. "
            f"Set {config.DATA_DIR_ENV} to use the real data.\n{bar}"
        )
    label = {"data_dir": config.DATA_DIR_ENV, "keras_cache": "Keras cache", "download": "download"}
    return f"{spec.name}: real data, {sizes}, from {loaded.detail} ({label[loaded.source]})"


_SOURCE_OF_LABEL = {config.DATA_DIR_ENV: "data_dir", "Keras cache": "keras_cache", "download": "download"}
_ANNOUNCED = re.compile(
    r"^(?P<name>[\w-]+): (?:real data, .*\((?P<label>[^()]*)\)|(?P<standin>STAND-IN DATA) )", re.M
)


def printed_text(outputs: Sequence[dict]) -> str:
    r"""What a notebook cell's outputs (nbformat dicts) printed: streams and plain-text results.

    >>> printed_text([{"output_type": "stream", "text": "MNIST: ..."},
    ...               {"output_type": "execute_result", "data": {"text/plain": "42"}}])
    'MNIST: ...\n42'
    """
    return "\n".join(out.get("text", "") if out.get("output_type") == "stream"
                     else out.get("data", {}).get("text/plain", "") for out in outputs)


def announced_sources(text: str) -> set[str]:
    r"""Which datasets, from which source, the :func:`announce` lines in ``text`` name (how
    ``benchmarks/notebook_runs.py`` learns where a notebook's data came from).

    >>> sorted(announced_sources("MNIST: real data, 60000 train / 10000 test, from /d/mnist.npz "
    ...                          "(COURSE_DATA_DIR)\nCIFAR-10: STAND-IN DATA (100 train / 10 test), ..."))
    ['CIFAR-10: standin', 'MNIST: data_dir']
    """
    found = set()
    for match in _ANNOUNCED.finditer(text):
        if match["standin"]:
            found.add(f"{match['name']}: standin")
        elif match["label"] in _SOURCE_OF_LABEL:
            found.add(f"{match['name']}: {_SOURCE_OF_LABEL[match['label']]}")
    return found


def _load(spec: DatasetSpec, n_train: int | None, n_test: int | None, verbose: bool, **kw) -> Arrays:
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None and (not isinstance(n, (int, np.integer)) or n <= 0):
            raise ValueError(f"{name} must be a positive integer or None, got {n!r}.")
    loaded = locate(spec, **kw)
    (x_train, y_train), (x_test, y_test) = loaded.arrays
    # The first n samples: deterministic, and in the canonical order roughly balanced.
    train, test = (x_train[:n_train], y_train[:n_train]), (x_test[:n_test], y_test[:n_test])
    if verbose:
        print(announce(spec, loaded))
        if n_train is not None or n_test is not None:
            print(f"  using the first {len(train[0])} train / {len(test[0])} test images")
    return train, test


def load_mnist(
    *, n_train: int | None = None, n_test: int | None = None, verbose: bool = True, **kw
) -> Arrays:
    """MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8 arrays as Keras gives them.

    ``n_train`` / ``n_test`` keep the first n samples (fast mode). Other keywords
    (``source``, ``data_dir``, ``allow_standin``, ``seed``) go to :func:`locate`.

    >>> (x, y), _ = load_mnist(source="standin", verbose=False)
    >>> x.shape[1:], x.dtype, y.dtype
    ((28, 28), dtype('uint8'), dtype('uint8'))
    """
    return _load(MNIST, n_train, n_test, verbose, **kw)


def load_cifar10(
    *, n_train: int | None = None, n_test: int | None = None, verbose: bool = True, **kw
) -> Arrays:
    """CIFAR-10 as ``((x_train, y_train), (x_test, y_test))``; labels have shape (N, 1).

    >>> (x, y), _ = load_cifar10(source="standin", verbose=False)
    >>> x.shape[1:], y.shape[1:]
    ((32, 32, 3), (1,))
    """
    return _load(CIFAR10, n_train, n_test, verbose, **kw)
