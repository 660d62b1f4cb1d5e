"""Copies of repository files that notebooks show, shipped inside the package for installs
without a checkout (Colab); ``release/package_files.py`` (``make colab``) refreshes them and a
test fails when they drift.

>>> "#SBATCH" in read_text("train_distributed.sh")
True
"""

from __future__ import annotations

from importlib import resources

# Packaged name -> the file in the repository it copies.
ORIGINALS = {
    "cnn_speed.json": "results/cnn_speed.json",
    "gpu_vs_cpu.md": "results/gpu_vs_cpu.md",
    "notebook_runs.md": "results/notebook_runs.md",
    "roomcheck.md": "results/roomcheck.md",
    "selfscaling_results.json": "results/selfscaling_results.json",
    "train_distributed.sh": "jobs/slurm/train_distributed.sh",
}


def read_text(name: str) -> str:
    """The packaged copy of one of :data:`ORIGINALS`."""
    if name not in ORIGINALS:
        raise ValueError(f"no packaged course file {name!r}; known: {sorted(ORIGINALS)}")
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
