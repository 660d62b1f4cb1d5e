"""Tests for course_lib.selfscaling: penalties, grow/prune, optimizer state, the engine, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib.autodiff import value_and_gradients
from course_lib.selfscaling import (
    PenalizedDense,
    SelfScalingNet,
    SelfScalingRegularizer,
    neuron_magnitudes,
)
from course_lib.selfscaling.engine import is_placeholder
from course_lib.selfscaling.initial import TRUNCATED_STD


def small_net(**kw) -> SelfScalingNet:
    kw.setdefault("seed", 0)
    return SelfScalingNet([6, 8, 7, 3], **kw)


def blobs(n: int = 256, width: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.normal(0, 2, (3, width))
    x = (centers[y] + rng.normal(0, 1, (n, width))).astype("float32")
    return x, y


# -- penalties against hand computation --------------------------------------


def test_weighted_l1_4x10_of_ones():
    # scale = 1e-3 * [1, 2, ..., 10]; four rows of ones: 4 * 1e-3 * 55
    value = float(SelfScalingRegularizer(1e-3, "weighted_l1")(np.ones((4, 10), "float32")))
    assert value == pytest.approx(4 * 1e-3 * 55, rel=1e-6)


def test_weighted_l1_4x10_signed_entries():
    w = np.array([[i - j for j in range(10)] for i in range(4)], dtype="float32")
    expected = sum(0.5 * (j + 1) * abs(i - j) for i in range(4) for j in range(10))
    value = float(SelfScalingRegularizer(0.5, "weighted_l1")(w))
    assert value == pytest.approx(expected, rel=1e-6)
    # by hand: column sums of |i - j| are 6, 4, 4, 6, 10, 14, 18, 22, 26, 30; weighted by
    # 1..10 they give 6 + 8 + 12 + 24 + 50 + 84 + 126 + 176 + 234 + 300 = 1020
    assert value == pytest.approx(0.5 * 1020, rel=1e-6)


def test_group_sparsity_3x5():
    # The 2021 notebook's example; its comment claimed norms [2, 2, 3, 1, 3], but the
    # column L2 norms are sqrt(6), 3, sqrt(14), sqrt(3), sqrt(14).
    w = np.array([[1, 1, 1, 1, 1], [1, 2, 2, 1, 2], [2, 2, 3, 1, 3]], dtype="float32")
    expected = 0.01 * (math.sqrt(6) + 3 + 2 * math.sqrt(14) + math.sqrt(3))
    value = float(SelfScalingRegularizer(0.01, "group_sparsity")(w))
    assert value == pytest.approx(expected, rel=1e-6)


def test_group_sparsity_gradient_finite_for_dead_neuron():
    w = keras.Variable(np.array([[0.0, 3.0], [0.0, 4.0]], dtype="float32"))
    value, (grad,) = value_and_gradients(lambda: SelfScalingRegularizer(1.0, "group_sparsity")(w), [w])
    assert value == pytest.approx(5.0)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[:, 0], 0.0)
    np.testing.assert_allclose(grad[:, 1], [0.6, 0.8], rtol=1e-6)


def test_penalized_dense_counts_the_bias_as_a_row():
    reg = SelfScalingRegularizer(0.1, "weighted_l1")
    layer = PenalizedDense(3, regularizer=reg, kernel_initializer="ones", bias_initializer="ones")
    layer(np.zeros((1, 2), "float32"))
    # three rows (two inputs + bias) of ones, scale 0.1 * [1, 2, 3]
    assert float(layer.penalty_loss()) == pytest.approx(0.1 * 3 * 6, rel=1e-6)


@pytest.mark.parametrize("method", ["weighted_l1", "group_sparsity"])
def test_layer_penalty_equals_penalty_of_the_stacked_matrix(method):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 7)).astype("float32")
    kernel[:, 2] = 0.0
    bias = rng.normal(size=7).astype("float32")
    bias[2] = 0.0
    reg = SelfScalingRegularizer(0.3, method)
    stacked = float(reg(np.vstack([kernel, bias[None, :]])))
    assert float(reg.on_layer(kernel, bias)) == pytest.approx(stacked, rel=1e-6)


# -- initial weights, drawn with NumPy --------------------------------------------


@pytest.mark.parametrize("name", ["lecun_normal", "glorot_uniform", "he_normal", "lecun_uniform"])
def test_numpy_draws_have_the_keras_initializers_spread(name):
    from course_lib.selfscaling.initial import draw

    shape = (300, 200)
    ours = draw(name, shape, np.random.default_rng(0))
    theirs = np.asarray(keras.initializers.get(name)(shape, dtype="float32"))
    assert ours.dtype == np.float32 and ours.shape == shape
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert np.abs(ours).max() <= np.abs(theirs).max() * 1.05  # the same cut (or limit)


def test_a_part_is_scaled_for_the_whole_kernel_and_one_seed_repeats_it():
    from course_lib.selfscaling.initial import draw

    part = draw("glorot_normal", (400, 10), np.random.default_rng(1), whole=(400, 400))
    alone = draw("glorot_normal", (400, 10), np.random.default_rng(1))
    assert part.std() == pytest.approx(np.sqrt(2 / 800), rel=0.05)  # fan_avg of the whole
    assert alone.std() > 1.3 * part.std()
    np.testing.assert_array_equal(part, draw("glorot_normal", (400, 10), np.random.default_rng(1),
                                             whole=(400, 400)))
    np.testing.assert_array_equal(
        draw(keras.initializers.Constant(0.5), (2,), np.random.default_rng(0)), [0.5, 0.5])


def test_unsupported_initializer_is_a_clear_error():
    with pytest.raises(ValueError, match="'orthogonal' is not supported.*lecun_normal"):
        SelfScalingNet([4, 3, 2], kernel_initializer="orthogonal")


# -- grow and prune -----------------------------------------------------------


def test_pruning_dead_neurons_leaves_outputs_unchanged():
    net = small_net()
    x, _ = blobs(32)
    net.layers[0].kernel[:, [1, 4]] = 0.0
    net.layers[0].bias[[1, 4]] = 0.0
    net.layers[1].kernel[:, 2] = 0.0
    net.layers[1].bias[2] = 0.0
    before = net.logits(x)
    assert net.prune() == [6, 6]
    # a dead neuron outputs selu(0) = 0, so removing it (and its outgoing row) changes nothing
    np.testing.assert_allclose(net.logits(x), before, rtol=1e-5, atol=1e-6)


def test_growth_with_tiny_scaling_factor_barely_changes_outputs():
    net = small_net()
    x, _ = blobs(64)
    before = net.logits(x)
    assert net.grow(fraction=0.5, min_new_neurons=3, scaling_factor=1e-3) == [12, 10]
    change = np.abs(net.logits(x) - before).max()
    assert change < 1e-4, change
    # the same growth without the small factor does change the outputs
    net_big = small_net()
    ref = net_big.logits(x)
    net_big.grow(fraction=0.5, min_new_neurons=3, scaling_factor=1.0)
    assert np.abs(net_big.logits(x) - ref).max() > 1e-2


def test_never_prunes_a_layer_to_zero():
    net = small_net()
    for lay in net.layers[:-1]:
        lay.kernel[:] = 0.0
        lay.bias[:] = 0.0
    net.layers[0].kernel[0, 5] = 1e-5  # the strongest (still sub-threshold) neuron survives
    assert net.prune() == [1, 1]
    assert neuron_magnitudes(net.layers[0].kernel, net.layers[0].bias)[0] == pytest.approx(1e-5)


def test_grow_then_prune_restores_the_network():
    net = small_net()
    x, _ = blobs(16)
    before = net.logits(x)
    net.grow(min_new_neurons=4)
    assert net.prune() == [8, 7]
    np.testing.assert_allclose(net.logits(x), before, rtol=1e-5, atol=1e-6)


# -- optimizer state ----------------------------------------------------------


def test_prune_keeps_adam_moments_of_surviving_neurons():
    net = small_net(learning_rate=1e-2)
    x, y = blobs()
    net.train_epoch(x, y)
    assert net.iterations == 8
    m_before = [m.copy() for m in net.moments[0]] + [m.copy() for m in net.moments[1]]
    v_before = [v.copy() for v in net.velocities[0]] + [v.copy() for v in net.velocities[1]]
    assert np.abs(m_before[0]).max() > 0
    net.layers[0].kernel[:, 3] = 0.0
    net.layers[0].bias[3] = 0.0
    net.prune()
    keep = [0, 1, 2, 4, 5, 6, 7]
    # kernel 0: columns of survivors; bias 0: entries; kernel 1: rows of survivors
    for store, old in ((net.moments, m_before), (net.velocities, v_before)):
        np.testing.assert_array_equal(store[0][0], old[0][:, keep])
        np.testing.assert_array_equal(store[0][1], old[1][keep])
        np.testing.assert_array_equal(store[1][0], old[2][keep, :])
        np.testing.assert_array_equal(store[1][1], old[3])
    # and the Keras optimizer that trains next really holds them (zero-padded to the
    # model's capacity), with the step counter carried
    engine = net.engine.sync(net)
    (_, momentum, _), _ = net.engine.slots(engine.dense[1])
    momentum = momentum.numpy()
    np.testing.assert_array_equal(momentum[:7, :7], m_before[2][keep, :])
    assert not momentum[7:].any() and not momentum[:, 7:].any()
    assert int(engine.iterations.numpy()) == 8


def test_reset_policy_starts_a_fresh_adam():
    net = small_net(optimizer_state="reset", learning_rate=1e-2)
    x, y = blobs()
    net.train_epoch(x, y)
    net.grow(min_new_neurons=1)
    engine = net.engine.sync(net)
    (_, momentum, _), _ = net.engine.slots(engine.dense[0])
    assert np.abs(momentum.numpy()).max() == 0
    assert int(engine.iterations.numpy()) == 0


# What each policy leaves after a grow of [3, 2, 2] to [3, 3, 2], from moments filled with known
# values and step counter 7: the kept units' moments, the output bias's moments (never reshaped)
# and the step counter. New units' moments start at zero under every policy.
POLICY_AFTER_GROW = {
    "carry": ("kept", "kept", 7),
    "reset": ("zero", "zero", 0),
    "reference": ("zero", "kept", 7),  # the 2021 notebook: rebuilt variables, one optimizer
}


def primed_net(policy: str) -> tuple[SelfScalingNet, list, list]:
    """A [3, 2, 2] network whose Adam state holds distinct known values, step counter 7."""
    net = SelfScalingNet([3, 2, 2], optimizer_state=policy, seed=0)
    for store, offset in ((net.moments, 1.0), (net.velocities, 100.0)):
        for i, pair in enumerate(store):
            pair[:] = [offset + 10 * (2 * i + k) + np.arange(a.size, dtype="float32").reshape(a.shape)
                       for k, a in enumerate(pair)]
    net.iterations = 7
    return net, [[a.copy() for a in p] for p in net.moments], [[a.copy() for a in p] for p in net.velocities]


@pytest.mark.parametrize("policy", sorted(POLICY_AFTER_GROW))
def test_what_each_optimizer_policy_keeps_after_a_grow(policy):
    kept_units, output_bias, step = POLICY_AFTER_GROW[policy]
    net, m_old, v_old = primed_net(policy)
    assert net.grow(fraction=0.0, min_new_neurons=1) == [3]
    assert net.iterations == step
    for store, old in ((net.moments, m_old), (net.velocities, v_old)):
        (k0, b0), (k1, b1) = store
        # new units: the third column of kernel 0, bias 0's third entry, kernel 1's third row
        assert not k0[:, 2].any() and b0[2] == 0 and not k1[2].any()
        kept = {"kernel 0": (k0[:, :2], old[0][0]), "bias 0": (b0[:2], old[0][1]),
                "kernel 1": (k1[:2], old[1][0])}
        for name, (now, before) in kept.items():
            expected = before if kept_units == "kept" else np.zeros_like(before)
            np.testing.assert_array_equal(now, expected, err_msg=f"{policy}: {name}")
        expected = old[1][1] if output_bias == "kept" else np.zeros_like(old[1][1])
        np.testing.assert_array_equal(b1, expected, err_msg=f"{policy}: output bias")
    # the engine trains from exactly this state
    engine = net.engine.sync(net)
    (_, m_kernel, _), (_, m_bias, _) = net.engine.slots(engine.dense[1])
    np.testing.assert_array_equal(np.asarray(m_kernel)[:3], net.moments[1][0])
    np.testing.assert_array_equal(np.asarray(m_bias), net.moments[1][1])
    assert int(np.asarray(engine.iterations)) == step


def test_the_three_policies_leave_three_different_states():
    # so that swapping any two policies fails the test above
    assert len(set(POLICY_AFTER_GROW.values())) == len(POLICY_AFTER_GROW) == 3


@pytest.mark.parametrize("policy,zeroed", [("carry", False), ("reset", False), ("reference", True)])
def test_only_reference_restarts_adam_on_a_prune_that_removes_nothing(policy, zeroed):
    # the 2021 prune rebuilt every variable even when it removed no neuron
    net, m_old, _ = primed_net(policy)
    net.layers[0].kernel[:] = 1.0  # every neuron far above the threshold
    assert net.prune() == [2] and net.iterations == 7
    for now, before in zip(net.moments[0], m_old[0], strict=True):
        np.testing.assert_array_equal(now, np.zeros_like(before) if zeroed else before)
    np.testing.assert_array_equal(net.moments[1][1], m_old[1][1])  # output bias: kept by all


def test_set_weights_replaces_the_weights_and_refuses_other_shapes():
    net = small_net()
    weights = [(k + 1, b - 1) for k, b in net.get_weights()]
    net.set_weights(weights)
    for (k, b), (k_net, b_net) in zip(weights, net.get_weights(), strict=True):
        np.testing.assert_array_equal(k_net, k)
        np.testing.assert_array_equal(b_net, b)
    with pytest.raises(ValueError, match=r"shapes.*get_weights\(\)"):
        net.set_weights(weights[:-1])


def test_training_after_a_structure_change_updates_the_new_variables():
    # The Keras 3 trap: a compiled step kept across a grow/prune trains orphaned variables.
    net = small_net(learning_rate=1e-2)
    x, y = blobs()
    net.train_epoch(x, y)
    net.grow(min_new_neurons=2)
    grown = [lay.kernel.copy() for lay in net.layers]
    net.train_epoch(x, y)
    assert net.hidden_sizes == [10, 9]
    assert net.keras_model.layers[1].kernel.shape == (6, 10)
    for old, lay in zip(grown, net.layers, strict=True):
        assert old.shape == lay.kernel.shape
        assert np.abs(lay.kernel - old).max() > 1e-4


# -- fitting --------------------------------------------------------------------


def test_strong_penalty_shrinks_an_oversized_layer():
    keras.utils.set_random_seed(0)  # model.fit shuffles
    x, y = blobs(512, width=4)
    net = SelfScalingNet([4, 64, 3], regularization="group_sparsity", penalty=0.1,
                         learning_rate=1e-2, threshold=1e-2, seed=0)
    records = net.fit(x, y, epochs=8, validation_data=(x[:128], y[:128]), min_new_neurons=1,
                      verbose=0)
    assert net.hidden_sizes[0] < 32, net.hidden_sizes
    assert records[-1]["val_accuracy"] > 0.6
    first = records[0]
    assert first["sizes_before_grow"] == [64]
    assert first["sizes_after_grow"] == [64 + 12]
    assert first["sizes_after_prune"][0] <= 76


def test_stall_multiplies_the_penalty_once_per_stall():
    x, y = blobs(128)
    net = small_net(penalty=1e-3)
    # a validation set with random labels: its loss never improves for long
    rng = np.random.default_rng(1)
    records = net.fit(x, y, epochs=6, validation_data=(x, rng.integers(0, 3, 128)),
                      penalty_multiplier=2.0, stall_coefficient=0.5, verbose=0)
    penalties = [r["penalty"] for r in records]
    # coefficient 0.5 demands halving the best loss: every epoch after the first stalls,
    # but the stall is one stall, so the penalty doubles exactly once
    assert penalties == [1e-3] + [2e-3] * 5


def test_penalty_dropped_after_the_self_scaling_epochs():
    x, y = blobs(128)
    net = small_net()
    records = net.fit(x, y, epochs=3, self_scaling_epochs=1, validation_data=(x, y), verbose=0)
    assert [r["self_scaling"] for r in records] == [True, False, False]
    assert records[1]["sizes_before_grow"] == records[1]["sizes_after_prune"]
    assert records[2]["penalty"] == 0.0
    assert not any(layer.regularizer for layer in net.engine.current.dense)


# -- spare capacity -------------------------------------------------------------


def test_spare_capacity_is_inert():
    # The same seed and data, trained in a model 2.5x wider than needed and in one of
    # exactly the needed width: the live weights must agree, the spare ones stay zero.
    x, y = blobs()
    results = []
    for headroom in (1.0, 2.5):
        keras.utils.set_random_seed(0)  # model.fit shuffles
        net = small_net(learning_rate=1e-2, capacity_headroom=headroom, jit_compile=False)
        net.train_epoch(x, y)
        engine = net.engine.current
        assert engine.capacity == ([8, 7] if headroom == 1.0 else [24, 24])
        for layer, lay in zip(engine.dense, net.layers, strict=True):
            kernel = layer.kernel.numpy()
            n_in, n_out = lay.kernel.shape
            assert not kernel[n_in:].any() and not kernel[:, n_out:].any()
        results.append(net.get_weights())
    for (k1, b1), (k2, b2) in zip(*results, strict=True):
        np.testing.assert_allclose(k1, k2, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b1, b2, rtol=1e-4, atol=1e-6)


def test_xla_only_where_an_epoch_repays_the_compile():
    net = small_net()
    assert not net.engine.uses_xla_for(net, n_samples=10_000)
    wide = SelfScalingNet([3072, 400, 400, 400, 400, 10], seed=0)
    assert wide.engine.uses_xla_for(wide, n_samples=8400)
    assert not wide.engine.uses_xla_for(wide, n_samples=100)
    off = SelfScalingNet([3072, 400, 10], jit_compile=False)
    assert not off.engine.uses_xla_for(off, n_samples=10**6)


def test_model_is_rebuilt_only_when_sizes_leave_the_capacity():
    x, y = blobs(64)
    net = small_net(capacity_headroom=1.5, jit_compile=False)
    net.train_epoch(x, y)
    assert net.engine_builds == 1 and net.engine.current.capacity == [16, 16]
    net.grow(min_new_neurons=2)  # [10, 9]: still fits
    net.train_epoch(x, y)
    assert net.engine_builds == 1
    net.grow(min_new_neurons=8)  # [18, 17]: outgrows the capacity
    net.train_epoch(x, y)
    assert net.engine_builds == 2 and net.engine.current.capacity == [32, 32]


def test_model_is_kept_while_at_most_half_of_a_layer_is_spare():
    x, y = blobs(64)
    net = SelfScalingNet([6, 40, 36, 3], capacity_headroom=1.0, jit_compile=False, seed=0)
    net.train_epoch(x, y)
    # at most 40% of each layer pruned: the model (capacity [40, 36]) is kept
    threshold = min(np.quantile(m, 0.4) for m in net.neuron_magnitudes())
    net.prune(threshold=threshold)
    assert all(n >= 0.6 * cap for n, cap in zip(net.hidden_sizes, [40, 36], strict=True))
    net.train_epoch(x, y)
    assert net.engine_builds == 1
    net.prune(threshold=1e9)  # [1, 1]: nearly all spare, so a smaller model is built
    net.train_epoch(x, y)
    assert net.engine_builds == 2 and net.engine.current.capacity == [1, 1]


def test_one_trace_per_model_even_with_a_short_last_batch():
    # every XLA compile keeps memory TensorFlow never frees: one shape, one trace, one compile
    x, y = blobs(40)  # a batch of 32, then one of 8 (padded to 32)
    net = small_net(jit_compile=False)
    net.train_epoch(x, y)
    net.train_epoch(x, y)
    assert net.engine.current.step.traces == 1


def test_a_short_last_batch_is_padded_without_changing_the_step():
    # 20 images in one batch of 20, or padded into one batch of 32: the same update.
    x, y = blobs(20)
    weights, logs = [], []
    for batch_size in (20, 32):
        net = small_net(learning_rate=1e-2, jit_compile=False)
        logs.append(net.train_epoch(x, y, batch_size=batch_size))
        weights.append(net.get_weights())
    for (k1, b1), (k2, b2) in zip(*weights, strict=True):
        np.testing.assert_allclose(k1, k2, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-7)
    assert logs[0] == pytest.approx(logs[1], rel=1e-5)


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"regularization": "l2"}, "'l2'.*weighted_l1, group_sparsity"),
        ({"threshold": -1e-3}, "threshold.*-0.001"),
        ({"penalty": -1.0}, "penalty.*-1.0"),
        ({"optimizer_state": "keep"}, "'keep'.*carry, reset"),
        ({"jit_compile": "yes"}, "jit_compile.*'yes'"),
        ({"capacity_headroom": 0.5}, "capacity_headroom.*0.5"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SelfScalingNet([6, 8, 3], **kwargs)


@pytest.mark.parametrize("sizes", [[6, 0, 3], [6, -4, 3], [6, 3], [6, 2.5, 3]])
def test_bad_layer_sizes(sizes):
    with pytest.raises(ValueError, match="layer"):
        SelfScalingNet(sizes)


def test_bad_regularizer_method():
    with pytest.raises(ValueError, match="'group_lasso'.*weighted_l1, group_sparsity"):
        SelfScalingRegularizer(0.1, "group_lasso")


def test_data_of_wrong_width():
    net = small_net()
    x, y = blobs(16, width=5)
    with pytest.raises(ValueError, match=r"\(16, 5\).*\(N, 6\)"):
        net.fit(x, y, epochs=1, validation_data=(x, y))
    with pytest.raises(ValueError, match="0..2"):
        net.evaluate(blobs(4)[0], np.array([0, 1, 2, 3]))


# -- the engine agrees with the algorithm written out in notebook 09 -------------------------

NOTEBOOK_09 = Path(__file__).resolve().parents[1] / "notebooks" / "09_self_scaling_idea.ipynb"


@pytest.fixture(scope="module")
def written_out() -> dict:
    """The notebook's own algorithm cells (tagged ``algorithm``), run as a module."""
    import nbformat

    nb = nbformat.read(NOTEBOOK_09, as_version=4)
    cells = [c.source for c in nb.cells if "algorithm" in c.metadata.get("tags", [])]
    assert len(cells) >= 5, "notebook 09 lost its algorithm cells (tag: algorithm)"
    namespace = {"np": np}
    exec(compile("\n\n".join(cells), str(NOTEBOOK_09), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("method,penalty", [("weighted_l1", 1e-3), ("group_sparsity", 1e-2)])
def test_engine_steps_agree_with_the_written_out_steps(written_out, method, penalty):
    """From the same weights and the same (single) batch, five Adam steps agree to float32."""
    x, y = blobs(64)
    net = small_net(regularization=method, penalty=penalty, learning_rate=1e-2, jit_compile=False)
    layers = [(k.astype(np.float64), b.astype(np.float64)) for k, b in net.get_weights()]
    state = {"t": 0}
    for _ in range(5):
        _, grads = written_out["loss_and_grads"](layers, x.astype(np.float64), y, penalty, method)
        layers = written_out["adam_step"](layers, grads, state, 1e-2)
        net.train_epoch(x, y, batch_size=len(x))
    for (k, b), (k_net, b_net) in zip(layers, net.get_weights(), strict=True):
        np.testing.assert_allclose(k_net, k, atol=1e-5)
        np.testing.assert_allclose(b_net, b, atol=1e-5)
    assert net.iterations == state["t"] == 5


@pytest.mark.parametrize("policy,steps_after", [("reference", 6), ("reset", 3)])
def test_engine_and_written_out_adam_agree_across_a_grow(written_out, policy, steps_after):
    """Three steps, a grow, three steps, single batch: the notebook's ``adam_after_change`` and
    the engine's ``optimizer_state`` give the same weights and the same step counter."""
    x, y = blobs(64)
    x64 = x.astype(np.float64)
    net = small_net(optimizer_state=policy, penalty=1e-3, learning_rate=1e-2, jit_compile=False)
    layers = [(k.astype(np.float64), b.astype(np.float64)) for k, b in net.get_weights()]
    state = {"t": 0}
    for phase in range(2):
        if phase:  # the engine grows; the written-out network takes the same new neurons
            net.grow(min_new_neurons=2)
            layers = [(k.astype(np.float64), b.astype(np.float64)) for k, b in net.get_weights()]
            state = written_out["adam_after_change"](state, policy, len(layers))
        for _ in range(3):
            _, grads = written_out["loss_and_grads"](layers, x64, y, 1e-3, "weighted_l1")
            layers = written_out["adam_step"](layers, grads, state, 1e-2)
            net.train_epoch(x, y, batch_size=len(x))
    assert net.hidden_sizes == [10, 9]
    for (k, b), (k_net, b_net) in zip(layers, net.get_weights(), strict=True):
        np.testing.assert_allclose(k_net, k, atol=1e-5)
        np.testing.assert_allclose(b_net, b, atol=1e-5)
    assert net.iterations == state["t"] == steps_after


@pytest.mark.parametrize("method,penalty", [("weighted_l1", 1e-3), ("group_sparsity", 1e-2)])
def test_written_out_penalty_gradient_matches_finite_differences(written_out, method, penalty):
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(4, 6)), rng.normal(size=6)
    w[:, 2], b[2] = 0.0, 0.0  # a dead neuron: group sparsity's kink
    value, d_w, d_b = written_out["penalty_and_grads"](w, b, penalty, method)
    library = float(SelfScalingRegularizer(penalty, method)(np.vstack([w, b]).astype("float32")))
    assert value == pytest.approx(library, rel=1e-5)
    assert np.isfinite(d_w).all() and not d_w[:, 2].any()
    h = 1e-6
    for i, j in [(0, 0), (3, 5), (1, 4)]:
        nudge = np.zeros_like(w)
        nudge[i, j] = h
        up = written_out["penalty_and_grads"](w + nudge, b, penalty, method)[0]
        down = written_out["penalty_and_grads"](w - nudge, b, penalty, method)[0]
        assert d_w[i, j] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-9)


