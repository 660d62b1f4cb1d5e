"""What every exercise check shares: the :class:`Exercise` record and small answer readers.

An experiment's check takes what the experiment produced (the ``History`` that ``model.fit``
returned, a timing, a trained network) rather than numbers typed from it: the readers here
take the numbers from those objects and check that the objects are what the exercise asks
for, so invented numbers are refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NOT_ANSWERED = (None, Ellipsis)


class AnswerError(ValueError):
    """An answer of the wrong kind; the message (one line) is the feedback.

    >>> q = Exercise("99.1", "a History", lambda a: fit_history(a, "your run"), "Use model.fit.")
    >>> q.check(0.97)
    Exercise 99.1: not yet. your run: pass the History that model.fit returned (history = model.fit(...)), not a float: the check reads the numbers and the trained model from it. Need a nudge? Run .hint().
    Verdict(False)
    """


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
        except AnswerError as exc:
            problem = str(exc)
        except Exception as exc:  # a malformed answer is feedback, not a crash
            problem = (f"could not check {_shown(answer)} ({type(exc).__name__}: {exc}). "
                       f"Expected {self.asks_for}.")
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
        raise AnswerError(f"answer one of {', '.join(repr(o) for o in options)}, not {answer!r}.")
    return got


def choice(expected: str, options: tuple[str, ...], why: str) -> Callable[[Any], str | None]:
    """A check for a question whose answer is one of ``options`` (case and spaces ignored)."""

    def test(answer) -> str | None:
        try:
            got = word(answer, options)
        except ValueError as exc:
            return str(exc)
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
    """Check ``(model, images, labels, (true digit, predicted digit))`` for the most frequent
    mistake: the check predicts the images with the model and counts the mistakes itself."""
    import numpy as np

    if len(answer) != 4 or not hasattr(answer[0], "predict"):
        raise AnswerError("pass (the trained model, the images, their labels, (true digit, "
                          "predicted digit)): the check predicts the images with the model and "
                          "counts the mistakes itself.")
    model, images, labels = answer[0], answer[1], np.asarray(answer[2]).ravel()
    pair = tuple(int(d) for d in answer[3])
    if len(images) != len(labels):
        raise AnswerError(f"{len(images)} images but {len(labels)} labels: pass the images and "
                          "their own labels.")
    probabilities = np.asarray(model.predict(images, batch_size=1000, verbose=0))
    classes = probabilities.shape[1]
    counts = np.zeros((classes, classes))
    np.add.at(counts, (labels.astype(int), probabilities.argmax(axis=1)), 1)
    mistakes = counts.copy()
    np.fill_diagonal(mistakes, -1)  # correct predictions are not confusions
    right = tuple(int(d) for d in np.unravel_index(mistakes.argmax(), mistakes.shape))
    if pair == right:
        return None
    if pair[0] == pair[1]:
        return "That is a diagonal entry: those digits were read correctly. Ignore the diagonal."
    if pair == right[::-1]:
        return "Rows are the true digits, columns the predictions: you have them the other way round."
    return (f"{pair} occurs {counts[pair]:.0f} times in this model's predictions; the most "
            f"frequent mistake occurs {counts[right]:.0f} times.")


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


# -- readers for what an experiment produced ------------------------------------------------------


def fit_history(answer, what: str):
    """``answer`` as the ``History`` that ``model.fit`` returned, with the model it trained.

    Raises :class:`AnswerError` for anything else (a number, a ``.history`` dict): the checks
    read the numbers from the History, and the network from its ``model``.
    """
    metrics, model = getattr(answer, "history", None), getattr(answer, "model", None)
    if not isinstance(metrics, dict) or not hasattr(model, "count_params"):
        raise AnswerError(f"{what}: pass the History that model.fit returned (history = "
                          f"model.fit(...)), not {_kind(answer)}: the check reads the numbers and "
                          "the trained model from it.")
    if not metrics.get("loss"):
        raise AnswerError(f"{what}: that History holds no finished epoch.")
    return answer


def last(history, key: str, what: str) -> float:
    """The last epoch's ``key`` (e.g. ``"val_accuracy"``) of a History; an accuracy must lie
    between 0 and 1."""
    values = history.history.get(key)
    if not values:
        fix = " (fit with validation_data=...)" if key.startswith("val_") else ""
        raise AnswerError(f"{what}: that History has no {key!r}{fix}.")
    value = float(values[-1])
    if "accuracy" in key and not 0 <= value <= 1:
        raise AnswerError(f"{what}: an accuracy of {value!r} is not between 0 and 1.")
    return value


def same_training(first, second, names: tuple[str, str], epochs: bool = True) -> str | None:
    """A problem when two Histories did not train for as many epochs (unless ``epochs`` is
    false) of as many batches."""
    runs = [(len(h.history["loss"]) if epochs else 0, h.params.get("steps")) for h in (first, second)]
    if runs[0] == runs[1]:
        return None
    if not epochs:
        return (f"the two runs must differ in one thing only, but {names[0]} ran "
                f"{runs[0][1]} and {names[1]} {runs[1][1]} batches per epoch.")
    (e1, s1), (e2, s2) = runs
    return (f"the two runs must differ in one thing only, but {names[0]} ran {e1} x {s1} and "
            f"{names[1]} {e2} x {s2} batches (epochs x batches per epoch).")


def layers_named(model, kind: str) -> list:
    """The layers of ``model`` whose class is called ``kind`` (e.g. ``"Dropout"``), in order."""
    return [layer for layer in model.layers if type(layer).__name__ == kind]


def hidden_activations(model) -> list[str]:
    """The activation of each Dense layer but the output one, by name (``"relu"``, ...)."""
    return [layer.get_config()["activation"] for layer in layers_named(model, "Dense")[:-1]]


def peak_learning_rate(optimizer) -> float:
    """An optimizer's learning rate; for a warm-up schedule, the rate it warms up to.

    >>> import keras
    >>> from course_lib.models import warmup_cosine
    >>> round(peak_learning_rate(keras.optimizers.Adam(warmup_cosine(0.003, 100))), 6)
    0.003
    >>> round(peak_learning_rate(keras.optimizers.SGD(0.1)), 6)
    0.1
    """
    import keras

    # Keras keeps the schedule itself here; .learning_rate is only its value at the current step.
    rate = getattr(optimizer, "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        config = rate.get_config()
        return float(config.get("warmup_target") or config["initial_learning_rate"])
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def self_scaling_run(answer, what: str):
    """``answer`` as a trained self-scaling network (what ``SelfScalingNet.fit`` or
    ``run_drift`` leaves): its ``history`` must end at its current ``hidden_sizes``."""
    history, sizes = getattr(answer, "history", None), getattr(answer, "hidden_sizes", None)
    if not isinstance(history, list) or sizes is None:
        raise AnswerError(f"{what}: pass the trained self-scaling network itself, not "
                          f"{_kind(answer)}: the check reads its history and sizes.")
    if not history:
        raise AnswerError(f"{what}: that network has not been trained yet (its history is empty).")
    if list(history[-1]["sizes_after_prune"]) != list(sizes):
        raise AnswerError(f"{what}: its history does not end at its sizes {list(sizes)}.")
    return answer


def epoch_timing(answer, what: str):
    """``answer`` as the ``EpochTiming`` that ``timing.time_epoch`` returned."""
    if not all(hasattr(answer, name) for name in ("samples_per_second", "batch_size", "device")):
        raise AnswerError(f"{what}: pass the timing that timing.time_epoch returned (t = "
                          f"timing.time_epoch(...)), not {_kind(answer)}.")
    return answer


def best_time(fn: Callable[[], Any], repeats: int = 3) -> float:
    """The best of ``repeats`` timed calls of ``fn`` after one untimed warm-up, in seconds.

    >>> 0 < best_time(lambda: sum(range(1000))) < 1
    True
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed_seconds(answer, what: str) -> float:
    """The median time of the ``Timing`` that ``timing.time_callable`` returned."""
    if not (hasattr(answer, "times") and hasattr(answer, "seconds")):
        raise AnswerError(f"{what}: pass the timing that timing.time_callable returned (t = "
                          f"timing.time_callable(...)), not {_kind(answer)}.")
    return float(answer.seconds)


