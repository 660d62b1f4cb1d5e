"""Checks for notebooks 08-11: scaling out, and the self-scaling networks."""

from __future__ import annotations

import math

import numpy as np

from course_lib.exercises.core import Exercise, choice, close, reads_your_numbers, word

# -- notebook 08 ------------------------------------------------------------------------------


def _check_08_1(answer) -> str | None:
    batch, rate = int(answer[0]), float(answer[1])
    if batch == 64 * 8 and close(rate, 0.01 * 8):
        return None
    return (f"global batch {batch} and learning rate {rate:g} are not it: count the replicas "
            "(nodes x GPUs per node).")


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


# -- notebooks 09 and 10 ----------------------------------------------------------------------


def _check_09_2(answer) -> str | None:
    reset, carry = [int(n) for n in answer[0]], [int(n) for n in answer[1]]
    said = word(answer[2], ("yes", "no"))
    right = "yes" if reset != carry else "no"
    return reads_your_numbers(said, right, f"hidden sizes {reset} with 'reset', {carry} with 'carry'")


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


def _check_10_2(answer) -> str | None:
    course, flat = int(answer[0]), int(answer[1])
    said = word(answer[2], ("larger", "smaller", "same"))
    right = "larger" if flat > course else "smaller" if flat < course else "same"
    return reads_your_numbers(said, right, f"{course} neurons with the course's multiplier, {flat} "
                              "with 1.0")


def _check_10_3(answer) -> str | None:
    course, scaling, reset = (int(n) for n in answer[:3])
    said = word(answer[3], ("phase 2 scaling", "adam reset", "neither"))
    moved_by_scaling, moved_by_reset = abs(scaling - course), abs(reset - course)
    right = ("neither" if moved_by_scaling == moved_by_reset
             else "phase 2 scaling" if moved_by_scaling > moved_by_reset else "adam reset")
    return reads_your_numbers(said, right, f"course schedule {course} neurons, {scaling} with all "
                              f"phase-2 epochs self-scaling, {reset} with Adam reset")


# -- notebook 11 ------------------------------------------------------------------------------


def _check_11_1(answer) -> str | None:
    (big_acc, big_weights), (small_acc, small_weights) = answer[0], answer[1]
    given_up, share_kept = float(answer[2][0]), float(answer[2][1])
    right_given_up, right_share = float(big_acc) - float(small_acc), small_weights / big_weights
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
    Exercise("08.2", "a triple (training images, replicas, steps in one epoch)", _check_08_2,
             "distributed.scale_for_replicas(32, ...) gives the global batch; an epoch is "
             "ceil(images / global batch) steps."),
    Exercise("09.1", "'first' or 'last': which columns (neuron ids) weighted L1 keeps",
             choice("first", ("first", "last"),
                    "Look at net.neuron_ids again: the ids that survive are mostly small."),
             "Weighted L1 charges neuron j (j + 1) times the penalty: which neurons are "
             "cheapest to keep?"),
    Exercise("09.2", "a triple (hidden sizes with optimizer_state='reset', with 'carry', 'yes' or "
             "'no': do they differ?)", _check_09_2,
             "net was trained with 'reset'; train the same network with 'carry' and compare "
             "their hidden_sizes."),
    Exercise("09.3", "'never', 'at every stall' or 'every epoch': when the penalty changes",
             choice("never", ("never", "at every stall", "every epoch"),
                    "Look at the penalties again: with a multiplier of 1, a stall multiplies "
                    "the penalty by 1."),
             "A stall multiplies the penalty by penalty_multiplier."),
    Exercise("10.1", "a pair (net.history, the hidden layer, counted from 1, that lost the "
             "largest share of its neurons)", _check_10_1,
             "Per layer: neurons removed (sizes_after_grow - sizes_after_prune, summed over "
             "epochs) divided by the neurons it ever had (its start size plus all it grew)."),
    Exercise("10.2", "a triple (total hidden neurons with the course's multiplier, with 1.0, "
             "'larger', 'smaller' or 'same': how the network with 1.0 ends)", _check_10_2,
             "sum(net.hidden_sizes) of each run."),
    Exercise("10.3", "a tuple (total neurons of the course schedule, with only all phase-2 epochs "
             "self-scaling, with only Adam reset, 'phase 2 scaling', 'adam reset' or 'neither': "
             "which moves the final size more?)", _check_10_3,
             "Compare each variant's sum(run.hidden_sizes) with the course schedule's."),
    Exercise("11.1", "a triple ((static accuracy, its weights), (self-scaling accuracy, its "
             "weights), (accuracy given up, share of the weights kept))", _check_11_1,
             "Accuracy given up = static - self-scaling; share kept = self-scaling weights / "
             "static weights. Weights of a dense network: sum of (inputs + 1) x outputs per layer."),
    Exercise("11.2", "a pair (layer sizes, e.g. [3072, 142, 204, 164, 152, 10], parameters)",
             _check_11_2,
             "Each dense layer has inputs x outputs weights plus one bias per output; "
             "model.count_params() checks your sum."),
)
