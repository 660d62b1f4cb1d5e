"""The exercises' checks: right answers pass, wrong ones fail with feedback, nothing crashes.

Every check is also run on its notebook's own solution (the solution cells assert
``q.check(...)``, and the notebook tests run them); here each check meets answers written
independently. An experiment's check takes what the experiment produced (a History, a timing,
a trained network, the data), so each one is also fed invented numbers and must refuse them.
The Histories here come from real one-epoch fits of tiny networks whose metrics are then set
to chosen values, so that each conclusion is known in advance.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

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
# exercise 01.2: data from y = 2 x1 - 3 x2 + 1 plus noise, and its least-squares weights
X_01 = np.random.default_rng(0).uniform(-1, 1, (200, 2))
Y_01 = X_01 @ [2.0, -3.0] + 1 + np.random.default_rng(1).normal(0, 0.1, 200)
FIT_01 = np.linalg.lstsq(np.column_stack([X_01, np.ones(200)]), Y_01, rcond=None)[0]

DIAGONAL = [[2, -1, -1], [-1, 2, -1], [-1, -1, 2]]
CONFUSION = [[50, 1, 7], [2, 40, 0], [0, 3, 45]]  # rows: true digit, columns: predicted

WHERE_EMPTY = ("MNIST: not on disk; would be downloaded, or stand-in data in fast mode\n"
               "CIFAR-10: not on disk; would be downloaded, or stand-in data in fast mode")
WHERE_CACHED = "MNIST: /home/me/.keras/datasets/mnist.npz (keras_cache)"
# features (score, gender code, debt); only row 0 is near enough to the boundary to flip
APPLICANTS, W_01, B_01 = [[0.5, 1, 0.4], [0.5, 0, 0.4], [2.0, 1, 0.1], [0.0, 1, 2.0]], [1.0, 0.0, -1.0], -0.3

#: The checks that judge an experiment, each with an answer of invented numbers in the shape
#: such a check accepted when it compared only the numbers it was given.
INVENTED = {
    "00.1": (WHERE_CACHED, "keras_cache"),  # this test's Keras cache is empty
    "00.2": (np.ones((500, 500), "float32"), 0.5, 2 * 500**3 / 0.5 / 1e9),
    "01.2": (2.0, -3.0, 1.0),
    "02.2": (0.35, 2500.0),
    "02.3": (CONFUSION, (0, 2)),
    "02.4": (0.921, 0.919, "no"),
    "04.1": (0.5, 0.1, "better"),
    "05.1": (0.05, 0.03, "yes"),
    "05.2": [[0.1] * 10, [0.05] * 9 + [0.55], [0.2] * 5 + [0.0] * 5],
    "05.3": (0.04, 0.09, "dropout"),
    "06.2": (0.95, 0.97, "tenth"),
    "06.3": (0.02, 0.001, "small"),
    "06.4": (CONFUSION, (0, 2)),
    "07.1": ("cpu:0", 512, 0.01, 2 * 512**3 / 0.01 / 1e9),
    "07.2": (1500, 1600, "yes"),
    "08.2": (60_000, 8, 235),
    "09.2": ([10, 8], [12, 8], "yes"),
    "10.1": ([{"sizes_before_grow": [10, 10], "sizes_after_grow": [12, 12],
               "sizes_after_prune": [5, 11]}], 1),
    "10.2": (500, 640, "larger"),
    "10.3": (500, 420, 520, "phase 2 scaling"),
    "11.1": ((0.42, 1_000_000), (0.40, 250_000), (0.02, 0.25)),
}


# -- what the experiments produce, made small -------------------------------------------------


def _fit(model, optimizer="sgd", n=64, epochs=1, batch_size=32, **metrics):
    """A History of a real fit of ``model`` on ``n`` random images, its metrics set to ``metrics``."""
    rng = np.random.default_rng(0)
    x, y = rng.random((n, model.input_shape[-1]), dtype=np.float32), rng.integers(0, 10, n)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=True)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        validation_data=(x[:16], y[:16]))
    for key, value in metrics.items():
        history.history[key] = [value] * epochs
    return history


def _softmax():
    import keras

    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(10),
                             keras.layers.Activation("softmax")])


def _mlp(activation="relu", dropout=0.0, batchnorm=False, inputs=784):
    import keras

    model = keras.Sequential([keras.Input((inputs,))])
    for width in (16, 12):
        model.add(keras.layers.Dense(width, activation=activation))
        if batchnorm:
            model.add(keras.layers.BatchNormalization())
        if dropout:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def _schedule(peak):
    import keras

    from course_lib.models import warmup_cosine

    return keras.optimizers.Adam(warmup_cosine(peak, total_steps=10))


def _run(sizes, state="carry", phases=("phase 1",) * 2, scaling=(True, True), penalties=(1e-3, 1e-3)):
    """A trained self-scaling network as the checks read it: sizes after each epoch's prune."""
    history, before = [], [10, 10]
    for after, phase, on, penalty in zip(sizes, phases, scaling, penalties, strict=True):
        grown = [n + 2 for n in before]
        history.append({"sizes_before_grow": before, "sizes_after_grow": grown,
                        "sizes_after_prune": after, "phase": phase, "self_scaling": on,
                        "penalty": penalty if on else 0.0})
        before = after
    return SimpleNamespace(history=history, hidden_sizes=list(sizes[-1]), optimizer_state=state)


