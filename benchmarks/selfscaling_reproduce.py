"""Reproduce the 2021 self-scaling drift experiment on a clean split, over seeds; write the table.

Per seed and configuration (``--only``): ``run_drift``, then a static twin of the final hidden
sizes. After every run it writes ``results/selfscaling_results.md`` (mean, spread and minimum
over seeds), ``results/selfscaling_results.json`` (every run, which notebook 11 reads) and
``results/runs/selfscaling_reproduce.json`` (histories, not committed), keeping other
configurations' and seeds' runs. On a cluster: ``sbatch jobs/slurm/selfscaling_seeds.sh``
(about 30 minutes per seed on 2 cores); ``COURSE_FAST=1`` is a smoke run that writes nothing
unless ``--out`` is given.

    COURSE_DATA_DIR=/work/shared/data nice -n 19 .venv/bin/python benchmarks/selfscaling_reproduce.py --seeds 42 43 44
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import provenance

import course_lib
from course_lib import selfscaling as ss
from course_lib.environment import PeakRSS, cpu_description
from course_lib.selfscaling.drift import code_version

RESULTS = Path(__file__).resolve().parents[1] / "results"
#: The code the table measures: its provenance names their digest (benchmarks/provenance.py).
#: The JSON's provenance also records ``code_version()``, the digest notebook 11 checks.
CODE_PATHS = ["benchmarks/selfscaling_reproduce.py", "course_lib/selfscaling",
              "course_lib/arrays.py"]

# From the 2021 notebook (single runs, leaky split: validated on the test set).
REFERENCE = {
    "weighted L1 1e-6": ("about 660-700, e.g. [142, 204, 164, 152]", "0.52"),
    "weighted L1 1e-5": ("about 200-230, e.g. [24, 72, 37, 96] -> 227", "0.46"),
    "group sparsity 0.01": ("about 120-150, e.g. [21, 17, 10, 88] -> 136", "0.38"),
    "weighted L1 1e-7, 4000 start": ("about 2300-3100, e.g. [728, 952, 583, 503]", "0.54-0.55"),
}


def spread(values: list[float], fmt: str = ".3f") -> str:
    """``mean +- standard deviation (min)`` over seeds; a single value alone."""
    if len(values) == 1:
        return f"{values[0]:{fmt}}"
    sd = f"{statistics.stdev(values):{fmt.lstrip('+')}}"
    return f"{statistics.mean(values):{fmt}} +- {sd} (min {min(values):{fmt}})"


def summarize(rows: list[dict]) -> dict:
    """Per configuration: the seeds' numbers side by side (what notebook 11 reads)."""
    out: dict[str, dict] = {}
    for r in rows:
        entry = out.setdefault(r["config"], {"multiplier": r["multiplier"], "epochs": r["epochs"],
                                             "runs": []})
        entry["runs"].append({
            "seed": r["seed"], "hidden_sizes": r["final_sizes"],
            "val_accuracy": r["val_accuracy"], "test_accuracy": r["test_accuracy"],
            "static_val_accuracy": r["static"]["val_accuracy"] if r.get("static") else None,
            "static_test_accuracy": r["static"]["test_accuracy"] if r.get("static") else None,
            "minutes": r["seconds"] / 60, "peak_rss_gib": r.get("peak_rss_gib"),
            "date": r.get("date"), "load": r.get("load"), "commit": r.get("commit"),
            "code": r.get("code"),
        })
    for entry in out.values():
        entry["runs"].sort(key=lambda run: run["seed"])
    return out


