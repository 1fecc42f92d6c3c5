"""The NVML probe through the real bindings (``import pynvml``) over a fake libnvidia-ml.so.1.

Each driver branch is modelled by the entry points its library exports (tests/fakes/nvml_lib.py
says when each appeared), so these tests catch what a fake ``pynvml`` module cannot: the
bindings' own exception types and the versioned calls an old driver lacks.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakes.nvml_lib import BRANCHES, INTRODUCED, FakeNvmlLibrary, Machine
from torchdoctor.model import NOT_SUPPORTED, NvmlFacts, Unavailable
from torchdoctor.probes import nvml as nvml_probe
from torchdoctor.probes import probe_driver

RTX3090 = {"name": "NVIDIA GeForce RTX 3090", "cc": "8.6", "memory": f"{24 * 1024**3} {1024**3}"}


@pytest.fixture
def machine(nvml_lib: FakeNvmlLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point this process's children at the fake library playing ``Machine``; returns the trace file."""

    def use(m: Machine) -> Path:
        for key, value in nvml_lib.env(m, tmp_path).items():
            monkeypatch.setenv(key, value)
        trace = tmp_path / "trace"
        trace.unlink(missing_ok=True)
        monkeypatch.setenv("FAKE_NVML_TRACE", str(trace))
        return trace

    return use


def probe(timeout: float = 10, field_timeout: float = 1.0) -> NvmlFacts | Unavailable:
    return nvml_probe.probe_nvml(timeout, field_timeout)


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_each_branch_exports_only_what_its_header_declared(nvml_lib: FakeNvmlLibrary, branch: str) -> None:
    exported = nvml_lib.exported(branch)
    number = BRANCHES[branch].number
    for symbol, first in INTRODUCED.items():
        assert (symbol in exported) == (first <= number), (branch, symbol)
    assert {"nvmlInitWithFlags", "nvmlDeviceGetCount_v2", "nvmlDeviceGetComputeRunningProcesses"} <= exported