def test_engine_follows_the_written_out_trajectory(written_out):
    """Same data and starting weights: sizes and accuracy agree within notebook 09's tolerance."""
    from sklearn.datasets import make_moons

    x, y = make_moons(1600, noise=0.2, random_state=0)
    x = x.astype("float32")
    x_train, y_train, x_val, y_val = x[400:], y[400:], x[:400], y[:400]
    net = SelfScalingNet([2, 64, 64, 2], regularization="group_sparsity", penalty=0.03,
                         learning_rate=3e-3, optimizer_state="reset", seed=0)
    start = [(k.astype(np.float64), b.astype(np.float64)) for k, b in net.get_weights()]
    _, plain = written_out["self_scaling_fit"](
        start, x_train, y_train, x_val, y_val, epochs=8, strength=0.03, method="group_sparsity",
        lr=3e-3, multiplier=2.0, min_new=4, seed=0)
    engine = net.fit(x_train, y_train, epochs=8, validation_data=(x_val, y_val),
                     min_new_neurons=4, penalty_multiplier=2.0, verbose=0)
    assert [r["sizes_after_grow"][0] - r["sizes_before_grow"][0] for r in plain[:1]] == \
           [r["sizes_after_grow"][0] - r["sizes_before_grow"][0] for r in engine[:1]]
    gap = np.mean([abs(sum(a["sizes_after_prune"]) - sum(b["sizes_after_prune"]))
                   for a, b in zip(plain, engine, strict=True)])
    assert gap <= 15, f"sizes differ by {gap:.1f} neurons per epoch on average"
    assert abs(plain[-1]["val_accuracy"] - engine[-1]["val_accuracy"]) <= 0.03
    assert engine[-1]["val_accuracy"] >= 0.8 and sum(net.hidden_sizes) < 64  # both learned, shrank


