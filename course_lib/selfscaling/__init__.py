"""Self-scaling dense networks: hidden layers that grow and prune their own neurons.

Dynamic Auto-Sizing (Cahlik, Kordik & Cepek, IEEE CSIT 2022): a penalty pushes whole neurons
towards zero, and each *self-scaling epoch* multiplies the penalty by ``penalty_multiplier``
when the validation loss stalled, grows every hidden layer by ``max(min_new_neurons,
int(0.2 * units))`` near-zero neurons, trains one epoch and prunes every neuron whose largest
incoming ``|weight|`` or ``|bias|`` is below the threshold; then the penalty is dropped and
training goes on normally. Notebook 09 writes the algorithm out in plain code. Modules:
``penalties``, ``network`` (state, grow, prune, schedule), ``engine`` (the compiled training
step), ``state`` (what both share), ``drift`` (the CIFAR-10 experiment), ``checks``.

>>> import numpy as np
>>> reg = SelfScalingRegularizer(0.5, "weighted_l1")
>>> float(reg(np.ones((2, 3), dtype="float32")))   # 0.5 * 2 rows * (1 + 2 + 3)
6.0
>>> SelfScalingNet([4, 6, 3], penalty=1e-3, seed=0).hidden_sizes
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
    "AUTOMOBILE", "DOG", "DRIFT_CONFIGS", "METHODS", "OPTIMIZER_STATES",
    "WIDE_START_MIN_RAM_GIB", "DriftConfig", "DriftData", "StaleResultsError", "KerasEngine",
    "PenalizedDense", "SelfScalingNet", "SelfScalingRegularizer", "compare_over_seeds",
    "drift_configs", "drift_data", "drift_results_key", "drift_results_path", "drift_summary",
    "fits_this_machine", "history_column", "load_drift_results", "load_seed_results",
    "neuron_magnitudes", "run_drift", "reference_schedule", "results_dir", "run_static",
    "save_drift_results", "static_model",
]
