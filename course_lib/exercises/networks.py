"""Checks for notebooks 05-07: overfitting and dropout, convolutional networks, GPU vs CPU."""

from __future__ import annotations

import numpy as np

from course_lib.exercises.core import (
    AnswerError,
    Exercise,
    agrees_with_machine,
    close,
    epoch_timing,
    fit_history,
    gflops,
    last,
    layers_named,
    most_confused_pair,
    peak_learning_rate,
    same_training,
    timed_seconds,
    which_is_larger,
    word,
)

# -- notebook 05 ------------------------------------------------------------------------------


def _dropout_run(answer, what: str, rate: float):
    """A History whose network drops with ``rate`` after every hidden layer (0: no dropout)."""
    run = fit_history(answer, what)
    rates = [layer.rate for layer in layers_named(run.model, "Dropout")]
    if (rates and set(rates) != {rate}) or (rate and not rates):
        raise AnswerError(f"{what}: that network's dropout rates are {rates or 'none'}, not {rate}.")
    return run


def _gap(run) -> float:
    return run.history["accuracy"][-1] - last(run, "val_accuracy", "a run")


def _check_05_1(answer) -> str | None:
    quarter = _dropout_run(answer[0], "the run with p = 0.25", 0.25)
    half = _dropout_run(answer[1], "the run with p = 0.5", 0.5)
    problem = same_training(quarter, half, ("the p = 0.25 run", "the p = 0.5 run"))
    if problem:
        return problem
    return which_is_larger((_gap(quarter), _gap(half), answer[2]), ("yes", "no"),
                           "gap {a:.2%} with p = 0.25, {b:.2%} with p = 0.5")


def _check_05_2(answer) -> str | None:
    import keras

    net, image, samples = answer[0], np.asarray(answer[1], dtype="float32"), np.asarray(answer[2], dtype=float)
    if not hasattr(net, "count_params"):
        raise AnswerError(f"pass (the network, the image, your predictions), not {type(net).__name__} "
                          "first: the check asks the network itself.")
    if not layers_named(net, "Dropout"):
        return "that network has no Dropout layer: use the dropout network you trained."
    if samples.ndim != 2 or samples.shape[1] != 10 or len(samples) < 2:
        return (f"expected several predictions of one image, shape (runs, 10); got shape "
                f"{samples.shape}.")
    if not np.allclose(samples.sum(axis=1), 1, atol=1e-3):
        return "each row should be the softmax's 10 probabilities (summing to 1)."
    if np.allclose(samples, samples[0], atol=1e-6):
        return ("all predictions are identical: dropout is off. Call the network with "
                "training=True to keep dropping neurons.")
    batch = image if image.ndim == len(net.input_shape) else image[np.newaxis]
    if len(batch) != 1:
        raise AnswerError(f"pass one image (x_test[:1]), not {len(batch)}.")
    # Each row of one large batch gets its own dropout mask: 500 draws of the same thinning.
    draws = keras.ops.convert_to_numpy(net(np.repeat(batch, 500, axis=0), training=True))
    tolerance = 4 * draws.std(axis=0) * np.sqrt(1 / len(samples) + 1 / len(draws)) + 0.02
    yours, its = samples.mean(axis=0), draws.mean(axis=0)
    if np.all(np.abs(yours - its) <= tolerance):
        return None
    k = int(np.argmax(np.abs(yours - its) - tolerance))
    return (f"these are not this network's predictions for this image: yours give digit {k} "
            f"{yours[k]:.2f} on average, the network's own dropout predictions {its[k]:.2f}.")


def _check_05_3(answer) -> str | None:
    dropout = _dropout_run(answer[0], "the dropout run", 0.25)
    decay = _dropout_run(answer[1], "the AdamW run", 0.0)
    optimizer = decay.model.optimizer
    if type(optimizer).__name__ != "AdamW" or not (optimizer.weight_decay or 0) > 0:
        return (f"the weight-decay run trained with {type(optimizer).__name__}, not AdamW with a "
                "weight decay above 0.")
    problem = same_training(dropout, decay, ("the dropout run", "the AdamW run"))
    if problem:
        return problem
    return which_is_larger((_gap(dropout), _gap(decay), answer[2]), ("weight decay", "dropout"),
                           "gap {a:.2%} with dropout, {b:.2%} with weight decay")