def spirals(n: int = 1600, turns: float = 1.0, noise: float = 0.08, seed: int = 0):
    """Three interleaved spiral arms in 2-D, as float32 points and labels 0-2.

    A trained 64 x 64 network separates them (validation accuracy about 0.99); one that lost
    the neurons it needs falls towards 1/3, so accuracy tells a working run from a broken one.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    radius = rng.uniform(0.25, 1.0, n)
    angle = 2 * np.pi * (turns * radius + y / 3)
    x = 2 * radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (x + rng.normal(0, noise, x.shape)).astype("float32"), y


# Phase 2 of a self-scaling run, from a trained start: a strong penalty (the network shrinks
# and loses accuracy), and a learning rate small against the threshold (10 steps of 5e-3 per
# epoch move a weight at most 0.05, the threshold), so grown neurons survive only by earning
# their weights, and weights grown too large would survive anyway.
AGREEMENT = {"method": "group_sparsity", "strength": 0.1, "lr": 5e-3, "epochs": 8,
             "multiplier": 2.0, "min_new": 4, "batch_size": 128, "threshold": 5e-2,
             "policy": "reset"}
SIZE_TOLERANCE = 6  # neurons per layer and epoch: chance (shuffles, grown weights, float32)


@pytest.fixture(scope="module")
def spiral_run(written_out) -> tuple:
    """The spirals, a trained start (the engine's draw, 20 plain epochs without penalty in
    the written-out code) and the written-out self-scaling run from it."""
    x, y = spirals()
    x_train, y_train, x_val, y_val = x[400:], y[400:], x[:400], y[:400]
    start = [(k.astype(np.float64), b.astype(np.float64))
             for k, b in SelfScalingNet([2, 64, 64, 3], seed=0).get_weights()]
    rng, adam = np.random.default_rng(0), {"t": 0}
    for _ in range(20):
        start = written_out["train_epoch"](start, adam, x_train, y_train, 0.0, "group_sparsity",
                                           3e-3, 32, rng)
    data = (x_train, y_train, x_val, y_val)
    _, plain = written_out["self_scaling_fit"](start, *data, seed=0, **AGREEMENT)
    return data, start, plain


def engine_run(data, start, seed: int = 0) -> list[dict]:
    """The engine's run of ``AGREEMENT`` from ``start``."""
    c = AGREEMENT
    net = SelfScalingNet([2, 64, 64, 3], regularization=c["method"], penalty=c["strength"],
                         learning_rate=c["lr"], threshold=c["threshold"],
                         optimizer_state=c["policy"], jit_compile=False, seed=seed)
    net.set_weights(start)
    x_train, y_train, x_val, y_val = data
    return net.fit(x_train, y_train, epochs=c["epochs"], validation_data=(x_val, y_val),
                   min_new_neurons=c["min_new"], penalty_multiplier=c["multiplier"],
                   batch_size=c["batch_size"], verbose=0)


