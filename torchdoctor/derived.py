"""Facts derived from other facts: torch's version, the GPUs NVML counted, the driver's version as evidence.

Checks, the fleet, the pytest plugin and the doctor all read these; they live beside the model (not in the
check catalogue) so that none of those reaches into `checks/` for them.
"""

from __future__ import annotations

import re

from torchdoctor.model import (
    Evidence,
    Facts,
    GPUFacts,
    NvmlFacts,
    PackagesFacts,
    PythonFacts,
    SmiFacts,
    Source,
    TorchRuntime,
)
from torchdoctor.nvidia import driver_version_seen, gpu_names, gpus_seen
from torchdoctor.words import plural


def nvml_gpus(facts: Facts) -> tuple[GPUFacts, ...]:
    return facts.nvml.gpus if isinstance(facts.nvml, NvmlFacts) else ()


def nvidia_gpu_evidence(facts: Facts) -> tuple[Evidence, ...]:
    """Evidence that an NVIDIA GPU is in this machine: from NVML, else nvidia-smi, else the PCI bus."""
    gpus = nvml_gpus(facts)
    if gpus:
        return (Evidence(Source.NVML, "GPUs", f"{plural(len(gpus), 'GPU')}: {gpu_names(gpus)}"),)
    smi = facts.smi
    if isinstance(smi, SmiFacts) and smi.gpus:
        names = ", ".join(g.name for g in smi.gpus)
        return (Evidence(Source.SMI, "GPUs", f"{plural(len(smi.gpus), 'GPU')}: {names}"),)
    kernel = facts.kernel
    pci = getattr(kernel, "pci_gpus", None)
    if isinstance(pci, tuple) and pci:
        return (Evidence(Source.PROCFS, "NVIDIA GPUs on the PCI bus", ", ".join(d.bus_id for d in pci)),)
    return ()


CAPABILITY = re.compile(r"\d+\.\d+")
"""A compute capability as NVML, nvidia-smi and torch write it: major.minor."""


def odd_capability(facts: Facts) -> str:
    """Why a GPU's compute capability cannot be read ("" when every one can): an empty or odd value in the facts."""
    seen = [(f"GPU {g.index} ({g.name})", g.compute_capability) for g in gpus_seen(facts)]
    if isinstance(facts.torch, TorchRuntime):
        seen += [(f"torch's cuda:{d.index} ({d.name})", d.capability) for d in facts.torch.devices]
    odd = [f"{label} has compute capability {value!r}" for label, value in seen if not CAPABILITY.fullmatch(value)]
    return "; ".join(odd)


def python_exe(facts: Facts) -> str:
    return facts.python.executable if isinstance(facts.python, PythonFacts) else "python"


def torch_version(facts: Facts) -> str:
    """torch's version with its local tag: from the runtime, else from the installed metadata ("" if none)."""
    if isinstance(facts.torch, TorchRuntime):
        return facts.torch.version
    if isinstance(facts.packages, PackagesFacts):
        return facts.packages.version_of("torch")
    return ""


def driver_version(facts: Facts) -> str:
    """The driver's version from any source (NVML, nvidia-smi, /proc), or ""."""
    seen = driver_version_seen(facts)
    return seen.version if seen else ""


def driver_evidence(facts: Facts) -> tuple[Evidence, ...]:
    """The driver's version as evidence, labelled with the source that gave it."""
    seen = driver_version_seen(facts)
    return (Evidence(seen.source, "driver", seen.version),) if seen else ()


CUDA_CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"driver on your system is too old \(found version (\d+)\)|driver version is insufficient", re.I),
        "the NVIDIA driver is too old for this torch's CUDA",
        "driver",
    ),
    (
        re.compile(r"Found no NVIDIA driver|NVIDIA driver.*not.*(loaded|installed)", re.I),
        "no usable NVIDIA driver was found by CUDA",
        "nodriver",
    ),
    (
        re.compile(r"CUDA unknown error|cudaErrorUnknown|error 999", re.I),
        "CUDA initialisation failed with 'unknown error' (typically after suspend/resume, or /dev/nvidia-uvm missing)",
        "uvm",
    ),
    (
        re.compile(r"no CUDA-capable device is detected|No CUDA GPUs are available", re.I),
        "CUDA sees no device (CUDA_VISIBLE_DEVICES, a container without GPU access, or MIG)",
        "nodevice",
    ),
    (
        re.compile(r"busy or unavailable", re.I),
        "every GPU is busy or unavailable (exclusive-process compute mode held by another process)",
        "busy",
    ),
    (
        re.compile(r"unsupported display driver / cuda driver combination|forward compatibility was attempted", re.I),
        "the loaded kernel module does not match the user-space driver (a driver update without a reboot)",
        "mismatch",
    ),
)


def cuda_cause(torch: TorchRuntime) -> tuple[str, str, str]:
    """(cause, key, matched text) from torch's warnings and its CUDA initialisation error."""
    texts = [torch.cuda_error, *torch.warnings]
    for pattern, cause, key in CUDA_CAUSES:
        for text in texts:
            if text and pattern.search(text):
                return cause, key, text
    return "", "", next((t for t in texts if t), "")