def _predicting(confusion):
    """(model, images, labels) whose predictions make the confusion matrix ``confusion``."""
    import keras

    pairs = [(t, p) for t, row in enumerate(confusion) for p, count in enumerate(row)
             for _ in range(count)]
    labels = np.array([t for t, _ in pairs])
    images = np.eye(10, dtype="float32")[[p for _, p in pairs]]
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(10, activation="softmax")])
    model.layers[0].set_weights([10 * np.eye(10, dtype="float32"), np.zeros(10, "float32")])
    return model, images, labels


def _mc_net():
    """A dropout network whose every prediction of ``IMAGE_05`` puts most weight on digit 3."""
    import keras

    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                            keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    net.layers[0].set_weights([rng.random((4, 16), dtype=np.float32), np.zeros(16, "float32")])
    kernel = rng.normal(0, 0.3, (16, 10)).astype("float32")
    bias = np.zeros(10, "float32")
    bias[3] = 4.0
    net.layers[2].set_weights([kernel, bias])
    return net


IMAGE_05 = np.ones((1, 4), "float32")


@pytest.fixture(scope="module")
def answers():
    """(RIGHT, WRONG): per exercise, a right answer and wrong ones, invented ones included."""
    import keras

    from course_lib.models import CNN_PEAK_LR
    from course_lib.timing import EpochTiming, Timing, time_callable

    keras.utils.set_random_seed(0)
    scaled = _fit(_softmax(), keras.optimizers.SGD(0.1), loss=0.35, val_accuracy=0.921)
    raw = _fit(_softmax(), keras.optimizers.SGD(0.1), epochs=2, loss=2500.0)
    shuffled = _fit(_softmax(), keras.optimizers.SGD(0.1), val_accuracy=0.919)
    shuffled_far = _fit(_softmax(), keras.optimizers.SGD(0.1), val_accuracy=0.80)
    raw_mild = _fit(_softmax(), keras.optimizers.SGD(0.1), loss=0.4)
    raw_other_rate = _fit(_softmax(), keras.optimizers.SGD(0.01), loss=2500.0)
    leaky = _fit(_mlp("leaky_relu"), val_accuracy=0.9805)
    relu = _fit(_mlp("relu"), val_accuracy=0.9790)
    relu_longer = _fit(_mlp("relu"), val_accuracy=0.9790, epochs=2)
    quarter = _fit(_mlp(dropout=0.25), accuracy=0.99, val_accuracy=0.94)  # gap 0.05
    half = _fit(_mlp(dropout=0.5), accuracy=0.97, val_accuracy=0.94)  # gap 0.03
    decay = _fit(_mlp(), keras.optimizers.AdamW(1e-3, weight_decay=1e-2), accuracy=1.0,
                 val_accuracy=0.91)  # gap 0.09
    plain_adam = _fit(_mlp(), keras.optimizers.Adam(1e-3), accuracy=1.0, val_accuracy=0.91)
    dropout_gap = _fit(_mlp(dropout=0.25), accuracy=0.98, val_accuracy=0.94)  # gap 0.04
    same_rate = _fit(_mlp(), _schedule(CNN_PEAK_LR), val_accuracy=0.95)
    tenth_rate = _fit(_mlp(), _schedule(CNN_PEAK_LR / 10), val_accuracy=0.97)
    hundredth_rate = _fit(_mlp(), _schedule(CNN_PEAK_LR / 100), val_accuracy=0.97)
    with_bn = _fit(_mlp(batchnorm=True), _schedule(CNN_PEAK_LR), val_accuracy=0.98)
    few = (_fit(_mlp(), n=32, val_accuracy=0.90), _fit(_mlp(), n=32, val_accuracy=0.92))
    full = (_fit(_mlp(), val_accuracy=0.970), _fit(_mlp(), val_accuracy=0.971))
    epoch_64 = _fit(_mlp(), n=128, batch_size=64)  # 2 replicas x 32: 2 steps
    epoch_128 = _fit(_mlp(), n=128, batch_size=128)  # 2 replicas x 64: 1 step
    confusion = _predicting(CONFUSION)
    net = _mc_net()
    samples = np.stack([keras.ops.convert_to_numpy(net(IMAGE_05, training=True))[0]
                        for _ in range(10)])
    off_samples = np.stack([keras.ops.convert_to_numpy(net(IMAGE_05, training=False))[0]] * 3)
    no_dropout = _mlp(inputs=4)

    matrix = np.random.default_rng(0).random((500, 500), dtype=np.float32)
    numpy_product = time_callable(lambda: matrix @ matrix, repeats=3)
    seconds = numpy_product.seconds
    with keras.device("cpu:0"):
        a, b = keras.random.normal((512, 512), seed=1), keras.random.normal((512, 512), seed=2)
        product = time_callable(lambda: keras.ops.matmul(a, b), repeats=5)
    forged = {s: Timing("forged", [s]) for s in (1e-8, 1000.0)}  # far off what a product takes

    def timed(batch, seconds, samples=1024, device="cpu:0"):
        return EpochTiming("t", [seconds], samples=samples, batch_size=batch, device=device)

    # 10.x: layer 1 loses 8 of the 14 neurons it ever had, layer 2 only 2 of 14
    step_by_step = _run([[5, 11], [6, 12]])
    step_by_step.history[1]["sizes_before_grow"] = [5, 11]
    step_by_step.history[1]["sizes_after_grow"] = [7, 13]
    two_phases = dict(phases=("phase 1", "phase 2"), scaling=(True, False))
    course = _run([[200, 150], [250, 250]], penalties=(1e-3, 2e-3), **two_phases)
    flat = _run([[200, 150], [300, 340]], penalties=(1e-3, 1e-3), **two_phases)
    changing = _run([[200, 150], [300, 340]], penalties=(1e-3, 1.5e-3),
                    phases=("phase 1", "phase 2"), scaling=(True, True))
    all_scaling = _run([[200, 150], [250, 170]], phases=("phase 1", "phase 2"), scaling=(True, True))
    reset_run = _run([[200, 150], [260, 260]], state="reset", **two_phases)
    short = _run([[200, 150]], phases=("phase 1",), scaling=(True,), penalties=(1e-3,))

    static_model = keras.Sequential([keras.Input((8,))] + [keras.layers.Dense(4, activation="relu")
                                                           for _ in range(4)]
                                    + [keras.layers.Dense(10, activation="softmax")])
    static_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    test = (np.random.default_rng(2).random((64, 8), dtype=np.float32),
            np.random.default_rng(3).integers(0, 10, 64))
    static_acc = float(static_model.evaluate(*test, verbose=0)[1])
    static = {"model": static_model, "test_accuracy": static_acc}
    summary = {"hidden_sizes": [3, 2, 2, 1], "test_accuracy": static_acc - 0.02}
    share = ((8 + 1) * 3 + (3 + 1) * 2 + (2 + 1) * 2 + (2 + 1) * 1 + (1 + 1) * 10) / static_model.count_params()
    narrowed = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6), keras.layers.Dense(4),
                                 keras.layers.Dense(10, activation="softmax")])

    right = {
        "00.1": (WHERE_EMPTY, "download"),
        "00.2": (matrix, numpy_product, 2 * 500**3 / seconds / 1e9),
        "01.1": (A_01, RATE_01),
        "01.2": (X_01, Y_01, FIT_01 + 0.01),
        "01.3": (APPLICANTS, W_01, B_01, [0]),
        "02.1": 0.01,
        "02.2": (scaled, raw),
        "02.3": (*confusion, (0, 2)),
        "02.4": (scaled, shuffled, "no"),
        "03.1": (math.log(2), math.log(100)),
        "03.2": {"quadratic": 36, "cross-entropy": 8},
        "03.3": lambda z1, z2: sigmoid(z1 - z2),
        "04.1": (leaky, relu, "about the same"),
        "04.2": " ReLU",
        "04.3": 266_610,
        "05.1": (quarter, half, "yes"),
        "05.2": (net, IMAGE_05, samples),
        "05.3": (dropout_gap, decay, "dropout"),
        "06.1": DIAGONAL,
        "06.2": (same_rate, tenth_rate, "tenth"),
        "06.3": (few, full, "small"),
        "06.4": (*confusion, (0, 2)),
        "06.5": (7, 1216),
        "07.1": ("cpu:0", 512, product, 2 * 512**3 / product.seconds / 1e9),
        "07.2": (timed(128, 0.68), timed(256, 0.64), "yes"),
        "08.1": (512, 0.08),
        "08.2": (128, 2, 2, epoch_64),
        "09.1": "first",
        "09.2": (_run([[10, 8], [10, 8]], "reset"), _run([[12, 8], [12, 8]]), "yes"),
        "09.3": "never",
        "10.1": (step_by_step, 1),
        "10.2": (course, flat, "larger"),
        "10.3": (course, all_scaling, reset_run, "phase 2 scaling"),
        "11.1": (static, summary, test, (0.02, share)),
        "11.2": ([3072, 142, 204, 10], 3072 * 142 + 142 + 142 * 204 + 204 + 204 * 10 + 10),
    }
    wrong = {
        "00.1": [(WHERE_EMPTY, "keras_cache"), ("MNIST: /data/mnist.npz (data_dir)", "download"),
                 ("nothing printed", "download"), (WHERE_EMPTY, "the internet")],
        "00.2": [(matrix, numpy_product, 1e9 * 2 * 500**3 / seconds / 1e9),
                 (matrix, numpy_product, 500**3 / seconds / 1e9),
                 *((matrix, forged[s], 2 * 500**3 / s / 1e9) for s in forged),
                 (matrix[:10], numpy_product, 1.0), (2000, 0.5, 32.0), "fast"],
        "01.1": [(A_01, RATE_01 / 2), (A_01, RATE_01 * 2), (A_01, 0.2)],
        "01.2": [(X_01, Y_01, FIT_01 + 0.05), (X_01, -Y_01, -FIT_01), (X_01, Y_01, (2.0,))],
        "01.3": [(APPLICANTS, W_01, B_01, [1]), (APPLICANTS, W_01, B_01, [0, 2, 3]),
                 (APPLICANTS, W_01, B_01, [])],
        "02.1": [0.1, 0.001, "sgd"],
        "02.2": [(scaled, raw_mild), (scaled, raw_other_rate), (scaled.history, raw.history),
                 (relu, raw), ("loss",)],
        "02.3": [(*confusion, (2, 0)), (*confusion, (0, 0)), (*confusion, (1, 2)),
                 (confusion[0], confusion[1][:5], confusion[2], (0, 2))],
        "02.4": [(scaled, shuffled, "yes"), (scaled, shuffled_far, "no"),
                 (scaled, shuffled, "maybe"), (scaled, relu, "no")],
        "03.1": [(math.log(2), -math.log(0.9)), (0.5, 0.01), "two numbers"],
        "03.2": [{"quadratic": 8, "cross-entropy": 36}, {"quadratic": 36}],
        "03.3": [lambda z1, z2: sigmoid(z2 - z1), lambda z1, z2: 0.5, lambda z1: z1],
        "04.1": [(leaky, relu, "better"), (relu, relu, "about the same"),
                 (leaky, relu_longer, "about the same"), (leaky, relu, "maybe")],
        "04.2": ["sigmoid", "tanh", 1],
        "04.3": [266_200, 235_500, "many"],
        "05.1": [(quarter, half, "no"), (half, quarter, "yes"), (quarter, half, "maybe"),
                 (quarter, decay, "yes")],
        "05.2": [(net, IMAGE_05, off_samples), (no_dropout, np.ones((1, 4)), samples),
                 (net, IMAGE_05, samples[:, :5]), (net, IMAGE_05, samples[:1]),
                 (net, np.ones((2, 4)), samples)],
        "05.3": [(dropout_gap, decay, "weight decay"), (dropout_gap, plain_adam, "dropout"),
                 (decay, dropout_gap, "dropout"), (dropout_gap, decay, "both")],
        "06.1": [np.fliplr(DIAGONAL), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], np.ones((3, 3)), [1, 2]],
        "06.2": [(same_rate, tenth_rate, "same"), (same_rate, hundredth_rate, "tenth"),
                 (with_bn, tenth_rate, "tenth"), (same_rate, tenth_rate, 0.1)],
        "06.3": [(few, full, "large"), (full, few, "large"), (few, full, "5000"),
                 ((few[0],), full, "small")],
        "06.4": [(*confusion, (2, 0)), (*confusion, (0, 0)), (*confusion, (1, 2))],
        "06.5": [(14, 1216), (7, 416), (6, 1216)],
        "07.1": [("cpu:0", 512, product, 2 * 512**3 / product.seconds / 1e9 / 2),
                 *(("cpu:0", 512, forged[s], 2 * 512**3 / s / 1e9) for s in forged),
                 ("cpu:0", 512)],
        "07.2": [(timed(128, 0.68), timed(256, 0.64), "no"), (timed(128, 0.6), timed(256, 0.64), "yes"),
                 (timed(256, 0.64), timed(128, 0.68), "yes"),
                 (timed(128, 0.68), timed(256, 0.64, device="gpu:0"), "yes")],
        "08.1": [(128, 0.02), (512, 0.01), (64, 0.08)],
        "08.2": [(128, 2, 2, epoch_128), (128, 2, 4, epoch_64), (128, 2, 1, epoch_64),
                 (128, 2, 3, epoch_64)],
        "09.1": ["last", "middle"],
        "09.2": [(_run([[10, 8], [10, 8]], "reset"), _run([[10, 8], [10, 8]]), "yes"),
                 (_run([[10, 8], [10, 8]], "reset"), _run([[12, 8], [12, 8]]), "no"),
                 (_run([[10, 8], [10, 8]]), _run([[12, 8], [12, 8]]), "yes"),
                 (_run([[10, 8], [10, 8]], "reset"), short, "yes"),
                 (_run([[10, 8], [10, 8]], "reset"), _run([[12, 8], [12, 8]]), "maybe")],
        "09.3": ["at every stall", "every epoch", "sometimes"],
        "10.1": [(step_by_step, 2), (step_by_step, 0), (step_by_step, "first"),
                 (SimpleNamespace(history=step_by_step.history, hidden_sizes=[9, 9]), 1)],
        "10.2": [(course, flat, "smaller"), (course, changing, "larger"), (course, short, "larger"),
                 (course, flat, "bigger")],
        "10.3": [(course, all_scaling, reset_run, "adam reset"),
                 (course, reset_run, all_scaling, "phase 2 scaling"),
                 (course, all_scaling, reset_run, "neither"), (course, all_scaling, reset_run, "both")],
        "11.1": [(static, summary, test, (0.02, 1 / share)), (static, summary, test, (-0.02, share)),
                 (static, summary, test, (0.02, 0.75)),
                 (dict(static, test_accuracy=static_acc + 0.1), summary, test, (0.12, share)),
                 ({"model": narrowed, "test_accuracy": 0.1}, summary, test, (0.02, share))],
        "11.2": [([3072, 142, 204, 10], 3072 * 142 + 142 * 204 + 204 * 10), ([3072, 142, 10], 5)],
    }
    for name, invented in INVENTED.items():
        wrong[name].append(invented)
    return right, wrong