def method(summary: dict, meta: dict) -> str:
    """The method paragraph: protocol, settings, and the runs made at another commit."""
    other: dict[str, dict[str, list[str]]] = {}
    for name, entry in summary.items():
        for r in entry["runs"]:
            if r.get("commit") != meta["commit"]:
                other.setdefault(str(r.get("commit") or "not recorded"), {}).setdefault(
                    name, []).append(str(r["seed"]))
    older = "".join(f" Runs at commit {commit}: "
                    + "; ".join(f"{name} (seed{'s' * (len(seeds) > 1)} {', '.join(seeds)})" for name, seeds in runs.items())
                    + "." for commit, runs in other.items())
    return (f"{meta['mode'].capitalize()} mode. Phase 1: automobiles and dogs, every epoch "
            "self-scaling; phase 2: all ten classes, the first `phase2_scaling_epochs` "
            "self-scaling, then the penalty is dropped. Validation is a held-out 10% of the "
            "CIFAR-10 *training* set (each seed draws its own split); test accuracy is on the "
            "untouched test set. The static twin has exactly the final hidden sizes and trains "
            "the same two phases with plain Keras `model.fit`. The reference columns are the "
            "2021 notebook's single runs, which validated on test images (notebook 10 lists how "
            f"the protocols differ). Settings: {meta['settings']}. Numbers over seeds are mean +- "
            "standard deviation (min); every run is in `results/selfscaling_results.json`, with "
            f"its date and load.{older}")


