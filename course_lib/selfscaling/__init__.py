"""Self-scaling dense networks: hidden layers that grow and prune their own neurons.

The method (Dynamic Auto-Sizing, Cahlik, Kordik & Cepek, IEEE CSIT 2022) in short:
every hidden layer's weights, with the bias as an extra row, carry a penalty that pushes
whole neurons towards zero. Each *self-scaling epoch* then

1. checks the validation loss; when it stopped improving (times ``stall_coefficient``)
   the penalty is multiplied by ``penalty_multiplier``, once per stall;
2. **grows** every hidden layer by ``max(min_new_neurons, int(0.2 * units))`` neurons whose
   incoming and outgoing weights are the initializer times a tiny factor (the threshold),
   so the network's outputs barely change;
3. trains one epoch (compiled ``model.fit``, not an eager per-batch loop);
4. **prunes** every hidden neuron whose largest incoming ``|weight|`` or ``|bias|`` is below
   the threshold, removing its column and the next layer's matching row.

After the self-scaling epochs the penalty is dropped and training continues normally.
Notebook 09 writes this algorithm out in plain code; this package is the fast version.

Modules, by concern:

- :mod:`~course_lib.selfscaling.penalties`  the weighted-L1 and group-sparsity penalties
- :mod:`~course_lib.selfscaling.network`    the network's state, grow, prune, the schedule
- :mod:`~course_lib.selfscaling.engine`     the compiled Keras training engine
- :mod:`~course_lib.selfscaling.state`      the state the engine reads and writes (both import it)
- :mod:`~course_lib.selfscaling.drift`      the CIFAR-10 concept-drift experiment
- :mod:`~course_lib.selfscaling.checks`     argument checks

Example
-------
>>> import numpy as np
>>> reg = SelfScalingRegularizer(0.5, "weighted_l1")
>>> float(reg(np.ones((2, 3), dtype="float32")))   # 0.5 * 2 rows * (1 + 2 + 3)
6.0
>>> net = SelfScalingNet([4, 6, 3], penalty=1e-3, seed=0)
>>> net.hidden_sizes
[6]
"""

from course_lib.selfscaling.checks import METHODS
from course_lib.selfscaling.drift import (
    AUTOMOBILE,
    DOG,
    DRIFT_CONFIGS,
    WIDE_START_MIN_RAM_GIB,
    DriftConfig,
    DriftData,
    StaleResultsError,
    compare_over_seeds,
    drift_configs,
    drift_data,
    drift_results_key,
    drift_results_path,
    drift_summary,
    fits_this_machine,
    load_drift_results,
    load_seed_results,
    reference_schedule,
    results_dir,
    run_drift,
    run_static,
    save_drift_results,
)
from course_lib.selfscaling.engine import KerasEngine, PenalizedDense, static_model
from course_lib.selfscaling.network import OPTIMIZER_STATES, SelfScalingNet, history_column
from course_lib.selfscaling.penalties import SelfScalingRegularizer, neuron_magnitudes

__all__ = [
    "AUTOMOBILE",
    "DOG",
    "DRIFT_CONFIGS",
    "METHODS",
    "OPTIMIZER_STATES",
    "WIDE_START_MIN_RAM_GIB",
    "DriftConfig",
    "DriftData",
    "StaleResultsError",
    "KerasEngine",
    "PenalizedDense",
    "SelfScalingNet",
    "SelfScalingRegularizer",
    "compare_over_seeds",
    "drift_configs",
    "drift_data",
    "drift_results_key",
    "drift_results_path",
    "drift_summary",
    "fits_this_machine",
    "history_column",
    "load_drift_results",
    "load_seed_results",
    "neuron_magnitudes",
    "run_drift",
    "reference_schedule",
    "results_dir",
    "run_static",
    "save_drift_results",
    "static_model",
]
