"""Instant feedback on the notebooks' exercises: ``q.check(answer)`` and ``q.hint()``.

In the spirit of Kaggle Learn's ``q1.check()`` / ``q1.hint()``: each checkable exercise has an
:class:`Exercise` that says right or wrong, what is wrong, and offers a hint. The worked
solutions stay in the notebooks' solution cells, which the attendee build removes; the checks
and hints ship with ``course_lib``, so they work on Colab and offline.

>>> q = exercise("03.1")
>>> q.check((0.6931, 4.6052))
Exercise 03.1: correct.
True
>>> q.check(None)
Exercise 03.1: not answered yet. Replace the ... with your answer, then run the cell again.
False
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

NOT_ANSWERED = (None, Ellipsis)


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``test(answer)`` returns ``None`` when right, else what is wrong."""

    name: str  # "<notebook>.<number>", e.g. "03.1"
    asks_for: str  # what to pass to check(), in words
    test: Callable[[Any], str | None]
    hint_text: str

    def check(self, answer) -> bool:
        """Print whether ``answer`` is right (and, if not, what is wrong); return it as a bool."""
        if any(answer is marker for marker in NOT_ANSWERED):
            print(f"Exercise {self.name}: not answered yet. Replace the ... with your answer, "
                  "then run the cell again.")
            return False
        try:
            problem = self.test(answer)
        except Exception as exc:  # a malformed answer is feedback, not a crash
            problem = f"could not check {answer!r} ({type(exc).__name__}: {exc}). Expected {self.asks_for}."
        if problem is None:
            print(f"Exercise {self.name}: correct.")
            return True
        print(f"Exercise {self.name}: not yet. {problem}\nNeed a nudge? Run .hint().")
        return False

    def hint(self) -> None:
        print(f"Hint for exercise {self.name}: {self.hint_text}")


def _close(value, expected, rel=1e-3) -> bool:
    return math.isclose(float(value), float(expected), rel_tol=rel, abs_tol=1e-9)


# -- notebook 03: softmax and cross-entropy -------------------------------------------------

def _check_03_1(answer) -> str | None:
    unsure, wrong = (float(a) for a in answer)
    if _close(unsure, -math.log(0.5)) and _close(wrong, -math.log(0.01)):
        return None
    if _close(unsure, -math.log(0.5)):
        return (f"The first is right. The second ({wrong:.4f}) is not: only the probability given "
                "to the true class, the 6, enters the cost.")
    return f"({unsure:.4f}, {wrong:.4f}) are not the two costs; the cost is -ln p(true class)."


def _neuron_epochs_below(cost: str, w: float, b: float, threshold: float = 0.5,
                         lr: float = 0.15, limit: int = 10_000) -> int:
    """Epochs of notebook 03's one-neuron gradient descent (x = 1, y = 0) until the output < threshold."""
    for epoch in range(limit):
        a = 1 / (1 + math.exp(-(w + b)))
        if a < threshold:
            return epoch
        delta = a * a * (1 - a) if cost == "quadratic" else a  # dC/dz for target 0
        w, b = w - lr * delta, b - lr * delta
    return limit


def _check_03_2(answer) -> str | None:
    expected = {cost: _neuron_epochs_below(cost, 0.6, 0.9) for cost in ("quadratic", "cross-entropy")}
    got = {cost: int(answer[cost]) for cost in expected}
    if got == expected:
        return None
    return (f"{got} is not it. Count epochs from 0 (the untrained neuron) to the first epoch whose "
            "output is below 0.5.")


def _check_03_3(answer) -> str | None:
    z = np.random.default_rng(0).normal(0, 3, size=(200, 2))
    p1 = np.exp(z[:, 0]) / np.exp(z).sum(axis=1)
    got = np.array([float(answer(a, b)) for a, b in z])
    if np.allclose(got, p1, atol=1e-9):
        return None
    if np.allclose(got, 1 - p1, atol=1e-9):
        return "That is the probability of class 2: check the sign of the difference."
    return "Your function does not give softmax's probability for class 1 on random score pairs."


# -- notebooks 00, 01, 04, 06, 07, 08: numbers with one right answer ---------------------------

def _check_01_2(answer) -> str | None:
    w1, w2, b = (float(a) for a in answer)
    if all(abs(got - want) <= 0.05 for got, want in ((w1, 2.0), (w2, -3.0), (b, 1.0))):
        return None
    return (f"(w1, w2, b) = ({w1:.3f}, {w2:.3f}, {b:.3f}) is not close to the truth that made the "
            "data, (2, -3, 1).")


