#!/bin/bash
# The self-scaling drift experiment over three seeds (notebooks 10-11): every configuration,
# self-scaling and its static twin, on CPU cores. Notebook 11 reads the results it writes.
#
#   sbatch jobs/slurm/selfscaling_seeds.sh                       # seeds 42 43 44, all configs
#   sbatch jobs/slurm/selfscaling_seeds.sh --seeds 45            # one more seed; earlier kept
#   bash   jobs/slurm/selfscaling_seeds.sh --only "group sparsity 0.01"   # no scheduler
#
# Options are those of benchmarks/selfscaling_reproduce.py (--seeds, --only, --no-static).
# Writes results/selfscaling_results.md and .json (commit them to share them) and the
# per-epoch histories in results/runs/. About 30 minutes per seed on 2 cores, less with more;
# the 4000-neuron start peaks at about 4 GiB. Guide: jobs/README.md.
#
#SBATCH --job-name=course-selfscaling
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=03:00:00
#SBATCH --output=slurm-%x-%j.out
##SBATCH --partition=cpu
##SBATCH --account=my_allocation
set -euo pipefail

REPO="${COURSE_REPO:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}}"
while [[ "$REPO" != "/" && ! -f "$REPO/benchmarks/selfscaling_reproduce.py" ]]; do REPO="$(dirname "$REPO")"; done
[[ -f "$REPO/benchmarks/selfscaling_reproduce.py" ]] || { echo "course repository not found; set COURSE_REPO" >&2; exit 2; }
source "$REPO/jobs/lib/env.sh"

[[ $# -gt 0 ]] || set -- --seeds 42 43 44
exec "$PY" "$REPO/benchmarks/selfscaling_reproduce.py" "$@"
