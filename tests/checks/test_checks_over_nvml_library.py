"""Every check that reads NVML, firing and quiet on facts read through the real bindings.

The NVML facts come from the real probe child, the real ``pynvml`` and the fake libnvidia-ml.so.1
playing a driver branch; the other facts come from the factories.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests import factories as f
from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine
from torchdoctor.checks import find
from torchdoctor.checks.base import run_checks
from torchdoctor.model import CheckStatus, Facts
from torchdoctor.probes.nvml import probe_nvml

CU124 = f.runtime(version="2.5.1+cu124", cuda="12.4")
RTX3090 = {"name": "NVIDIA GeForce RTX 3090", "cc": "8.6"}
RTX5090 = {"name": "NVIDIA GeForce RTX 5090", "cc": "12.0"}
NO_GPU_KERNEL = f.no_gpu().kernel

# slug: ((machine, other facts) where it fires, (machine, other facts) where it stays quiet)
Case = tuple[Machine, dict[str, Any]]
CASES: dict[str, tuple[Case, Case]] = {
    "gpu-ecc-errors": ((Machine(gpus=[{"remap": "0 0 1 0"}]), {}), (Machine(), {})),
    "gpu-pcie-degraded": ((Machine(gpus=[{"pcie": "4 4 8 16"}]), {}), (Machine(), {})),
    "gpu-throttled": ((Machine(gpus=[{"clocks_event": "0x40"}]), {}), (Machine("R470"), {})),
    "gpu-compute-mode": ((Machine(gpus=[{"compute_mode": 2}]), {}), (Machine(), {})),
    "mig-enabled": ((Machine(gpus=[{"mig": "1 1", "mig_uuids": "MIG-aaaa"}]), {}), (Machine(), {})),
    "cuda-device-order": ((Machine(gpus=[{}, RTX3090]), {}), (Machine(gpus=[{}, {"lost": 1}]), {})),
    "gpu-lost": ((Machine(gpus=[{}, {"handle_error": 15}]), {}), (Machine(gpus=[{}, {}]), {})),
    "nvml-unresponsive": ((Machine(system={"init_hang": 1}), {}), (Machine(), {})),
    "gpu-unresponsive": ((Machine(gpus=[{}, {"hang.power": 1}]), {}), (Machine(gpus=[{}, {}]), {})),
    "nvml-unusable": ((Machine(system={"init_error": 4}), {}), (Machine(), {})),
    "nvml-driver-mismatch": ((Machine(system={"init_error": 18}), {}), (Machine(), {})),
    "nvidia-driver-not-loaded": ((Machine(system={"init_error": 9}), {}), (Machine(), {})),
    "driver-too-old": ((Machine("R470"), {"torch": CU124}), (Machine("R550"), {"torch": CU124})),
    "gpu-arch-unsupported": ((Machine(gpus=[RTX5090]), {"torch": CU124}), (Machine(gpus=[RTX3090]), {"torch": CU124})),
    "torch-cpu-only-build": (
        (Machine("R470", [RTX3090]), {"torch": f.cpu_runtime()}),
        (Machine(system={"init_error": 12}), {"torch": f.cpu_runtime(), "kernel": NO_GPU_KERNEL}),
    ),
    "cuda-visible-devices": (
        (Machine(), {"env": f.env(CUDA_VISIBLE_DEVICES="GPU-deadbeef")}),
        (Machine(), {"env": f.env(CUDA_VISIBLE_DEVICES="GPU-00000000")}),  # a prefix of GPU 0's UUID
    ),
}


def facts_on(
    machine: Machine,
    others: dict[str, Any],
    lib: FakeNvmlLibrary,
    where: Path,
    mp: pytest.MonkeyPatch,
    timeout: float = 3,
) -> Facts:
    """The facts with NVML read through the real child, which may take ``timeout`` seconds (a hung fake driver
    takes all of them; a healthy one answers at once, however loaded the machine)."""
    for key, value in lib.env(machine, where).items():
        mp.setenv(key, value)
    return replace(f.facts(**others), nvml=probe_nvml(timeout, field_timeout=1.0))


@pytest.mark.parametrize("slug", sorted(CASES))
def test_fires_through_the_real_bindings(slug: str, nvml_lib, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chk = find(slug)
    assert chk is not None
    (outcome,) = run_checks(facts_on(*CASES[slug][0], nvml_lib, tmp_path, monkeypatch), [chk])
    assert outcome.status is CheckStatus.FIRED, outcome


@pytest.mark.parametrize("slug", sorted(CASES))
def test_quiet_through_the_real_bindings(slug: str, nvml_lib, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chk = find(slug)
    assert chk is not None
    # A healthy machine: a long bound, so a loaded test machine cannot pass for an unresponsive driver.
    (outcome,) = run_checks(facts_on(*CASES[slug][1], nvml_lib, tmp_path, monkeypatch, timeout=30), [chk])
    assert outcome.status is CheckStatus.PASSED, outcome
