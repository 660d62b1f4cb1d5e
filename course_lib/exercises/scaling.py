"""Checks for notebooks 08-11: scaling out, and the self-scaling networks."""

from __future__ import annotations

import math

import numpy as np

from course_lib.exercises.core import (
    AnswerError,
    Exercise,
    choice,
    close,
    fit_history,
    layers_named,
    reads_your_numbers,
    self_scaling_run,
    word,
)

# -- notebook 08 ------------------------------------------------------------------------------


def _check_08_1(answer) -> str | None:
    batch, rate = int(answer[0]), float(answer[1])
    if batch == 64 * 8 and close(rate, 0.01 * 8):
        return None
    return (f"global batch {batch} and learning rate {rate:g} are not it: count the replicas "
            "(nodes x GPUs per node).")


def _check_08_2(answer) -> str | None:
    if len(answer) != 4:
        raise AnswerError("pass (training images, replicas, steps in one epoch, the History of your "
                          "one-epoch run): the check compares your count with the steps it ran.")
    images, replicas, steps = (int(a) for a in answer[:3])
    run = fit_history(answer[3], "your one-epoch run")
    right = math.ceil(images / (32 * replicas))
    if steps == right:
        ran = run.params.get("steps")
        return None if ran == steps else (
            f"{steps} is the right count, but your run's epoch had {ran}: train with the global "
            "batch of a per-replica batch of 32.")
    if steps == math.ceil(images / 32):
        return "Each step processes 32 images on every replica: the global batch is 32 x replicas."
    if steps == math.ceil(images / (64 * replicas)):
        return "That is the per-replica batch of 64; the exercise asks for 32."
    return f"{steps} is not it: one epoch is ceil(images / global batch) steps."


# -- notebooks 09 and 10 ----------------------------------------------------------------------


def _check_09_2(answer) -> str | None:
    reset = self_scaling_run(answer[0], "the network trained with 'reset'")
    carry = self_scaling_run(answer[1], "the network trained with 'carry'")
    said = word(answer[2], ("yes", "no"))
    states = [reset.optimizer_state, carry.optimizer_state]
    if states != ["reset", "carry"]:
        return f"those networks were trained with optimizer_state {states}, not ['reset', 'carry']."
    problem = _same_start(reset, carry, ("the 'reset' network", "the 'carry' network"))
    if problem:
        return problem
    right = "yes" if reset.hidden_sizes != carry.hidden_sizes else "no"
    return reads_your_numbers(said, right, f"hidden sizes {reset.hidden_sizes} with 'reset', "
                              f"{carry.hidden_sizes} with 'carry'")


def _same_start(first, second, names: tuple[str, str]) -> str | None:
    """A problem when two self-scaling runs did not start from the same sizes for as many epochs."""
    runs = [(list(net.history[0]["sizes_before_grow"]), len(net.history)) for net in (first, second)]
    if runs[0] == runs[1]:
        return None
    return (f"the two runs must differ in one setting only, but {names[0]} started from "
            f"{runs[0][0]} for {runs[0][1]} epochs and {names[1]} from {runs[1][0]} for "
            f"{runs[1][1]}.")


def _check_10_1(answer) -> str | None:
    history = self_scaling_run(answer[0], "the step-by-step run").history
    layer = int(answer[1])
    grown = np.sum([np.subtract(r["sizes_after_grow"], r["sizes_before_grow"]) for r in history], axis=0)
    removed = np.sum([np.subtract(r["sizes_after_grow"], r["sizes_after_prune"]) for r in history],
                     axis=0)
    share = removed / (grown + np.asarray(history[0]["sizes_before_grow"]))
    right = int(share.argmax()) + 1
    if layer == right:
        return None
    if layer == right - 1:
        return "Count the hidden layers from 1, not from 0."
    if not 1 <= layer <= len(share):
        return f"there are hidden layers 1 to {len(share)}, no layer {layer}."
    return (f"hidden layer {layer} lost {share[layer - 1]:.0%} of the neurons it ever had; another "
            "layer lost a larger share.")


def _penalties(net) -> set[float]:
    return {r["penalty"] for r in net.history if r["self_scaling"]}


