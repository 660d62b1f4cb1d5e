"""The CIFAR-10 concept-drift experiment of notebooks 10-11 and ``benchmarks/selfscaling_reproduce.py``.

Its configurations, the two phases (automobiles and dogs, then all ten classes), the memory
gate for the 4000-neuron start, the results notebook 10 hands to notebook 11, the static twin.

>>> [c.hidden for c in drift_configs(fast=True)]
[32, 32, 32, 128]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib.selfscaling.engine import static_model
from course_lib.selfscaling.network import SelfScalingNet

AUTOMOBILE, DOG = 1, 5  # CIFAR-10 labels


@dataclass(frozen=True)
class DriftConfig:
    """One run of the drift experiment: phase 1 on automobiles and dogs, phase 2 on all ten."""

    name: str
    regularization: str
    penalty: float
    hidden: int  # starting width of each of the four hidden layers
    phase1_epochs: int  # all self-scaling
    phase2_epochs: int
    phase2_scaling_epochs: int  # the rest of phase 2 trains without the penalty
    penalty_multiplier: float = 1.5  # applied once per validation-loss stall
    optimizer_state: str = "carry"  # Adam across grow/prune: "carry", "reset" or "reference"
    phase2_fits: int = 1  # phase 2 as this many equal fit calls (each restarts the stall check)


def reference_schedule(config: DriftConfig) -> DriftConfig:
    """``config`` with the 2021 notebook's phase 2: two ``fit`` calls of five epochs, all
    self-scaling (each restarting the stall check), and Adam reset at every grow and prune
    (``"reset"``: step counter 0; the 2021 code's own semantics, which keep the step counter,
    are ``optimizer_state="reference"``).

    >>> reference_schedule(DRIFT_CONFIGS[0]).phase2_scaling_epochs
    10
    """
    return dataclasses.replace(
        config, name=f"{config.name}, reference schedule",
        phase2_scaling_epochs=config.phase2_epochs, optimizer_state="reset", phase2_fits=2,
    )


# The reference's four runs; group sparsity keeps multiplier 1 (at 1.5 it pruned to 61 neurons).
DRIFT_CONFIGS = (
    DriftConfig("weighted L1 1e-6", "weighted_l1", 1e-6, 300, 40, 10, 5),
    DriftConfig("weighted L1 1e-5", "weighted_l1", 1e-5, 300, 40, 10, 5),
    DriftConfig("group sparsity 0.01", "group_sparsity", 1e-2, 300, 20, 10, 5, 1.0),
    DriftConfig("weighted L1 1e-7, 4000 start", "weighted_l1", 1e-7, 4000, 20, 10, 5),
)


def drift_configs(fast: bool) -> list[DriftConfig]:
    """The four configurations; in fast mode narrower and with few epochs (a smoke test)."""
    if not fast:
        return list(DRIFT_CONFIGS)
    return [
        dataclasses.replace(c, hidden=32 if c.hidden <= 300 else 128, phase1_epochs=3,
                            phase2_epochs=2, phase2_scaling_epochs=1)
        for c in DRIFT_CONFIGS
    ]


WIDE_START_MIN_RAM_GIB = 6.0  # the 4000-neuron start peaked at 3.84 GiB; "8 GB" laptops report 7.6


def fits_this_machine(config: DriftConfig, fast: bool) -> bool:
    """Whether to run ``config`` here: wide starts (more than 300 neurons per layer) only in
    fast mode (shrunk) or with at least ``WIDE_START_MIN_RAM_GIB`` of RAM; not when the RAM
    is unknown (psutil missing), because running out of memory kills the kernel.

    >>> fits_this_machine(DRIFT_CONFIGS[0], fast=False)   # 300 per layer: always
    True
    """
    if fast or config.hidden <= 300:
        return True
    from course_lib.environment import memory_gib

    ram = memory_gib()
    return ram is not None and ram >= WIDE_START_MIN_RAM_GIB


def drift_summary(config: DriftConfig, net: SelfScalingNet, data: DriftData) -> dict:
    """What notebook 11 needs of a finished drift run: final sizes, accuracies, epochs and
    the penalties the schedule used (test accuracy measured here, once)."""
    return {
        "hidden_sizes": net.hidden_sizes,
        "val_accuracy": net.history[-1]["val_accuracy"],
        "test_accuracy": net.evaluate(*data.test)[1],
        "phase1_epochs": config.phase1_epochs,
        "phase2_epochs": config.phase2_epochs,
        "penalties": sorted({r["penalty"] for r in net.history if r["penalty"] > 0}),
    }


class StaleResultsError(RuntimeError):
    """Saved results that do not belong to this run (other settings, data, code or user)."""


def results_dir() -> Path:
    """This user's folder for results handed from one notebook to the next: ``COURSE_CACHE_DIR``,
    else ``course_lib`` in the per-user cache (``$XDG_CACHE_HOME`` or ``~/.cache``,
    ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows); never a shared temporary folder.
    """
    if os.environ.get("COURSE_CACHE_DIR"):
        return Path(os.environ["COURSE_CACHE_DIR"]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "course_lib"


def code_version() -> str:
    """A digest of the self-scaling code: results made by other code are stale."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def drift_results_key(configs: Sequence[DriftConfig], data: DriftData, *, mode_name: str,
                      seed: int, min_new_neurons: int) -> dict:
    """Everything the drift results depend on; notebook 11 accepts results only for its own."""
    return {
        "configs": [dataclasses.asdict(c) for c in configs],
        "data": data.fingerprint,
        "mode": mode_name,
        "seed": int(seed),
        "min_new_neurons": int(min_new_neurons),
        "code": code_version(),
    }


