"""Export the pip-installable requirement files from the one lock, ``uv.lock``.

    python -m release.export_requirements            # write requirements.txt and requirements/*.txt
    python -m release.export_requirements --check    # change nothing; exit 1 if any file drifted

``pyproject.toml`` declares the dependencies, split by who needs them; ``uv lock`` resolves
them once for every supported Python (3.11-3.13) and platform. This script turns the lock into
the files plain ``pip`` installs with hashes:

- ``requirements.txt`` (at the root): runtime + JupyterLab, the learner's install
  (``pip install -r requirements.txt``, ``make lab``, Binder through ``binder/requirements.txt``);
- ``requirements/jobs.txt``: that + papermill, for batch jobs on a cluster (``jobs/README.md``);
- ``requirements/dev.txt``: everything, tests and linters included (``make test``), but
  not the other Keras backends:
- ``requirements/jax.txt``: runtime + JAX, added for ``KERAS_BACKEND=jax`` (``make test
  BACKEND=jax``). PyTorch has no export: its Linux build on PyPI bundles CUDA, so ``make``
  installs the locked release with plain pip, which can take a CPU build (see the Makefile).

It needs ``uv`` (in the ``dev`` extra) and no network: ``--frozen`` exports the lock as it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from release import generated

ROOT = Path(__file__).resolve().parents[1]

EXPORTS = {
    "requirements.txt": ["--extra", "lab"],
    "requirements/jobs.txt": ["--extra", "lab", "--extra", "jobs"],
    "requirements/dev.txt": ["--extra", "dev"],
    "requirements/jax.txt": ["--extra", "jax"],
}
UV_TIMEOUT_S = 120


def uv_executable() -> str:
    """The ``uv`` next to this Python (a virtual environment's), else the one on PATH."""
    here = Path(sys.executable).with_name("uv.exe" if sys.platform == "win32" else "uv")
    found = str(here) if here.is_file() else shutil.which("uv")
    if found is None:
        raise SystemExit("uv is not installed: pip install 'uv>=0.9,<0.14' (or `make test`).")
    return found


def exported(target: str, flags: list[str]) -> str:
    """The text ``uv export`` writes for ``target``, with the command in its header.

    >>> exported("requirements.txt", ["--extra", "lab"]).splitlines()[1]  # doctest: +SKIP
    '# Refresh with `make lock`. Install with: pip install --require-hashes -r requirements.txt'
    """
    command = [uv_executable(), "export", "--frozen", "--no-emit-project", "--no-header", *flags]
    body = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=UV_TIMEOUT_S, check=True
    ).stdout
    header = (
        "# Exported from uv.lock by release/export_requirements.py; do not edit by hand.\n"
        "# Refresh with `make lock`. Install with: pip install --require-hashes -r "
        f"{target}\n"
    )
    return header + body


def run(check: bool = False) -> list[str]:
    """Write (or, with ``check``, only compare) every export; return the files that differ."""
    stale = []
    for target, flags in EXPORTS.items():
        if generated.sync(ROOT / target, exported(target, flags), check):
            stale.append(target)
    return stale


def main(argv: list[str] | None = None) -> int:
    return generated.command_line(run, __doc__.splitlines()[0], "requirements files match uv.lock",
                                  argv)


if __name__ == "__main__":
    sys.exit(main())
