"""Dataset files in a folder: prefetch, verify, and say where the data would come from.

The command line for Binder builds and cluster login nodes, whose compute nodes are often
offline (``python -m course_lib.data`` runs it)::

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


def write_npz(path: Path, arrays: Arrays) -> None:
    """Write arrays in Keras layout atomically (temporary file, then rename)."""
    (x_train, y_train), (x_test, y_test) = arrays
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def prefetch(target: str | os.PathLike, names: Sequence[str] = ("mnist", "cifar10")) -> list[str]:
    """Make sure ``target`` holds verified copies of the datasets; return what was done.

    Idempotent: a verified file is left alone. A file that fails verification is
    reported, never overwritten (it may be the user's); delete it to fetch again.
    """
    target = Path(target).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    report = []
    for name in names:
        if name not in DATASETS:
            raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}.")
        spec = DATASETS[name]
        path = target / spec.filename
        if path.exists():
            read_npz(path, spec)  # raises DataFileError naming the file if it is bad
            report.append(f"{spec.name}: {path} already present and verified")
            continue
        env_dir = config.data_dir_from_env()
        source_dir = env_dir if env_dir is not None and env_dir.resolve() != target.resolve() else None
        loaded = locate(spec, data_dir=source_dir, allow_standin=False)
        write_npz(path, loaded.arrays)
        read_npz(path, spec)
        report.append(f"{spec.name}: wrote {path} from {loaded.detail} and verified it")
    return report


def verify(folder: str | os.PathLike, names: Sequence[str] = ("mnist", "cifar10")) -> list[str]:
    """Check every dataset file in ``folder``; raise on the first bad or missing one."""
    folder = Path(folder).expanduser()
    report = []
    for name in names:
        spec = DATASETS[name]
        path = folder / spec.filename
        if not path.exists():
            raise DataUnavailableError(f"{path} does not exist.")
        (x_train, _), (x_test, _) = read_npz(path, spec)
        report.append(f"{spec.name}: {path} OK ({len(x_train)} train / {len(x_test)} test)")
    return report


def where() -> list[str]:
    """Say, per dataset, which source would be used now (no download is attempted)."""
    lines = []
    folder = config.data_dir_from_env()
    for spec in DATASETS.values():
        try:
            found = _from_data_dir(spec, folder) or _from_keras_cache(spec)
        except DataError as exc:
            lines.append(f"{spec.name}: problem: {exc}")
            continue
        if found is not None:
            lines.append(f"{spec.name}: {found.detail} ({found.source})")
        else:
            lines.append(
                f"{spec.name}: not on disk; would be downloaded, or stand-in data in fast mode"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prefetch", help="write and verify dataset files in a folder")
    p.add_argument("--to", required=True, help="target folder (created if missing)")
    p.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"], choices=sorted(DATASETS))
    v = sub.add_parser("verify", help="check dataset files in a folder")
    v.add_argument("--dir", required=True)
    v.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"], choices=sorted(DATASETS))
    sub.add_parser("where", help="say where each dataset would be loaded from")
    args = parser.parse_args(argv)
    try:
        if args.command == "prefetch":
            lines = prefetch(args.to, args.datasets)
        elif args.command == "verify":
            lines = verify(args.dir, args.datasets)
        else:
            lines = where()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
