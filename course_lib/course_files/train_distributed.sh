#!/bin/bash
# Data-parallel training of the MNIST CNN over several nodes with Slurm
# (MultiWorkerMirroredStrategy; SlurmClusterResolver reads the cluster from srun).
#
#   sbatch jobs/slurm/train_distributed.sh                 # 2 nodes x 2 GPUs, as below
#   sbatch --nodes=4 jobs/slurm/train_distributed.sh --epochs 5
#   bash   jobs/slurm/train_distributed.sh --fast          # no Slurm: 2 worker processes here
#
# One task per node; each task drives every GPU Slurm gives it (MirroredStrategy inside
# MultiWorkerMirroredStrategy), so replicas = nodes x GPUs per node. Options are those of
# jobs/train_mnist_distributed.py (--per-replica-batch, --base-lr, --epochs, --fast, --out).
# Results (chief only): results/runs/<date-time>_distributed_job<ID>/. Guide: jobs/README.md.
#
#SBATCH --job-name=course-distributed
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --gres=gpu:2
#SBATCH --mem=32G
#SBATCH --time=00:30:00
#SBATCH --output=slurm-%x-%j.out
##SBATCH --partition=gpu
##SBATCH --account=my_allocation
set -euo pipefail

REPO="${COURSE_REPO:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}}"
while [[ "$REPO" != "/" && ! -f "$REPO/jobs/run_notebook.py" ]]; do REPO="$(dirname "$REPO")"; done
[[ -f "$REPO/jobs/run_notebook.py" ]] || { echo "course repository not found; set COURSE_REPO" >&2; exit 2; }
source "$REPO/jobs/lib/env.sh"

OUT="$REPO/results/runs/$(date +%Y%m%d-%H%M%S)_distributed${SLURM_JOB_ID:+_job$SLURM_JOB_ID}"
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    # srun starts one copy per task; each learns its rank from SLURM_PROCID.
    srun "$PY" "$REPO/jobs/train_mnist_distributed.py" --strategy slurm --out "$OUT" "$@"
else
    # No scheduler: stand in for a 2-node job with worker processes on 127.0.0.1 (CPU).
    "$PY" "$REPO/jobs/train_mnist_distributed.py" --local-workers "${LOCAL_WORKERS:-2}" --out "$OUT" "$@"
fi
echo "results: $OUT"