def _check_10_2(answer) -> str | None:
    course = self_scaling_run(answer[0], "the course's run")
    flat = self_scaling_run(answer[1], "the run with multiplier 1.0")
    said = word(answer[2], ("larger", "smaller", "same"))
    if len(_penalties(flat)) > 1:
        return (f"the penalty of the second run changed ({sorted(_penalties(flat))}): with "
                "penalty_multiplier=1.0 it never does.")
    problem = _same_start(course, flat, ("the course's run", "the run with 1.0"))
    if problem:
        return problem
    course_total, flat_total = sum(course.hidden_sizes), sum(flat.hidden_sizes)
    right = "larger" if flat_total > course_total else "smaller" if flat_total < course_total else "same"
    return reads_your_numbers(said, right, f"{course_total} neurons with the course's multiplier, "
                              f"{flat_total} with 1.0")


def _phase2_scaling(net) -> int:
    return sum(bool(r["self_scaling"]) for r in net.history if r["phase"] == "phase 2")


def _check_10_3(answer) -> str | None:
    course = self_scaling_run(answer[0], "the course schedule's run")
    scaling = self_scaling_run(answer[1], "the run with all phase-2 epochs self-scaling")
    reset = self_scaling_run(answer[2], "the run with Adam reset")
    said = word(answer[3], ("phase 2 scaling", "adam reset", "neither"))
    phase2 = [r for r in scaling.history if r["phase"] == "phase 2"]
    if not phase2 or not all(r["self_scaling"] for r in phase2):
        return "in the second run every phase-2 epoch must be self-scaling (phase2_scaling_epochs)."
    if scaling.optimizer_state != course.optimizer_state:
        return "the second run must keep the course's optimizer_state and change the scaling only."
    if reset.optimizer_state != "reset" or _phase2_scaling(reset) != _phase2_scaling(course):
        return ("the third run must change only optimizer_state, to 'reset', and keep the course's "
                "phase-2 schedule.")
    if _phase2_scaling(course) == _phase2_scaling(scaling) or course.optimizer_state == "reset":
        return "the first run must be the course schedule, which changes neither setting."
    for net, name in ((scaling, "the phase-2 run"), (reset, "the Adam-reset run")):
        problem = _same_start(course, net, ("the course's run", name))
        if problem:
            return problem
    course_total, scaling_total, reset_total = (sum(n.hidden_sizes) for n in (course, scaling, reset))
    moved_by_scaling, moved_by_reset = abs(scaling_total - course_total), abs(reset_total - course_total)
    right = ("neither" if moved_by_scaling == moved_by_reset
             else "phase 2 scaling" if moved_by_scaling > moved_by_reset else "adam reset")
    return reads_your_numbers(said, right, f"course schedule {course_total} neurons, {scaling_total} "
                              f"with all phase-2 epochs self-scaling, {reset_total} with Adam reset")


# -- notebook 11 ------------------------------------------------------------------------------


def _check_11_1(answer) -> str | None:
    if len(answer) != 4:
        raise AnswerError("pass four things: what ss.run_static returned for the starting sizes, "
                          "the self-scaling run's results entry, data.test, and your (accuracy "
                          "given up, share of the weights kept).")
    static, summary, (x_test, y_test) = answer[0], answer[1], answer[2]
    given_up, share_kept = float(answer[3][0]), float(answer[3][1])
    model = static.get("model") if isinstance(static, dict) else None
    if not hasattr(model, "evaluate"):
        raise AnswerError("pass first what ss.run_static returned (a dict with the trained 'model'): "
                          "the check measures its test accuracy itself.")
    widths = [layer.units for layer in layers_named(model, "Dense")]
    if len(set(widths[:-1])) != 1:
        return f"the static network's hidden layers {widths[:-1]} are not the starting sizes: all alike."
    measured, reported = (float(model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1]),
                          float(static["test_accuracy"]))
    # a GPU's kernels may flip a prediction or two from one evaluation to the next
    if not math.isclose(measured, reported, abs_tol=3 / len(y_test)):
        return (f"that model scores {measured:.3f} on the test set you passed, not the "
                f"{reported:.3f} its dict says: pass data.test.")
    sizes = [int(model.input_shape[-1]), *(int(n) for n in summary["hidden_sizes"]), widths[-1]]
    small_weights = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    right_given_up = reported - float(summary["test_accuracy"])
    right_share = small_weights / model.count_params()
    problems = []
    if not math.isclose(given_up, right_given_up, abs_tol=1e-4):
        problems.append(f"accuracy given up is the static network's minus the self-scaling one's: "
                        f"{right_given_up:+.3f}, not {given_up:+.3f}")
    if close(share_kept, 1 / right_share, rel=0.01):
        problems.append("the share of weights kept is the small network's weights over the big "
                        "one's, not the other way round")
    elif not close(share_kept, right_share, rel=0.01):
        problems.append(f"the share of weights kept is {right_share:.3f}, not {share_kept:.3f}")
    return "; ".join(problems) + "." if problems else None