def disagreements(plain: list[dict], engine: list[dict]) -> list[str]:
    """Where two self-scaling histories differ by more than chance explains, epoch by epoch:
    the penalty exactly (its schedule is deterministic here), each layer's size after grow
    and after prune within ``SIZE_TOLERANCE``, the mean validation accuracy within 0.05."""
    found = []
    for epoch, (a, b) in enumerate(zip(plain, engine, strict=True), start=1):
        if not math.isclose(a["penalty"], b["penalty"], rel_tol=1e-9):
            found.append(f"epoch {epoch}: penalty {a['penalty']:g} written out, "
                         f"{b['penalty']:g} engine")
        for key in ("sizes_after_grow", "sizes_after_prune"):
            if any(abs(m - n) > SIZE_TOLERANCE for m, n in zip(a[key], b[key], strict=True)):
                found.append(f"epoch {epoch}: {key} {a[key]} written out, {b[key]} engine")
    accuracy = [np.mean([r["val_accuracy"] for r in h]) for h in (plain, engine)]
    if abs(accuracy[0] - accuracy[1]) > 0.05:
        found.append(f"mean validation accuracy {accuracy[0]:.3f} written out, "
                     f"{accuracy[1]:.3f} engine")
    return found


def test_engine_and_written_out_agree_epoch_by_epoch(spiral_run):
    """Per epoch, from a trained start on the spirals: the same penalty, the same layer sizes
    after grow and after prune (within chance), the same accuracy; and the run is one that a
    broken step would change: the schedule fires, the network shrinks, accuracy falls."""
    data, start, plain = spiral_run
    engine = engine_run(data, start)
    assert not disagreements(plain, engine), "\n".join(disagreements(plain, engine))
    penalties = [r["penalty"] for r in plain]
    assert penalties[-1] >= 2 * penalties[0], f"the stall schedule never fired: {penalties}"
    assert sum(plain[-1]["sizes_after_prune"]) <= 115, "the penalty removed too few neurons"
    assert plain[0]["val_accuracy"] >= 0.9 > min(r["val_accuracy"] for r in plain)


