"""Odd facts are "could not check", never a crash: a compute capability that is empty or not major.minor."""

from __future__ import annotations

import pytest

from tests import factories as f
from torchdoctor.checks import all_checks, find
from torchdoctor.checks.base import run_checks
from torchdoctor.model import CheckStatus, Facts, TorchDevice

NO_KERNEL = "CUDA error: no kernel image is available for execution on the device"


def _outcome(slug: str, facts: Facts):  # type: ignore[no-untyped-def]
    check = find(slug)
    assert check is not None
    (outcome,) = run_checks(facts, [check])
    return outcome


def _torch_device_without_capability(capability: str) -> Facts:
    device = TorchDevice(0, "NVIDIA GeForce RTX 5090", capability, 32 * 1024**3)
    return f.facts(
        nvml=f.nvml(f.gpu(compute_capability=capability)),
        torch=f.runtime(devices=(device,), arch_list=("sm_80", "sm_90")),
    )


@pytest.mark.parametrize("capability", ["", "12", "sm_120", "?.?"])
def test_gpu_arch_check_cannot_check_an_odd_capability(capability: str) -> None:
    outcome = _outcome("gpu-arch-unsupported", _torch_device_without_capability(capability))
    assert outcome.status is CheckStatus.SKIPPED
    assert "could not check" in outcome.reason and repr(capability) in outcome.reason


@pytest.mark.parametrize("capability", ["", "12"])
def test_no_kernel_image_check_cannot_check_an_odd_capability(capability: str) -> None:
    facts = _torch_device_without_capability(capability)
    facts = f.facts(
        nvml=facts.nvml,
        torch=facts.torch,
        smoke=f.smoke_failure("cuda:0", "tensors", NO_KERNEL),
    )
    outcome = _outcome("smoke-no-kernel-image", facts)
    assert outcome.status is CheckStatus.SKIPPED
    assert "could not check" in outcome.reason


def test_no_check_dies_of_an_empty_capability() -> None:
    facts = _torch_device_without_capability("")
    outcomes = run_checks(facts, all_checks())
    assert [o.reason for o in outcomes if "internal error" in o.reason] == []


def test_a_readable_capability_is_still_judged() -> None:
    outcome = _outcome("gpu-arch-unsupported", _torch_device_without_capability("12.0"))
    assert outcome.status is CheckStatus.FIRED
