"""Data-parallel training: the local two-worker run really synchronises the workers.

Two MultiWorkerMirroredStrategy processes on 127.0.0.1 (CPU, free ports, bounded time,
killed on failure) train the MNIST CNN for a few steps through the Slurm job script run
directly; both must end with bit-identical weights, and only the chief writes results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import distributed

ROOT = Path(__file__).resolve().parents[1]


def load_weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.mark.slow
# The job's workers run on TensorFlow whatever backend runs the tests (a Slurm job, not a
# notebook), so CI runs this once, in the lock's TensorFlow stage.
@pytest.mark.backend_independent
def test_two_workers_on_localhost_end_with_identical_weights(tmp_path):
    out, verify = tmp_path / "out", tmp_path / "verify"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PBS_"))}
    result = subprocess.run(
        ["bash", "jobs/slurm/train_distributed.sh", "--fast", "--steps-per-epoch", "8",
         "--out", str(out), "--verify-dir", str(verify), "--timeout", "240"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    w0 = load_weights(verify / "weights_worker0.npz")
    w1 = load_weights(verify / "weights_worker1.npz")
    # The course CNN: 3 conv kernels, 3 BatchNorms x 4 (their moving averages included:
    # synchronized BatchNorm keeps them equal too), the dense kernel and bias.
    assert len(w0) == len(w1) == 17
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)

    # The run trained: weights moved away from the shared initialisation (built on TensorFlow,
    # like the workers', whichever backend runs these tests).
    code = ("import sys, keras, numpy as np; from course_lib import models; "
            "keras.utils.set_random_seed(0); "
            "np.savez(sys.argv[1], *models.mnist_cnn(synchronized_bn=True).get_weights())")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "init.npz")], cwd=ROOT,
                          env=dict(env, KERAS_BACKEND="tensorflow"), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    init = load_weights(tmp_path / "init.npz")
    assert any(not np.array_equal(a, b) for a, b in zip(init, w0, strict=True))

    # Only the chief wrote results; its record shows the scaled batch and learning rate.
    assert sorted(p.name for p in out.iterdir()) == ["ckpt.data-00000-of-00001", "ckpt.index",
                                                      "result.json", "weights.npz"]
    record = json.loads((out / "result.json").read_text())
    assert record["strategy"] == "MultiWorkerMirroredStrategy"
    assert record["task"] == "worker0" and record["chief"] is True
    assert record["replicas"] == 2
    assert record["global_batch"] == 2 * record["per_replica_batch"] == 128
    assert record["learning_rate"] == pytest.approx(2 * 0.01)
    assert record["steps"] == 8
    assert record["weights_sha256"] == distributed.weights_digest(w0)
    for a, b in zip(w0, load_weights(out / "weights.npz")):
        np.testing.assert_array_equal(a, b)


def test_local_launcher_stops_all_workers_when_one_fails():
    # Worker 1 exits at once with an error; worker 0 would sleep for a minute.
    code = "import json, os, sys, time\n" \
           "i = json.loads(os.environ['TF_CONFIG'])['task']['index']\n" \
           "sys.exit(3) if i == 1 else time.sleep(60)"
    with pytest.raises(RuntimeError, match="worker 1 exited with code 3"):
        distributed.launch_local_workers(2, [sys.executable, "-c", code], timeout=30)


def test_local_launcher_enforces_its_timeout():
    with pytest.raises(RuntimeError, match="did not finish within 2 s"):
        distributed.launch_local_workers(2, [sys.executable, "-c", "import time; time.sleep(60)"], timeout=2)


def test_workers_start_again_on_fresh_ports_when_a_port_was_taken(tmp_path):
    # Worker 0's first start fails as TensorFlow does when another program took its port
    # between picking and listening; the second start, on other ports, succeeds.
    code = "import json, os, pathlib, sys\n" \
           "config = json.loads(os.environ['TF_CONFIG'])\n" \
           "index = config['task']['index']\n" \
           "port = config['cluster']['worker'][index].split(':')[1]\n" \
           f"folder = pathlib.Path({str(tmp_path)!r})\n" \
           "first = not list(folder.glob(f'{index}-*'))\n" \
           "(folder / f'{index}-{port}').touch()\n" \
           f"sys.exit(print({distributed.PORT_TAKEN_MESSAGE!r}) or 1) if first and index == 0 else print('ok')"
    with pytest.warns(RuntimeWarning, match="starting all 2 workers again on fresh ports"):
        runs = distributed.launch_local_workers(2, [sys.executable, "-c", code], timeout=30)
    assert [r.output.strip() for r in runs] == ["ok", "ok"]
    worker0_ports = [m.name for m in tmp_path.glob("0-*")]
    assert len(worker0_ports) == 2, "worker 0 was started twice, on two different ports"


def test_workers_are_not_restarted_for_other_failures_or_forever():
    taken = f"import sys; print({distributed.PORT_TAKEN_MESSAGE!r}); sys.exit(1)"
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="tried 2 times with fresh ports"):
        distributed.launch_local_workers(2, [sys.executable, "-c", taken], timeout=30, tries=2)
    with pytest.raises(ValueError, match="tries must be at least 1, got 0"):
        distributed.launch_local_workers(2, [sys.executable, "-c", "pass"], tries=0)


def test_free_ports_are_below_the_range_the_system_hands_out():
    ports = distributed.free_ports(8)
    low, high = distributed.PORT_RANGE
    assert len(set(ports)) == 8 and all(low <= p < high for p in ports)
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if ephemeral.exists():  # Linux: the range "bind to port 0" and outgoing connections use
        first = int(ephemeral.read_text().split()[0])
        assert high <= first, f"PORT_RANGE overlaps this system's ephemeral ports from {first}"


def test_workers_get_loopback_addresses_and_their_own_index():
    code = "import os; print(os.environ['TF_CONFIG'])"
    runs = distributed.launch_local_workers(2, [sys.executable, "-c", code], timeout=30)
    configs = [json.loads(r.output) for r in runs]
    hosts = configs[0]["cluster"]["worker"]
    assert all(h.startswith("127.0.0.1:") for h in hosts) and len(set(hosts)) == 2
    assert [c["task"]["index"] for c in configs] == [0, 1]
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)


def test_slurm_environment_resolves_to_a_cluster(monkeypatch):
    # What srun sets for task 1 of a 2-node, 1-task-per-node step.
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "node[07-08]")
    monkeypatch.setenv("SLURM_STEP_TASKS_PER_NODE", "1(x2)")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    resolver = distributed.slurm_resolver(port_base=12345)
    assert resolver.cluster_spec().as_dict() == {"worker": ["node07:12345", "node08:12345"]}
    assert resolver.get_task_info() == ("worker", 1)
    assert not distributed.chief_of("worker", 1, resolver.cluster_spec().as_dict())


# tf.distribute is TensorFlow's API: with Keras on another backend, make_strategy refuses to
# start (tested below); its behaviour on TensorFlow is tested in the TensorFlow run.
needs_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute needs Keras on TensorFlow (run with KERAS_BACKEND=tensorflow)")


@needs_tensorflow
def test_default_strategy_is_one_replica_named_default():
    strategy = distributed.make_strategy("default")
    assert strategy.num_replicas_in_sync == 1
    assert distributed.strategy_name(strategy) == "default"


@needs_tensorflow
def test_strategy_errors_name_the_fix(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    with pytest.raises(ValueError, match="unknown"):
        distributed.make_strategy("horovod")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distributed.make_strategy("multiworker")
    with pytest.raises(ValueError, match="srun"):
        distributed.make_strategy("slurm")


def test_scale_for_replicas_refuses_zero_replicas():
    with pytest.raises(ValueError, match="replicas"):
        distributed.scale_for_replicas(64, 0.01, 0)


def test_tf_distribute_says_it_needs_the_tensorflow_backend(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
        distributed.make_strategy("default")
