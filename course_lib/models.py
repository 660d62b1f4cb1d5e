"""Model builders shared by a notebook and a benchmark, so both train the same network (the
notebooks still show and explain every layer).

>>> [layer.units for layer in five_layer_net("relu").layers]
[200, 100, 60, 30, 10]
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

#: The lecture's fully connected network: hidden layer widths, then 10 outputs.
FIVE_LAYER_WIDTHS = (200, 100, 60, 30)


def softmax_regression(num_classes: int = 10, input_dim: int = 784) -> keras.Model:
    """One dense layer with a softmax: multinomial logistic regression on raw pixels."""
    return keras.Sequential(
        [keras.Input((input_dim,)), layers.Dense(num_classes, activation="softmax")],
        name="softmax_regression",
    )


def activation_names() -> list[str]:
    """The names Keras accepts as ``activation=...``, sorted.

    >>> {"relu", "sigmoid", "tanh"} <= set(activation_names())
    True
    """
    helpers = {"get", "serialize", "deserialize"}  # functions of the module that are no activation
    return sorted(name for name in dir(keras.activations)
                  if not name.startswith("_") and name not in helpers)


def check_activation(activation: Any) -> None:
    """Raise ``ValueError`` naming ``activation`` and the valid names unless Keras knows it (a
    callable, or None for no activation, passes).

    >>> check_activation("relux")
    Traceback (most recent call last):
    ...
    ValueError: activation='relux' is not a Keras activation (did you mean 'relu'?); use one of ...
    """
    if activation is None or callable(activation):
        return
    names = activation_names()
    if isinstance(activation, str) and activation in names:
        return
    if isinstance(activation, str):
        try:  # an activation registered with keras.saving.register_keras_serializable
            keras.activations.get(activation)
            return
        except ValueError:
            pass
    close = difflib.get_close_matches(str(activation).lower(), names, n=1)  # "Relu" -> "relu"
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(
        f"activation={activation!r} is not a Keras activation{hint}; use one of "
        f"{', '.join(map(repr, names))}."
    )


def five_layer_net(
    activation: str = "relu", dropout: float | Sequence[float] = 0.0, input_dim: int = 784
) -> keras.Model:
    """The 200-100-60-30-10 network, with ``Dropout`` after the hidden layers.

    ``activation``: the hidden layers', from :func:`activation_names` (else ``ValueError``);
    ``dropout``: one rate for every hidden layer, or one per layer (0 adds no layer).

    >>> model = five_layer_net("relu", dropout=(0.25, 0.25, 0, 0))  # the two wide layers only
    >>> [layer.rate for layer in model.layers if isinstance(layer, layers.Dropout)]
    [0.25, 0.25]
    """
    check_activation(activation)
    rates = list(dropout) if isinstance(dropout, Sequence) else [float(dropout)] * len(FIVE_LAYER_WIDTHS)
    if len(rates) != len(FIVE_LAYER_WIDTHS):
        raise ValueError(f"dropout needs one rate or {len(FIVE_LAYER_WIDTHS)} (one per hidden "
                         f"layer), got {dropout!r}.")
    if not all(0.0 <= rate < 1.0 for rate in rates):
        raise ValueError(f"dropout rates must be in [0, 1), got {dropout!r}.")
    label = activation if isinstance(activation, str) else getattr(activation, "__name__", "linear")
    model = keras.Sequential([keras.Input((input_dim,))], name=f"five_layer_{label}")
    for width, rate in zip(FIVE_LAYER_WIDTHS, rates):
        model.add(layers.Dense(width, activation=activation))
        if rate:
            model.add(layers.Dropout(rate))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def warmup_cosine(peak_lr: float, total_steps: int, warmup_fraction: float = 0.2):
    """A one-cycle style schedule: linear warm-up to ``peak_lr``, then cosine decay to zero.

    >>> schedule = warmup_cosine(0.01, total_steps=100)
    >>> round(float(schedule(20)), 4), round(float(schedule(100)), 4)
    (0.01, 0.0)
    """
    if total_steps < 2:
        raise ValueError(f"total_steps must be at least 2, got {total_steps!r}.")
    warmup = max(1, int(total_steps * warmup_fraction))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak_lr / 10,
        decay_steps=total_steps - warmup,
        alpha=0.0,
        warmup_target=peak_lr,
        warmup_steps=warmup,
    )


#: Filters in the CNN's three convolution blocks (28x28, 14x14 and 7x7 feature maps).
CNN_FILTERS = (16, 32, 64)
#: The expanded-data network: wider, and a dense layer with dropout, to profit from augmentation.
CNN_AUGMENTED_FILTERS = (24, 48, 96)
CNN_AUGMENTED_DENSE, CNN_AUGMENTED_DROPOUT = 128, 0.5


def conv_block(x, filters: int, name: str, synchronized: bool = False):
    """3x3 convolution (no bias: BatchNorm adds its own shift), BatchNorm, ReLU; ``synchronized``
    (TensorFlow only) takes BatchNorm's statistics over all replicas of a ``tf.distribute`` batch."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, synchronized=synchronized, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def augmentation(shift: float = 0.1, degrees: float = 10.0, zoom: float = 0.1) -> layers.Pipeline:
    """Random small shifts, rotations and zooms (borders filled with 0), in training only; a
    ``layers.Pipeline`` works in front of a model and in :func:`training_batches` on any backend."""
    return layers.Pipeline(
        [
            layers.RandomTranslation(shift, shift, fill_mode="constant"),
            layers.RandomRotation(degrees / 360.0, fill_mode="constant"),
            layers.RandomZoom(zoom, fill_mode="constant"),
        ],
        name="augmentation",
    )


