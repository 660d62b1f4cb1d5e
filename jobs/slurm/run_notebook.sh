#!/bin/bash
# Run one course notebook headless on a Slurm cluster (or directly, without Slurm).
#
#   sbatch jobs/slurm/run_notebook.sh notebooks/07_gpu_vs_cpu.ipynb --full
#   sbatch jobs/slurm/run_notebook.sh notebooks/04_five_layer_network.ipynb --full --epochs 30
#   bash   jobs/slurm/run_notebook.sh notebooks/07_gpu_vs_cpu.ipynb --fast   # no scheduler
#
# Options after the notebook: --fast | --full, --epochs N, -p NAME VALUE, --out DIR,
# --timeout SECONDS (per cell). Results: results/runs/<date-time>_<notebook>_job<ID>/
# with the executed notebook, figures/, run.log, environment.txt and summary.json.
# Submit from the repository root (or set COURSE_REPO). Guide: jobs/README.md.
#
# ---- what the job asks the scheduler for (#SBATCH lines are comments to bash) ----
#SBATCH --job-name=course-notebook
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --gres=gpu:1
#SBATCH --mem=32G
#SBATCH --time=01:00:00
#SBATCH --output=slurm-%x-%j.out
# Many sites also want a partition and an account; add them here or on the command line:
##SBATCH --partition=gpu
##SBATCH --account=my_allocation
set -euo pipefail

REPO="${COURSE_REPO:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}}"
while [[ "$REPO" != "/" && ! -f "$REPO/jobs/run_notebook.py" ]]; do REPO="$(dirname "$REPO")"; done
[[ -f "$REPO/jobs/run_notebook.py" ]] || { echo "course repository not found; set COURSE_REPO" >&2; exit 2; }
source "$REPO/jobs/lib/env.sh"

[[ $# -ge 1 ]] || { echo "usage: $0 NOTEBOOK.ipynb [--fast|--full] [--epochs N] [-p NAME VALUE] [--out DIR]" >&2; exit 2; }
# --out given by the user comes later on the line and wins.
exec "$PY" "$REPO/jobs/run_notebook.py" --out "$REPO/results/runs" "$@"
