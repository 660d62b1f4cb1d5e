"""Checks for notebooks 00-04: the machine, gradient descent, softmax regression, cross-entropy,
the 5-layer network."""

from __future__ import annotations

import math

import numpy as np

from course_lib.exercises.core import (
    AnswerError,
    Exercise,
    agrees_with_machine,
    best_time,
    choice,
    close,
    fit_history,
    gflops,
    hidden_activations,
    last,
    most_confused_pair,
    peak_learning_rate,
    reads_your_numbers,
    same_training,
    timed_seconds,
    word,
)

# -- notebook 00 ------------------------------------------------------------------------------


def _check_00_1(answer) -> str | None:
    from course_lib.data import MNIST, keras_cache_dir

    text, said = str(answer[0]), word(answer[1], ("data_dir", "keras_cache", "download"))
    line = next((ln for ln in text.splitlines() if ln.startswith("MNIST:")), None)
    if line is None:
        return "pass the text `python -m course_lib.data where` printed: it has a line 'MNIST: ...'."
    if "(data_dir)" in line:
        return ("that output still reads MNIST from a data folder: run the command again with "
                "COURSE_DATA_DIR set to an empty folder.")
    # Without a data folder only Keras's cache is left on disk: look at it here.
    cache = keras_cache_dir()
    right = "keras_cache" if (cache / MNIST.filename).exists() else "download"
    shown = "keras_cache" if "(keras_cache)" in line else "download"
    if shown != right:
        return (f"{line!r} is not what this machine reports: MNIST is "
                f"{'' if right == 'keras_cache' else 'not '}in Keras's cache ({cache}). Pass the "
                "text the command printed.")
    return reads_your_numbers(said, right, line)


def _check_00_2(answer) -> str | None:
    matrix = np.asarray(answer[0])
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or not 100 <= len(matrix) <= 4096:
        raise AnswerError(f"pass the square matrix you multiplied by itself (n from 100 to "
                          f"4096), not an array of shape {matrix.shape}: the check times it again.")
    seconds, rate = timed_seconds(answer[1], "the time"), float(answer[2])
    n = len(matrix)
    problem = gflops((n, seconds, rate))
    if problem:
        return problem
    return agrees_with_machine(seconds, best_time(lambda: matrix @ matrix), f"one {n} x {n} product")


# -- notebook 01 ------------------------------------------------------------------------------


def _check_01_1(answer) -> str | None:
    a, rate = np.asarray(answer[0], dtype=float), float(answer[1])
    hessian = 2 / len(a) * a.T @ a
    right = 2 / np.linalg.eigvalsh(hessian).max()
    if close(rate, right, rel=0.01):
        return None
    if close(rate, right / 2, rel=0.01):
        return "That is 1 / lambda_max; gradient descent stays stable up to 2 / lambda_max."
    if close(rate, 2 / np.linalg.eigvalsh(a.T @ a).max(), rel=0.01):
        return "You took the eigenvalues of A^T A; the Hessian of the mean squared error is (2/n) A^T A."
    return f"{rate:g} is not 2 / lambda_max of the Hessian (2/n) A^T A."


