"""The NVML probe against fakes of the bindings: every field guarded on its own."""

from __future__ import annotations

import sys

import pytest

from tests.fakes.fake_nvml import FakeNVML
from torchdoctor.model import NvmlFacts, Unavailable
from torchdoctor.probes import nvml as nvml_probe


def test_reads_every_gpu_field() -> None:
    fake = FakeNVML(
        {
            "driver": "550.54.15",
            "cuda": 12040,
            "gpus": [
                {"throttle": 0x40 | 0x1, "processes": [[4242, 2 * 1024**3]], "compute_mode": 3},
                {"name": "NVIDIA H100 80GB HBM3", "cc": [9, 0], "mig": [1, 1], "mig_uuids": ["MIG-abc"]},
            ],
        }
    )
    facts = nvml_probe.collect(fake)
    assert isinstance(facts, NvmlFacts)
    assert (facts.driver_version, facts.cuda_driver_version) == ("550.54.15", "12.4")
    first, second = facts.gpus
    assert first.compute_capability == "8.0"
    assert first.pci_bus_id == "00000000:01:00.0"
    assert first.throttle_reasons == ("gpu_idle", "hw_thermal_slowdown")
    assert first.compute_mode == "exclusive_process"
    assert [p.pid for p in first.processes] == [4242]  # type: ignore[union-attr]
    assert first.memory_total == 85899345920 and first.power_limit_w == 400.0
    assert second.mig_enabled is True and second.mig_uuids == ("MIG-abc",)
    assert fake.initialised is False, "nvmlShutdown must be called"


def test_not_supported_is_a_fact_not_an_error() -> None:
    facts = nvml_probe.collect(FakeNVML({"gpus": [{"not_supported": ["ecc", "remap", "temperature"]}]}))
    assert isinstance(facts, NvmlFacts)
    gpu = facts.gpus[0]
    assert isinstance(gpu.ecc_enabled, Unavailable) and gpu.ecc_enabled.not_supported
    assert isinstance(gpu.remap_pending, Unavailable) and gpu.remap_pending.not_supported
    assert str(gpu.temperature_c) == "not supported"
    assert gpu.name == "NVIDIA A100-SXM4-80GB", "other fields are still read"


def test_library_missing() -> None:
    facts = nvml_probe.collect(FakeNVML({"init_error": 12}))
    assert isinstance(facts, Unavailable)
    assert facts.code == "LibraryNotFound"
    assert "nvmlInit" in facts.reason


def test_driver_library_mismatch_is_named() -> None:
    facts = nvml_probe.collect(FakeNVML({"init_error": 18}))
    assert isinstance(facts, Unavailable) and facts.code == "LibRmVersionMismatch"


def test_every_device_query_raising_still_gives_gpus() -> None:
    facts = nvml_probe.collect(FakeNVML({"gpus": [{"error": 999}, {"error": 999}]}))
    assert isinstance(facts, NvmlFacts)
    assert len(facts.gpus) == 2
    for gpu in facts.gpus:
        assert isinstance(gpu.name, Unavailable) and gpu.name.code == "Unknown"
        assert isinstance(gpu.ecc_uncorrected_volatile, Unavailable)


def test_bindings_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    facts = nvml_probe.probe_nvml_here()
    assert isinstance(facts, Unavailable)
    assert facts.code == "NoBindings" and "nvidia-ml-py" in facts.reason


def test_real_bindings_on_this_machine() -> None:
    """Through the real child and the real bindings: GPUs where there is a driver, else a named reason."""
    facts = nvml_probe.probe_nvml(timeout=20)
    if isinstance(facts, Unavailable):
        assert facts.code in {"LibraryNotFound", "DriverNotLoaded", "NoBindings", "NoPermission"}, facts
        assert facts.reason.startswith(("nvmlInit failed", "the NVML bindings"))
    else:
        assert isinstance(facts.driver_version, str) and facts.gpus
