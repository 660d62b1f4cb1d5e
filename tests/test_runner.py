"""The notebook runner (course_lib.runner): real kernels on tiny notebooks, seconds each."""

from __future__ import annotations

import nbformat
import pytest

from course_lib import runner
from course_lib.config import RunMode

FAST = RunMode(fast=True, seed=7)


def notebook(*sources: str, tags: dict[int, list[str]] | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for index, cell_tags in (tags or {}).items():
        nb.cells[index].metadata["tags"] = cell_tags
    return nb


def test_a_notebook_runs_in_a_fresh_kernel_in_the_mode_given(tmp_path):
    nb = notebook("import os\nprint(os.environ['COURSE_FAST'], os.environ['COURSE_SEED'], os.getcwd())",
                  "import matplotlib\nprint(matplotlib.get_backend())")
    run = runner.execute(nb, FAST, name="tiny.ipynb", cwd=tmp_path, measure=True)
    assert run.ok, run.traceback
    assert run.notebook.cells[0].outputs[0].text.split() == ["1", "7", str(tmp_path)]
    assert "inline" in run.notebook.cells[1].outputs[0].text
    assert run.seconds > 0 and run.peak_bytes > 10 * 2**20  # a kernel holds more than 10 MiB
    assert run.data_sources == "no dataset"
    assert not nb.cells[0].outputs, "the notebook given is not changed"
    # only outputs are added: the website's execution cache recognises the notebook by the rest
    assert [c.metadata for c in run.notebook.cells] == [c.metadata for c in nb.cells]


def test_a_failing_cell_stops_the_run_and_is_reported_not_raised(tmp_path):
    run = runner.execute(notebook("x = 1", "raise ValueError('broken on purpose')", "print('never')"),
                         FAST, cwd=tmp_path, measure=False)
    assert not run.ok and run.error == "ValueError: broken on purpose"
    assert "never" not in str(run.notebook.cells[2].outputs)


def test_parameters_land_after_the_parameters_cell(tmp_path):
    nb = notebook("epochs = 3", "print('epochs', epochs)", tags={0: ["parameters"]})
    run = runner.execute(nb, FAST, cwd=tmp_path, parameters={"epochs": 5}, measure=False)
    assert run.ok, run.traceback
    assert run.notebook.cells[2].outputs[0].text.strip() == "epochs 5"


def test_each_cell_s_printed_text_is_handed_on(tmp_path):
    seen: list[str] = []
    runner.execute(notebook("print('a')", "print('b')"), FAST, cwd=tmp_path, measure=False,
                   on_cell=seen.append)
    assert [s.strip() for s in seen] == ["a", "b"]


def test_data_sources_come_from_the_announced_lines():
    nb = notebook("load()")
    nb.cells[0].outputs = [nbformat.v4.new_output(
        "stream", text="MNIST: real data, 60000 train / 10000 test, from /d/mnist.npz (COURSE_DATA_DIR)\n")]
    assert runner.Run("x", nb).data_sources == "MNIST: data_dir"


def test_a_kernel_that_dies_at_start_is_started_again_but_not_after_a_cell_ran(monkeypatch, tmp_path):
    import nbclient

    starts = []

    class DiesAtStart(nbclient.NotebookClient):
        def execute(self, **kwargs):
            starts.append(1)
            if len(starts) < 3:
                raise RuntimeError("Kernel died before replying to kernel_info")
            return super().execute(**kwargs)

    monkeypatch.setattr(nbclient, "NotebookClient", DiesAtStart)
    assert runner.execute(notebook("1"), FAST, cwd=tmp_path, measure=False).ok
    assert len(starts) == 3

    class DiesInACell(nbclient.NotebookClient):
        def execute(self, **kwargs):
            starts.append(1)
            self.nb.cells[0].execution_count = 1
            raise RuntimeError("Kernel died")

    starts.clear()
    monkeypatch.setattr(nbclient, "NotebookClient", DiesInACell)
    run = runner.execute(notebook("1"), FAST, cwd=tmp_path, measure=False)
    assert not run.ok and len(starts) == 1, "a notebook that ran a cell is not run again"


def test_chained_notebooks_run_together_in_order_and_others_alone(tmp_path):
    names = ["00_a.ipynb", *reversed(runner.CHAINED), "09_b.ipynb"]
    chains = runner.chains([tmp_path / n for n in names])
    assert [p.name for p in chains[0]] == list(runner.CHAINED)
    assert sorted(p.name for c in chains for p in c) == sorted(names)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        next(runner.execute_many([], FAST, workers=0))


def test_the_command_line_writes_executed_notebooks_and_exits_1_on_a_failure(tmp_path, capsys):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(notebook("print(6 * 7)"), good)
    nbformat.write(notebook("1 / 0"), bad)
    assert runner.main([str(good), str(bad), "--mode", "fast", "--out", str(tmp_path / "out")]) == 1
    assert "42" in str(nbformat.read(tmp_path / "out" / "good.ipynb", as_version=4).cells[0].outputs)
    assert "bad.ipynb: FAILED: ZeroDivisionError" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        runner.main([str(tmp_path / "none.ipynb"), "--out", str(tmp_path)])
    assert exit_.value.code == 2