def assert_lecun_law(values: np.ndarray, fan_in: int, scale: float = 1.0, what: str = "") -> None:
    """``values`` look like ``scale`` x LeCun normal draws: the standard deviation within 3% and
    the cut at two of the uncut normal's standard deviations (values reach it, none pass it)."""
    std = scale * math.sqrt(1 / fan_in)
    bound = 2 * std / TRUNCATED_STD
    assert float(values.std()) == pytest.approx(std, rel=0.03), f"{what}: std {values.std():.3g}, expected {std:.3g}"
    largest = float(np.abs(values).max())
    assert 0.97 * bound <= largest <= bound * (1 + 1e-6), f"{what}: largest |value| {largest:.3g}, cut at {bound:.3g}"


def test_written_out_and_engine_draw_lecun_normal_alike(written_out):
    """Notebook 09's ``lecun_normal`` is the engine's draw: the same numbers from the same seed."""
    from course_lib.selfscaling.initial import draw

    ours = written_out["lecun_normal"](np.random.default_rng(3), (300, 200), 300)
    engine = draw("lecun_normal", (300, 200), np.random.default_rng(3))
    np.testing.assert_allclose(engine, ours, rtol=1e-6)
    assert_lecun_law(ours, 300, what="written out")


def test_written_out_and_engine_start_and_grow_from_one_distribution(written_out):
    """The starting weights and the grown neurons' weights: the same law and scale in both."""
    sizes, threshold = [300, 200, 200, 10], 1e-3
    net = SelfScalingNet(sizes, threshold=threshold, seed=0)
    plain = written_out["init_layers"](sizes, np.random.default_rng(0))
    for i, ((k_net, b_net), (k, b)) in enumerate(zip(net.get_weights(), plain, strict=True)):
        for name, values in (("engine", k_net), ("written out", k)):
            assert_lecun_law(values, sizes[i], what=f"{name}: start of layer {i}")
        assert not b_net.any() and not b.any()
    start = [(k.astype(np.float64), b.astype(np.float64)) for k, b in net.get_weights()]
    net.grow(fraction=0.5, min_new_neurons=0)
    grown = written_out["grow"](start, np.random.default_rng(1), fraction=0.5, min_new=0,
                                scale=threshold)
    for name, layers in (("engine", net.get_weights()), ("written out", grown)):
        for i, n in enumerate(sizes[1:-1]):  # hidden layer i: 100 new neurons
            kernel, next_kernel = layers[i][0], layers[i + 1][0]
            assert kernel.shape[1] == next_kernel.shape[0] == n + 100
            fan_in = kernel.shape[0]  # counts the previous layer's new neurons
            assert_lecun_law(kernel[:, n:], fan_in, threshold, f"{name}: layer {i}'s new neurons, in")
            assert_lecun_law(next_kernel[n:, :sizes[i + 2]], n + 100, threshold,
                             f"{name}: layer {i}'s new neurons, out")
            assert not layers[i][1][n:].any()  # new biases: zero