def mnist_cnn(filters: tuple[int, int, int] = CNN_FILTERS, augment: bool = False, *,
              dense: int = 0, dropout: float = 0.0, synchronized_bn: bool = False) -> keras.Model:
    """The course CNN: three conv blocks, two max-poolings, one dense softmax layer.

    ``augment``: :func:`augmentation` in front ("expanded data"); ``dense`` > 0: a hidden ReLU
    layer of that width, then ``Dropout(dropout)``; ``synchronized_bn``: for ``tf.distribute``.

    >>> mnist_cnn().count_params()
    55002
    >>> mnist_cnn(CNN_AUGMENTED_FILTERS, augment=True, dense=CNN_AUGMENTED_DENSE,
    ...           dropout=CNN_AUGMENTED_DROPOUT).count_params()
    656258
    """
    if dense < 0:
        raise ValueError(f"dense must be 0 (no hidden layer) or a width, got {dense!r}.")
    if not 0.0 <= dropout < 1.0 or (dropout and not dense):
        raise ValueError(f"dropout must be in [0, 1) and needs dense > 0; got dropout={dropout!r}, "
                         f"dense={dense!r}.")
    inputs = keras.Input((28, 28, 1), name="image")
    x = augmentation()(inputs) if augment else inputs
    x = conv_block(x, filters[0], "block1", synchronized_bn)  # 28x28: edges and strokes
    x = layers.MaxPooling2D(name="pool1")(x)  # -> 14x14
    x = conv_block(x, filters[1], "block2", synchronized_bn)  # 14x14: stroke combinations
    x = layers.MaxPooling2D(name="pool2")(x)  # -> 7x7
    x = conv_block(x, filters[2], "block3", synchronized_bn)  # 7x7: digit parts
    x = layers.Flatten(name="flatten")(x)
    if dense:
        x = layers.Dense(dense, activation="relu", name="hidden")(x)
        x = layers.Dropout(dropout, name="hidden_dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn_augmented" if augment else "mnist_cnn")


#: The CNN's training recipe: Adam with :func:`warmup_cosine`, peak rate and batch size.
CNN_PEAK_LR = 3e-3
CNN_BATCH_SIZE = 128


def training_batches(x, y, augment: layers.Layer | None = None, *,
                     batch_size: int = CNN_BATCH_SIZE, seed: int = 0):
    """Shuffled batches of ``(x, y)`` as a ``tf.data`` dataset (notebook 06), with ``augment``
    (e.g. :func:`augmentation`) applied afresh every epoch, one batch at a time so a seed
    repeats a run; ``fit`` takes it on every backend (pass ``shuffle=False``).

    >>> import numpy as np
    >>> x, y = np.zeros((300, 28, 28, 1), "float32"), np.arange(300) % 10
    >>> [len(images) for images, _ in training_batches(x, y, augmentation())]
    [128, 128, 44]
    """
    import tensorflow as tf  # only here: importing course_lib stays free of TensorFlow's start-up

    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size)
    if augment is not None:
        data = data.map(lambda images, labels: (augment(images, training=True), labels))
    return data.prefetch(tf.data.AUTOTUNE)