@pytest.fixture(autouse=True)
def empty_keras_cache(monkeypatch, tmp_path):
    """Exercise 00.1 looks at Keras's cache: an empty one here, whatever this machine holds."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))


def test_every_check_has_right_and_wrong_answers_here(answers):
    right, wrong = answers
    assert set(right) == set(wrong) == set(EXERCISES)
    assert set(INVENTED) <= set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_right_answer_passes(name, answers, capsys):
    assert exercise(name).check(answers[0][name]).ok is True
    assert capsys.readouterr().out == f"Exercise {name}: correct.\n"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_wrong_answers_fail_with_feedback(name, answers, capsys):
    for answer in answers[1][name]:
        assert exercise(name).check(answer).ok is False, answer
        out = capsys.readouterr().out
        assert "not yet" in out and out.endswith("Need a nudge? Run .hint().\n"), out
        assert out.count("\n") == 1, f"one line, not {out!r}"
    assert exercise(name).check(...).ok is False
    assert "not answered yet" in capsys.readouterr().out
    exercise(name).hint()
    assert capsys.readouterr().out.startswith(f"Hint for exercise {name}:")


@pytest.mark.parametrize("name", sorted(INVENTED))
def test_experiment_check_refuses_invented_numbers(name, capsys):
    """Numbers typed in the shape of an experiment's result are not evidence: refused."""
    assert exercise(name).check(INVENTED[name]).ok is False
    out = capsys.readouterr().out
    assert "not yet" in out and "correct." not in out, out


def test_history_dict_is_refused_with_what_to_pass(answers, capsys):
    scaled, raw = answers[0]["02.2"]
    exercise("02.2").check((scaled.history, raw.history))
    assert "pass the History that model.fit returned" in capsys.readouterr().out


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
