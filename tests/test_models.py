"""The shared model builders: shapes, parameter counts, the learning-rate schedule."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import models


def test_five_layer_net_matches_the_lecture():
    model = models.five_layer_net("tanh")
    dense = [layer for layer in model.layers if hasattr(layer, "units")]
    assert [layer.units for layer in dense] == [200, 100, 60, 30, 10]
    assert model.count_params() == 185_300
    assert dense[-1].activation.__name__ == "softmax"
    assert all(layer.activation.__name__ == "tanh" for layer in dense[:-1])


def test_dropout_adds_layers_but_no_parameters():
    model = models.five_layer_net("relu", dropout=0.25)
    rates = [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"]
    assert rates == [0.25] * 4
    assert model.count_params() == 185_300


def test_dropout_per_hidden_layer():
    model = models.five_layer_net("relu", dropout=(0.25, 0.1, 0, 0))
    kinds = [(layer.__class__.__name__, getattr(layer, "rate", None)) for layer in model.layers]
    assert kinds[:4] == [("Dense", None), ("Dropout", 0.25), ("Dense", None), ("Dropout", 0.1)]
    assert [k for k, _ in kinds[4:]] == ["Dense", "Dense", "Dense"]


@pytest.mark.parametrize("bad", [-0.1, 1.0, (0.25, 0.25), (0.1, 0.1, 0.1, 1.5)])
def test_bad_dropout_is_refused(bad):
    with pytest.raises(ValueError, match="dropout"):
        models.five_layer_net(dropout=bad)


def test_softmax_regression_size():
    assert models.softmax_regression().count_params() == 784 * 10 + 10


def test_cnn_shapes_and_size():
    cnn = models.mnist_cnn()
    out = keras.ops.convert_to_numpy(cnn(np.zeros((2, 28, 28, 1), dtype="float32")))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    # 3 conv kernels (no bias) + 3 BatchNorms (4 vectors each) + the dense layer
    f1, f2, f3 = models.CNN_FILTERS
    expected = 9 * (1 * f1 + f1 * f2 + f2 * f3) + 4 * (f1 + f2 + f3) + (7 * 7 * f3 * 10 + 10)
    assert cnn.count_params() == expected
    assert models.mnist_cnn(augment=True).count_params() == expected


def test_cnn_hidden_layer_with_dropout_and_bad_values():
    f3 = models.CNN_FILTERS[2]
    plain, head = models.mnist_cnn(), models.mnist_cnn(dense=32, dropout=0.5)
    # the output layer now reads 32 hidden units instead of the 7x7xf3 maps
    added = (7 * 7 * f3 * 32 + 32) + (32 * 10 + 10) - (7 * 7 * f3 * 10 + 10)
    assert head.count_params() == plain.count_params() + added
    assert isinstance(head.get_layer("hidden_dropout"), keras.layers.Dropout)
    with pytest.raises(ValueError, match="needs dense > 0"):
        models.mnist_cnn(dropout=0.5)
    with pytest.raises(ValueError, match="dense must be"):
        models.mnist_cnn(dense=-1)


def test_augmentation_is_identity_at_inference_and_random_in_training():
    aug = models.augmentation()
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    assert not np.allclose(np.asarray(aug(x, training=True)), x)


def test_warmup_cosine_shape():
    schedule = models.warmup_cosine(0.01, total_steps=100, warmup_fraction=0.2)
    lrs = np.array([float(schedule(s)) for s in range(101)])
    assert lrs[0] == pytest.approx(0.001)
    assert lrs.argmax() == 20 and lrs[20] == pytest.approx(0.01)
    assert np.all(np.diff(lrs[:21]) > 0) and np.all(np.diff(lrs[20:]) <= 0)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        models.warmup_cosine(0.01, total_steps=1)


def test_training_batches_shuffle_augment_and_repeat_with_the_seed():
    x = np.random.default_rng(0).random((300, 28, 28, 1)).astype("float32")
    y = np.arange(300) % 10

    def first_epoch(augment, seed=0):
        keras.utils.set_random_seed(seed)
        batches = models.training_batches(x, y, augment() if augment else None, seed=seed)
        images, labels = zip(*((np.asarray(a), np.asarray(b)) for a, b in batches))
        return np.concatenate(images), np.concatenate(labels)

    plain_x, plain_y = first_epoch(None)
    assert not np.array_equal(plain_y, y)  # shuffled, yet every image exactly once
    assert sorted(row.tobytes() for row in plain_x) == sorted(row.tobytes() for row in x)

    augmented_x, augmented_y = first_epoch(models.augmentation)
    np.testing.assert_array_equal(augmented_y, plain_y)  # the same order, the images warped
    assert not np.allclose(augmented_x, plain_x)
    again_x, _ = first_epoch(models.augmentation)
    np.testing.assert_array_equal(again_x, augmented_x)  # one seed repeats the run


def test_training_batches_train_a_model_on_this_backend():
    x = np.random.default_rng(1).random((64, 28, 28, 1)).astype("float32")
    y = np.arange(64) % 10
    model = models.mnist_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(models.training_batches(x, y, models.augmentation(), batch_size=32),
                        shuffle=False, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_training_batches_bad_input():
    x, y = np.zeros((10, 28, 28, 1), "float32"), np.zeros(9)
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        models.training_batches(x, y)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        models.training_batches(x, np.zeros(10), batch_size=0)


def test_fast_cnn_size_and_recipe():
    cnn = models.fast_mnist_cnn()
    out = keras.ops.convert_to_numpy(cnn(np.zeros((2, 28, 28, 1), dtype="float32")))
    assert out.shape == (2, 10)
    # 3 conv kernels (no bias) + 3 BatchNorms (4 vectors each) + the hidden and output layers
    f1, f2, f3 = models.FAST_CNN_FILTERS
    hidden = models.FAST_CNN_DENSE
    head = (7 * 7 * f3 * hidden + hidden) + (hidden * 10 + 10) if hidden else 7 * 7 * f3 * 10 + 10
    assert cnn.count_params() == 9 * (f1 + f1 * f2 + f2 * f3) + 4 * (f1 + f2 + f3) + head
    assert [layer.name for layer in cnn.layers[1:4]] == ["block1_conv", "block1_pool", "block1_bn"]
    with pytest.raises(ValueError, match="filters"):
        models.fast_mnist_cnn((8, 16))
    assert models.fast_cnn_jit_compile("jax") is True
    with pytest.raises(ValueError, match="backend"):
        models.fast_cnn_jit_compile("theano")
    with pytest.raises(ValueError, match="n_train"):
        models.compile_fast_cnn(cnn, n_train=0)


SHARED_MNIST = Path(os.environ.get("COURSE_DATA_DIR") or Path(__file__).resolve().parents[2]
                    / "shared" / "data") / "mnist.npz"


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="no real MNIST here: set COURSE_DATA_DIR")
def test_fast_cnn_learns_real_digits_in_seconds():
    import course_lib

    (x, y), _ = course_lib.load_mnist(data_dir=SHARED_MNIST.parent, verbose=False)
    x = course_lib.scale(x[:5000])[..., None]
    (x_train, y_train), (x_val, y_val) = course_lib.hold_out(x, y[:5000], 1000)
    keras.utils.set_random_seed(0)
    cnn = models.compile_fast_cnn(models.fast_mnist_cnn(), n_train=len(x_train), epochs=2)
    cnn.fit(x_train, y_train, batch_size=models.FAST_CNN_BATCH_SIZE, epochs=2, verbose=0)
    accuracy = cnn.evaluate(x_val, y_val, verbose=0)[1]
    assert accuracy >= 0.93, f"the fast CNN reached only {accuracy:.3f} on 1,000 held-out digits"
