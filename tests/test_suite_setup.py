"""The test suite's own setup (the repository's ``conftest.py``): how pytest-xdist splits the work."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def root_conftest():
    spec = importlib.util.spec_from_file_location("course_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Item:
    """What the collection hook reads and writes of a pytest item."""

    def __init__(self, nodeid: str) -> None:
        self.fspath = ROOT / nodeid.split("::")[0]
        self.marks: dict[str, tuple] = {}

    def add_marker(self, mark) -> None:
        self.marks[mark.name] = mark.args


def groups(*nodeids: str) -> list[str]:
    items = [Item(n) for n in nodeids]
    root_conftest().pytest_collection_modifyitems(items)
    return [item.marks["xdist_group"][0] for item in items]


def test_a_notebook_or_a_test_file_is_one_group_for_loadgroup():
    cells = set(groups(*(f"notebooks/04_five_layer_network.ipynb::Cell {i}" for i in range(30))))
    assert cells == {"04_five_layer_network.ipynb"}
    assert groups("tests/test_site.py::test_a", "tests/test_site.py::test_b[x]") == ["test_site.py"] * 2
    assert len(set(groups("notebooks/05_overfitting_and_dropout.ipynb::Cell 0",
                          "notebooks/06_convolutional_networks.ipynb::Cell 0"))) == 2


def test_notebook_11_runs_with_notebook_10_which_leaves_it_results():
    from course_lib.runner import CHAINED

    tenth, eleventh = groups(*(f"notebooks/{name}::Cell 2" for name in CHAINED))
    assert tenth == eleventh
    # and in that order: a group runs in collection order, which is the file names' order
    assert list(CHAINED) == sorted(CHAINED)
    assert all((ROOT / "notebooks" / name).is_file() for name in CHAINED)


def test_the_makefile_asks_xdist_for_loadgroup():
    assert "--dist loadgroup" in (ROOT / "Makefile").read_text()


def test_workers_side_by_side_get_their_share_of_openmp_threads():
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) < 2:
        pytest.skip("checks pytest-xdist workers: run with -n 2 (as make test does)")
    # set by conftest.py before PyTorch loads, inherited by every notebook kernel
    assert int(os.environ["OMP_NUM_THREADS"]) >= 1
