"""The NVIDIA kernel module and user-space driver."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.derived import driver_evidence, driver_version
from torchdoctor.model import (
    EnvFacts,
    Evidence,
    Facts,
    HostFacts,
    KernelFacts,
    NvmlFacts,
    PackagesFacts,
    Severity,
    SmiFacts,
    Source,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import HUNG, NO_LIBRARY, no_nvidia_at_all, presence
from torchdoctor.rules import limits

NOT_LOADED = {"DriverNotLoaded", "LibraryNotFound"}


@check(
    "TD005",
    "nvidia-driver-not-loaded",
    "an NVIDIA GPU is present but the driver is not loaded",
    Severity.ERROR,
    Area.DRIVER,
    "The PCI bus shows an NVIDIA GPU, but the nvidia kernel module is not running, so no CUDA program "
    "(torch included) can use it. NVML saying 'Driver Not Loaded' means the same from the other side: "
    "the driver's library is installed, its kernel module is not running.",
)
def nvidia_driver_not_loaded(kernel: KernelFacts, facts: Facts) -> Iterator[Fire]:
    nvml = facts.nvml
    pci = kernel.pci_gpus if isinstance(kernel.pci_gpus, tuple) else ()
    if not pci:
        if isinstance(nvml, Unavailable) and nvml.code == "DriverNotLoaded":
            yield _installed_but_idle(kernel, nvml)
        return
    if _container_without_devices(facts):
        return  # container-without-gpu says what is wrong there
    nvml_down = isinstance(nvml, Unavailable) and nvml.code in NOT_LOADED
    if not (kernel.nvidia_loaded is False or nvml_down):
        return
    evidence = [ev(Source.PROCFS, "NVIDIA GPU", f"{d.bus_id} (driver bound: {d.driver or 'none'})") for d in pci]
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


def _installed_but_idle(kernel: KernelFacts, nvml: Unavailable) -> Fire:
    """NVML's library is here and says the driver is not loaded, yet the PCI bus shows no NVIDIA GPU."""
    evidence = [ev(Source.NVML, "NVML", nvml.reason)]
    if isinstance(kernel.pci_gpus, tuple):
        evidence.append(ev(Source.PROCFS, "NVIDIA GPUs on the PCI bus", "none"))
    else:
        evidence.append(ev(Source.PROCFS, "PCI bus", f"could not check: {kernel.pci_gpus.reason}"))
    return Fire(
        tuple(evidence),
        "If this machine should have a GPU: a VM or container needs it passed through (PCI passthrough, "
        "`docker run --gpus all`), and a physical card may be unseated or without power. If it should not, "
        "only the driver's package is installed and nothing is wrong.",
        severity=Severity.WARNING,
        title="the NVIDIA driver is installed but not running, and no NVIDIA GPU is visible",
    )


def _container_without_devices(facts: Facts) -> bool:
    host, kernel = facts.host, facts.kernel
    return (
        isinstance(host, HostFacts)
        and bool(host.container)
        and isinstance(kernel, KernelFacts)
        and isinstance(kernel.dev_nodes, tuple)
        and not kernel.dev_nodes
    )


@check(
    "TD006",
    "nvml-driver-mismatch",
    "the driver library and the kernel module differ",
    Severity.ERROR,
    Area.DRIVER,
    "After a driver update without a reboot, the user-space driver (libnvidia-ml, libcuda) no longer "
    "matches the running kernel module: NVML says 'Driver/library version mismatch' and CUDA fails.",
)
def nvml_driver_mismatch(kernel: KernelFacts, facts: Facts) -> Iterator[Fire]:
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
)
def nouveau_loaded(kernel: KernelFacts) -> Iterator[Fire]:
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


def _gpu_intent(facts: Facts) -> list[Evidence]:
    """Evidence that this container was meant to have a GPU (a CUDA wheel alone is not)."""
    found = []
    env = facts.env if isinstance(facts.env, EnvFacts) else None
    nvidia_visible = env.get("NVIDIA_VISIBLE_DEVICES") if env else None
    if nvidia_visible not in (None, "", "void", "none"):
        found.append(ev(Source.ENV, "NVIDIA_VISIBLE_DEVICES", nvidia_visible))
    cuda_visible = env.get("CUDA_VISIBLE_DEVICES") if env else None
    if cuda_visible not in (None, "", "-1"):
        found.append(ev(Source.ENV, "CUDA_VISIBLE_DEVICES", cuda_visible))
    nvml = facts.nvml
    if isinstance(nvml, Unavailable) and nvml.code not in NO_LIBRARY and not limits.own_failure(nvml):
        found.append(ev(Source.NVML, "the NVIDIA driver library is mounted in, and says", nvml.reason))
    if isinstance(facts.smi, SmiFacts):
        found.append(ev(Source.SMI, "nvidia-smi", facts.smi.path))
    kernel = facts.kernel
    if isinstance(kernel, KernelFacts) and isinstance(kernel.pci_gpus, tuple) and kernel.pci_gpus:
        buses = ", ".join(d.bus_id for d in kernel.pci_gpus)
        found.append(ev(Source.PROCFS, "NVIDIA GPUs on the host's PCI bus", buses))
    return found


