#!/bin/bash
# The MNIST results table (results/mnist_results.md) on one GPU node: every model of notebooks
# 02-06 over three seeds, validation held out from the training set, the test set touched once
# per model (benchmarks/reproduce_mnist.py). The longest rows (the CNNs, the expanded data) are
# the ones a laptop cannot afford in a workshop.
#
#   sbatch jobs/slurm/mnist_results.sh                              # every model, seeds 42 43 44
#   sbatch jobs/slurm/mnist_results.sh --only cnn_augmented         # one row; the others kept
#   bash   jobs/slurm/mnist_results.sh --only softmax --seeds 42 --out -   # no scheduler, no file
#
# Options are those of benchmarks/reproduce_mnist.py (--only, --seeds, --out). Set
# COURSE_DATA_DIR to a folder with mnist.npz (compute nodes are often offline). Writes
# results/mnist_results.md and its .json records (commit them to share them). Guide: jobs/README.md.
#
#SBATCH --job-name=course-mnist-results
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --gres=gpu:1
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=slurm-%x-%j.out
##SBATCH --partition=gpu
##SBATCH --account=my_allocation
set -euo pipefail

REPO="${COURSE_REPO:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}}"
while [[ "$REPO" != "/" && ! -f "$REPO/benchmarks/reproduce_mnist.py" ]]; do REPO="$(dirname "$REPO")"; done
[[ -f "$REPO/benchmarks/reproduce_mnist.py" ]] || { echo "course repository not found; set COURSE_REPO" >&2; exit 2; }
source "$REPO/jobs/lib/env.sh"

exec "$PY" "$REPO/benchmarks/reproduce_mnist.py" "$@"
