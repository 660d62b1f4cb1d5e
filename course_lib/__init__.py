"""Helpers for the "Introduction to Deep Learning" course: only boilerplate (loading data,
plotting, timing), so that the ideas being taught stay visible in the notebooks.

Modules: ``config`` (fast/full mode, seeds), ``quiet`` (TensorFlow's start-up lines), ``data``
and ``data_files`` (MNIST and CIFAR-10, from disk first), ``arrays``, ``standin`` (offline
stand-in data), ``environment`` (the machine), ``plots``, ``models``, ``devices`` and ``timing``
(notebook 07), ``autodiff`` (03, 04), ``distributed`` (08), ``selfscaling`` and
``selfscaling_plots`` (09-11), ``exercises`` (the notebooks' checks), ``runner`` (runs
notebooks), ``course_files`` (packaged copies of repository files).

>>> import course_lib
>>> mode = course_lib.setup()            # doctest: +SKIP
Running in full mode (the real thing; set COURSE_FAST=1 for a quick run), seed 42.
"""

from course_lib.quiet import quiet_tensorflow_startup

quiet_tensorflow_startup()  # sets two variables and an import hook; TensorFlow loads later, quietly

from course_lib.arrays import flatten, hold_out, one_hot, pick_classes, scale, standardize  # noqa: E402
from course_lib.config import RunMode, set_seed, setup  # noqa: E402
from course_lib.data import (  # noqa: E402
    DataError,
    DataFileError,
    DataUnavailableError,
    load_cifar10,
    load_mnist,
)

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DataFileError",
    "DataUnavailableError",
    "RunMode",
    "flatten",
    "hold_out",
    "load_cifar10",
    "load_mnist",
    "one_hot",
    "pick_classes",
    "scale",
    "set_seed",
    "setup",
    "standardize",
]