def _cuda_wheel(facts: Facts) -> str:
    if isinstance(facts.torch, TorchRuntime):
        return f"torch {facts.torch.version} ({facts.torch.build})" if facts.torch.is_cuda_build else ""
    if isinstance(facts.packages, PackagesFacts):
        cuda = sorted({d.name for d in facts.packages.distributions if d.name.lower().startswith("nvidia-cu")})
        if cuda:
            return f"CUDA wheels ({', '.join(cuda[:3])})"
    return ""


@check(
    "TD011",
    "container-without-gpu",
    "a container started without GPU access",
    Severity.ERROR,
    Area.DRIVER,
    "Inside a container the GPU exists only if the runtime passes it in (/dev/nvidia* and the driver "
    "libraries); without --gpus the CUDA build sees nothing. A CUDA build alone is no sign a GPU was meant "
    "to be there: PyPI's default Linux torch is one, and it runs on the CPU.",
)
def container_without_gpu(host: HostFacts, kernel: KernelFacts, facts: Facts) -> Iterator[Fire]:
    if not _container_without_devices(facts) or isinstance(facts.nvml, NvmlFacts):
        return
    where = ev(Source.PLATFORM, "container", f"{host.container} ({'; '.join(host.container_evidence)})")
    intent = _gpu_intent(facts)
    if intent:
        evidence = [where, ev(Source.DEVFS, "/dev/nvidia*", "none"), *intent]
        wheel = _cuda_wheel(facts)
        if wheel:
            evidence.append(ev(Source.METADATA, "installed", wheel))
        yield Fire(
            tuple(evidence),
            "Install the NVIDIA Container Toolkit on the host and start the container with GPU access "
            "(`docker run --gpus all IMAGE COMMAND`; Kubernetes: request nvidia.com/gpu through the device plugin).",
        )
        return
    wheel = _cuda_wheel(facts)
    if wheel:
        yield Fire(
            (where, ev(Source.DEVFS, "/dev/nvidia*", "none"), ev(Source.METADATA, "installed", wheel)),
            "Nothing to do if this container is meant for the CPU: this CUDA build runs on the CPU here. "
            "A CPU build (from https://download.pytorch.org/whl/cpu) makes the image several GB smaller; "
            "for a GPU, start the container with `--gpus all`.",
            severity=Severity.INFO,
            title="a CUDA build of torch in a container without a GPU (it will run on the CPU)",
        )


@check(
    "TD026",
    "nvml-unresponsive",
    "the NVIDIA driver did not answer",
    Severity.ERROR,
    Area.DRIVER,
    "NVML that hangs or crashes before it can say anything means the driver is in a bad state (a hung "
    "kernel module, a GPU that locks the driver up, a firmware error): CUDA programs hang or fail the same way.",
)
def nvml_unresponsive(facts: Facts) -> Iterator[Fire]:
    nvml = facts.nvml
    diagnose = "Look at what the kernel logged (`sudo dmesg | grep -iE 'NVRM|Xid'`) and at `timeout 60 nvidia-smi`."
    if isinstance(nvml, Unavailable) and nvml.code in HUNG:
        evidence = [ev(Source.NVML, "NVML", nvml.reason), *driver_evidence(facts)]
        hung = nvml.code == "timeout"
        yield Fire(
            tuple(evidence),
            f"{diagnose} A hung driver usually needs the GPUs reset or the machine rebooted (drain the node first).",
            "sudo reboot",
            title="NVML hung: the NVIDIA driver did not answer" if hung else "NVML crashed while reading the driver",
        )
        return


BINDINGS_TOO_NEW = {"FunctionNotFound", "NVMLLibraryMismatchError"}


