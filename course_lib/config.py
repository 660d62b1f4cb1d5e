"""Run settings read from environment variables: fast mode, seed, data directory.

Every knob the course reads from the environment is named here, so there is one place
to look (and the README's table mirrors it):

=====================  ==========================================================
``COURSE_FAST``        ``1`` = fast mode (small data subsets, few epochs; used by the
                       tests). ``0`` or unset = full mode, the default for learners.
``COURSE_SEED``        integer seed for Python, NumPy and TensorFlow (default 42).
``COURSE_DATA_DIR``    folder holding ``mnist.npz`` / ``cifar10.npz``.
``COURSE_STANDIN``     ``1`` = use generated stand-in data even in full mode.
``COURSE_CACHE_DIR``   where notebooks hand results to each other (notebook 10 ->
                       11); default: the user's cache folder
                       (``course_lib.selfscaling.results_dir``).
=====================  ==========================================================

Example
-------
>>> from course_lib.config import RunMode
>>> RunMode(fast=True).pick(full=30, fast=2)
2
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from course_lib import environment

FAST_ENV = "COURSE_FAST"
SEED_ENV = "COURSE_SEED"
DATA_DIR_ENV = "COURSE_DATA_DIR"
STANDIN_ENV = "COURSE_STANDIN"

DEFAULT_SEED = 42
COLAB_GPU_HINT = (
    "No GPU in this Colab runtime. The training notebooks are much faster with one: "
    "Runtime > Change runtime type > GPU, then run the notebook from the top."
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


def env_flag(name: str, environ: dict[str, str] | None = None) -> bool:
    """Read a yes/no environment variable; anything unrecognised is an error.

    >>> env_flag("COURSE_FAST", {"COURSE_FAST": "1"})
    True
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{name}={environ.get(name)!r} is not understood; use 1 (on) or 0 (off)."
    )


def seed_from_env(environ: dict[str, str] | None = None) -> int:
    """The seed from ``COURSE_SEED``, or 42 when unset.

    >>> seed_from_env({"COURSE_SEED": "7"})
    7
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(SEED_ENV, "").strip()
    if not raw:
        return DEFAULT_SEED
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV}={raw!r} is not an integer; use e.g. {SEED_ENV}=42.") from None


def data_dir_from_env(environ: dict[str, str] | None = None) -> Path | None:
    """The folder named by ``COURSE_DATA_DIR``, or None when unset."""
    environ = os.environ if environ is None else environ
    raw = environ.get(DATA_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else None


@dataclass(frozen=True)
class RunMode:
    """Fast or full mode: the one switch every notebook consults.

    Fast mode exists so the whole course can be tested in minutes: notebooks ask
    ``mode.pick(full=..., fast=...)`` for data sizes and epoch counts.

    >>> mode = RunMode(fast=False)
    >>> mode.pick(full=60_000, fast=6_000)
    60000
    """

    fast: bool = False
    seed: int = DEFAULT_SEED

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RunMode:
        """Build the mode from ``COURSE_FAST`` and ``COURSE_SEED``."""
        return cls(fast=env_flag(FAST_ENV, environ), seed=seed_from_env(environ))

    @property
    def name(self) -> str:
        return "fast" if self.fast else "full"

    def pick(self, *, full: T, fast: T) -> T:
        """Return ``fast`` in fast mode and ``full`` otherwise."""
        return fast if self.fast else full

    def __str__(self) -> str:
        hint = (
            "small subsets and few epochs, for testing"
            if self.fast
            else f"the real thing; set {FAST_ENV}=1 for a quick run"
        )
        return f"{self.name} mode ({hint}), seed {self.seed}"


def set_seed(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and TensorFlow/Keras in one call and return the seed.

    >>> set_seed(0)
    0
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    import keras  # imported here: loading TensorFlow takes seconds

    keras.utils.set_random_seed(seed)
    return seed


def backend_report(environ: Mapping[str, str] | None = None) -> str:
    """Which Keras backend runs, and whether ``KERAS_BACKEND`` asks for another one.

    Keras reads ``KERAS_BACKEND`` once, when it is first imported; changing the variable later
    has no effect until the kernel restarts.

    >>> import keras
    >>> running = keras.backend.backend()
    >>> backend_report({"KERAS_BACKEND": running}) == f"Keras backend: {running}."
    True
    >>> "restart the kernel" in backend_report({"KERAS_BACKEND": "no-such-backend"})
    True
    """
    import keras

    environ = os.environ if environ is None else environ
    running = keras.backend.backend()
    wanted = environ.get("KERAS_BACKEND", "").strip().lower()
    if wanted and wanted != running:
        return (f"Keras backend: {running}, but KERAS_BACKEND={wanted!r}. Keras chose its backend "
                f"when it was first imported; restart the kernel (Kernel > Restart) to use {wanted}.")
    return f"Keras backend: {running}."


def setup(*, verbose: bool = True) -> RunMode:
    """Start a notebook: read the run mode, seed everything, say what was chosen.

    >>> mode = setup(verbose=False)
    >>> mode.name in {"fast", "full"}
    True
    """
    mode = RunMode.from_env()
    set_seed(mode.seed)
    if verbose:
        print(f"Running in {mode}.")
        print(backend_report())
        if "google.colab" in sys.modules and not environment.gpu_names():
            print(COLAB_GPU_HINT)
    return mode
