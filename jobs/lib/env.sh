# Shared set-up for the job scripts in jobs/slurm and jobs/pbs. Sourced, not run;
# expects REPO (the repository root) to be set by the caller.
#
# Site-specific software goes here. On most clusters you load modules first, e.g.
#   module load python/3.11 cuda/12.5        # names differ per site: `module avail`
# (not needed when the course's .venv was built with `pip install tensorflow[and-cuda]`).

# No display on a compute node: Matplotlib must never try to open a window.
export MPLBACKEND=Agg
# course_lib importable even without `pip install -e .`
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

# Threads: use the cores the scheduler gave this job, not every core of the node.
# Oversubscribing a shared node (load above its core count) slows every job on it.
if [[ -n "${SLURM_CPUS_PER_TASK:-}" ]]; then
    export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"
elif [[ -n "${NCPUS:-}" ]]; then            # PBS Pro
    export OMP_NUM_THREADS="$NCPUS"
elif [[ -n "${PBS_NUM_PPN:-}" ]]; then      # Torque
    export OMP_NUM_THREADS="$PBS_NUM_PPN"
fi

# Python: COURSE_PYTHON if set, else the course's .venv, else python3 on PATH.
if [[ -n "${COURSE_PYTHON:-}" ]]; then
    PY="$COURSE_PYTHON"
elif [[ -x "$REPO/.venv/bin/python" ]]; then
    PY="$REPO/.venv/bin/python"
else
    PY="$(command -v python3)"
fi
export PY

echo "job ${SLURM_JOB_ID:-${PBS_JOBID:-(none: run directly)}} on $(hostname) at $(date '+%F %T')"
echo "python: $PY; MPLBACKEND=$MPLBACKEND; threads: ${OMP_NUM_THREADS:-all}"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader || true
else
    echo "nvidia-smi: not found (no NVIDIA GPU on this node)"
fi
