"""Instant feedback on the notebooks' exercises: ``q.check(answer)`` and ``q.hint()``.

In the spirit of Kaggle Learn's ``q1.check()`` / ``q1.hint()``: every exercise has an
:class:`Exercise` that says right or wrong, what is wrong, and offers a hint. Where an exercise
is an experiment, the check takes what the experiment produced (the ``History`` of
``model.fit``, a timing, a trained network) with the conclusion drawn, reads or measures the
numbers itself, and says whether they support it. The worked solutions stay in the
notebooks' solution cells, which the attendee build removes; the checks and hints ship with
``course_lib``, so they work on Colab and offline. The checks live by part of the course:
``foundations`` (notebooks 00-04), ``networks`` (05-07), ``scaling`` (08-11).

>>> q = exercise("03.1")
>>> q.check((0.6931, 4.6052))
Exercise 03.1: correct.
Verdict(True)
>>> q.check(None)
Exercise 03.1: not answered yet. Put your answer in place of the ... and run the cell again.
Verdict(False)
"""

from __future__ import annotations

from course_lib.exercises import foundations, networks, scaling
from course_lib.exercises.core import Exercise

EXERCISES: dict[str, Exercise] = {
    q.name: q for part in (foundations, networks, scaling) for q in part.EXERCISES
}


def exercise(name: str) -> Exercise:
    """The exercise called ``name`` ("<notebook>.<number>"), e.g. ``exercise("03.1")``."""
    if name not in EXERCISES:
        raise ValueError(f"no checked exercise {name!r}; known: {', '.join(sorted(EXERCISES))}")
    return EXERCISES[name]


__all__ = ["EXERCISES", "Exercise", "exercise"]
