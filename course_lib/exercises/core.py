"""What every exercise check shares: the :class:`Exercise` record and small answer readers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NOT_ANSWERED = (None, Ellipsis)


class Verdict:
    """What :meth:`Exercise.check` returns: true when right. A notebook shows nothing for it:
    the one line ``check`` printed says it all.

    >>> bool(Verdict(True)), Verdict(False)
    (True, Verdict(False))
    """

    __slots__ = ("ok",)

    def __init__(self, ok: bool) -> None:
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        """Jupyter displays nothing (a stray ``False`` under the message read as an error)."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``test(answer)`` returns ``None`` when right, else what is wrong.

    >>> q = Exercise("99.1", "a number", lambda a: None if a == 42 else "not 42.", "Ask Deep Thought.")
    >>> q.check(41)
    Exercise 99.1: not yet. not 42. Need a nudge? Run .hint().
    Verdict(False)
    """

    name: str  # "<notebook>.<number>", e.g. "03.1"
    asks_for: str  # what to pass to check(), in words
    test: Callable[[Any], str | None]
    hint_text: str

    def check(self, answer) -> Verdict:
        """Print one line: whether ``answer`` is right and, if not, what is wrong. The result is
        true when right (``assert q.check(answer)``) and shows nothing in a notebook."""
        if any(answer is marker for marker in NOT_ANSWERED):
            print(f"Exercise {self.name}: not answered yet. Put your answer in place of the ... "
                  "and run the cell again.")
            return Verdict(False)
        try:
            problem = self.test(answer)
        except Exception as exc:  # a malformed answer is feedback, not a crash
            problem = f"could not check {answer!r} ({type(exc).__name__}: {exc}). Expected {self.asks_for}."
        if problem is None:
            print(f"Exercise {self.name}: correct.")
            return Verdict(True)
        print(f"Exercise {self.name}: not yet. {problem.strip()} Need a nudge? Run .hint().")
        return Verdict(False)

    def hint(self) -> None:
        print(f"Hint for exercise {self.name}: {self.hint_text}")


def close(value, expected, rel=1e-3) -> bool:
    """``value`` equals ``expected`` up to a relative tolerance."""
    return math.isclose(float(value), float(expected), rel_tol=rel, abs_tol=1e-9)


def word(answer, options: tuple[str, ...]) -> str:
    """``answer`` as one of ``options`` (case and outer spaces ignored), or a ValueError.

    >>> word(" ReLU", ("sigmoid", "relu"))
    'relu'
    """
    got = str(answer).strip().lower()
    if got not in options:
        raise ValueError(f"answer one of {', '.join(repr(o) for o in options)}, not {answer!r}")
    return got


def choice(expected: str, options: tuple[str, ...], why: str) -> Callable[[Any], str | None]:
    """A check for a question whose answer is one of ``options`` (case and spaces ignored)."""

    def test(answer) -> str | None:
        try:
            got = word(answer, options)
        except ValueError as exc:
            return f"{exc}."
        return None if got == expected else why

    return test


def reads_your_numbers(said: str, right: str, numbers: str) -> str | None:
    """Feedback for a conclusion drawn from the learner's own measurements."""
    if said == right:
        return None
    return f"your own numbers ({numbers}) say {right!r}, not {said!r}."


def which_is_larger(answer, labels: tuple[str, str], numbers: str) -> str | None:
    """Check ``(a, b, conclusion)``: the conclusion is ``labels[0]`` when a > b, else ``labels[1]``.

    ``numbers`` shows the learner's two measurements, e.g. ``"{a:.2%} vs {b:.2%}"``.

    >>> which_is_larger((0.97, 0.95, "first"), ("first", "second"), "{a} vs {b}") is None
    True
    """
    a, b = float(answer[0]), float(answer[1])
    right = labels[0] if a > b else labels[1]
    return reads_your_numbers(word(answer[2], labels), right, numbers.format(a=a, b=b))


def most_confused_pair(answer) -> str | None:
    """Check ``(confusion matrix, (true digit, predicted digit))`` for the most frequent mistake."""
    import numpy as np

    counts, pair = np.array(answer[0], dtype=float), tuple(int(d) for d in answer[1])
    mistakes = counts.copy()
    np.fill_diagonal(mistakes, -1)  # correct predictions are not confusions
    right = tuple(int(d) for d in np.unravel_index(mistakes.argmax(), mistakes.shape))
    if pair == right:
        return None
    if pair[0] == pair[1]:
        return "That is a diagonal entry: those digits were read correctly. Ignore the diagonal."
    if pair == right[::-1]:
        return "Rows are the true digits, columns the predictions: you have them the other way round."
    return f"{pair} occurs {counts[pair]:.0f} times; the most frequent mistake occurs {counts[right]:.0f} times."


def gflops(answer) -> str | None:
    """Check ``(n, seconds for one n x n matrix product, GFLOP/s)``: 2 n^3 operations."""
    n, seconds, rate = int(answer[0]), float(answer[1]), float(answer[2])
    right = 2 * n**3 / seconds / 1e9
    if close(rate, right, rel=0.02):
        return None
    if close(rate, right / 2, rel=0.02):
        return "You counted n^3 operations; a product of two n x n matrices costs 2 n^3 (a multiply and an add)."
    if close(rate, right * 1e9, rel=0.02):
        return "That is in FLOP/s; one GFLOP/s is 1e9 FLOP/s."
    return f"{rate:g} GFLOP/s does not follow from n = {n} and {seconds:g} s: expected {right:.3g}."