SERVED_BY = {  # which entry point gives the processes and the clock reasons on each branch
    "R450": ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    "R470": ("nvmlDeviceGetComputeRunningProcesses_v2", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    "R535": ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetCurrentClocksEventReasons"),
    "R550": ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetCurrentClocksEventReasons"),
    "R580": ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetCurrentClocksEventReasons"),
}


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_every_field_is_read_on_every_branch(machine, branch: str) -> None:
    gpu = dict(RTX3090, processes="4242:1073741824 77:2048", clocks_event="0x41")
    trace = machine(Machine(branch, [gpu, {}]))
    facts = probe()
    assert isinstance(facts, NvmlFacts), facts
    assert facts.driver_version == BRANCHES[branch].driver
    assert facts.cuda_driver_version == f"{BRANCHES[branch].cuda // 1000}.{BRANCHES[branch].cuda % 1000 // 10}"
    assert facts.gpu_count == 2 and len(facts.gpus) == 2
    first = facts.gpus[0]
    assert (first.name, first.compute_capability, first.memory_total) == (
        "NVIDIA GeForce RTX 3090",
        "8.6",
        24 * 1024**3,
    )
    assert [(p.pid, p.used_memory) for p in first.processes] == [(4242, 1024**3), (77, 2048)]  # type: ignore[union-attr]
    assert first.throttle_reasons == ("gpu_idle", "hw_thermal_slowdown")
    unread = {k: v for k, v in vars(first).items() if isinstance(v, Unavailable)}
    assert not unread, unread
    called = trace.read_text().split()
    processes, clocks = SERVED_BY[branch]
    assert processes in called and clocks in called


def test_the_bindings_own_mismatch_error_falls_back_instead_of_losing_every_fact() -> None:
    """pynvml's unversioned wrapper raises NVMLLibraryMismatchError (a plain Exception) on an old driver."""
    import pynvml

    def unversioned() -> list[int]:
        raise pynvml.NVMLLibraryMismatchError("Unversioned function called and the pyNVML version does not match")

    read = nvml_probe.Reader(pynvml, timeout=1)
    assert read.first("processes", [("unversioned", unversioned), ("older", lambda: [1])]) == [1]
    only = read.first("processes", [("unversioned", unversioned)])
    assert isinstance(only, Unavailable) and only.code == "FunctionNotFound"
    assert isinstance(read(lambda: 1 / 0, "temperature_c"), Unavailable), "any exception costs one field"


@pytest.mark.parametrize(
    ("code", "name"), [(9, "DriverNotLoaded"), (18, "LibRmVersionMismatch"), (4, "NoPermission"), (999, "Unknown")]
)
def test_init_failures_are_named(machine, code: int, name: str) -> None:
    machine(Machine("R550", system={"init_error": code}))
    facts = probe()
    assert isinstance(facts, Unavailable)
    assert facts.code == name and facts.reason.startswith("nvmlInit failed")


def test_one_gpu_of_eight_lost_mid_enumeration(machine) -> None:
    gpus: list[dict[str, object]] = [{} for _ in range(8)]
    gpus[3] = {"handle_error": 15}
    gpus[5] = {"lost": 1}
    machine(Machine("R550", gpus))
    facts = probe()
    assert isinstance(facts, NvmlFacts) and len(facts.gpus) == 8
    for index in (3, 5):
        lost = facts.gpus[index]
        assert isinstance(lost.name, Unavailable) and lost.name.code == "GpuIsLost"
    healthy = [g for g in facts.gpus if g.index not in (3, 5)]
    assert all(g.name == "NVIDIA A100-SXM4-80GB" for g in healthy)


def test_a_hanging_field_costs_that_gpu_only_and_the_time_is_bounded(machine) -> None:
    gpus: list[dict[str, object]] = [{}, {"hang.temperature": 1}, {}]
    machine(Machine("R550", gpus))
    started = time.monotonic()
    facts = probe(timeout=10, field_timeout=1.0)
    assert time.monotonic() - started < 6
    assert isinstance(facts, NvmlFacts)
    hung = facts.gpus[1]
    assert hung.name == "NVIDIA A100-SXM4-80GB", "fields before the hang are kept"
    assert isinstance(hung.temperature_c, Unavailable) and hung.temperature_c.code == "timeout"
    assert isinstance(hung.power_draw_w, Unavailable) and hung.power_draw_w.code == "not_read"
    assert facts.gpus[0].temperature_c == 33 and facts.gpus[2].temperature_c == 33


def test_not_supported_fields_on_a_consumer_card(machine) -> None:
    card = dict(RTX3090, **{"fail.ecc_mode": 3, "fail.remap": 3, "fail.ecc_errors": 3, "fail.processes": 3})
    machine(Machine("R535", [card]))
    facts = probe()
    assert isinstance(facts, NvmlFacts)
    gpu = facts.gpus[0]
    assert gpu.ecc_enabled == NOT_SUPPORTED and gpu.remap_pending == NOT_SUPPORTED
    assert gpu.processes == NOT_SUPPORTED and gpu.temperature_c == 33


def test_count_failing_keeps_the_driver_version(machine) -> None:
    machine(Machine("R550", system={"count_error": 999}))
    facts = probe()
    assert isinstance(facts, NvmlFacts)
    assert facts.driver_version == "550.54.15" and facts.gpus == ()
    assert isinstance(facts.gpu_count, Unavailable) and facts.gpu_count.code == "Unknown"


def test_a_hanging_init_is_a_timeout_within_the_bound(machine) -> None:
    machine(Machine("R550", system={"init_hang": 1}))
    started = time.monotonic()
    facts = probe(timeout=3)
    assert time.monotonic() - started < 8
    assert isinstance(facts, Unavailable) and facts.code == "timeout"
    assert "did not" in facts.reason


def test_nvidia_smi_is_asked_when_nvml_cannot_tell(machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(Machine("R550", system={"init_error": 999}))
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho '0, 550.54.15, NVIDIA GeForce RTX 4090, GPU-abc, 00000000:01:00.0, 24564, 8.9'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:/usr/bin:/bin")
    nvml, found = probe_driver(10)
    assert isinstance(nvml, Unavailable) and nvml.code == "Unknown"
    assert not isinstance(found, Unavailable), found
    assert found.driver_version == "550.54.15"
    assert [(g.name, g.compute_capability) for g in found.gpus] == [("NVIDIA GeForce RTX 4090", "8.9")]


def test_a_crash_keeps_what_was_read_before_it(machine) -> None:
    machine(Machine("R550", [{}, {"crash.processes": 600}]))
    facts = probe(timeout=10)
    assert isinstance(facts, NvmlFacts), facts
    assert facts.driver_version == "550.54.15" and len(facts.gpus) == 2
    assert facts.gpus[0].name == "NVIDIA A100-SXM4-80GB" and facts.gpus[0].processes == ()
    crashed = facts.gpus[1]
    assert isinstance(crashed.name, Unavailable) and crashed.name.code == "crash"
    assert "SIGSEGV" in crashed.name.reason


def test_the_pci_device_id_is_read_as_pci_ids_writes_it(machine) -> None:
    h200_nvl = {"name": "NVIDIA H200 NVL", "cc": "9.0", "pci_device_id": "0x233b10de"}
    machine(Machine("R580", [h200_nvl, dict(h200_nvl, **{"fail.pci": 3})]))
    facts = probe()
    assert isinstance(facts, NvmlFacts)
    assert facts.gpus[0].pci_device_id == "10de:233b"
    assert facts.gpus[1].pci_device_id == NOT_SUPPORTED  # guarded on its own, like the bus id
