"""The machine probes (course_lib.environment) and the device list (course_lib.devices)."""

from __future__ import annotations

import subprocess

import keras
import pytest

from course_lib import devices, environment


def test_nvidia_smi_is_none_without_the_command(monkeypatch):
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    assert environment.nvidia_smi() is None
    assert environment.gpu_names() == []
    assert environment.visible_gpu_count({}) == 0


def test_nvidia_smi_passes_its_arguments_and_times_out(monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append((cmd, kw["timeout"]))
        return subprocess.CompletedProcess(cmd, 0, stdout="NVIDIA H200\nNVIDIA H200\n", stderr="")

    monkeypatch.setattr(environment.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(environment.subprocess, "run", fake_run)
    assert environment.gpu_names() == ["NVIDIA H200", "NVIDIA H200"]
    assert calls[0][0] == ["/usr/bin/nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
    assert calls[0][1] > 0
    assert environment.visible_gpu_count({}) == 2
    assert environment.visible_gpu_count({"CUDA_VISIBLE_DEVICES": "1"}) == 1


def test_nvidia_smi_failure_or_hang_gives_none(monkeypatch):
    def hang(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, kw["timeout"])

    monkeypatch.setattr(environment.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(environment.subprocess, "run", hang)
    assert environment.nvidia_smi() is None
    monkeypatch.setattr(environment.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 9, "", "driver mismatch"))
    assert environment.nvidia_smi() is None


def test_cpu_description_counts_usable_cores():
    assert f"{environment.cpu_cores()} cores" in environment.cpu_description()


def test_installed_backends_report_the_running_one():
    found = environment.installed_backends()
    assert set(found) == {"tensorflow", "jax", "torch"}
    running = keras.backend.backend()
    assert found[running] == environment.backend_version() != "unknown"
    assert f"backend: {running}" in environment.versions()


def test_check_device_accepts_keras_and_tensorflow_spellings():
    assert devices.check_device("cpu:0") == "cpu:0"
    assert devices.check_device("/CPU:0") == "cpu:0"
    with pytest.raises(ValueError, match=r"device 'gpu:7' not found; this machine has \['cpu:0'"):
        devices.check_device("gpu:7")


def test_hardware_summary_names_the_backend():
    summary = devices.hardware_summary()
    assert summary.startswith("CPU: ")
    assert f"on {keras.backend.backend()} " in summary


def test_place_builds_layers_with_integer_state_on_the_cpu():
    # Dropout's seed is an integer variable: on PyTorch, keras.device("cpu:0") breaks it
    with devices.place("cpu:0"):
        layer = keras.layers.Dropout(0.5)
        out = layer(keras.ops.ones((4, 8)), training=True)
    assert keras.ops.convert_to_numpy(out).shape == (4, 8)
    with pytest.raises(ValueError, match="not found"):
        devices.place("gpu:7")
