"""Dataset files in a folder: prefetch, verify, and say where the data would come from.

For Binder builds and cluster login nodes, whose compute nodes are often offline::

    python -m course_lib.data prefetch --to DIR     # write and verify both datasets
    python -m course_lib.data verify --dir DIR      # check the files in DIR
    python -m course_lib.data where                 # say where data would come from

>>> any(line.startswith("MNIST:") for line in where())
True
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from course_lib import config
from course_lib.data import (
    DATASETS,
    Arrays,
    DataError,
    DataUnavailableError,
    _from_data_dir,
    _from_keras_cache,
    locate,
    read_npz,
)


class FolderError(DataError, ValueError):
    """The folder given to read from or write into cannot serve: a file, missing, or read-only."""


def dataset_names(names: str | Sequence[str]) -> list[str]:
    """The dataset names asked for, checked; a single name may be given as a plain string.

    >>> dataset_names("mnist")
    ['mnist']
    >>> dataset_names(["mnist2"])
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'mnist2'; choose from 'mnist', 'cifar10'.
    """
    names = [names] if isinstance(names, str) else list(names)
    valid = ", ".join(repr(name) for name in DATASETS)
    if not names:
        raise ValueError(f"no dataset named; choose one or more of {valid}.")
    for name in names:
        if not isinstance(name, str) or name not in DATASETS:
            raise ValueError(f"unknown dataset {name!r}; choose from {valid}.")
    return names


def _choose_another(label: str) -> str:
    # The command line names its option; a Python caller just needs another folder.
    return f"choose a writable folder with {label}" if label.startswith("--") else "choose a writable folder"


def writable_folder(path: str | os.PathLike, label: str = "target folder") -> Path:
    """``path`` as a folder that exists (made if missing) and can be written into, else
    :class:`FolderError` naming it (as ``label``: the command line passes ``--to``) and the fix."""
    folder = Path(path).expanduser().absolute()
    fix = _choose_another(label)
    existing = folder
    while not existing.exists():  # the nearest folder that exists must take the new ones
        existing = existing.parent
    if not existing.is_dir():
        inside = "" if existing == folder else f" is inside {existing}, which"
        raise FolderError(f"{label} {folder}{inside} is a file, not a folder; give a folder to "
                          "download into.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FolderError(f"cannot write into {existing} (read-only); {fix}.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:  # os.access can say yes where the file system says no
        raise FolderError(f"cannot write into {existing} (read-only); {fix}.") from exc
    except OSError as exc:
        raise DataError(f"cannot make the folder {folder}: {exc.strerror}; {fix}.") from exc
    return folder


def existing_folder(path: str | os.PathLike, label: str = "folder") -> Path:
    """``path`` as a folder that exists; raise :class:`FolderError` naming it otherwise.

    >>> existing_folder("/no/such/folder", "--dir")
    Traceback (most recent call last):
    ...
    course_lib.data_files.FolderError: --dir /no/such/folder does not exist; give the folder ...
    """
    folder = Path(path).expanduser().absolute()
    if not folder.exists():
        raise FolderError(f"{label} {folder} does not exist; give the folder that holds "
                          "mnist.npz / cifar10.npz (python -m course_lib.data prefetch --to DIR makes one).")
    if not folder.is_dir():
        raise FolderError(f"{label} {folder} is a file, not a folder; give the folder that holds "
                          "mnist.npz / cifar10.npz.")
    return folder


def write_npz(path: Path, arrays: Arrays, label: str = "target folder") -> None:
    """Write arrays in Keras layout atomically (temporary file, then rename); a folder that
    refuses the write raises :class:`FolderError` naming the folder."""
    (x_train, y_train), (x_test, y_test) = arrays
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
        os.close(fd)
        np.savez_compressed(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(tmp, path)
    except PermissionError as exc:
        raise FolderError(f"cannot write into {path.parent} (read-only); "
                          f"{_choose_another(label)}.") from exc
    except OSError as exc:
        raise DataError(f"could not write {path}: {exc.strerror or exc}; free some space or "
                        f"{_choose_another(label)}.") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def prefetch(
    target: str | os.PathLike,
    names: str | Sequence[str] = ("mnist", "cifar10"),
    *,
    label: str = "target folder",
) -> list[str]:
    """Make sure ``target`` holds verified copies of the datasets; return what was done.

    A verified file is left alone; one that fails verification raises, never overwritten (it
    may be the user's). ``label`` names ``target`` in errors (the command line passes ``--to``).
    """
    names = dataset_names(names)
    target = writable_folder(target, label)
    report = []
    for name in names:
        spec = DATASETS[name]
        path = target / spec.filename
        if path.exists():
            read_npz(path, spec)  # raises DataFileError naming the file if it is bad
            report.append(f"{spec.name}: {path} already present and verified")
            continue
        env_dir = config.data_dir_from_env()
        source_dir = env_dir if env_dir is not None and env_dir.resolve() != target.resolve() else None
        loaded = locate(spec, data_dir=source_dir, allow_standin=False)
        write_npz(path, loaded.arrays, label)
        read_npz(path, spec)
        report.append(f"{spec.name}: wrote {path} from {loaded.detail} and verified it")
    return report


def verify(
    folder: str | os.PathLike,
    names: str | Sequence[str] = ("mnist", "cifar10"),
    *,
    label: str = "folder",
) -> list[str]:
    """Check every dataset file in ``folder``; raise on the first bad or missing one (``label``
    names ``folder`` in errors: the command line passes ``--dir``)."""
    names = dataset_names(names)
    folder = existing_folder(folder, label)
    report = []
    for name in names:
        spec = DATASETS[name]
        path = folder / spec.filename
        if not path.exists():
            raise DataUnavailableError(
                f"{path} does not exist; fetch it with "
                f"python -m course_lib.data prefetch --to {folder} --datasets {name}"
            )
        (x_train, _), (x_test, _) = read_npz(path, spec)
        report.append(f"{spec.name}: {path} OK ({len(x_train)} train / {len(x_test)} test)")
    return report


def _where_report() -> tuple[list[str], list[str]]:
    """(One line per dataset: where it would come from, the problems, each reported once)."""
    lines: list[str] = []
    problems: dict[str, list[str]] = {}  # message -> the datasets it concerns
    folder = config.data_dir_from_env()
    for spec in DATASETS.values():
        try:
            found = _from_data_dir(spec, folder) or _from_keras_cache(spec)
        except DataError as exc:
            problems.setdefault(str(exc), []).append(spec.name)
            continue
        if found is not None:
            lines.append(f"{spec.name}: {found.detail} ({found.source})")
        else:
            lines.append(
                f"{spec.name}: not on disk; would be downloaded, or stand-in data in fast mode"
            )
    return lines, [f"{', '.join(names)}: problem: {message}" for message, names in problems.items()]


def where() -> list[str]:
    """Per dataset, the source that would be used now (nothing downloaded); problems (a bad
    ``COURSE_DATA_DIR``, a corrupt file) come last, as ``NAME: problem: ...``."""
    lines, problems = _where_report()
    return lines + problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; exit status 0 done, 1 failed, 2 bad arguments (errors: one line on
    stderr, ``error: ...``, naming the bad value and the fix)."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prefetch", help="write and verify dataset files in a folder")
    p.add_argument("--to", required=True, help="target folder (created if missing)")
    p.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"], choices=list(DATASETS))
    v = sub.add_parser("verify", help="check dataset files in a folder")
    v.add_argument("--dir", required=True, help="the folder that holds mnist.npz / cifar10.npz")
    v.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"], choices=list(DATASETS))
    sub.add_parser("where", help="say where each dataset would be loaded from")
    args = parser.parse_args(argv)  # exits with status 2 on a usage error, as argparse does
    try:
        if args.command == "prefetch":
            lines = prefetch(args.to, args.datasets, label="--to")
        elif args.command == "verify":
            lines = verify(args.dir, args.datasets, label="--dir")
        else:
            lines, problems = _where_report()
            if lines:
                print("\n".join(lines))
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1 if problems else 0
    except FolderError as exc:  # the folder given on the command line cannot serve
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
