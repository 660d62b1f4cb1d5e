"""Time to 99.0% and 99.2% validation accuracy: the course's fast CNN against Keras's
``mnist_convnet``, side by side in one run, over several seeds.

Both train on the first 50,000 training images and are validated on the last 10,000 at fixed
points of every epoch (``--evals-per-epoch``); the clock counts training only, and the test set
is used once per network and seed, at the end (protocol: benchmarks/README.md). The fast CNN
follows its recipe (``course_lib.models``: ``fast_mnist_cnn``, ``compile_fast_cnn``) for
``--cnn-epochs`` epochs; ``mnist_convnet`` trains until it reaches ``--target`` or
``--max-epochs``. The Markdown table goes to ``--out``, the validation-accuracy-against-seconds
curves next to it (``.json``), both with their provenance.

    COURSE_DATA_DIR=/path/to/data python benchmarks/cnn_speed.py --seeds 42 43 44  # writes results/
    python benchmarks/cnn_speed.py --seeds 42 --out -              # prints only
    KERAS_BACKEND=jax python benchmarks/cnn_speed.py --out -       # JAX (or torch) prints only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import course_lib  # before Keras: TensorFlow then starts without its log lines (course_lib.quiet)

# isort: split
import keras
import provenance
from keras import layers

from course_lib import models

ROOT = Path(__file__).resolve().parents[1]
#: The code the table measures: its provenance names their digest (benchmarks/provenance.py).
CODE_PATHS = ["benchmarks/cnn_speed.py", "course_lib/models.py", "course_lib/arrays.py"]
#: The goals: the fast CNN reaches ``--target`` within this many seconds of training (median),
#: and ``--ratio-target`` at least this many times sooner than ``mnist_convnet`` (medians).
BUDGET_S, MIN_SPEEDUP = 30.0, 8.0
REFERENCE_BATCH_SIZE = 128


def reference_convnet() -> keras.Model:
    """Keras's example ``mnist_convnet`` (keras.io/examples/vision/mnist_convnet)."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="keras_mnist_convnet",
    )


def time_to_target(model, data, *, batch_size, max_epochs, target, label):
    """Train epoch by epoch until the validation accuracy reaches ``target``.

    Returns (train seconds to target or None, total train seconds, validation accuracies).
    """
    (x_train, y_train), (x_val, y_val) = data
    train_seconds, accuracies = 0.0, []
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=batch_size, epochs=1, verbose=0)
        train_seconds += time.perf_counter() - start
        _, acc = model.evaluate(x_val, y_val, batch_size=1000, verbose=0)
        accuracies.append(acc)
        print(f"  {label}: epoch {epoch:2d}  validation acc {acc:.4f}  train time {train_seconds:6.1f} s"
              f"  load {os.getloadavg()[0]:.1f}", flush=True)
        if acc >= target:
            return train_seconds, train_seconds, accuracies
    return None, train_seconds, accuracies


class TrainingClock(keras.callbacks.Callback):
    """Training seconds only: every ``steps_per_check`` batches (and at each epoch's end) the
    clock stops, the model is validated, and ``[seconds, epochs trained, validation accuracy]``
    goes into ``curve``; training stops once the accuracy reaches ``stop_at``."""

    def __init__(self, validation, *, steps_per_epoch: int, steps_per_check: int, label: str,
                 stop_at: float | None = None):
        super().__init__()
        self.validation, self.label, self.stop_at, self.curve = validation, label, stop_at, []
        self.steps_per_epoch, self.steps_per_check = steps_per_epoch, steps_per_check
        self._start = self._paused = 0.0
        self._step = 0

    def on_train_begin(self, logs=None):
        self._start, self._paused, self._step = time.perf_counter(), 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        in_epoch = self._step % self.steps_per_epoch
        if in_epoch and in_epoch % self.steps_per_check:
            return
        paused_at = time.perf_counter()
        seconds = paused_at - self._start - self._paused
        x_val, y_val = self.validation
        acc = float(self.model.evaluate(x_val, y_val, batch_size=1000, verbose=0, return_dict=True)["accuracy"])
        self._paused += time.perf_counter() - paused_at
        epochs = self._step / self.steps_per_epoch
        self.curve.append([round(seconds, 3), round(epochs, 4), round(acc, 4)])
        print(f"  {self.label}: epoch {epochs:5.2f}  validation acc {acc:.4f}  train time "
              f"{seconds:6.1f} s  load {os.getloadavg()[0]:.1f}", flush=True)
        if self.stop_at is not None and acc >= self.stop_at:
            self.model.stop_training = True