# -- results handed from notebook 10 to notebook 11 ---------------------------------------


@pytest.fixture
def handoff(tmp_path, monkeypatch):
    from course_lib.selfscaling import drift

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    data = drift.drift_data(n_train=300, n_test=50, source="standin", verbose=False)
    configs = drift.drift_configs(fast=True)
    key = drift.drift_results_key(configs, data, mode_name="fast", seed=42, min_new_neurons=10)
    return drift, data, configs, key


def test_handoff_round_trip_in_the_users_cache(handoff, tmp_path):
    drift, _, _, key = handoff
    path = drift.drift_results_path("fast", 42)
    assert (tmp_path / "cache") in path.parents
    results = {"weighted L1 1e-6": {"hidden_sizes": [3, 4], "test_accuracy": 0.5}}
    drift.save_drift_results(path, results, key)
    assert drift.load_drift_results(path, key) == results
    assert drift.load_drift_results(path.with_name("none.json"), key) is None


@pytest.mark.parametrize("change", ["seed", "data", "code", "configs", "mode"])
def test_handoff_refuses_stale_results(handoff, change):
    drift, data, configs, key = handoff
    path = drift.drift_results_path("fast", 42)
    drift.save_drift_results(path, {"x": {}}, key)
    other = dict(key)
    if change == "seed":
        other["seed"] = 7
    elif change == "data":  # e.g. the real CIFAR-10 instead of the stand-in
        other["data"] = drift.drift_data(n_train=300, n_test=50, source="standin", seed=1,
                                         verbose=False).fingerprint
        assert other["data"] != key["data"]
    elif change == "code":
        other["code"] = "0" * 12
    elif change == "configs":
        other["configs"] = key["configs"][:1]
    else:
        other["mode"] = "full"
    with pytest.raises(drift.StaleResultsError, match=f"different {change}.*Run notebook 10 again"):
        drift.load_drift_results(path, other)


