"""The job scripts run directly (no scheduler) and leave a complete run folder behind.

Each script is run the way an attendee would on a laptop, on a tiny fixture notebook
(tests/fixtures/job_fixture.ipynb: no TensorFlow, one figure, an ``epochs`` parameter).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = "tests/fixtures/job_fixture.ipynb"
NOTEBOOK_SCRIPTS = ["jobs/slurm/run_notebook.sh", "jobs/pbs/run_notebook.pbs"]
ALL_SCRIPTS = NOTEBOOK_SCRIPTS + ["jobs/slurm/train_distributed.sh", "jobs/pbs/train_distributed.pbs",
                                  "jobs/slurm/site_full.sh", "jobs/pbs/site_full.pbs",
                                  "jobs/slurm/mnist_results.sh"]
CPU_SCRIPTS = ["jobs/slurm/selfscaling_seeds.sh"]  # no GPU: the self-scaling runs are CPU work


def run_script(script: str, *args: str, env: dict[str, str] | None = None, timeout: int = 180):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PBS_"))}
    full_env.update(env or {})
    return subprocess.run(["bash", script, *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def only_run_folder(out: Path) -> Path:
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1, f"expected one run folder in {out}, found {folders}"
    assert re.fullmatch(r"\d{8}-\d{6}_job_fixture", folders[0].name), folders[0].name
    return folders[0]


def cell_text(notebook: Path) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("script", NOTEBOOK_SCRIPTS)
def test_script_runs_notebook_directly_in_fast_mode(script, tmp_path):
    result = run_script(script, FIXTURE, "--fast", "--epochs", "3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    run = only_run_folder(tmp_path)
    executed = run / "job_fixture.ipynb"
    assert executed.exists()
    text = cell_text(executed)
    # Fast mode reached the kernel and the epochs parameter replaced the default (2).
    assert "fixture: COURSE_FAST=1 epochs=3" in text
    assert "fixture: done" in text
    figures = sorted((run / "figures").glob("*.png"))
    assert len(figures) == 1 and figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["mode"] == "fast" and summary["parameters"] == {"epochs": 3}
    assert "fixture: COURSE_FAST=1 epochs=3" in (run / "run.log").read_text()
    assert "load average" in (run / "environment.txt").read_text()


def test_pbs_script_takes_settings_from_variables(tmp_path):
    # qsub -v NOTEBOOK=...,MODE=...,EPOCHS=... is how PBS passes settings.
    env = {"NOTEBOOK": FIXTURE, "MODE": "fast", "EPOCHS": "4", "OUT": str(tmp_path)}
    result = run_script("jobs/pbs/run_notebook.pbs", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fixture: COURSE_FAST=1 epochs=4" in cell_text(only_run_folder(tmp_path) / "job_fixture.ipynb")


def test_failing_notebook_fails_the_job_but_keeps_its_outputs(tmp_path):
    result = run_script("jobs/slurm/run_notebook.sh", FIXTURE, "--fast", "--out", str(tmp_path),
                        env={"FIXTURE_FAIL": "1"})
    assert result.returncode == 1
    run = only_run_folder(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "fixture asked to fail" in summary["error"]
    assert "fixture asked to fail" in json.dumps(json.loads((run / "job_fixture.ipynb").read_text()))


def test_missing_notebook_is_a_clear_error(tmp_path):
    result = run_script("jobs/slurm/run_notebook.sh", "notebooks/does_not_exist.ipynb", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "not found" in result.stderr


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_scripts_are_valid_bash_and_request_a_gpu(script):
    subprocess.run(["bash", "-n", script], cwd=ROOT, check=True, timeout=60)
    text = (ROOT / script).read_text()
    directives = [line for line in text.splitlines() if line.startswith(("#SBATCH ", "#PBS "))]
    assert directives, f"{script} has no scheduler directives"
    gpu_request = [d for d in directives if re.search(r"--gres=gpu:\d|ngpus=\d|gpus=\d", d)]
    assert gpu_request, f"{script} does not ask the scheduler for a GPU"
    assert any(re.search(r"--time=|walltime=", d) for d in directives), f"{script} sets no time limit"


@pytest.mark.parametrize("script", CPU_SCRIPTS)
def test_cpu_scripts_are_valid_bash_with_limits(script):
    subprocess.run(["bash", "-n", script], cwd=ROOT, check=True, timeout=60)
    directives = [line for line in (ROOT / script).read_text().splitlines()
                  if line.startswith("#SBATCH ")]
    assert any("--time=" in d for d in directives), f"{script} sets no time limit"
    assert any("--mem=" in d for d in directives), f"{script} requests no memory"
    assert not any("gpu" in d for d in directives), f"{script} asks for a GPU it does not use"


def test_selfscaling_seeds_job_writes_the_results_notebook_11_reads(tmp_path):
    out = tmp_path / "selfscaling_results.md"
    result = run_script("jobs/slurm/selfscaling_seeds.sh", "--only", "group sparsity 0.01",
                        "--seeds", "1", "2", "--no-static", "--out", str(out),
                        env={"COURSE_FAST": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    runs = summary["configs"]["group sparsity 0.01"]["runs"]
    assert [r["seed"] for r in runs] == [1, 2]
    assert all(r["val_accuracy"] > 0.2 for r in runs)  # chance is 0.1 (ten classes)
    assert summary["meta"]["mode"] == "fast" and summary["meta"]["host"]
    assert "| group sparsity 0.01 |" in out.read_text(encoding="utf-8")


def test_parameters_the_job_docs_promise_are_set_by_the_notebooks_parameters_cell():
    import nbformat

    docs = "\n".join((ROOT / f).read_text() for f in ["jobs/README.md", *NOTEBOOK_SCRIPTS])
    promised = re.findall(r"(notebooks/\d\d_\w+\.ipynb)[^\n]*?(?:--epochs|EPOCHS=)", docs)
    assert promised, "the job docs show --epochs on a notebook"
    for path in set(promised):
        cells = [c for c in nbformat.read(ROOT / path, as_version=4).cells
                 if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1 and re.search(r"^epochs = ", cells[0].source, re.M), path


def test_a_parameter_the_notebook_does_not_set_is_refused_before_anything_runs(tmp_path):
    result = run_script("jobs/slurm/run_notebook.sh", FIXTURE, "--fast", "-p", "epoch", "3",
                        "--out", str(tmp_path))
    assert result.returncode == 2
    assert "sets no ['epoch']" in result.stderr and "epochs = 2" in result.stderr
    assert not list(tmp_path.iterdir())
