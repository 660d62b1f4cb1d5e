"""Helpers for the "Introduction to Deep Learning" course.

Only boilerplate lives here (loading data, plotting, timing); the ideas being taught
stay visible in the notebooks. Modules, by concern:

- :mod:`course_lib.config`  fast/full mode, seeds, environment variables
- :mod:`course_lib.quiet`   TensorFlow's start-up messages kept out of notebooks
- :mod:`course_lib.data`    MNIST and CIFAR-10 loading, from disk first, the network last
- :mod:`course_lib.data_files` dataset files in a folder: prefetch, verify, where (command line)
- :mod:`course_lib.arrays`  small array helpers: flatten, scale, hold out a validation set, ...
- :mod:`course_lib.standin` generated stand-in data for offline machines
- :mod:`course_lib.environment` what machine a notebook runs on (notebook 00)
- :mod:`course_lib.plots`   figures the notebooks share
- :mod:`course_lib.models`  model builders shared by notebooks and benchmarks
- :mod:`course_lib.devices` the devices Keras can use, on any backend (notebook 07)
- :mod:`course_lib.timing`  warm-up-free timing and comparison tables (notebook 07)
- :mod:`course_lib.autodiff` gradients by the backend's automatic differentiation (03, 04)
- :mod:`course_lib.distributed` tf.distribute strategies and launchers (notebook 08, jobs/)
- :mod:`course_lib.selfscaling` (a package: penalties, network, engine, drift experiment) and
  :mod:`course_lib.selfscaling_plots` self-scaling networks
- :mod:`course_lib.course_files` packaged copies of repository files that notebooks show

Example
-------
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
