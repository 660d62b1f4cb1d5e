"""Keep TensorFlow's start-up messages out of the learner's notebook and terminal.

Importing TensorFlow prints C++ log lines ("All log messages before absl::InitializeLog()",
"cudart_stub.cc: Could not find cuda drivers", a oneDNN notice) that Jupyter shows in red and
that learners take for errors. They are not: the course checks devices itself (notebook 00).
They are written while TensorFlow loads, before any log level is read, so no setting of
``TF_CPP_MIN_LOG_LEVEL`` removes them all.

``import course_lib`` calls :func:`quiet_tensorflow_startup`, which imports nothing heavy:

- it sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless the learner chose a level (later C++ logging);
- it installs an import hook: whenever TensorFlow is first imported (by ``import keras``,
  ``import tensorflow``, or anything else), the process's native stderr is discarded while
  that one import runs and TensorFlow looks for its devices. Python errors raised while
  importing still reach the learner.

This module is the one place that sets TensorFlow's log level. One memory setting rides along,
because it too must be set before TensorFlow loads: ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=true``
(unless set), so freed tensors' memory goes back to the system instead of oneDNN's pool.

Example
-------
>>> env = {}
>>> quiet_tensorflow_startup(env, hook=False)
>>> env["TF_CPP_MIN_LOG_LEVEL"], env["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"]
('3', 'true')
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
QUIET_MODULES = ("tensorflow",)


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


class _QuietLoader(importlib.abc.Loader):
    """Wraps a package's own loader: runs its module code with native stderr discarded."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with discard_native_stderr():
            self.loader.exec_module(module)
            try:  # the devices' start-up lines ("failed call to cuInit") come at first use
                module.config.list_physical_devices()
            except Exception:  # noqa: BLE001 - reported where the learner first uses a device
                pass

    def __getattr__(self, name: str):  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


class QuietImportFinder(importlib.abc.MetaPathFinder):
    """Finds ``QUIET_MODULES`` as the other finders would, with a loader that keeps them quiet."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in QUIET_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def quiet_tensorflow_startup(
    environ: MutableMapping[str, str] | None = None, *, hook: bool = True
) -> None:
    """Set the quiet log level and install the import hook (once; cheap: imports nothing)."""
    environ = os.environ if environ is None else environ
    environ.setdefault(ALLOCATOR_ENV, "true")  # freed memory back to the system (see above)
    environ.setdefault(LOG_LEVEL_ENV, "3")
    if hook and not any(isinstance(f, QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietImportFinder())