def test_handoff_refuses_a_foreign_file(handoff, monkeypatch):
    import os

    drift, _, _, key = handoff
    path = drift.drift_results_path("fast", 42)
    drift.save_drift_results(path, {}, key)
    path.write_text("{not json")
    with pytest.raises(drift.StaleResultsError, match="not a results file"):
        drift.load_drift_results(path, key)
    if hasattr(os, "getuid"):
        monkeypatch.setattr(os, "getuid", lambda: os.stat(path).st_uid + 1)
        with pytest.raises(drift.StaleResultsError, match="belongs to another user"):
            drift.load_drift_results(path, key)


def test_reference_schedule_keeps_self_scaling_on_and_resets_adam():
    from course_lib.selfscaling import drift

    data = drift.drift_data(n_train=400, n_test=50, source="standin", verbose=False)
    small = drift.DriftConfig("tiny", "weighted_l1", 1e-6, 8, phase1_epochs=1, phase2_epochs=4,
                              phase2_scaling_epochs=2)
    course = drift.run_drift(small, data, min_new_neurons=2, seed=0, verbose=0)
    reference = drift.run_drift(drift.reference_schedule(small), data, min_new_neurons=2, seed=0,
                                verbose=0)
    flags = lambda net: [r["self_scaling"] for r in net.history]  # noqa: E731
    assert flags(course) == [True, True, True, False, False]
    assert flags(reference) == [True] * 5
    assert reference.optimizer_state == "reset" and course.optimizer_state == "carry"
    # two phase-2 fit calls: the epoch counter runs on, the stall check restarts
    assert [r["phase"] for r in reference.history] == ["phase 1"] + ["phase 2"] * 4