def drift_results_path(mode_name: str, seed: int) -> Path:
    """Where notebook 10 leaves its results for notebook 11 (this user's cache folder)."""
    return results_dir() / "selfscaling" / f"drift_{mode_name}_seed{seed}.json"


def save_drift_results(path: Path, results: dict, key: dict) -> Path:
    """Save ``{config name: summary}`` with the ``key`` it was made for, when and where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"key": key, "saved": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "host": platform.node(), "results": results}
    partial = path.with_name(path.name + ".partial")  # a reader never sees half a file
    partial.write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")
    os.replace(partial, path)
    return path


def load_drift_results(path: Path, key: dict) -> dict | None:
    """The saved results made for exactly ``key``, or None when there are none yet; a file made
    with other settings, data or code, or owned by another user, raises :class:`StaleResultsError`."""
    path = Path(path)
    if not path.exists():
        return None
    fix = (f"Run notebook 10 again with the same mode and seed to regenerate them, or delete "
           f"{path} and notebook 11 runs the self-scaling networks itself.")
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        raise StaleResultsError(f"{path} belongs to another user; refusing to use it. {fix}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        saved_key, results = record["key"], record["results"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StaleResultsError(f"{path} is not a results file of this course ({exc!r}). {fix}") from None
    differ = sorted(k for k in set(key) | set(saved_key) if key.get(k) != saved_key.get(k))
    if differ:
        raise StaleResultsError(
            f"{path} (saved {record.get('saved', '?')} on {record.get('host', '?')}) was made "
            f"with a different {', '.join(differ)}; refusing to use it. {fix}"
        )
    return results


@dataclass
class DriftData:
    """Standardized, flattened CIFAR-10 for the drift experiment (labels stay 0..9).

    ``phase1``/``phase2``: (x_train, y_train, x_val, y_val), validation held out of the training
    set; ``test``/``test_phase1`` (all classes / automobiles and dogs) for the final report only.
    """

    phase1: tuple
    phase2: tuple
    test: tuple
    test_phase1: tuple
    fingerprint: str = ""  # a digest of the arrays: results made on other data are stale


def drift_data(
    *, n_train: int | None = None, n_test: int | None = None, val_fraction: float = 0.1,
    seed: int = 42, verbose: bool = True, **load_options,
) -> DriftData:
    """Load CIFAR-10 and cut it for the drift experiment; ``load_options`` go to
    :func:`course_lib.load_cifar10` (e.g. ``source="standin"``)."""
    from course_lib.arrays import flatten, pick_classes, standardize
    from course_lib.data import load_cifar10

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}.")
    (x, y), (x_test, y_test) = load_cifar10(n_train=n_train, n_test=n_test, verbose=verbose,
                                               **load_options)
    x, x_test = flatten(x), flatten(x_test)
    y, y_test = y.reshape(-1).astype(np.int64), y_test.reshape(-1).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    x_train, x_val, x_test = standardize(x[train], x[val], x_test)
    y_train, y_val = y[train], y[val]
    drift = [AUTOMOBILE, DOG]
    p1 = (*pick_classes(x_train, y_train, drift), *pick_classes(x_val, y_val, drift))
    return DriftData(
        phase1=p1,
        phase2=(x_train, y_train, x_val, y_val),
        test=(x_test, y_test),
        test_phase1=pick_classes(x_test, y_test, drift),
        fingerprint=fingerprint(x_train, y_train, x_val, y_val, x_test, y_test),
    )


def fingerprint(*arrays: np.ndarray) -> str:
    """A short digest of arrays: shapes, labels in full, every 97th value of the rest.

    >>> fingerprint(np.zeros(3)) == fingerprint(np.zeros(3)) != fingerprint(np.ones(3))
    True
    """
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.shape}{a.dtype}".encode())
        digest.update(a.tobytes() if a.ndim == 1 else a.reshape(-1)[::97].tobytes())
    return digest.hexdigest()[:16]


def run_drift(
    config: DriftConfig,
    data: DriftData,
    *,
    min_new_neurons: int = 100,
    penalty_multiplier: float | None = None,
    stall_coefficient: float = 1.0,
    batch_size: int = 32,
    seed: int | None = None,
    verbose: int = 1,
) -> SelfScalingNet:
    """Phase 1 (automobiles and dogs, all self-scaling), then phase 2 (all ten classes);
    ``penalty_multiplier`` defaults to the configuration's own."""
    if penalty_multiplier is None:
        penalty_multiplier = config.penalty_multiplier
    width = data.phase1[0].shape[1]
    net = SelfScalingNet(
        [width] + [config.hidden] * 4 + [10],
        regularization=config.regularization, penalty=config.penalty, seed=seed,
        optimizer_state=config.optimizer_state,
    )
    common = dict(batch_size=batch_size, min_new_neurons=min_new_neurons,
                  penalty_multiplier=penalty_multiplier, stall_coefficient=stall_coefficient,
                  verbose=verbose)
    x, y, xv, yv = data.phase1
    net.fit(x, y, epochs=config.phase1_epochs, validation_data=(xv, yv), phase="phase 1",
            **common)
    x, y, xv, yv = data.phase2
    per_fit, scaling_left = config.phase2_epochs // config.phase2_fits, config.phase2_scaling_epochs
    for _ in range(config.phase2_fits):
        scaling = min(per_fit, scaling_left)
        scaling_left -= scaling
        net.fit(x, y, epochs=per_fit, self_scaling_epochs=scaling, validation_data=(xv, yv),
                phase="phase 2", **common)
    net.engine.release()  # a finished run keeps its state, not its training model
    return net


