"""CUDA for real: run with `pytest -m gpu` on a machine with an NVIDIA GPU (scripts/gpu-check.sh)."""

from __future__ import annotations

import sys

import pytest

from torchdoctor.model import NvmlFacts, StepStatus, TorchRuntime
from torchdoctor.probes.nvml import probe_nvml
from torchdoctor.smoke.runner import SmokeOptions, SmokeSession

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU host)"),
]


def test_nvml_sees_the_gpus_torch_sees() -> None:
    nvml = probe_nvml(timeout=30)
    assert isinstance(nvml, NvmlFacts), nvml
    assert len(nvml.gpus) >= torch.cuda.device_count()
    names = {str(g.name) for g in nvml.gpus}
    assert torch.cuda.get_device_name(0) in names
    gpu = nvml.gpus[0]
    assert gpu.compute_capability == "{}.{}".format(*torch.cuda.get_device_capability(0))
    assert isinstance(gpu.memory_total, int) and gpu.memory_total > 0


def test_cuda_smoke_passes_every_step() -> None:
    with SmokeSession(sys.executable, SmokeOptions("cuda", timeout=300)) as session:
        state = session.torch_with_cpu_smoke(timeout=120)
        assert isinstance(state, TorchRuntime) and state.cuda_available
        devices = session.other_devices(state)
    assert [d.device for d in devices] == [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    for device in devices:
        assert not device.died, device.died
        steps = {s.name: s for s in device.steps}
        failed = {n: s.error for n, s in steps.items() if s.status is StepStatus.FAILED}
        assert failed == {}
        assert steps["amp"].status is StepStatus.PASSED, steps["amp"]
        assert "pin_memory" in steps["data"].detail


def test_torch_facts_report_the_devices() -> None:
    from torchdoctor.probes.torch import probe_torch

    facts, _ = probe_torch(sys.executable, timeout=120)
    assert isinstance(facts, TorchRuntime)
    assert facts.device_count == torch.cuda.device_count()
    assert facts.arch_list and any(lib.name == "cudart" or lib.name == "cuda driver" for lib in facts.loaded_libraries)