def _check_01_2(answer) -> str | None:
    x, y = np.asarray(answer[0], dtype=float), np.asarray(answer[1], dtype=float)
    theta = np.asarray(answer[2], dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or y.shape != (len(x),) or theta.shape != (3,):
        raise AnswerError("pass (X, y, (w1, w2, b)): your data, an (m, 2) matrix and m targets, "
                          "and the weights gradient descent found on it.")
    exact, *_ = np.linalg.lstsq(np.column_stack([x, np.ones(len(x))]), y, rcond=None)
    if np.abs(exact - (2.0, -3.0, 1.0)).max() > 0.1:
        return (f"least squares on your data gives ({exact[0]:.3f}, {exact[1]:.3f}, "
                f"{exact[2]:.3f}): the data was not made from y = 2 x1 - 3 x2 + 1 plus noise.")
    if np.abs(theta - exact).max() <= 0.02:
        return None
    return (f"(w1, w2, b) = ({theta[0]:.3f}, {theta[1]:.3f}, {theta[2]:.3f}) is not where gradient "
            f"descent on your data ends: least squares gives ({exact[0]:.3f}, {exact[1]:.3f}, "
            f"{exact[2]:.3f}). More epochs, or check the three gradients.")


def _check_01_3(answer) -> str | None:
    applicants, w, b = np.asarray(answer[0], dtype=float), np.asarray(answer[1], dtype=float), float(answer[2])
    changed = sorted(int(i) for i in answer[3])
    biased = w.copy()
    biased[1] = 0.5
    before, after = np.sign(applicants @ w + b), np.sign(applicants @ biased + b)
    right = [int(i) for i in np.flatnonzero(before != after)]
    if changed == right:
        return None
    if changed == [i + 1 for i in right]:
        return "Those are the applicants' numbers counted from 1; give the row indices, counted from 0."
    if set(right) < set(changed):
        return ("some of those applicants keep their decision: a weight of 0.5 changes the sum "
                "only for gender code 1, and flips it only near the boundary.")
    return f"rows {changed} are not the applicants whose sign(w . x + b) changes."


# -- notebook 02 ------------------------------------------------------------------------------


def _check_02_1(answer) -> str | None:
    import keras  # the installed Keras's own default, so the check follows the library

    default = float(keras.optimizers.SGD().learning_rate)
    if close(float(answer), default):
        return None
    return (f"{float(answer):g} is not it. Build the optimizer the lecture asks for by name and "
            "read its learning_rate.")


#: Softmax regression on MNIST: one Dense(10) layer on 784 pixels.
SOFTMAX_PARAMETERS = 784 * 10 + 10


def _softmax_run(answer, what: str):
    history = fit_history(answer, what)
    if history.model.count_params() != SOFTMAX_PARAMETERS:
        raise AnswerError(f"{what}: that model has {history.model.count_params():,} parameters, "
                          f"not a softmax regression's {SOFTMAX_PARAMETERS:,}.")
    return history


def _same_recipe(first, second, names: tuple[str, str], epochs: bool = True) -> str | None:
    """A problem when two softmax-regression runs differ in more than their pixels (and,
    with ``epochs`` false, their number of epochs)."""
    rates = [peak_learning_rate(h.model.optimizer) for h in (first, second)]
    if not close(rates[0], rates[1], rel=1e-6):
        return (f"{names[0]} trained with learning rate {rates[0]:g}, {names[1]} with "
                f"{rates[1]:g}: keep the learning rate and change only the pixels.")
    return same_training(first, second, names, epochs)


def _check_02_2(answer) -> str | None:
    scaled_run = _softmax_run(answer[0], "the scaled-pixel run")
    raw_run = _softmax_run(answer[1], "the raw-pixel run")
    problem = _same_recipe(scaled_run, raw_run, ("the scaled run", "the raw run"), epochs=False)
    if problem:
        return problem
    scaled, raw = (float(h.history["loss"][0]) for h in (scaled_run, raw_run))
    if not (math.isfinite(scaled) and 0 < scaled < math.log(10)):
        return (f"the scaled model's first-epoch loss ({scaled:.3g}) is not below chance level "
                f"({math.log(10):.2f}): pass the History of the model trained on pixels / 255.")
    if not math.isfinite(raw) or raw > 3 * scaled:
        return None  # an infinite or far larger loss: the raw pixels blew up the training
    return (f"the raw-pixel loss ({raw:.3g}) is not much larger than the scaled one "
            f"({scaled:.3g}): did that model really see pixels from 0 to 255 "
            "(course_lib.flatten(x_train).astype('float32'), not divided by 255)?")


def _check_02_4(answer) -> str | None:
    plain_run = _softmax_run(answer[0], "the run on pixels in place")
    shuffled_run = _softmax_run(answer[1], "the run on shuffled pixels")
    said = word(answer[2], ("yes", "no"))
    problem = _same_recipe(plain_run, shuffled_run, ("the run in place", "the shuffled run"))
    if problem:
        return problem
    in_place = last(plain_run, "val_accuracy", "the run on pixels in place")
    shuffled = last(shuffled_run, "val_accuracy", "the run on shuffled pixels")
    if abs(in_place - shuffled) >= 0.01:
        return (f"{in_place:.2%} and {shuffled:.2%} differ by more than a point: did you apply the "
                "same permutation to the training and the validation pixels?")
    return None if said == "no" else (
        "your two accuracies are within a fraction of a point: softmax regression does not care.")


# -- notebook 03 ------------------------------------------------------------------------------


def _check_03_1(answer) -> str | None:
    unsure, wrong = (float(a) for a in answer)
    if close(unsure, -math.log(0.5)) and close(wrong, -math.log(0.01)):
        return None
    if close(unsure, -math.log(0.5)):
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


# -- notebook 04 ------------------------------------------------------------------------------

#: Below this difference in validation accuracy, one run of each cannot tell two networks apart
#: (on 10,000 validation images a seed alone moves the accuracy by about 0.1-0.2 points).
SAME_WITHIN = 0.003


def _check_04_1(answer) -> str | None:
    leaky_run = fit_history(answer[0], "the leaky ReLU run")
    relu_run = fit_history(answer[1], "the ReLU run")
    said = word(answer[2], ("better", "worse", "about the same"))
    for run, name, wanted in ((leaky_run, "the leaky ReLU run", "leaky_relu"),
                              (relu_run, "the ReLU run", "relu")):
        found = hidden_activations(run.model)
        if not found or set(found) != {wanted}:
            return f"{name} trained a network whose hidden layers use {found}, not {wanted!r} only."
    widths = [[layer.units for layer in run.model.layers] for run in (leaky_run, relu_run)]
    if widths[0] != widths[1]:
        return f"the two networks differ in more than the activation: layer widths {widths}."
    problem = same_training(leaky_run, relu_run, ("the leaky ReLU run", "the ReLU run"))
    if problem:
        return problem
    leaky = last(leaky_run, "val_accuracy", "the leaky ReLU run")
    relu = last(relu_run, "val_accuracy", "the ReLU run")
    difference = leaky - relu
    right = ("about the same" if abs(difference) < SAME_WITHIN
             else "better" if difference > 0 else "worse")
    return reads_your_numbers(said, right, f"leaky ReLU {leaky:.2%}, ReLU {relu:.2%}; one run each "
                              f"cannot separate differences below {SAME_WITHIN:.1%}")


def _check_04_3(answer) -> str | None:
    expected = (784 * 300 + 300) + (300 * 100 + 100) + (100 * 10 + 10)
    if int(answer) == expected:
        return None
    if int(answer) == 784 * 300 + 300 * 100 + 100 * 10:
        return "You counted the weights; each neuron also has a bias."
    return f"{int(answer):,} is not it."


EXERCISES = (
    Exercise("00.1", "a pair (the text `python -m course_lib.data where` printed with COURSE_DATA_DIR "
             "set to an empty folder, where MNIST would come from: 'keras_cache' or 'download')",
             _check_00_1,
             "Read the MNIST line: a path with (keras_cache) means Keras's own cache folder; "
             "'not on disk' means a download (or stand-in data in fast mode without a network)."),
    Exercise("00.2", "a triple (the n x n matrix you multiplied by itself, the timing of its "
             "product from timing.time_callable, your GFLOP/s)", _check_00_2,
             "An n x n matrix product does n^3 multiplications and as many additions; divide "
             "them by t.seconds, then by 1e9. The check times the product again."),
    Exercise("01.1", "a pair (the matrix A, the largest stable learning rate)", _check_01_1,
             "np.linalg.eigvalsh gives the eigenvalues of the symmetric Hessian 2/n * A.T @ A; "
             "the largest stable rate is 2 divided by the largest of them."),
    Exercise("01.2", "a triple (X, y, (w1, w2, b)): your data and the weights your gradient "
             "descent found on it", _check_01_2,
             "The gradient of the mean squared error is 2/n * X.T @ (X @ theta - y) with a "
             "column of ones in X for b; a learning rate around 0.1 and a few hundred "
             "epochs get close."),
    Exercise("01.3", "a tuple (applicants, w, b, the row indices whose decision changes when "
             "w[1] is 0.5)", _check_01_3,
             "Compute np.sign(applicants @ w + b) with the original and with the changed "
             "weights; np.flatnonzero(before != after) gives the rows that changed."),
    Exercise("02.1", "the learning rate of Keras's optimizer='sgd' (a number)", _check_02_1,
             "Compile a model with optimizer='sgd' and print float(model.optimizer.learning_rate)."),
    Exercise("02.2", "a pair (the History of the model trained on scaled pixels, the History of "
             "the one trained on raw pixels)", _check_02_2,
             "Pass what each model.fit returned; the check compares their first-epoch losses. The "
             "raw one must be trained on pixels from 0 to 255 (no division by 255)."),
    Exercise("02.3", "a tuple (the model, the test images, their labels, (true digit, predicted "
             "digit))", most_confused_pair,
             "Set the diagonal to zero (np.fill_diagonal), then np.unravel_index(cm.argmax(), "
             "cm.shape) gives (row, column) = (true digit, predicted digit)."),
    Exercise("02.4", "a triple (the History of the run with pixels in place, of the run with "
             "pixels shuffled, 'yes' or 'no': does softmax regression care?)", _check_02_4,
             "Each weight belongs to one pixel: what does a fixed reordering of the pixels do "
             "to what the model can learn?"),
    Exercise("03.1", "a pair (cost when p(6) = 0.5, cost when p(6) = 0.01)", _check_03_1,
             "With a one-hot truth the cost is -ln of the probability of the true class; "
             "where the other probabilities go does not matter."),
    Exercise("03.2", 'a dict {"quadratic": epochs, "cross-entropy": epochs}', _check_03_2,
             "Run train_neuron(cost, w=0.6, b=0.9) for each cost; the first epoch whose output "
             "is below 0.5 is int(np.argmax(np.array(outputs) < 0.5))."),
    Exercise("03.3", "a function f(z1, z2) giving class 1's probability with a sigmoid",
             _check_03_3,
             "Divide softmax's numerator and denominator by exp(z1): what is left is "
             "1 / (1 + exp(-(z1 - z2)))."),
    Exercise("04.1", "a triple (the History of the leaky ReLU run, of the ReLU run, 'better', "
             "'worse' or 'about the same')", _check_04_1,
             "Pass what train(...) returned for each (histories['relu'] is the ReLU run); compare "
             f"the final validation accuracies: differences below {SAME_WITHIN:.1%} are within "
             "what another seed gives."),
    Exercise("04.2", "'sigmoid' or 'relu': which network the tanh network is closer to after "
             "one epoch of plain SGD",
             choice("relu", ("sigmoid", "relu"),
                    "Look at the numbers again: after one epoch the tanh network is close to "
                    "ReLU, not to the stalled sigmoid."),
             "Print tanh_curve[0] next to sgd_curves['sigmoid'][0] and sgd_curves['relu'][0]; "
             "then compare the slopes of tanh and sigmoid at 0."),
    Exercise("04.3", "the number of parameters (an integer)", _check_04_3,
             "Each Dense layer has inputs x outputs weights plus one bias per output."),
)
