"""The same work on each Keras backend, side by side in one run: TensorFlow, JAX, PyTorch.

Each installed backend runs in its own child process and times: **CNN epoch**, one epoch of
the course CNN (notebook 06's recipe) on 50,000 images, warm-up excluded; **time to 99.2%**,
the training seconds the fresh CNN needs to reach 99.2% on the 10,000 held-out validation
images (evaluation untimed, test set unused); **augmented CNN, first / next epoch**, notebook
06's expanded-data network on 10,000 images (the first epoch includes compiling), augmenting in
the model, then in the ``tf.data`` pipeline (``course_lib.models.training_batches``);
**self-scaling epoch**, one ``SelfScalingNet.fit`` epoch of notebook 10's network (4 x 400
SELU) on 8,400 CIFAR-10 images after an untimed one. Run it on an idle machine, without ``nice``:

    COURSE_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/backends.py
    python benchmarks/backends.py --fast --out -     # a small run that checks the script
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import provenance

#: The code the table measures: its provenance names their digest (benchmarks/provenance.py).
CODE_PATHS = ["benchmarks/backends.py", "benchmarks/cnn_speed.py", "course_lib/models.py",
              "course_lib/timing.py", "course_lib/arrays.py", "course_lib/selfscaling"]
BACKENDS = ("tensorflow", "jax", "torch")
TARGET = 0.992
CHILD_TIMEOUT_S = 3600


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fast: bool, max_epochs: int) -> dict:
    """The timings, on the backend this process runs (the child's work)."""
    import keras
    import numpy as np
    from cnn_speed import time_to_target

    import course_lib
    from course_lib import models, timing
    from course_lib import selfscaling as ss
    from course_lib.environment import backend_version
    from course_lib.models import CNN_BATCH_SIZE, CNN_PEAK_LR, mnist_cnn, warmup_cosine

    course_lib.setup(verbose=False)
    n_train, n_val = (2048, 512) if fast else (50_000, 10_000)
    (x, y), _ = course_lib.load_mnist(n_train=n_train + n_val, verbose=False)
    (x_train, y_train), (x_val, y_val) = course_lib.hold_out(course_lib.scale(x)[..., None], y, n_val)
    steps = max_epochs * -(-len(x_train) // CNN_BATCH_SIZE)

    def cnn():
        model = mnist_cnn()
        model.compile(optimizer=keras.optimizers.Adam(warmup_cosine(CNN_PEAK_LR, steps)),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    epoch = timing.time_epoch(cnn, x_train, y_train, batch_size=CNN_BATCH_SIZE)
    keras.utils.set_random_seed(42)
    reached, _, accuracies = time_to_target(cnn(), ((x_train, y_train), (x_val, y_val)),
                                            batch_size=CNN_BATCH_SIZE, max_epochs=max_epochs,
                                            target=TARGET, label="CNN")
    n_aug = 512 if fast else 10_000

    def augmented_epochs(in_model: bool) -> list[float]:
        """Seconds of a first and a second epoch of the expanded-data network."""
        keras.utils.set_random_seed(42)
        model = mnist_cnn(models.CNN_AUGMENTED_FILTERS, augment=in_model,
                          dense=models.CNN_AUGMENTED_DENSE, dropout=models.CNN_AUGMENTED_DROPOUT)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        if in_model:
            data = dict(x=x_train[:n_aug], y=y_train[:n_aug], batch_size=CNN_BATCH_SIZE)
        else:  # the dataset shuffles itself
            data = dict(x=models.training_batches(x_train[:n_aug], y_train[:n_aug],
                                                  models.augmentation(), seed=42), shuffle=False)
        return [_seconds(lambda: model.fit(**data, epochs=1, verbose=0)) for _ in range(2)]

    n_ss = 1024 if fast else 8400
    (xc, yc), _ = course_lib.load_cifar10(n_train=n_ss + 1000, verbose=False)
    xc, yc = course_lib.flatten(xc), yc.reshape(-1).astype(np.int64)
    xs, xv = course_lib.standardize(xc[:n_ss], xc[n_ss:])
    net = ss.SelfScalingNet([3072, 400, 400, 400, 400, 10], penalty=1e-6, learning_rate=2e-4,
                            seed=0)
    ss_epoch = timing.time_callable(
        lambda: net.fit(xs, yc[:n_ss], epochs=1, validation_data=(xv, yc[n_ss:]),
                        min_new_neurons=100, verbose=0), repeats=1 if fast else 2, warmup=1)
    return {
        "backend": keras.backend.backend(), "version": backend_version(),
        "cnn_epoch_s": epoch.seconds, "cnn_images": epoch.samples,
        "to_target_s": reached, "epochs_run": len(accuracies),
        "best_val_accuracy": float(max(accuracies)),
        "augmented_epochs_s": {"in_model": augmented_epochs(True),
                               "in_pipeline": augmented_epochs(False)},
        "augmented_images": n_aug, "selfscaling_epoch_s": ss_epoch.seconds,
        "selfscaling_images": n_ss,
    }


def run_child(backend: str, fast: bool, max_epochs: int) -> dict:
    """Measure ``backend`` in a fresh process; its result, or why it failed."""
    cmd = [sys.executable, __file__, "--child", "--max-epochs", str(max_epochs), *["--fast"] * fast]
    try:
        done = subprocess.run(cmd, env=dict(os.environ, KERAS_BACKEND=backend),
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"backend": backend, "error": f"no result within {CHILD_TIMEOUT_S} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"backend": backend, "error": f"exit {done.returncode}: {tail[0][:200]}"}
    return json.loads(lines[-1])


def table(rows: list[dict]) -> list[str]:
    lines = ["| backend | version | CNN epoch s | images/s | s to 99.2% val (epochs) | best val acc "
             "| augmented CNN, first / next epoch s: augmentation in the model | in tf.data "
             "| self-scaling epoch s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed: {r['error']} | | | | | | | |")
            continue
        reached = "not reached" if r["to_target_s"] is None else f"{r['to_target_s']:.1f}"
        aug = {k: " / ".join(f"{s:.1f}" for s in v) for k, v in r["augmented_epochs_s"].items()}
        lines.append(
            f"| {r['backend']} | {r['version']} | {r['cnn_epoch_s']:.1f} "
            f"| {r['cnn_images'] / r['cnn_epoch_s']:,.0f} | {reached} ({r['epochs_run']}) "
            f"| {r['best_val_accuracy']:.4f} | {aug['in_model']} | {aug['in_pipeline']} "
            f"| {r['selfscaling_epoch_s']:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = provenance.parser(__doc__, "backends.md")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=None,
                        help="default: every backend installed")
    parser.add_argument("--max-epochs", type=int, default=8, help="cap for the time to 99.2%%")
    parser.add_argument("--fast", action="store_true", help="small data: checks the script")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.fast, args.max_epochs)), flush=True)
        return 0

    from course_lib.environment import installed_backends

    installed = installed_backends()
    backends = args.backends or [b for b in BACKENDS if installed[b]]
    if missing := [b for b in backends if not installed[b]]:
        parser.error(f"not installed: {', '.join(missing)}; see README, 'Choosing the Keras backend'.")
    started_run, started = provenance.start(CODE_PATHS), time.perf_counter()
    rows = []
    for backend in backends:
        print(f"{backend} ...", flush=True)
        rows.append(run_child(backend, args.fast, args.max_epochs))
        print("  ", rows[-1], flush=True)
    method = (f"{'FAST MODE: small data, not results. ' if args.fast else 'Full data. '}"
              "What each column measures is in the docstring of `benchmarks/backends.py`; every "
              "backend runs in its own process, one after the other "
              f"({time.perf_counter() - started:.0f} s in all).")
    provenance.report(args.out, "The same work on each Keras backend",
                      provenance.command(__file__, argv), CODE_PATHS, method,
                      ["\n".join(table(rows))], started=started_run)
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