# -- notebook 06 ------------------------------------------------------------------------------


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


def _check_06_2(answer) -> str | None:
    from course_lib.models import CNN_PEAK_LR

    runs = [fit_history(answer[0], "the run at the course's rate"),
            fit_history(answer[1], "the run at a tenth of it")]
    said = word(answer[2], ("same", "tenth"))
    if any(layers_named(run.model, "BatchNormalization") for run in runs):
        return "a network that still has BatchNormalization layers: drop them from both."
    rates = [peak_learning_rate(run.model.optimizer) for run in runs]
    if not (close(rates[0], CNN_PEAK_LR, rel=1e-6) and close(rates[1], CNN_PEAK_LR / 10, rel=1e-6)):
        return (f"the runs peak at learning rates {rates[0]:g} and {rates[1]:g}; the exercise "
                f"compares the course's {CNN_PEAK_LR:g} with a tenth of it.")
    problem = same_training(*runs, ("the run at the course's rate", "the run at a tenth"))
    if problem:
        return problem
    accuracies = [last(run, "val_accuracy", "a run") for run in runs]
    return which_is_larger((*accuracies, said), ("same", "tenth"), "validation accuracy {a:.2%} "
                           "at the course's rate, {b:.2%} at a tenth of it")


def _augmentation_gain(pair, what: str) -> tuple[float, int]:
    """(validation accuracy gained, batches per epoch) of a (without, with augmentation) pair."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise AnswerError(f"{what}: pass a pair (History without augmentation, History with it).")
    plain, augmented = (fit_history(run, f"{what}, {kind}")
                        for run, kind in zip(pair, ("without augmentation", "with augmentation")))
    problem = same_training(plain, augmented, (f"{what} without", "with augmentation"), epochs=False)
    if problem:
        raise AnswerError(problem)
    gain = last(augmented, "val_accuracy", what) - last(plain, "val_accuracy", what)
    return gain, plain.params.get("steps") or 0


def _check_06_3(answer) -> str | None:
    gain_few, steps_few = _augmentation_gain(answer[0], "the 5,000-image runs")
    gain_all, steps_all = _augmentation_gain(answer[1], "the runs on all images")
    if not steps_few < steps_all:
        return (f"the small training set ({steps_few} batches per epoch) must be smaller than the "
                f"whole one ({steps_all}).")
    return which_is_larger((gain_few, gain_all, answer[2]), ("small", "large"), "augmentation gained "
                           "{a:+.2%} on 5,000 images, {b:+.2%} on all of them")


def _check_06_5(answer) -> str | None:
    size, params = (int(a) for a in answer)
    problems = []
    if size != ((32 - 5) // 2 + 1) // 2:
        problems.append(f"the output size {size} is wrong: convolution first, then pooling")
    if params != (5 * 5 * 3 + 1) * 16:
        problems.append(f"{params} parameters is wrong: each filter spans all 3 input channels")
    return "; ".join(problems) + "." if problems else None


# -- notebook 07 ------------------------------------------------------------------------------


def _check_07_1(answer) -> str | None:
    import keras

    from course_lib import timing

    device, n = str(answer[0]), int(answer[1])
    seconds, rate = timed_seconds(answer[2], "the time"), float(answer[3])
    if not 64 <= n <= 8192:
        raise AnswerError(f"n = {n}: time a product of n x n matrices with n from 64 to 8192.")
    problem = gflops((n, seconds, rate))
    if problem:
        return problem
    with keras.device(device):  # the same product, timed again on the same device
        a, b = keras.random.normal((n, n), seed=1), keras.random.normal((n, n), seed=2)
        here = timing.time_callable(lambda: keras.ops.matmul(a, b), repeats=3).best
    return agrees_with_machine(seconds, here, f"one {n} x {n} product on {device}")


def _check_07_2(answer) -> str | None:
    runs = [epoch_timing(answer[0], "the batch-128 timing"), epoch_timing(answer[1], "the batch-256 timing")]
    if [run.batch_size for run in runs] != [128, 256]:
        return (f"those timings ran batches of {runs[0].batch_size} and {runs[1].batch_size}; pass "
                "the batch-128 timing first, then the batch-256 one.")
    if runs[0].samples != runs[1].samples or runs[0].device != runs[1].device:
        return (f"time both on the same images and device, not {runs[0].samples} images on "
                f"{runs[0].device} and {runs[1].samples} on {runs[1].device}.")
    rates = [run.samples_per_second for run in runs]
    return which_is_larger((*rates, answer[2]), ("no", "yes"),
                           "{a:.0f} images/s at batch 128, {b:.0f} at 256")


EXERCISES = (
    Exercise("05.1", "a triple (the History of the p = 0.25 run, of the p = 0.5 run, 'yes' or "
             "'no': does the gap close further?)", _check_05_1,
             "A gap is the final training accuracy minus the final validation accuracy (gap(history)"
             "[0]); small['dropout 0.25'] is the p = 0.25 run."),
    Exercise("05.2", "a triple (the dropout network, the test image, your predictions of it, "
             "shape (runs, 10))", _check_05_2,
             "np.stack([keras.ops.convert_to_numpy(net(image, training=True))[0] for _ in "
             "range(10)]): training=True keeps dropout on, so each call uses another thinned "
             "network."),
    Exercise("05.3", "a triple (the History of the dropout 0.25 run, of the AdamW run, 'dropout' "
             "or 'weight decay': which leaves the smaller gap?)", _check_05_3,
             "small['dropout 0.25'] is the dropout run; train the same network without dropout "
             "with AdamW and compare gap(history)[0] of the two."),
    Exercise("06.1", "your 3x3 filter (a 3x3 array)", _check_06_1,
             "Positive weights on the diagonal from top left to bottom right, negative ones "
             "elsewhere, summing to zero so that a flat patch gives 0."),
    Exercise("06.2", "a triple (the History without BatchNorm at the course's peak rate, the "
             "History at a tenth of it, 'same' or 'tenth': which rate trains it better?)",
             _check_06_2,
             "Train the network without BatchNorm twice, changing only the peak learning rate "
             "(course_lib.models.CNN_PEAK_LR and a tenth of it)."),
    Exercise("06.3", "a triple ((History without, with augmentation) on 5,000 images, (the same) on "
             "all images, 'small' or 'large': which training set gains more?)", _check_06_3,
             "A gain is the final validation accuracy with augmentation minus the one without, on "
             "the same images; history and history_aug are the runs on all images."),
    Exercise("06.4", "a tuple (the model, the test images, their labels, (true digit, predicted "
             "digit))", most_confused_pair,
             "Set the diagonal to zero (np.fill_diagonal), then np.unravel_index(cm.argmax(), "
             "cm.shape) gives (row, column) = (true digit, predicted digit)."),
    Exercise("06.5", "a pair (output height, parameters of the convolution)", _check_06_5,
             "Use floor((n + 2p - k) / s) + 1 with p = 0 for 'valid', then halve for the "
             "2x2 pooling; parameters: (k * k * channels_in + 1) * filters."),
    Exercise("07.1", "a tuple (device, n, the timing of one n x n product there from "
             "timing.time_callable, GFLOP/s)", _check_07_1,
             "t.seconds from timing.time_callable is the time of one product; 2 n^3 "
             "operations divided by it, then by 1e9, gives GFLOP/s. The check times it again."),
    Exercise("07.2", "a triple (the timing at batch 128, the timing at batch 256, 'yes' or 'no': "
             "is batch 256 faster per image?)", _check_07_2,
             "Time both batch sizes on the same images and device with timing.time_epoch and pass "
             "what it returned; the check compares their samples_per_second."),
)