def lecture_cnn(filters: int = 32, dense: int = 256) -> keras.Model:
    """The lecture's 2018 CNN: two 3x3 'valid' convolutions, max-pooling, dropout, a dense layer
    with dropout, softmax. Compile it with ``keras.optimizers.Adadelta(learning_rate=1.0)``, the
    2018 default (at Keras 3's 0.001 it barely learns)."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(filters, 3, padding="valid", activation="relu"),
            layers.Conv2D(filters, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(dense, activation="relu"),
            layers.Dropout(0.25),
            layers.Dense(10, activation="softmax"),
        ],
        name="lecture_cnn",
    )


def mnist_mlp(seed: int = 0) -> keras.Model:
    """Keras's classic MNIST MLP example (timed by notebook 07): 784-512-512-10 with dropout.

    >>> mnist_mlp().count_params()
    669706
    """
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(512, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(512, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax", kernel_initializer=init),
        ],
        name="mnist_mlp",
    )


def cifar10_cnn(seed: int = 0) -> keras.Model:
    """The classic Keras CIFAR-10 CNN timed in the lecture: 4 conv layers.

    >>> cifar10_cnn().count_params()
    1250858
    """
    init = keras.initializers.GlorotUniform(seed=seed)

    def conv(filters: int, **kw: Any) -> keras.layers.Layer:
        return keras.layers.Conv2D(filters, 3, activation="relu", kernel_initializer=init, **kw)

    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            conv(32, padding="same"), conv(32),
            keras.layers.MaxPooling2D(), keras.layers.Dropout(0.25),
            conv(64, padding="same"), conv(64),
            keras.layers.MaxPooling2D(), keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(512, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax", kernel_initializer=init),
        ],
        name="cifar10_cnn",
    )


#: The fast CNN's recipe (notebook 06, "A fast CNN"; ``benchmarks/cnn_speed.py``), chosen on the
#: validation set: filters of its three blocks, batch size, peak learning rate and schedule length.
FAST_CNN_FILTERS = (16, 32, 64)
#: Width of the fast CNN's hidden dense layer before the softmax (0: none).
FAST_CNN_DENSE = 0
FAST_CNN_BATCH_SIZE = 128
FAST_CNN_PEAK_LR = 5e-3
FAST_CNN_EPOCHS = 3
#: XLA compilation (``compile(jit_compile=...)``): per backend, what measured fastest on a CPU.
FAST_CNN_JIT_COMPILE = {"tensorflow": False, "jax": True, "torch": False}


def fast_conv_block(x, filters: int, name: str, pool: bool):
    """3x3 convolution, then (with ``pool``) 2x2 max-pooling, then BatchNorm and ReLU.

    Pooling straight after the convolution lets BatchNorm and ReLU, which cost a pass over every
    value, run on a quarter of the values; the block sees the same receptive field as
    :func:`conv_block` followed by pooling.
    """
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    if pool:
        x = layers.MaxPooling2D(name=f"{name}_pool")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def fast_mnist_cnn(filters: tuple[int, int, int] = FAST_CNN_FILTERS,
                   dense: int = FAST_CNN_DENSE) -> keras.Model:
    """The fast CNN: three blocks of :func:`fast_conv_block` (28x28 -> 14x14 -> 7x7), a hidden
    ReLU layer of ``dense`` units (0: none), a softmax.

    >>> fast_mnist_cnn().count_params()
    55002
    >>> fast_mnist_cnn((8, 16, 32), dense=0).count_params()
    21746
    """
    if len(filters) != 3 or not all(isinstance(f, int) and f > 0 for f in filters):
        raise ValueError(f"filters must be three positive integers, e.g. {FAST_CNN_FILTERS}, "
                         f"got {filters!r}.")
    if not isinstance(dense, int) or dense < 0:
        raise ValueError(f"dense must be 0 (no hidden layer) or a width, got {dense!r}.")
    inputs = keras.Input((28, 28, 1), name="image")
    x = fast_conv_block(inputs, filters[0], "block1", pool=True)  # -> 14x14
    x = fast_conv_block(x, filters[1], "block2", pool=True)  # -> 7x7
    x = fast_conv_block(x, filters[2], "block3", pool=False)
    x = layers.Flatten(name="flatten")(x)
    if dense:
        x = layers.Dense(dense, activation="relu", name="hidden")(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inputs, outputs, name="fast_mnist_cnn")


def fast_cnn_jit_compile(backend: str | None = None) -> bool:
    """The recipe's ``jit_compile`` for ``backend`` (default: the one Keras runs on).

    >>> fast_cnn_jit_compile("jax")
    True
    """
    backend = backend or keras.backend.backend()
    if backend not in FAST_CNN_JIT_COMPILE:
        raise ValueError(f"backend {backend!r} has no fast-CNN setting; use one of "
                         f"{', '.join(map(repr, FAST_CNN_JIT_COMPILE))}.")
    return FAST_CNN_JIT_COMPILE[backend]


def compile_fast_cnn(model: keras.Model, n_train: int, *, epochs: int = FAST_CNN_EPOCHS,
                     batch_size: int = FAST_CNN_BATCH_SIZE, peak_lr: float = FAST_CNN_PEAK_LR,
                     jit_compile: bool | None = None) -> keras.Model:
    """Compile ``model`` with the fast recipe: Adam, :func:`warmup_cosine` over ``epochs`` epochs
    of ``n_train`` images in batches of ``batch_size``; ``jit_compile`` None: the backend's.

    >>> type(compile_fast_cnn(fast_mnist_cnn(), n_train=1000, epochs=2).optimizer).__name__
    'Adam'
    """
    if not isinstance(n_train, int) or n_train < 1:
        raise ValueError(f"n_train must be the number of training images, got {n_train!r}.")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    steps = epochs * -(-n_train // batch_size)
    model.compile(optimizer=keras.optimizers.Adam(warmup_cosine(peak_lr, max(2, steps))),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=fast_cnn_jit_compile() if jit_compile is None else jit_compile)
    return model
