"""Checks for notebooks 05-07: overfitting and dropout, convolutional networks, GPU vs CPU."""

from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Exercise, gflops, most_confused_pair, which_is_larger

# -- notebook 05 ------------------------------------------------------------------------------


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


def _check_06_5(answer) -> str | None:
    size, params = (int(a) for a in answer)
    problems = []
    if size != ((32 - 5) // 2 + 1) // 2:
        problems.append(f"the output size {size} is wrong: convolution first, then pooling")
    if params != (5 * 5 * 3 + 1) * 16:
        problems.append(f"{params} parameters is wrong: each filter spans all 3 input channels")
    return "; ".join(problems) + "." if problems else None


# -- notebook 07 ------------------------------------------------------------------------------


def _check_07_2(answer) -> str | None:
    at_128, at_256 = float(answer[0]), float(answer[1])
    if min(at_128, at_256) <= 0:
        return "pass two throughputs in images per second (t.samples_per_second), both positive."
    if at_128 < 1 or at_256 < 1 or max(at_128, at_256) / min(at_128, at_256) > 20:
        return ("those do not look like two images-per-second rates of the same model: use "
                "t.samples_per_second of each timing.")
    return which_is_larger(answer, ("no", "yes"), "{a:.0f} images/s at batch 128, {b:.0f} at 256")


EXERCISES = (
    Exercise("05.1", "a triple (train-validation gap with p = 0.25, with p = 0.5, 'yes' or 'no': "
             "does the gap close further?)",
             lambda answer: which_is_larger(answer, ("yes", "no"),
                                            "gap {a:.2%} with p = 0.25, {b:.2%} with p = 0.5"),
             "gap(history)[0] is the final training accuracy minus the final validation accuracy."),
    Exercise("05.2", "the stacked predictions of one test image, shape (runs, 10)", _check_05_2,
             "np.stack([keras.ops.convert_to_numpy(net(image, training=True))[0] for _ in "
             "range(10)]): training=True keeps dropout on, so each call uses another thinned "
             "network."),
    Exercise("05.3", "a triple (gap with dropout 0.25, gap with AdamW, 'dropout' or 'weight "
             "decay': which leaves the smaller gap?)",
             lambda answer: which_is_larger(answer, ("weight decay", "dropout"),
                                            "gap {a:.2%} with dropout, {b:.2%} with weight decay"),
             "gap(history)[0] of the dropout run (small['dropout 0.25']) and of the AdamW run."),
    Exercise("06.1", "your 3x3 filter (a 3x3 array)", _check_06_1,
             "Positive weights on the diagonal from top left to bottom right, negative ones "
             "elsewhere, summing to zero so that a flat patch gives 0."),
    Exercise("06.2", "a triple (validation accuracy without BatchNorm at the course's peak "
             "rate, at a tenth of it, 'same' or 'tenth': which rate trains it better?)",
             lambda answer: which_is_larger(answer, ("same", "tenth"), "validation accuracy {a:.2%} "
                                            "at the course's rate, {b:.2%} at a tenth of it"),
             "Train the network without BatchNorm twice, changing only the peak learning rate."),
    Exercise("06.3", "a triple (accuracy gained by augmentation on 5,000 images, gained on all "
             "images, 'small' or 'large': which training set gains more?)",
             lambda answer: which_is_larger(answer, ("small", "large"), "augmentation gained "
                                            "{a:+.2%} on 5,000 images, {b:+.2%} on all of them"),
             "A gain is the validation accuracy with augmentation minus the one without, on the "
             "same images."),
    Exercise("06.4", "a pair (confusion matrix, (true digit, predicted digit))", most_confused_pair,
             "Set the diagonal to zero (np.fill_diagonal), then np.unravel_index(cm.argmax(), "
             "cm.shape) gives (row, column) = (true digit, predicted digit)."),
    Exercise("06.5", "a pair (output height, parameters of the convolution)", _check_06_5,
             "Use floor((n + 2p - k) / s) + 1 with p = 0 for 'valid', then halve for the "
             "2x2 pooling; parameters: (k * k * channels_in + 1) * filters."),
    Exercise("07.1", "a triple (n, seconds for one n x n product, GFLOP/s) for one device",
             gflops,
             "t.seconds from timing.time_callable is the time of one product; 2 n^3 "
             "operations divided by it, then by 1e9, gives GFLOP/s."),
    Exercise("07.2", "a triple (images per second at batch 128, at batch 256, 'yes' or 'no': "
             "is batch 256 faster per image?)", _check_07_2,
             "Time both batch sizes on the same images and device with timing.time_epoch; "
             "compare t.samples_per_second."),
)