#: A measured time may be this many times the check's own best time, or this many times
#: faster, not more: on a shared machine one product's time swings tenfold with the load.
TIMES_OFF_AT_MOST = 30


def agrees_with_machine(seconds: float, here: float, what: str) -> str | None:
    """A problem when ``seconds`` cannot be a measurement of what took ``here`` s just now.

    >>> agrees_with_machine(0.3, 0.25, "one product") is None
    True
    >>> agrees_with_machine(30.0, 0.25, "one product")[:48]
    '30 s is far longer than one product takes here ('
    """
    if not (math.isfinite(seconds) and seconds > 0):
        return f"{seconds!r} s is not a measured time."
    if seconds < here / TIMES_OFF_AT_MOST:
        return (f"{seconds:.3g} s is faster than this machine can do {what}: timed again, the "
                f"best of three takes {here:.3g} s. Pass the timing you measured.")
    if seconds > here * TIMES_OFF_AT_MOST:
        return (f"{seconds:.3g} s is far longer than {what} takes here ({here:.3g} s, timed "
                "again): time the product alone, after a warm-up call.")
    return None


def _shown(answer, width: int = 80) -> str:
    """An answer's repr on one line, cut to ``width`` characters."""
    text = " ".join(repr(answer).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _kind(answer) -> str:
    """How an answer of the wrong kind is named in feedback.

    >>> _kind(0.5), _kind([1])
    ('a float', 'a list')
    """
    name = type(answer).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
