"""CUDA's initialisation errors 803/804 (TD004), read from the driver's versions, not from the message alone.

A reboot is the fix only where the kernel module still runs an older driver than the user-space one installed (both
read, and different); where they agree, or cannot both be read, the user-space CUDA driver does not fit the running
driver (804: a forward-compatibility libcuda on a GPU without forward compatibility) and only a driver that runs
this CUDA helps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests import factories as f
from torchdoctor.checks.base import REGISTRY, run_checks
from torchdoctor.model import Facts, Unavailable
from torchdoctor.rules import cudaerrors

E804 = (
    "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
    "NumCudaDevices() that might have already set an error? Error 804: forward compatibility was attempted on non "
    "supported HW"
)
E803 = (
    "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
    "NumCudaDevices() that might have already set an error? Error 803: system has unsupported display driver / cuda "
    "driver combination"
)


def fired(code: str, facts: Facts) -> tuple[Any, ...]:
    out = run_checks(facts, [REGISTRY[code]])[0]
    assert "internal error" not in out.reason, out.reason
    return out.findings


def failing(error: str, user: str = "525.147.05", module: str = "525.147.05") -> Facts:
    """A CUDA torch whose initialisation failed with ``error``; NVML's driver ``user``, the kernel module ``module``
    ("" for one that could not be read)."""
    nvml: Any = f.nvml(driver=user, cuda="12.0") if user else Unavailable("NVML", "not readable", "LibraryNotFound")
    kernel = f.kernel(module_version=module or Unavailable("/proc", "not readable", "not_found"))
    torch = f.runtime(cuda_available=False, device_count=0, devices=(), cuda_error=error, warnings=(error,))
    return replace(f.facts(), nvml=nvml, kernel=kernel, torch=torch)


def test_the_error_number_is_read_from_each_form_torch_prints() -> None:
    assert cudaerrors.code(E804) == cudaerrors.COMPAT_NOT_SUPPORTED
    assert cudaerrors.code("cuda runtime error (802) : system not yet initialized at x.cpp:50") == 802
    assert cudaerrors.code("THCudaCheck FAIL file=x.cpp line=50 error=802 : system not yet initialized") == 802
    assert cudaerrors.code("CUDA error: out of memory") is None


def test_804_with_the_driver_and_module_agreeing_asks_for_a_newer_driver_not_a_reboot() -> None:
    (finding,) = fired("TD004", failing(E804))
    assert "forward compatibility" in finding.title and "older than the CUDA in use" in finding.title
    assert "reboot alone does not help" in finding.fix and "Install a current NVIDIA driver" in finding.fix
    assert "CUDA 12.4" in finding.fix  # this torch's CUDA, the least the new driver must run
    assert finding.fix_command != "sudo reboot"


def test_803_where_the_versions_cannot_be_read_does_not_claim_a_pending_reboot() -> None:
    (finding,) = fired("TD004", failing(E803, user="", module=""))
    assert "does not fit the running NVIDIA driver (error 803)" in finding.title
    assert "Nothing here shows a newer driver installed but not yet loaded" in finding.fix
    assert finding.fix_command == ""


def test_a_module_older_than_the_installed_driver_is_still_a_reboot() -> None:
    (finding,) = fired("TD004", failing(E803, user="550.54.15", module="535.104.05"))
    assert "driver update without a reboot" in finding.title
    assert finding.fix_command == "sudo reboot"
    assert [e.value for e in finding.evidence if e.label in ("user-space driver", "kernel module")] == [
        "550.54.15",
        "535.104.05",
    ]


def test_a_healthy_cuda_torch_is_quiet() -> None:
    healthy = replace(failing(E804), torch=f.runtime())
    assert fired("TD004", healthy) == ()


E802 = (
    "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
    "NumCudaDevices() that might have already set an error? Error 802: system not yet initialized"
)


def test_802_names_the_fabric_manager_at_the_drivers_version() -> None:
    (finding,) = fired("TD004", failing(E802, user="535.183.01", module="535.183.01"))
    assert "error 802" in finding.title and "fabric manager" in finding.title
    assert "nvidia-fabricmanager of the driver's exact version 535.183.01" in finding.fix
    assert finding.fix_command == "sudo systemctl enable --now nvidia-fabricmanager"


def test_another_initialisation_error_does_not_mention_the_fabric_manager() -> None:
    other = "CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up environment (Error 999)"
    (finding,) = fired("TD004", failing(other))
    assert "fabric" not in f"{finding.title} {finding.fix}"