def run_static(
    layer_sizes: Sequence[int],
    data: DriftData,
    *,
    phase1_epochs: int,
    phase2_epochs: int,
    batch_size: int = 32,
) -> dict:
    """The same two phases for a static Keras MLP; returns its histories and test scores."""
    model = static_model(layer_sizes)
    x, y, xv, yv = data.phase1
    h1 = model.fit(x, y, batch_size=batch_size, epochs=phase1_epochs,
                   validation_data=(xv, yv), verbose=0).history
    x, y, xv, yv = data.phase2
    h2 = model.fit(x, y, batch_size=batch_size, epochs=phase2_epochs,
                   validation_data=(xv, yv), verbose=0).history
    test_loss, test_acc = model.evaluate(*data.test, batch_size=1024, verbose=0)
    return {"model": model, "phase1": h1, "phase2": h2,
            "val_accuracy": h2["val_accuracy"][-1], "test_accuracy": float(test_acc),
            "test_loss": float(test_loss)}


SEED_RESULTS = "selfscaling_results.json"  # written by benchmarks/selfscaling_reproduce.py
SEED_RESULTS_COMMAND = "python benchmarks/selfscaling_reproduce.py --seeds 42 43 44"


def seed_results_code(results: dict) -> str | None:
    """The :func:`code_version` a seed-results file was made with (None if it records none).

    >>> seed_results_code({"provenance": {"selfscaling_code": "abc"}, "meta": {"code": "abc"}})
    'abc'
    """
    found = (results.get("provenance") or {}).get("selfscaling_code")
    return found or (results.get("meta") or {}).get("code")


