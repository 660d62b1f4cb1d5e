#!/usr/bin/env python
"""CPU vs GPU: one training epoch of the MNIST MLP and the CIFAR-10 CNN, several batch sizes.

Writes ``results/gpu_vs_cpu.md`` (notebook 07 shows it) with the hardware named; each epoch is
timed after a warm-up (``course_lib.timing.time_epoch``). On a cluster:
``sbatch --gres=gpu:1 --wrap "python benchmarks/gpu_vs_cpu.py"``.

    python benchmarks/gpu_vs_cpu.py                       # full datasets, all devices found
    python benchmarks/gpu_vs_cpu.py --fast --out /tmp/t.md   # a quick check of the script
"""

from __future__ import annotations

import os
import time

import provenance

#: The code the table measures: its provenance names their digest (benchmarks/provenance.py).
CODE_PATHS = ["benchmarks/gpu_vs_cpu.py", "course_lib/models.py", "course_lib/timing.py",
              "course_lib/devices.py", "course_lib/arrays.py"]
MODELS = {"mlp": "MNIST MLP", "cnn": "CIFAR-10 CNN"}
NO_GPU_STATEMENT = (
    "**No GPU measurement exists yet on this project.** The rows below were measured on a "
    "CPU only; run `python benchmarks/gpu_vs_cpu.py` on a machine with a GPU to add the GPU rows."
)


def load(name: str, n_train: int | None):
    import course_lib

    if name == "mlp":
        (x, y), _ = course_lib.load_mnist(n_train=n_train)
        return course_lib.flatten(course_lib.scale(x)), y
    (x, y), _ = course_lib.load_cifar10(n_train=n_train)
    return course_lib.scale(x), y.ravel()


def main(argv: list[str] | None = None) -> int:
    p = provenance.parser(__doc__, "gpu_vs_cpu.md")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--batch-sizes", nargs="+", type=int, default=None,
                   help="default 32 128 512 (--fast: 128)")
    p.add_argument("--devices", nargs="+", default=None, help="e.g. cpu:0 gpu:0 (default: all)")
    p.add_argument("--n-train", type=int, default=None, help="training images (default: all)")
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per row (median reported)")
    p.add_argument("--fast", action="store_true", help="2048 images, one batch size: checks the script")
    args = p.parse_args(argv)
    if args.fast:
        os.environ["COURSE_FAST"] = "1"
        args.n_train, args.batch_sizes = args.n_train or 2048, (args.batch_sizes or [128])[:1]

    import keras

    from course_lib import devices, environment, models, timing

    names = args.devices or [d.name for d in devices.list_devices()]
    started_run, started = provenance.start(CODE_PATHS), time.perf_counter()
    builders = {"mlp": models.mnist_mlp, "cnn": models.cifar10_cnn}
    rows = []
    for model_name in args.models:
        x, y = load(model_name, args.n_train)

        def build(model_name=model_name):
            model = builders[model_name]()
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss="sparse_categorical_crossentropy")
            return model

        for device in names:
            for batch in args.batch_sizes or [32, 128, 512]:
                t = timing.time_epoch(build, x, y, batch_size=batch, epochs=args.epochs, device=device)
                rows.append({"model": MODELS[model_name],
                             "device": "GPU" if "GPU" in device.upper() else "CPU",
                             "batch": batch, "images": t.samples, "epoch_s": round(t.seconds, 3),
                             "images_per_s": round(t.samples_per_second),
                             "ms_per_step": round(t.ms_per_step, 2),
                             "load_1min": round(os.getloadavg()[0], 1)})
                print(f"{rows[-1]['model']:<13} {device:<7} batch {batch:>5}: {t.seconds:8.2f} s/epoch "
                      f"({t.samples_per_second:,.0f} images/s)", flush=True)
    table = timing.comparison_table(rows, baseline={"device": "CPU"}, time_col="epoch_s",
                                    group=["model", "batch"]).rename(columns={"speedup": "speedup_vs_cpu"})
    method = ("Notebook 07 shows this file. One epoch = one pass over the training images; warm-up "
              "(tracing, compilation) excluded; Adam, no validation; the median of "
              f"{args.epochs} timed epoch(s) per row, {time.perf_counter() - started:.0f} s in all. "
              f"`load_1min` is the load right after each row: above the {environment.cpu_cores()} "
              "cores, other work shared the CPU and slowed the row.")
    has_gpu = any(r["device"] == "GPU" for r in rows)
    provenance.report(args.out, "GPU vs CPU: one training epoch", provenance.command(__file__, argv),
                      CODE_PATHS, method, [
                          "GPU rows measured on the hardware named below." if has_gpu
                          else NO_GPU_STATEMENT, "## Hardware",
                          f"```\n{devices.hardware_summary()}\n```", "## Results",
                          timing.to_markdown(table)], started=started_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
