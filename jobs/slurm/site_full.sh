#!/bin/bash
# Build the course website in full mode on a Slurm cluster node (or directly, without Slurm):
# every notebook executed on real data, outputs cached, pages written to build/site/.
#
#   sbatch jobs/slurm/site_full.sh                 # build/site/, full mode
#   sbatch jobs/slurm/site_full.sh --out /path/to/www/course
#   bash   jobs/slurm/site_full.sh --help          # no scheduler: what the build script takes
#
# Runs website/build_site.py --mode full (the same as `make site COURSE_FAST=0`). Notebooks execute
# through the full-mode cache, build/site-cache/full/: a second run re-executes only notebooks
# whose code changed. Needs, prepared once on the login node (compute nodes are often offline):
# the data (COURSE_DATA_DIR, jobs/README.md), a .venv with the site tools (`make test` builds
# one), and Node.js with the npm packages (`make site` once fetches them). About 1.5-2 hours on
# 2 CPU cores; much less with more cores and a GPU. Guide: jobs/README.md.
#
#SBATCH --job-name=course-site
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
while [[ "$REPO" != "/" && ! -f "$REPO/website/build_site.py" ]]; do REPO="$(dirname "$REPO")"; done
[[ -f "$REPO/website/build_site.py" ]] || { echo "course repository not found; set COURSE_REPO" >&2; exit 2; }
source "$REPO/jobs/lib/env.sh"

# --mode given by the user comes later on the line and wins; the website package is found
# through PYTHONPATH=$REPO (jobs/lib/env.sh), from whatever folder the job starts in.
exec "$PY" -m website.build_site --mode full "$@"