def train_with_clock(model, data, *, batch_size, epochs, evals_per_epoch, label, stop_at=None):
    """One plain ``fit`` over ``epochs`` epochs, validated ``evals_per_epoch`` times per epoch by
    a :class:`TrainingClock` with the clock stopped; the clock's curve."""
    (x_train, y_train), validation = data
    steps_per_epoch = -(-len(x_train) // batch_size)
    evals_per_epoch = min(evals_per_epoch, max(1, steps_per_epoch // 2))  # tiny data: fewer
    clock = TrainingClock(validation, steps_per_epoch=steps_per_epoch,
                          steps_per_check=-(-steps_per_epoch // evals_per_epoch), label=label,
                          stop_at=stop_at)
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, callbacks=[clock], verbose=0)
    return clock.curve


def first_time(curve: list, target: float) -> float | None:
    """Training seconds at the first check with validation accuracy >= ``target``, else None.

    >>> first_time([[5.0, 0.5, 0.98], [9.0, 1.0, 0.991]], 0.99), first_time([[5.0, 0.5, 0.98]], 0.99)
    (9.0, None)
    """
    return next((seconds for seconds, _, acc in curve if acc >= target), None)


def median_or_none(values: list[float | None]) -> float | None:
    """The median, "not reached" (None) counting as slower than any time; None when it falls there.

    >>> median_or_none([12.0, None, 10.0]), median_or_none([10.0, None]), median_or_none([9.0, 11.0])
    (12.0, None, 10.0)
    """
    ordered = sorted(values, key=lambda v: float("inf") if v is None else v)
    middle = ordered[(len(ordered) - 1) // 2: len(ordered) // 2 + 1]
    return None if None in middle else statistics.mean(middle)


def spread(values: list[float | None]) -> str:
    """Median and range of ``values`` (None: not reached), for the table.

    >>> spread([10.0, 12.5, 11.0]), spread([10.0, None, 12.0]), spread([None, None])
    ('11.0 s (10.0-12.5)', '12.0 s (10.0-not reached)', 'not reached')
    """
    reached = sorted(v for v in values if v is not None)
    if not reached:
        return "not reached"
    median = median_or_none(values)
    text = "not reached" if median is None else f"{median:.1f} s"
    if len(values) > 1:
        top = "not reached" if len(reached) < len(values) else f"{reached[-1]:.1f}"
        text += f" ({reached[0]:.1f}-{top})"
    return text


def seconds_per_epoch(curve: list) -> float:
    """Training seconds per epoch from a curve, leaving out the first check (it compiles)."""
    if len(curve) < 3:
        return curve[-1][0] / curve[-1][1]
    (t0, e0, _), (t1, e1, _) = curve[0], curve[-1]
    return (t1 - t0) / (e1 - e0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=float, default=0.992,
                        help=f"validation accuracy the fast CNN must reach within {BUDGET_S:.0f} s")
    parser.add_argument("--ratio-target", type=float, default=0.99,
                        help=f"validation accuracy at which the fast CNN must be "
                             f"{MIN_SPEEDUP:.0f}x sooner than mnist_convnet")
    parser.add_argument("--max-epochs", type=int, default=20, help="cap for mnist_convnet")
    parser.add_argument("--cnn-epochs", type=int, default=models.FAST_CNN_EPOCHS,
                        help="length of the fast CNN's learning-rate schedule (its epochs)")
    parser.add_argument("--evals-per-epoch", type=int, default=4,
                        help="validations per epoch, for both networks (the curve's resolution)")
    parser.add_argument("--jit-compile", choices=("recipe", "on", "off"), default="recipe",
                        help="XLA for the fast CNN: the recipe's choice for this backend, or forced")
    parser.add_argument("--seeds", "--seed", type=int, nargs="+", default=[42],
                        help="one run of both networks per seed, e.g. --seeds 42 43 44")
    parser.add_argument("--out", default=str(ROOT / "results" / "cnn_speed.md"),
                        help="markdown file to write (its curves go next to it, .json), or - for none")
    args = parser.parse_args(argv)
    for name in ("max_epochs", "cnn_epochs", "evals_per_epoch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    started = provenance.start(CODE_PATHS)
    backend = keras.backend.backend()
    jit = {"recipe": None, "on": True, "off": False}[args.jit_compile]
    if jit and backend == "torch":
        print("jit_compile: off on torch (torch.compile is not part of the recipe there)")
        jit = False

    (x, y), (x_test, y_test) = course_lib.load_mnist()
    # Scaled to float32 once, channels last: fit then slices batches without converting them.
    x, x_test = course_lib.scale(x)[..., None], course_lib.scale(x_test)[..., None]
    data = course_lib.hold_out(x, y, 10_000)  # (train, validation); the test set waits
    n_train = len(data[0][0])

    runs: dict[str, dict[str, dict]] = {"fast_cnn": {}, "mnist_convnet": {}}
    for seed in args.seeds:
        course_lib.set_seed(seed)
        fast = models.compile_fast_cnn(models.fast_mnist_cnn(), n_train, epochs=args.cnn_epochs,
                                       jit_compile=jit)
        print(f"seed {seed}: fast CNN ({fast.count_params():,} parameters), jit_compile="
              f"{fast.jit_compile}, {args.cnn_epochs} epochs, batch {models.FAST_CNN_BATCH_SIZE}")
        fast_curve = train_with_clock(fast, data, batch_size=models.FAST_CNN_BATCH_SIZE,
                                      epochs=args.cnn_epochs, evals_per_epoch=args.evals_per_epoch,
                                      label="fast CNN")

        course_lib.set_seed(seed)
        ref = reference_convnet()
        ref.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        print(f"seed {seed}: Keras mnist_convnet ({ref.count_params():,} parameters), Adam, "
              f"batch {REFERENCE_BATCH_SIZE}")
        ref_curve = train_with_clock(ref, data, batch_size=REFERENCE_BATCH_SIZE,
                                     epochs=args.max_epochs, evals_per_epoch=args.evals_per_epoch,
                                     label="mnist_convnet", stop_at=max(args.target, args.ratio_target))
        # The test set, once per network and seed, after its clock stopped.
        for name, model, curve in (("fast_cnn", fast, fast_curve), ("mnist_convnet", ref, ref_curve)):
            runs[name][str(seed)] = {
                "curve": curve,
                "time_to": {str(t): first_time(curve, t) for t in (args.ratio_target, args.target)},
                "best_val_acc": max(acc for _, _, acc in curve),
                "test_acc": round(float(model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]), 4),
                "parameters": model.count_params(),
            }

    def times(name, target):
        return [run["time_to"][str(target)] for run in runs[name].values()]

    ref_epoch_s = statistics.median(seconds_per_epoch(r["curve"]) for r in runs["mnist_convnet"].values())
    fast_epoch_s = statistics.median(seconds_per_epoch(r["curve"]) for r in runs["fast_cnn"].values())
    fast_ratio_t = median_or_none(times("fast_cnn", args.ratio_target))
    ref_ratio_t = median_or_none(times("mnist_convnet", args.ratio_target))
    fast_target_t = median_or_none(times("fast_cnn", args.target))
    if fast_ratio_t and ref_ratio_t:
        speedup, ratio = ref_ratio_t / fast_ratio_t, f"{ref_ratio_t / fast_ratio_t:.1f}x"
    elif fast_ratio_t:  # the reference never got there: its whole run is a lower bound
        longest = max(r["curve"][-1][0] for r in runs["mnist_convnet"].values())
        speedup = longest / fast_ratio_t
        ratio = f"more than {speedup:.1f}x (mnist_convnet did not reach it in {args.max_epochs} epochs)"
    else:
        speedup, ratio = 0.0, "n/a (the fast CNN did not reach it)"
    budget_met = fast_target_t is not None and fast_target_t <= BUDGET_S
    speedup_met = speedup >= MIN_SPEEDUP

    argv_text = "".join(" " + a for a in (sys.argv[1:] if argv is None else argv))
    command = f"python benchmarks/cnn_speed.py{argv_text}"
    seeds = ", ".join(map(str, args.seeds))
    method = (f"Both models train on 50,000 training images and are validated on the other 10,000 "
              f"{args.evals_per_epoch} times per epoch, at fixed steps; the clock counts training "
              "only, not the validation. The test set is used once per model and seed, at the end. "
              f"Both models train in one process, one after the other, for each seed ({seeds}); "
              "times are medians over the seeds with their range. Keras backend "
              f"{backend}; machines compare through mnist_convnet's seconds per epoch.")
    fast_row = (f"fast CNN (`course_lib.models.fast_mnist_cnn`, filters "
                f"{'-'.join(map(str, models.FAST_CNN_FILTERS))}, pool before BatchNorm, Adam "
                f"{models.FAST_CNN_PEAK_LR:g} warm-up/cosine over {args.cnn_epochs} epochs, batch "
                f"{models.FAST_CNN_BATCH_SIZE}, jit_compile {fast.jit_compile})")
    ref_row = f"Keras `mnist_convnet` (Adam, batch {REFERENCE_BATCH_SIZE}, cap {args.max_epochs} epochs)"

    def row(label, name, per_epoch):
        seeds_runs = runs[name].values()
        best = [r["best_val_acc"] for r in seeds_runs]
        tests = [r["test_acc"] for r in seeds_runs]
        return (f"| {label} | {next(iter(seeds_runs))['parameters']:,} | {per_epoch:.1f} s | "
                f"{spread(times(name, args.ratio_target))} | {spread(times(name, args.target))} | "
                f"{statistics.median(best):.4f} | {statistics.median(tests):.4f} |")

    cpu = provenance.machine_info().get("cpu", "unknown CPU")
    lines = [
        f"# CNN speed: time to {args.ratio_target:.1%} and {args.target:.1%} MNIST validation accuracy",
        "",
        provenance.markdown_header(command, CODE_PATHS, method, started=started),
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores; `mnist_convnet` trains at "
        f"**{ref_epoch_s:.1f} s per epoch** here (the fast CNN at {fast_epoch_s:.1f} s).",
        "",
        f"| model | parameters | s per epoch | training time to {args.ratio_target:.1%} | "
        f"training time to {args.target:.1%} | best validation acc | test acc (once, at the end) |",
        "|---|---|---|---|---|---|---|",
        row(fast_row, "fast_cnn", fast_epoch_s),
        row(ref_row, "mnist_convnet", ref_epoch_s),
        "",
        f"**Speed-up to {args.ratio_target:.1%} (mnist_convnet's median time / the fast CNN's): "
        f"{ratio}** (goal >= {MIN_SPEEDUP:.0f}x: {'met' if speedup_met else 'not met'}). "
        f"**Fast CNN to {args.target:.1%}: "
        f"{'not reached' if fast_target_t is None else f'{fast_target_t:.1f} s'}** (median; goal "
        f"<= {BUDGET_S:.0f} s on 2 idle cores: {'met' if budget_met else 'not met'}).",
        "",
        "Validation accuracy at each check (training seconds: accuracy), per seed"
        + ("." if args.out == "-" else f"; the curves are in `{Path(args.out).with_suffix('.json').name}`:"),
        "",
    ]
    for name, label in (("fast_cnn", "fast CNN"), ("mnist_convnet", "mnist_convnet")):
        for seed, run in runs[name].items():
            points = ", ".join(f"{s:.0f} s: {a:.4f}" for s, e, a in run["curve"]
                               if abs(e - round(e)) < 1e-6)
            lines.append(f"- {label}, seed {seed}, after each epoch: {points}")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out != "-":
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        record = {
            "provenance": provenance.json_block(command, CODE_PATHS, started=started),
            "machine": {"cpu": cpu, "cores": os.cpu_count(), "keras_backend": backend,
                        "mnist_convnet_seconds_per_epoch": round(ref_epoch_s, 2),
                        "fast_cnn_seconds_per_epoch": round(fast_epoch_s, 2)},
            "targets": {"target": args.target, "ratio_target": args.ratio_target,
                        "budget_s": BUDGET_S, "min_speedup": MIN_SPEEDUP},
            "curve_columns": ["training seconds", "epochs", "validation accuracy"],
            "summary": {"speedup": round(speedup, 2), "speedup_met": speedup_met,
                        "fast_cnn_time_to_target": fast_target_t, "budget_met": budget_met},
            "runs": runs,
        }
        out.with_suffix(".json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0 if budget_met and speedup_met else 1


if __name__ == "__main__":
    sys.exit(main())