@pytest.mark.parametrize("policy", ["carry", "reset", "reference"])
def test_moments_kept_in_the_engine_train_exactly_as_moments_copied_back(policy):
    # Big networks keep their kernel moments in the engine between epochs (grow and prune
    # remap them there); a threshold of 0 does that for every layer of this small one.
    x, y = blobs()
    runs = {}
    for keep in (None, 0):
        net = small_net(optimizer_state=policy, learning_rate=1e-2, penalty=1e-3)
        net.engine.keep_moments_above = keep
        # min_new_neurons 20 outgrows the capacity in the first epochs: rebuilds copy back
        net.fit(x, y, epochs=5, validation_data=(x[:64], y[:64]), min_new_neurons=20,
                verbose=0)
        net.fit(x, y, epochs=3, validation_data=(x[:64], y[:64]), min_new_neurons=1, verbose=0)
        if keep == 0 and policy == "carry":  # (the others leave fresh zeros after the last prune)
            assert any(is_placeholder(m[0]) for m in net.moments)
        net.engine.fetch_moments(net)
        runs[keep] = net
    plain, kept = runs[None], runs[0]
    assert kept.engine_builds >= 2 and kept.hidden_sizes == plain.hidden_sizes
    for a, b in zip(plain.get_weights(), kept.get_weights(), strict=True):
        np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    for store_a, store_b in ((plain.moments, kept.moments), (plain.velocities, kept.velocities)):
        for pair_a, pair_b in zip(store_a, store_b, strict=True):
            for a, b in zip(pair_a, pair_b, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-7)
    assert [r["val_loss"] for r in plain.history] == pytest.approx(
        [r["val_loss"] for r in kept.history], abs=1e-5)


def test_seed_results_load_from_the_repository_and_refuse_a_missing_file(tmp_path):
    from course_lib.selfscaling import compare_over_seeds, load_seed_results

    results, source = load_seed_results(check_code=False)  # the refusal: tests/test_results_files.py
    assert results["meta"]["mode"] == "full" and results["configs"]
    assert source.startswith("results/selfscaling_results.json")  # no path of this machine
    with pytest.raises(FileNotFoundError, match="jobs/slurm/selfscaling_seeds.sh"):
        load_seed_results(tmp_path / "none.json")
    with pytest.raises(ValueError, match="at least two seeds"):
        compare_over_seeds([{"test_accuracy": 0.5, "static_test_accuracy": 0.4}])
    verdict = compare_over_seeds([{"test_accuracy": a, "static_test_accuracy": 0.50}
                                  for a in (0.49, 0.52, 0.50)])
    assert not verdict["larger_than_spread"]  # the seeds disagree on the sign