def _check_04_3(answer) -> str | None:
    expected = (784 * 300 + 300) + (300 * 100 + 100) + (100 * 10 + 10)
    if int(answer) == expected:
        return None
    if int(answer) == 784 * 300 + 300 * 100 + 100 * 10:
        return "You counted the weights; each neuron also has a bias."
    return f"{int(answer):,} is not it."


def _check_06_5(answer) -> str | None:
    size, params = (int(a) for a in answer)
    problems = []
    if size != ((32 - 5) // 2 + 1) // 2:
        problems.append(f"the output size {size} is wrong: convolution first, then pooling")
    if params != (5 * 5 * 3 + 1) * 16:
        problems.append(f"{params} parameters is wrong: each filter spans all 3 input channels")
    return "; ".join(problems) + "." if problems else None


def _check_08_1(answer) -> str | None:
    batch, rate = int(answer[0]), float(answer[1])
    if batch == 64 * 8 and _close(rate, 0.01 * 8):
        return None
    return (f"global batch {batch} and learning rate {rate:g} are not it: count the replicas "
            "(nodes x GPUs per node).")


def _check_gflops(answer) -> str | None:
    n, seconds, gflops = int(answer[0]), float(answer[1]), float(answer[2])
    right = 2 * n**3 / seconds / 1e9
    if _close(gflops, right, rel=0.02):
        return None
    if _close(gflops, right / 2, rel=0.02):
        return "You counted n^3 operations; a product of two n x n matrices costs 2 n^3 (a multiply and an add)."
    if _close(gflops, right * 1e9, rel=0.02):
        return "That is in FLOP/s; one GFLOP/s is 1e9 FLOP/s."
    return f"{gflops:g} GFLOP/s does not follow from n = {n} and {seconds:g} s: expected {right:.3g}."


# -- notebooks 01, 02, 04, 05, 08, 09, 11: one right answer, or a property to test ---------------

def _check_01_1(answer) -> str | None:
    a, rate = np.asarray(answer[0], dtype=float), float(answer[1])
    hessian = 2 / len(a) * a.T @ a
    right = 2 / np.linalg.eigvalsh(hessian).max()
    if _close(rate, right, rel=0.01):
        return None
    if _close(rate, right / 2, rel=0.01):
        return "That is 1 / lambda_max; gradient descent stays stable up to 2 / lambda_max."
    if _close(rate, 2 / np.linalg.eigvalsh(a.T @ a).max(), rel=0.01):
        return "You took the eigenvalues of A^T A; the Hessian of the mean squared error is (2/n) A^T A."
    return f"{rate:g} is not 2 / lambda_max of the Hessian (2/n) A^T A."


def _check_02_1(answer) -> str | None:
    import keras  # the installed Keras's own default, so the check follows the library

    default = float(keras.optimizers.SGD().learning_rate)
    if _close(float(answer), default):
        return None
    return (f"{float(answer):g} is not it. Build the optimizer the lecture asks for by name and "
            "read its learning_rate.")


def _choice(expected: str, options: tuple[str, ...], why: str) -> Callable[[Any], str | None]:
    """A check for a question whose answer is one of ``options`` (case and spaces ignored)."""

    def test(answer) -> str | None:
        got = str(answer).strip().lower()
        if got not in options:
            return f"answer one of {', '.join(repr(o) for o in options)}, not {answer!r}."
        return None if got == expected else why

    return test


def _check_05_2(answer) -> str | None:
    samples = np.asarray(answer, dtype=float)
    if samples.ndim != 2 or samples.shape[1] != 10 or len(samples) < 2:
        return (f"expected several predictions of one image, shape (runs, 10); got shape "
                f"{samples.shape}.")
    if not np.allclose(samples.sum(axis=1), 1, atol=1e-3):
        return "each row should be the softmax's 10 probabilities (summing to 1)."
    if np.allclose(samples, samples[0], atol=1e-6):
        return ("all predictions are identical: dropout is off. Call the network with "
                "training=True to keep dropping neurons.")
    return None


def _check_08_2(answer) -> str | None:
    images, replicas, steps = (int(a) for a in answer)
    right = math.ceil(images / (32 * replicas))
    if steps == right:
        return None
    if steps == math.ceil(images / 32):
        return "Each step processes 32 images on every replica: the global batch is 32 x replicas."
    if steps == math.ceil(images / (64 * replicas)):
        return "That is the per-replica batch of 64; the exercise asks for 32."
    return f"{steps} is not it: one epoch is ceil(images / global batch) steps."


def _check_11_2(answer) -> str | None:
    sizes, count = [int(n) for n in answer[0]], int(answer[1])
    right = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if count == right:
        return None
    if count == sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)):
        return "You counted the weights; each neuron also has a bias."
    return f"{count:,} is not the number of parameters of a {sizes} network ({right:,})."


