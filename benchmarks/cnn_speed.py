"""Time-to-99.2%: the course CNN against Keras's reference ``mnist_convnet``, in one run.

Both train on the first 50,000 training images and are validated on the last 10,000 after every
epoch until they reach the target; only training time counts, and the test set is used once
per network at the end (protocol: benchmarks/README.md).

    COURSE_DATA_DIR=/path/to/data python benchmarks/cnn_speed.py            # writes results/cnn_speed.md
    python benchmarks/cnn_speed.py --target 0.992 --max-epochs 20 --out -   # print only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import keras
import provenance
from keras import layers

import course_lib
from course_lib.models import CNN_BATCH_SIZE, CNN_PEAK_LR, mnist_cnn, warmup_cosine

ROOT = Path(__file__).resolve().parents[1]
#: The code the table measures: its provenance names their digest (benchmarks/provenance.py).
CODE_PATHS = ["benchmarks/cnn_speed.py", "course_lib/models.py", "course_lib/arrays.py"]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=float, default=0.992, help="validation accuracy to reach")
    parser.add_argument("--max-epochs", type=int, default=20, help="cap for the reference model")
    parser.add_argument("--cnn-epochs", type=int, default=4,
                        help="length of the course CNN's learning-rate schedule (its epoch cap)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "results" / "cnn_speed.md"),
                        help="markdown file to write, or - for none")
    args = parser.parse_args(argv)
    started = provenance.start(CODE_PATHS)

    (x, y), (x_test, y_test) = course_lib.load_mnist()
    x, x_test = course_lib.scale(x)[..., None], course_lib.scale(x_test)[..., None]
    data = course_lib.hold_out(x, y, 10_000)  # (train, validation); the test set waits
    x_train = data[0][0]

    course_lib.set_seed(args.seed)
    ours = mnist_cnn()
    steps = args.cnn_epochs * -(-len(x_train) // CNN_BATCH_SIZE)
    ours.compile(optimizer=keras.optimizers.Adam(warmup_cosine(CNN_PEAK_LR, steps)),
                 loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"course CNN ({ours.count_params():,} parameters), schedule over {args.cnn_epochs} epochs")
    ours_t, ours_total, ours_acc = time_to_target(ours, data, batch_size=CNN_BATCH_SIZE,
                                              max_epochs=args.cnn_epochs, target=args.target,
                                              label="course CNN")

    course_lib.set_seed(args.seed)
    ref = reference_convnet()
    ref.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"Keras mnist_convnet ({ref.count_params():,} parameters), Adam, batch 128")
    ref_t, ref_total, ref_acc = time_to_target(ref, data, batch_size=128, max_epochs=args.max_epochs,
                                           target=args.target, label="mnist_convnet")
    # The test set, once per network, after its clock stopped: the accuracy it reached.
    ours_test, ref_test = (m.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1] for m in (ours, ref))

    def fmt(t, total):
        return f"{t:.1f} s" if t is not None else f"not reached ({total:.0f} s trained)"

    if ours_t and ref_t:
        ratio = f"{ref_t / ours_t:.2f}x"
    elif ours_t:  # the reference never got there: its whole run is a lower bound
        ratio = f"more than {ref_total / ours_t:.2f}x (the reference did not reach the target in {len(ref_acc)} epochs)"
    else:
        ratio = "n/a (the course CNN did not reach the target)"
    command = f"python benchmarks/cnn_speed.py{''.join(' ' + a for a in (argv or sys.argv[1:]))}"
    method = (f"Both models train on 50,000 training images and are evaluated after every epoch "
              "on the other 10,000 (validation); the clock counts training only, not the "
              "evaluation. The test set is used once per model, at the end. Both models train in "
              f"one process, one after the other, with seed {args.seed}.")
    lines = [
        f"# CNN speed: time to reach {args.target:.1%} MNIST validation accuracy",
        "",
        provenance.markdown_header(command, CODE_PATHS, method, started=started),
        "",
        "| model | parameters | epochs to target | training time to target | best validation acc | "
        "test acc (once, at the end) |",
        "|---|---|---|---|---|---|",
        f"| course CNN (`course_lib.models.mnist_cnn`, BatchNorm, Adam + warm-up/cosine over "
        f"{args.cnn_epochs} epochs, batch {CNN_BATCH_SIZE}) | {ours.count_params():,} | "
        f"{len(ours_acc) if ours_t else '-'} | {fmt(ours_t, ours_total)} | {max(ours_acc):.4f} | "
        f"{ours_test:.4f} |",
        f"| Keras `mnist_convnet` (Adam, batch 128, cap {args.max_epochs} epochs) | "
        f"{ref.count_params():,} | {len(ref_acc) if ref_t else '-'} | {fmt(ref_t, ref_total)} | "
        f"{max(ref_acc):.4f} | {ref_test:.4f} |",
        "",
        f"**Speed-up (reference time / course CNN time): "
        f"{ratio}** (target >= 2.5x; course CNN target <= 60 s: "
        f"{'met' if ours_t is not None and ours_t <= 60 else 'not met'}).",
        "",
        "Validation accuracy after each epoch:",
        "",
        f"- course CNN: {', '.join(f'{a:.4f}' for a in ours_acc)}",
        f"- mnist_convnet: {', '.join(f'{a:.4f}' for a in ref_acc)}",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0 if ours_t is not None else 1


if __name__ == "__main__":
    sys.exit(main())