@check(
    "TD028",
    "nvml-unusable",
    "NVML cannot read the NVIDIA driver",
    Severity.ERROR,
    Area.DRIVER,
    "NVML is how the doctor (and nvidia-smi, DCGM, monitoring) reads the driver and GPUs. When it fails, "
    "nothing about the GPUs can be checked, and the failure itself points at a broken driver setup: "
    "missing libraries, device permissions, or bindings that cannot talk to this driver.",
)
def nvml_unusable(facts: Facts) -> Iterator[Fire]:
    nvml = facts.nvml
    if isinstance(nvml, NvmlFacts):
        if isinstance(nvml.gpu_count, Unavailable) and nvml.gpu_count.code != "not_recorded":
            yield Fire(
                (
                    ev(Source.NVML, "driver", nvml.driver_version),
                    ev(Source.NVML, "nvmlDeviceGetCount", nvml.gpu_count.reason),
                ),
                "The driver answers but cannot list its GPUs: look at `sudo dmesg | grep -iE 'NVRM|Xid'`, then "
                "reset the GPUs or reboot.",
                "sudo reboot",
                title="NVML read the driver but could not count the GPUs",
            )
        return
    if not isinstance(nvml, Unavailable):
        return
    handled = HUNG | {"DriverNotLoaded", "LibRmVersionMismatch"}
    if nvml.code in handled or limits.own_failure(nvml) or no_nvidia_at_all(facts):
        return  # the doctor's own failure is could-not-examine's
    seen = [*driver_evidence(facts), *presence(facts)]
    evidence = (ev(Source.NVML, "NVML", nvml.reason), *seen)
    if nvml.code in NO_LIBRARY:
        yield from _no_library(facts, nvml, evidence)
    elif nvml.code == "NoPermission":
        yield Fire(
            evidence,
            "This user may not open the NVIDIA device nodes: check `ls -l /dev/nvidia*` and join the group "
            "that owns them (often `video`), or, in a container, start it with GPU access (`--gpus all`) "
            "rather than by mounting /dev/nvidia* by hand.",
            title="no permission to use the NVIDIA driver",
        )
    elif nvml.code in BINDINGS_TOO_NEW:
        version = driver_version(facts)
        branch = version.split(".")[0] if version else ""
        yield Fire(
            evidence,
            "The NVML bindings torchdoctor uses (nvidia-ml-py) are newer than this driver understands. "
            + (
                f"Install the bindings of this driver's branch in torchdoctor's environment (nvidia-ml-py "
                f"versions carry the branch in their middle number: 11.{branch}.x for R{branch}), or "
                if branch
                else "Install older nvidia-ml-py bindings in torchdoctor's environment, or "
            )
            + "update the NVIDIA driver.",
            title="these NVML bindings cannot talk to this driver",
        )
    else:
        yield Fire(
            evidence,
            "Look at what the kernel logged (`sudo dmesg | grep -iE 'NVRM|Xid'`) and at `nvidia-smi`; "
            "reinstalling the driver or rebooting clears most such failures.",
            title=f"NVML failed: {nvml.code or 'unknown error'}",
        )


def _no_library(facts: Facts, nvml: Unavailable, evidence: tuple[Evidence, ...]) -> Iterator[Fire]:
    kernel = facts.kernel
    driver_running = isinstance(kernel, KernelFacts) and (
        (isinstance(kernel.dev_nodes, tuple) and bool(kernel.dev_nodes)) or isinstance(kernel.module_version, str)
    )
    if nvml.code == "NoBindings":
        yield Fire(
            evidence,
            "torchdoctor's own dependency nvidia-ml-py is missing or broken, so the driver could not be read. "
            "Reinstall torchdoctor (`pipx reinstall torchdoctor`, or `pip install --force-reinstall "
            "nvidia-ml-py` in its environment).",
            severity=Severity.ERROR if driver_running or isinstance(facts.smi, SmiFacts) else Severity.WARNING,
            title="the NVML bindings are missing, so the driver could not be checked",
        )
    elif driver_running:  # a module and devices, but no libnvidia-ml: a half-installed driver or a bare mount
        yield Fire(
            evidence,
            "The kernel driver is running but its user-space library libnvidia-ml.so.1 is missing: reinstall "
            "the NVIDIA driver's utilities (e.g. the nvidia-utils package of the same version). In a container, "
            "let the NVIDIA runtime mount the libraries: `--gpus all` with NVIDIA_DRIVER_CAPABILITIES including "
            "utility, instead of passing /dev/nvidia* by hand.",
            title="the NVIDIA driver runs but its library (libnvidia-ml) is missing",
        )