def _line_image(kind: str, size: int = 9) -> np.ndarray:
    """A one-pixel stroke through a dark square: "diagonal" (top left to bottom right),
    "anti-diagonal", "horizontal" or "vertical"."""
    image = np.zeros((size, size))
    middle = np.arange(size)
    rows, cols = {"diagonal": (middle, middle), "anti-diagonal": (middle, middle[::-1]),
                  "horizontal": (np.full(size, size // 2), middle),
                  "vertical": (middle, np.full(size, size // 2))}[kind]
    image[rows, cols] = 1.0
    return image


def _strongest_response(kernel: np.ndarray, image: np.ndarray) -> float:
    """Largest output of a 'valid' 2-D cross-correlation (what Conv2D computes)."""
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return float((windows * kernel).sum(axis=(-1, -2)).max())


def _check_06_1(answer) -> str | None:
    kernel = np.asarray(answer, dtype=float).reshape(3, 3)
    responses = {kind: _strongest_response(kernel, _line_image(kind))
                 for kind in ("diagonal", "anti-diagonal", "horizontal", "vertical")}
    others = {k: v for k, v in responses.items() if k != "diagonal"}
    if responses["diagonal"] > max(others.values()) + 1e-6:
        return None
    beaten = max(others, key=others.get)
    return (f"your filter responds at least as strongly to a {beaten} stroke "
            f"({others[beaten]:.2f}) as to a diagonal one ({responses['diagonal']:.2f}).")


def _check_06_4(answer) -> str | None:
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


def _check_10_1(answer) -> str | None:
    history, layer = answer[0], int(answer[1])
    grown = np.sum([np.subtract(r["sizes_after_grow"], r["sizes_before_grow"]) for r in history], axis=0)
    removed = np.sum([np.subtract(r["sizes_after_grow"], r["sizes_after_prune"]) for r in history],
                     axis=0)
    share = removed / (grown + np.asarray(history[0]["sizes_before_grow"]))
    right = int(share.argmax()) + 1
    if layer == right:
        return None
    if layer == right - 1:
        return "Count the hidden layers from 1, not from 0."
    return (f"hidden layer {layer} lost {share[layer - 1]:.0%} of the neurons it ever had; another "
            "layer lost a larger share.")


EXERCISES: dict[str, Exercise] = {
    q.name: q
    for q in (
        Exercise("01.2", "a triple (w1, w2, b) from your gradient descent", _check_01_2,
                 "The gradient of the mean squared error is 2/n * X.T @ (X @ theta - y) with a "
                 "column of ones in X for b; a learning rate around 0.1 and a few hundred "
                 "epochs get close."),
        Exercise("04.3", "the number of parameters (an integer)", _check_04_3,
                 "Each Dense layer has inputs x outputs weights plus one bias per output."),
        Exercise("06.5", "a pair (output height, parameters of the convolution)", _check_06_5,
                 "Use floor((n + 2p - k) / s) + 1 with p = 0 for 'valid', then halve for the "
                 "2x2 pooling; parameters: (k * k * channels_in + 1) * filters."),
        Exercise("08.1", "a pair (global batch, learning rate)", _check_08_1,
                 "Replicas = nodes x GPUs per node; the global batch and the learning rate both "
                 "scale with the number of replicas (distributed.scale_for_replicas)."),
        Exercise("03.1", "a pair (cost when p(6) = 0.5, cost when p(6) = 0.01)", _check_03_1,
                 "With a one-hot truth the cost is -ln of the probability of the true class; "
                 "where the other probabilities go does not matter."),
        Exercise("03.2", 'a dict {"quadratic": epochs, "cross-entropy": epochs}', _check_03_2,
                 "Run train_neuron(cost, w=0.6, b=0.9) for each cost; the first epoch whose output "
                 "is below 0.5 is int(np.argmax(np.array(outputs) < 0.5))."),
        Exercise("00.2", "a triple (n, seconds for one n x n product, your GFLOP/s)", _check_gflops,
                 "An n x n matrix product does n^3 multiplications and as many additions; divide "
                 "the operations by the seconds, then by 1e9."),
        Exercise("07.1", "a triple (n, seconds for one n x n product, GFLOP/s) for one device",
                 _check_gflops,
                 "t.seconds from timing.time_callable is the time of one product; 2 n^3 "
                 "operations divided by it, then by 1e9, gives GFLOP/s."),
        Exercise("01.1", "a pair (the matrix A, the largest stable learning rate)", _check_01_1,
                 "np.linalg.eigvalsh gives the eigenvalues of the symmetric Hessian 2/n * A.T @ A; "
                 "the largest stable rate is 2 divided by the largest of them."),
        Exercise("02.1", "the learning rate of Keras's optimizer='sgd' (a number)", _check_02_1,
                 "Compile a model with optimizer='sgd' and print float(model.optimizer.learning_rate)."),
        Exercise("04.2", "'sigmoid' or 'relu': which network the tanh network is closer to after "
                 "one epoch of plain SGD",
                 _choice("relu", ("sigmoid", "relu"),
                         "Look at the numbers again: after one epoch the tanh network is close to "
                         "ReLU, not to the stalled sigmoid."),
                 "Print tanh_curve[0] next to sgd_curves['sigmoid'][0] and sgd_curves['relu'][0]; "
                 "then compare the slopes of tanh and sigmoid at 0."),
        Exercise("05.2", "the stacked predictions of one test image, shape (runs, 10)", _check_05_2,
                 "np.stack([np.asarray(net(image, training=True))[0] for _ in range(10)]): "
                 "training=True keeps dropout on, so each call uses another thinned network."),
        Exercise("08.2", "a triple (training images, replicas, steps in one epoch)", _check_08_2,
                 "distributed.scale_for_replicas(32, ...) gives the global batch; an epoch is "
                 "ceil(images / global batch) steps."),
        Exercise("09.1", "'first' or 'last': which columns (neuron ids) weighted L1 keeps",
                 _choice("first", ("first", "last"),
                         "Look at net.neuron_ids again: the ids that survive are mostly small."),
                 "Weighted L1 charges neuron j (j + 1) times the penalty: which neurons are "
                 "cheapest to keep?"),
        Exercise("11.2", "a pair (layer sizes, e.g. [3072, 142, 204, 164, 152, 10], parameters)",
                 _check_11_2,
                 "Each dense layer has inputs x outputs weights plus one bias per output; "
                 "model.count_params() checks your sum."),
        Exercise("06.1", "your 3x3 filter (a 3x3 array)", _check_06_1,
                 "Positive weights on the diagonal from top left to bottom right, negative ones "
                 "elsewhere, summing to zero so that a flat patch gives 0."),
        Exercise("06.4", "a pair (confusion matrix, (true digit, predicted digit))", _check_06_4,
                 "Set the diagonal to zero (np.fill_diagonal), then np.unravel_index(cm.argmax(), "
                 "cm.shape) gives (row, column) = (true digit, predicted digit)."),
        Exercise("09.3", "'never', 'at every stall' or 'every epoch': when the penalty changes",
                 _choice("never", ("never", "at every stall", "every epoch"),
                         "Look at the penalties again: with a multiplier of 1, a stall multiplies "
                         "the penalty by 1."),
                 "A stall multiplies the penalty by penalty_multiplier."),
        Exercise("10.1", "a pair (net.history, the hidden layer, counted from 1, that lost the "
                 "largest share of its neurons)", _check_10_1,
                 "Per layer: neurons removed (sizes_after_grow - sizes_after_prune, summed over "
                 "epochs) divided by the neurons it ever had (its start size plus all it grew)."),
        Exercise("03.3", "a function f(z1, z2) giving class 1's probability with a sigmoid",
                 _check_03_3,
                 "Divide softmax's numerator and denominator by exp(z1): what is left is "
                 "1 / (1 + exp(-(z1 - z2)))."),
    )
}


def exercise(name: str) -> Exercise:
    """The exercise called ``name`` ("<notebook>.<number>"), e.g. ``exercise("03.1")``."""
    if name not in EXERCISES:
        raise ValueError(f"no checked exercise {name!r}; known: {', '.join(sorted(EXERCISES))}")
    return EXERCISES[name]
