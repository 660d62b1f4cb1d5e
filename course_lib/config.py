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
``KERAS_BACKEND``      ``tensorflow`` (default), ``jax`` or ``torch``; checked by
                       :func:`setup` before Keras loads.
=====================  ==========================================================

:meth:`RunMode.from_env` is the one reader of the run mode: the test suite, the website build,
the notebook runner and the batch jobs call it once and pass the mode on as an argument.

Example
-------
>>> from course_lib.config import RunMode
>>> RunMode(fast=True).pick(full=30, fast=2)
2
"""

from __future__ import annotations

import importlib.util
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
#: The Keras backends the course is tested on, and the package each needs.
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
COLAB_GPU_HINT = (
    "No GPU in this Colab runtime. The training notebooks are much faster with one: "
    "Runtime > Change runtime type > GPU, then run the notebook from the top."
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
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


def seed_from_env(environ: Mapping[str, str] | None = None) -> int:
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


def data_dir_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunMode:
        """Build the mode from ``COURSE_FAST`` and ``COURSE_SEED`` (unset: full mode, seed 42).

        >>> RunMode.from_env({"COURSE_FAST": "yes"}).name
        'fast'
        """
        return cls(fast=env_flag(FAST_ENV, environ), seed=seed_from_env(environ))

    @classmethod
    def named(cls, name: str, seed: int = DEFAULT_SEED) -> RunMode:
        """The mode called ``"fast"`` or ``"full"`` (command lines' ``--mode``).

        >>> RunMode.named("full").fast
        False
        """
        if name not in ("fast", "full"):
            raise ValueError(f"mode must be 'fast' or 'full', not {name!r}.")
        return cls(fast=name == "fast", seed=seed)

    def environ(self) -> dict[str, str]:
        """The variables that give a child process (a kernel, a job) this mode.

        >>> RunMode(fast=True, seed=3).environ()
        {'COURSE_FAST': '1', 'COURSE_SEED': '3'}
        """
        return {FAST_ENV: "1" if self.fast else "0", SEED_ENV: str(self.seed)}

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


def check_backend(environ: Mapping[str, str] | None = None) -> str:
    """The backend ``KERAS_BACKEND`` asks for, checked before Keras loads; an error says the fix.

    >>> check_backend({"KERAS_BACKEND": "TensorFlow"})
    'tensorflow'
    >>> check_backend({"KERAS_BACKEND": "tensorfow"})
    Traceback (most recent call last):
    ValueError: KERAS_BACKEND='tensorfow' is not a backend the course runs on; use tensorflow, jax or torch (e.g. make lab BACKEND=jax), or unset it for tensorflow.
    """
    environ = os.environ if environ is None else environ
    wanted = environ.get("KERAS_BACKEND", "").strip().lower() or "tensorflow"
    if wanted not in BACKENDS:
        raise ValueError(f"KERAS_BACKEND={environ.get('KERAS_BACKEND')!r} is not a backend the "
                         "course runs on; use tensorflow, jax or torch (e.g. make lab BACKEND=jax), "
                         "or unset it for tensorflow.")
    if "keras" not in sys.modules and importlib.util.find_spec(BACKENDS[wanted]) is None:
        raise ModuleNotFoundError(
            f"KERAS_BACKEND={wanted} needs the package {BACKENDS[wanted]!r}, which is not installed "
            f"here. Install it (make lab BACKEND={wanted}, or pip install {BACKENDS[wanted]}) and "
            "restart the kernel, or unset KERAS_BACKEND for tensorflow.")
    return wanted


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
    check_backend()
    set_seed(mode.seed)
    if verbose:
        print(f"Running in {mode}.")
        print(backend_report())
        if "google.colab" in sys.modules and not environment.gpu_names():
            print(COLAB_GPU_HINT)
    return mode
