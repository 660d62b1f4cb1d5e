"""The exercises' checks: right answers pass, wrong ones fail with feedback, nothing crashes.

Every check is also run on its notebook's own solution (the solution cells assert
``q.check(...)``, and nbval runs them); here each check meets answers written independently.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.exercises import EXERCISES, exercise
from release import make_attendee

ROOT = Path(__file__).resolve().parents[1]


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


A_01 = [[1.0, 0.5], [1.0, -1.0], [1.0, 2.0], [1.0, 0.0]]  # any data matrix will do
RATE_01 = 2 / np.linalg.eigvalsh(2 / 4 * np.array(A_01).T @ np.array(A_01)).max()
MC_SAMPLES = [[0.1] * 10, [0.05] * 9 + [0.55], [0.2] * 5 + [0.0] * 5]

DIAGONAL = [[2, -1, -1], [-1, 2, -1], [-1, -1, 2]]
CONFUSION = [[50, 1, 7], [2, 40, 0], [0, 3, 45]]
HISTORY_10 = [
    {"sizes_before_grow": [10, 10], "sizes_after_grow": [12, 12], "sizes_after_prune": [5, 11]},
    {"sizes_before_grow": [5, 11], "sizes_after_grow": [7, 13], "sizes_after_prune": [6, 12]},
]  # layer 1 lost 8 of the 14 neurons it ever had, layer 2 only 2 of 14

WHERE_EMPTY = ("MNIST: not on disk; would be downloaded, or stand-in data in fast mode\n"
               "CIFAR-10: not on disk; would be downloaded, or stand-in data in fast mode")
# features (score, gender code, debt); only row 0 is near enough to the boundary to flip
APPLICANTS, W_01, B_01 = [[0.5, 1, 0.4], [0.5, 0, 0.4], [2.0, 1, 0.1], [0.0, 1, 2.0]], [1.0, 0.0, -1.0], -0.3
SIZES_11 = ((0.42, 1_000_000), (0.40, 250_000))

RIGHT = {
    "00.1": (WHERE_EMPTY, "download"),
    "01.3": (APPLICANTS, W_01, B_01, [0]),
    "02.2": (0.35, 2500.0),
    "02.3": (CONFUSION, (0, 2)),
    "02.4": (0.921, 0.919, "no"),
    "04.1": (0.9805, 0.9790, "about the same"),
    "05.1": (0.05, 0.03, "yes"),
    "05.3": (0.04, 0.09, "dropout"),
    "06.2": (0.95, 0.97, "tenth"),
    "06.3": (0.02, 0.001, "small"),
    "07.2": (1500, 1600, "yes"),
    "09.2": ([10, 8], [12, 8], "yes"),
    "10.2": (500, 640, "larger"),
    "10.3": (500, 420, 520, "phase 2 scaling"),
    "11.1": (*SIZES_11, (0.02, 0.25)),
    "06.1": DIAGONAL,
    "06.4": (CONFUSION, (0, 2)),
    "09.3": "never",
    "10.1": (HISTORY_10, 1),
    "00.2": (2000, 0.5, 32.0),
    "07.1": (1024, 0.01, 2 * 1024**3 / 0.01 / 1e9),
    "01.1": (A_01, RATE_01),
    "02.1": 0.01,
    "04.2": " ReLU",
    "05.2": MC_SAMPLES,
    "08.2": (60_000, 8, 235),
    "09.1": "first",
    "11.2": ([3072, 142, 204, 10], 3072 * 142 + 142 + 142 * 204 + 204 + 204 * 10 + 10),
    "01.2": (2.01, -2.98, 1.0),
    "04.3": 266_610,
    "06.5": (7, 1216),
    "08.1": (512, 0.08),
    "03.1": (math.log(2), math.log(100)),
    "03.2": {"quadratic": 36, "cross-entropy": 8},
    "03.3": lambda z1, z2: sigmoid(z1 - z2),
}
WRONG = {
    "00.1": [(WHERE_EMPTY, "keras_cache"), ("MNIST: /data/mnist.npz (data_dir)", "download"),
             ("nothing printed", "download"), (WHERE_EMPTY, "the internet")],
    "01.3": [(APPLICANTS, W_01, B_01, [1]), (APPLICANTS, W_01, B_01, [0, 2, 3]),
             (APPLICANTS, W_01, B_01, [])],
    "02.2": [(0.35, 0.4), (0.35, 0.9), ("loss",)],
    "02.3": [(CONFUSION, (2, 0)), (CONFUSION, (0, 0)), (CONFUSION, (1, 2))],
    "02.4": [(0.921, 0.919, "yes"), (0.921, 0.80, "no"), (0.92, 0.92, "maybe")],
    "04.1": [(0.9805, 0.9790, "better"), (0.985, 0.978, "about the same"), (0.97, 0.98, "better")],
    "05.1": [(0.05, 0.03, "no"), (0.03, 0.05, "yes"), (0.05, 0.03, "maybe")],
    "05.3": [(0.04, 0.09, "weight decay"), (0.09, 0.04, "dropout"), (0.04, 0.09, "both")],
    "06.2": [(0.95, 0.97, "same"), (0.98, 0.97, "tenth"), (0.95, 0.97, 0.1)],
    "06.3": [(0.02, 0.001, "large"), (0.0, 0.001, "small"), (0.02, 0.001, "5000")],
    "07.2": [(1500, 1600, "no"), (1500, 1400, "yes"), (0.6, 0.5, "no"), (1500, -1, "yes")],
    "09.2": [([10, 8], [10, 8], "yes"), ([10, 8], [12, 8], "no"), ([10, 8], [12, 8], "maybe")],
    "10.2": [(500, 640, "smaller"), (500, 500, "larger"), (500, 640, "bigger")],
    "10.3": [(500, 420, 520, "adam reset"), (500, 450, 550, "phase 2 scaling"),
             (500, 420, 520, "neither"), (500, 420, 520, "both")],
    "11.1": [(*SIZES_11, (0.02, 4.0)), (*SIZES_11, (-0.02, 0.25)), (*SIZES_11, (0.02, 0.75))],
    "06.1": [np.fliplr(DIAGONAL), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], np.ones((3, 3)), [1, 2]],
    "06.4": [(CONFUSION, (2, 0)), (CONFUSION, (0, 0)), (CONFUSION, (1, 2))],
    "09.3": ["at every stall", "every epoch", "sometimes"],
    "10.1": [(HISTORY_10, 2), (HISTORY_10, 0), (HISTORY_10, "first")],
    "00.2": [(2000, 0.5, 16.0), (2000, 0.5, 3.2e10), (2000, 0.5, 1.0), "fast"],
    "07.1": [(1024, 0.01, 1024**3 / 0.01 / 1e9), (1024, 0.01)],
    "01.1": [(A_01, RATE_01 / 2), (A_01, RATE_01 * 2), (A_01, 0.2)],
    "02.1": [0.1, 0.001, "sgd"],
    "04.2": ["sigmoid", "tanh", 1],
    "05.2": [[[0.1] * 10] * 3, [[0.5] * 10, [0.5] * 10], [0.1] * 10, [[0.1] * 10]],
    "08.2": [(60_000, 8, 1875), (60_000, 8, 118), (60_000, 8, 234)],
    "09.1": ["last", "middle"],
    "11.2": [([3072, 142, 204, 10], 3072 * 142 + 142 * 204 + 204 * 10), ([3072, 142, 10], 5)],
    "01.2": [(1.0, -3.0, 1.0), (2.0, -3.0, 0.0), (2.0,)],
    "04.3": [266_200, 235_500, "many"],
    "06.5": [(14, 1216), (7, 416), (6, 1216)],
    "08.1": [(128, 0.02), (512, 0.01), (64, 0.08)],
    "03.1": [(math.log(2), -math.log(0.9)), (0.5, 0.01), "two numbers"],
    "03.2": [{"quadratic": 8, "cross-entropy": 36}, {"quadratic": 36}],
    "03.3": [lambda z1, z2: sigmoid(z2 - z1), lambda z1, z2: 0.5, lambda z1: z1],
}


def test_every_check_has_right_and_wrong_answers_here():
    assert set(RIGHT) == set(WRONG) == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_right_answer_passes(name, capsys):
    assert exercise(name).check(RIGHT[name]).ok is True
    assert capsys.readouterr().out == f"Exercise {name}: correct.\n"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_wrong_answers_fail_with_feedback(name, capsys):
    for answer in WRONG[name]:
        assert exercise(name).check(answer).ok is False
        out = capsys.readouterr().out
        assert "not yet" in out and out.endswith("Need a nudge? Run .hint().\n")
        assert out.count("\n") == 1, f"one line, not {out!r}"
    assert exercise(name).check(...).ok is False
    assert "not answered yet" in capsys.readouterr().out
    exercise(name).hint()
    assert capsys.readouterr().out.startswith(f"Hint for exercise {name}:")


def test_unknown_exercise_is_a_clear_error():
    with pytest.raises(ValueError, match="no checked exercise '99.1'; known: 00.1, 00.2, 01.1"):
        exercise("99.1")


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_notebook_offers_the_check_and_its_solution_uses_it(name):
    notebook, number = name.split(".")
    path = next((ROOT / "notebooks").glob(f"{notebook}_*.ipynb"))
    cells = nbformat.read(path, as_version=4).cells
    offers = [c for c in cells if f'exercise("{name}")' in c.source]
    assert offers and not any(make_attendee.is_solution(c) for c in offers), \
        f"{path.name}: a cell outside the solutions must offer exercise({name!r})"
    assert any(make_attendee.is_solution(c) and f"q{number}.check(" in c.source for c in cells), \
        f"{path.name}: the solution to exercise {number} should run its check"


def test_a_check_cell_shows_its_printed_line_and_nothing_else():
    from IPython.core.interactiveshell import InteractiveShell

    formatter = InteractiveShell.instance().display_formatter
    for verdict in (exercise("03.1").check(...), exercise("03.1").check((0.6931, 4.6052))):
        assert formatter.format(verdict) == ({}, {})  # no Out[n]: False under the message