def load_seed_results(path: str | Path | None = None, *, check_code: bool = True
                      ) -> tuple[dict, str]:
    """The drift experiment over several seeds, and where the file was read from.

    ``path`` defaults to the repository's ``results/selfscaling_results.json``, or the copy
    packaged with a wheel install (Colab). Results of other self-scaling code raise
    :class:`StaleResultsError` unless ``check_code=False``.
    """
    if path is None:
        root = Path(__file__).resolve().parents[2]
        if (root / "results" / SEED_RESULTS).exists():
            results = json.loads((root / "results" / SEED_RESULTS).read_text(encoding="utf-8"))
            source = f"results/{SEED_RESULTS} of the course's repository"  # no machine path shown
            return (_current(results, source) if check_code else results), source
        else:
            from course_lib.course_files import read_text

            results = json.loads(read_text(SEED_RESULTS))
            source = f"the copy packaged with course_lib ({SEED_RESULTS})"
            return (_current(results, source) if check_code else results), source
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run jobs/slurm/selfscaling_seeds.sh "
                                f"(or {SEED_RESULTS_COMMAND}) to make it.")
    results = json.loads(path.read_text(encoding="utf-8"))
    return (_current(results, str(path)) if check_code else results), str(path)


def _current(results: dict, source: str) -> dict:
    """``results`` if made with this self-scaling code, else :class:`StaleResultsError`."""
    made_with, now = seed_results_code(results), code_version()
    if made_with != now:
        raise StaleResultsError(
            f"{source} was made with other self-scaling code (code digest {made_with}; this "
            f"code's is {now}); refusing to use it. Regenerate it with `{SEED_RESULTS_COMMAND}` "
            "(about 30 minutes per seed on 2 CPU cores; `sbatch jobs/slurm/selfscaling_seeds.sh` "
            "on a cluster), then `make colab` refreshes the packaged copy."
        )
    return results


def compare_over_seeds(runs: Sequence[dict]) -> dict:
    """Self-scaling vs its static twin over seeds: means, spreads and the verdict (the mean
    difference beats the spread when it exceeds either side's standard deviation, same sign).

    >>> runs = [{"test_accuracy": a, "static_test_accuracy": b}
    ...         for a, b in ((0.51, 0.49), (0.52, 0.50), (0.50, 0.49))]
    >>> v = compare_over_seeds(runs)
    >>> round(v["difference"], 3), v["larger_than_spread"]
    (0.017, True)
    """
    ours = [r["test_accuracy"] for r in runs]
    static = [r["static_test_accuracy"] for r in runs]
    if len(ours) < 2 or None in static:
        raise ValueError("need at least two seeds, each with its static twin's test accuracy")
    diffs = [a - b for a, b in zip(ours, static, strict=True)]
    spread = max(statistics.stdev(ours), statistics.stdev(static))
    difference = statistics.mean(diffs)
    same_sign = all(d > 0 for d in diffs) or all(d < 0 for d in diffs)
    return {
        "seeds": len(runs),
        "self_scaling": (statistics.mean(ours), statistics.stdev(ours)),
        "static": (statistics.mean(static), statistics.stdev(static)),
        "difference": difference,
        "spread": spread,
        "larger_than_spread": abs(difference) > spread and same_sign,
    }