def _check_11_2(answer) -> str | None:
    sizes, count = [int(n) for n in answer[0]], int(answer[1])
    right = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if count == right:
        return None
    if count == sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)):
        return "You counted the weights; each neuron also has a bias."
    return f"{count:,} is not the number of parameters of a {sizes} network ({right:,})."


EXERCISES = (
    Exercise("08.1", "a pair (global batch, learning rate)", _check_08_1,
             "Replicas = nodes x GPUs per node; the global batch and the learning rate both "
             "scale with the number of replicas (distributed.scale_for_replicas)."),
    Exercise("08.2", "a tuple (training images, replicas, steps in one epoch, the History of "
             "your one-epoch run)", _check_08_2,
             "distributed.scale_for_replicas(32, ...) gives the global batch; an epoch is "
             "ceil(images / global batch) steps, and history.params['steps'] is what Keras ran."),
    Exercise("09.1", "'first' or 'last': which columns (neuron ids) weighted L1 keeps",
             choice("first", ("first", "last"),
                    "Look at net.neuron_ids again: the ids that survive are mostly small."),
             "Weighted L1 charges neuron j (j + 1) times the penalty: which neurons are "
             "cheapest to keep?"),
    Exercise("09.2", "a triple (the network trained with optimizer_state='reset', the one "
             "trained with 'carry', 'yes' or 'no': do their sizes differ?)", _check_09_2,
             "net was trained with 'reset'; train the same network with 'carry' for as many "
             "epochs and compare their hidden_sizes."),
    Exercise("09.3", "'never', 'at every stall' or 'every epoch': when the penalty changes",
             choice("never", ("never", "at every stall", "every epoch"),
                    "Look at the penalties again: with a multiplier of 1, a stall multiplies "
                    "the penalty by 1."),
             "A stall multiplies the penalty by penalty_multiplier."),
    Exercise("10.1", "a pair (net, the step-by-step run; the hidden layer, counted from 1, that "
             "lost the largest share of its neurons)", _check_10_1,
             "Per layer: neurons removed (sizes_after_grow - sizes_after_prune, summed over "
             "net.history) divided by the neurons it ever had (its start size plus all it grew)."),
    Exercise("10.2", "a triple (net, the run with the course's multiplier; the run with 1.0; "
             "'larger', 'smaller' or 'same': how the network with 1.0 ends)", _check_10_2,
             "Compare sum(run.hidden_sizes) of the two runs."),
    Exercise("10.3", "a tuple (the course schedule's run, the run with only all phase-2 epochs "
             "self-scaling, the run with only Adam reset, 'phase 2 scaling', 'adam reset' or "
             "'neither': which moves the final size more?)", _check_10_3,
             "Compare each variant's sum(run.hidden_sizes) with the course schedule's (net)."),
    Exercise("11.1", "a tuple (what ss.run_static returned for the starting sizes, the self-scaling "
             "run's results entry, data.test, (accuracy given up, share of the weights kept))",
             _check_11_1,
             "Accuracy given up = static - self-scaling test accuracy; share kept = self-scaling "
             "weights / static weights. Weights of a dense network: sum of (inputs + 1) x outputs "
             "per layer."),
    Exercise("11.2", "a pair (layer sizes, e.g. [3072, 142, 204, 164, 152, 10], parameters)",
             _check_11_2,
             "Each dense layer has inputs x outputs weights plus one bias per output; "
             "model.count_params() checks your sum."),
)
