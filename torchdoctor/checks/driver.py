"""The NVIDIA kernel module and user-space driver."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev, nvidia_gpu_evidence
from torchdoctor.model import (
    EnvFacts,
    Facts,
    HostFacts,
    KernelFacts,
    NvmlFacts,
    PackagesFacts,
    Severity,
    Source,
    TorchRuntime,
    Unavailable,
)

NOT_LOADED = {"DriverNotLoaded", "LibraryNotFound"}


@check(
    "TD005",
    "nvidia-driver-not-loaded",
    "an NVIDIA GPU is present but the driver is not loaded",
    Severity.ERROR,
    Area.DRIVER,
    "The PCI bus shows an NVIDIA GPU, but the nvidia kernel module is not running, so no CUDA program "
    "(torch included) can use it.",
    requires=("kernel",),
)
def nvidia_driver_not_loaded(facts: Facts) -> Iterator[Fire]:
    kernel = facts.kernel
    assert isinstance(kernel, KernelFacts)
    if not isinstance(kernel.pci_gpus, tuple) or not kernel.pci_gpus:
        return
    nvml = facts.nvml
    nvml_down = isinstance(nvml, Unavailable) and nvml.code in NOT_LOADED
    if not (kernel.nvidia_loaded is False or nvml_down):
        return
    evidence = [
        ev(Source.PROCFS, "NVIDIA GPU", f"{d.bus_id} (driver bound: {d.driver or 'none'})") for d in kernel.pci_gpus
    ]
    evidence.append(ev(Source.PROCFS, "nvidia module loaded", kernel.nvidia_loaded))
    if isinstance(nvml, Unavailable):
        evidence.append(ev(Source.NVML, "NVML", nvml.reason))
    if kernel.nouveau_loaded is True:
        fix = (
            "The open-source nouveau driver holds the GPU. Blacklist it, rebuild the initramfs, reboot, "
            "then install the NVIDIA driver."
        )
        command = (
            "echo 'blacklist nouveau' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf && "
            "sudo update-initramfs -u && sudo reboot"
        )
    else:
        fix = (
            "Install the NVIDIA driver (on Ubuntu: `sudo ubuntu-drivers install`), or load it with "
            "`sudo modprobe nvidia`. With Secure Boot on, the module must be signed (enroll the MOK) or it "
            "will not load."
        )
        command = "sudo modprobe nvidia"
    yield Fire(tuple(evidence), fix, command)


@check(
    "TD006",
    "nvml-driver-mismatch",
    "the driver library and the kernel module differ",
    Severity.ERROR,
    Area.DRIVER,
    "After a driver update without a reboot, the user-space driver (libnvidia-ml, libcuda) no longer "
    "matches the running kernel module: NVML says 'Driver/library version mismatch' and CUDA fails.",
    requires=("kernel",),
)
def nvml_driver_mismatch(facts: Facts) -> Iterator[Fire]:
    kernel = facts.kernel
    assert isinstance(kernel, KernelFacts)
    nvml = facts.nvml
    module = kernel.module_version
    if isinstance(nvml, Unavailable) and nvml.code == "LibRmVersionMismatch":
        evidence = [ev(Source.NVML, "NVML", nvml.reason)]
    elif (
        isinstance(nvml, NvmlFacts)
        and isinstance(nvml.driver_version, str)
        and isinstance(module, str)
        and nvml.driver_version != module
    ):
        evidence = [ev(Source.NVML, "user-space driver", nvml.driver_version)]
    else:
        return
    if isinstance(module, str):
        evidence.append(ev(Source.PROCFS, "kernel module", module))
    yield Fire(
        tuple(evidence),
        "Reboot (or unload and reload the nvidia modules). Inside a container, do not "
        "install a driver in the image: the host's driver is mounted in.",
        "sudo reboot",
    )


@check(
    "TD007",
    "nouveau-loaded",
    "the nouveau driver is loaded",
    Severity.ERROR,
    Area.DRIVER,
    "nouveau (the open-source driver) cannot run CUDA and keeps the NVIDIA driver from binding the GPU.",
    requires=("kernel",),
)
def nouveau_loaded(facts: Facts) -> Iterator[Fire]:
    kernel = facts.kernel
    assert isinstance(kernel, KernelFacts)
    if kernel.nouveau_loaded is not True:
        return
    evidence = [ev(Source.PROCFS, "/proc/modules", "nouveau")]
    pci = kernel.pci_gpus if isinstance(kernel.pci_gpus, tuple) else ()
    evidence += [ev(Source.PROCFS, "bound to", f"{d.bus_id}: {d.driver}") for d in pci if d.driver == "nouveau"]
    yield Fire(
        tuple(evidence),
        "Blacklist nouveau, rebuild the initramfs and reboot, then install the NVIDIA driver.",
        "echo 'blacklist nouveau' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf && "
        "sudo update-initramfs -u && sudo reboot",
    )


def _wants_gpu(facts: Facts) -> list[str]:
    """Why we think this container was meant to have a GPU."""
    reasons = []
    if isinstance(facts.torch, TorchRuntime) and facts.torch.is_cuda_build:
        reasons.append(f"torch {facts.torch.version} is a CUDA build")
    elif isinstance(facts.packages, PackagesFacts):
        cuda_wheels = [d.name for d in facts.packages.distributions if d.name.lower().startswith("nvidia-cu")]
        if cuda_wheels:
            reasons.append(f"CUDA wheels are installed ({', '.join(sorted(set(cuda_wheels))[:3])})")
    if isinstance(facts.env, EnvFacts) and facts.env.get("NVIDIA_VISIBLE_DEVICES") not in (None, "", "void"):
        reasons.append(f"NVIDIA_VISIBLE_DEVICES={facts.env.get('NVIDIA_VISIBLE_DEVICES')}")
    return reasons


@check(
    "TD011",
    "container-without-gpu",
    "a container started without GPU access",
    Severity.ERROR,
    Area.DRIVER,
    "Inside a container the GPU exists only if the runtime passes it in (/dev/nvidia* and the driver "
    "libraries); without --gpus the CUDA build sees nothing.",
    requires=("host", "kernel"),
)
def container_without_gpu(facts: Facts) -> Iterator[Fire]:
    host, kernel = facts.host, facts.kernel
    assert isinstance(host, HostFacts) and isinstance(kernel, KernelFacts)
    if not host.container or not isinstance(kernel.dev_nodes, tuple) or kernel.dev_nodes:
        return
    if nvidia_gpu_evidence(facts) and isinstance(facts.nvml, NvmlFacts):
        return
    reasons = _wants_gpu(facts)
    if not reasons:
        return
    evidence = [
        ev(Source.PLATFORM, "container", f"{host.container} ({'; '.join(host.container_evidence)})"),
        ev(Source.DEVFS, "/dev/nvidia*", "none"),
    ]
    evidence += [ev(Source.TORCH, "expects a GPU", r) for r in reasons]
    yield Fire(
        tuple(evidence),
        "Install the NVIDIA Container Toolkit on the host and start the container with GPU access "
        "(Kubernetes: request nvidia.com/gpu through the device plugin).",
        "docker run --gpus all ...",
    )
