"""Keep TensorFlow's start-up messages out of the learner's notebook.

Importing TensorFlow prints C++ log lines (a oneDNN notice, CUDA stub messages, ``failed call to
cuInit`` on machines without a GPU) that Jupyter shows in red, and that learners take for errors.
They are not: the course checks devices itself (``course_lib.environment``, notebook 00).

``import course_lib`` calls :func:`quiet_tensorflow_startup` before anything loads TensorFlow
(every notebook imports ``course_lib`` in its first code cell, on Colab too):

- ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set) silences TensorFlow's C++ logging once it
  is initialised. Python errors and warnings are unaffected.
- The few lines printed while TensorFlow initialises, before that setting is read, go to the
  process's standard error directly; they are discarded during that one import.

Set ``TF_CPP_MIN_LOG_LEVEL=0`` before starting Jupyter to see everything again.

One memory setting rides along, because it too must be set before TensorFlow loads:
``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=true`` (unless already set). Without it, TensorFlow's oneDNN
build on x86 CPUs keeps the memory of every freed tensor in its own pool for good, so a
notebook that trains a big model and then something else holds both; with it, freed memory
goes back to the system (the 4000-neuron self-scaling run of notebook 10 peaks about 0.6 GB
lower). Set it to ``false`` to get TensorFlow's default back.

Example
-------
>>> env = {}
>>> quiet_tensorflow_startup(env, import_now=False)
>>> env["TF_CPP_MIN_LOG_LEVEL"], env["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"]
('3', 'true')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"


@contextmanager
def discard_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 (what C++ code writes to) to the null device inside the block."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
        saved = os.dup(fd)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters): nothing to do
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
    finally:
        os.close(saved)


def quiet_tensorflow_startup(
    environ: MutableMapping[str, str] | None = None, *, import_now: bool = True
) -> None:
    """Set the quiet log level and, unless done already, import TensorFlow without its noise.

    Only acts on the TensorFlow backend of Keras and only while TensorFlow is not yet imported.
    """
    environ = os.environ if environ is None else environ
    environ.setdefault(ALLOCATOR_ENV, "true")  # freed memory back to the system (see above)
    if LOG_LEVEL_ENV in environ:
        return  # the learner chose a level
    environ[LOG_LEVEL_ENV] = "3"
    if not import_now or "tensorflow" in sys.modules:
        return  # nothing to import, or too late to matter
    if environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    try:
        with discard_native_stderr():
            import tensorflow  # noqa: F401
    except ImportError:
        pass  # reported, with its real message, where the notebook imports Keras