def table(summary: dict) -> str:
    """The Markdown table: one row per configuration, its seeds summarized."""
    lines = [
        "| config | stall multiplier | epochs (phase 1 + 2) | reference final hidden sizes "
        "| reference 10-class val acc | seeds | total hidden neurons | 10-class val acc | test acc "
        "| static twin, test acc | self-scaling - static, test acc | minutes per run "
        "| peak RSS GiB | runs (load at start -> end) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in summary.items():
        runs = entry["runs"]
        ref_sizes, ref_acc = REFERENCE.get(name, ("", ""))
        with_static = [r for r in runs if r["static_test_accuracy"] is not None]
        static_txt = spread([r["static_test_accuracy"] for r in with_static]) if with_static else "not run"
        diff_txt = spread([r["test_accuracy"] - r["static_test_accuracy"] for r in with_static],
                          "+.3f") if with_static else "-"
        peaks = [r["peak_rss_gib"] for r in runs if r["peak_rss_gib"] is not None]
        peak_txt = f"{max(peaks):.2f}" if peaks else "-"
        dates = "; ".join(f"{r['date']} ({r['load']})" for r in runs)
        lines.append(
            f"| {name} | {entry['multiplier']:g} | {entry['epochs']} | {ref_sizes} | {ref_acc} | "
            f"{', '.join(str(r['seed']) for r in runs)} | "
            f"{spread([float(sum(r['hidden_sizes'])) for r in runs], '.0f')} | "
            f"{spread([r['val_accuracy'] for r in runs])} | "
            f"{spread([r['test_accuracy'] for r in runs])} | {static_txt} | {diff_txt} | "
            f"{spread([r['minutes'] for r in runs], '.1f')} | {peak_txt} | {dates} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = provenance.parser(__doc__)
    parser.add_argument("--only", nargs="*", help="config names to run, in this order (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=None,
                        help="seeds to run (default: COURSE_SEED, 42); each seed also draws "
                             "its own validation split")
    parser.add_argument("--no-static", action="store_true", help="skip the static baselines")
    parser.add_argument("--out", default=None, help="markdown file (default: results/...)")
    parser.add_argument("--table-only", action="store_true",
                        help="only rewrite the markdown table from the saved runs")
    args = parser.parse_args(argv)
    command, started = provenance.command(__file__, argv), provenance.start(CODE_PATHS)
    mode = course_lib.setup()
    # the summary (what notebook 11 reads) and the per-epoch histories (not committed) sit
    # beside the table; a trial run with --out never mixes into results/
    out_md = Path(args.out) if args.out else None if mode.fast else RESULTS / "selfscaling_results.md"
    out_summary = out_md and out_md.with_suffix(".json")
    out_runs = out_md and (out_md.with_name(out_md.stem + "_runs.json") if args.out
                           else RESULTS / "runs" / "selfscaling_reproduce.json")
    by_name = {c.name: c for c in ss.drift_configs(mode.fast)}
    if unknown := [n for n in args.only or [] if n not in by_name]:
        parser.error(f"unknown config {unknown}; choose from {sorted(by_name)}")
    configs = [by_name[n] for n in args.only] if args.only else list(by_name.values())
    min_new = mode.pick(full=100, fast=10)
    meta = {
        "settings": f"batch 32, Adam 2e-4, SELU + lecun_normal, threshold 1e-3, "
                    f"min_new_neurons {min_new}, growth 20%, stall_coefficient 1.0, "
                    f"optimizer state 'carry'",
        "machine": cpu_description(), "host": platform.node(), "commit": started["commit"],
        "mode": mode.name, "code": code_version(),
    }
    # earlier runs are kept: rerunning one configuration or seed replaces only its own row
    dump = json.loads(out_runs.read_text(encoding="utf-8")) if out_runs and out_runs.exists() else {}
    # --table-only measures nothing: the saved provenance still names the code that did
    kept = (json.loads(out_summary.read_text(encoding="utf-8")).get("provenance")
            if args.table_only and out_summary and out_summary.exists() else None)

    def write() -> None:
        if out_md is None:
            return
        order = [c.name for c in ss.DRIFT_CONFIGS]
        summary = summarize(sorted((entry["row"] for entry in dump.values()),
                                   key=lambda r: (order.index(r["config"]), r["seed"])))
        block = kept or provenance.block(command, CODE_PATHS, started=started,
                                         selfscaling_code=meta["code"])
        out_md.write_text("\n\n".join([
            "# Self-scaling networks: reproduction of the 2021 drift experiment",
            provenance.render_markdown(block, method(summary, meta)), table(summary)]),
            encoding="utf-8")
        out_summary.write_text(json.dumps({"provenance": block, "meta": dict(
            meta, written=time.strftime("%Y-%m-%d %H:%M %Z")), "configs": summary},
            indent=1, default=float) + "\n", encoding="utf-8")
        out_runs.parent.mkdir(parents=True, exist_ok=True)
        out_runs.write_text(json.dumps(dump, indent=1, default=float), encoding="utf-8")

    if args.table_only:
        write()
        return
    for seed in args.seeds or [mode.seed]:
        course_lib.set_seed(seed)
        data = ss.drift_data(n_train=mode.pick(full=None, fast=3000),
                             n_test=mode.pick(full=None, fast=1000), seed=seed, verbose=False)
        for config in configs:
            load_start, start = os.getloadavg()[0], time.perf_counter()
            with PeakRSS(interval=0.5) as peak:
                net = ss.run_drift(config, data, min_new_neurons=min_new, seed=seed)
            seconds = time.perf_counter() - start
            _, test_acc = net.evaluate(*data.test)
            row = {"config": config.name, "seed": seed, "multiplier": config.penalty_multiplier,
                   "epochs": f"{config.phase1_epochs} + {config.phase2_epochs} "
                             f"({config.phase2_scaling_epochs} self-scaling)",
                   "final_sizes": net.hidden_sizes, "val_accuracy": net.history[-1]["val_accuracy"],
                   "test_accuracy": test_acc, "seconds": seconds, "peak_rss_gib": peak.gib}
            if not args.no_static:
                static_start = time.perf_counter()
                static = ss.run_static([data.phase1[0].shape[1]] + net.hidden_sizes + [10], data,
                                       phase1_epochs=config.phase1_epochs,
                                       phase2_epochs=config.phase2_epochs)
                row["static"] = {"val_accuracy": static["val_accuracy"],
                                 "test_accuracy": static["test_accuracy"],
                                 "seconds": time.perf_counter() - static_start}
            row.update(date=time.strftime("%Y-%m-%d"), commit=meta["commit"], code=meta["code"],
                       load=f"{load_start:.1f} -> {os.getloadavg()[0]:.1f}")
            dump[f"{config.name} | seed {seed}"] = {"row": row, "history": net.history}
            print(row, flush=True)
            write()


if __name__ == "__main__":
    main()
