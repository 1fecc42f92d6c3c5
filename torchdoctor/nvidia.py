"""What the doctor knows of the NVIDIA driver and GPUs, from whichever source answered.

NVML is the first source; when it cannot tell, ``nvidia-smi`` and the kernel (/proc, /sys, /dev)
still can. Checks and renderers read the driver through these functions, so a fact always
carries the source it came from, and every format words the driver's state the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from torchdoctor.model import (
    Evidence,
    Facts,
    GPUFacts,
    KernelFacts,
    NvmlFacts,
    SmiFacts,
    Source,
    Unavailable,
)
from torchdoctor.words import gpu_indices, plural

NO_LIBRARY = {"LibraryNotFound", "NoBindings"}
"""NVML codes that mean "nothing to talk to" rather than "something answered badly"."""
LOST = {"GpuIsLost", "ResetRequired"}
HUNG = {"timeout", "crash"}


@dataclass(frozen=True)
class DriverVersion:
    version: str
    source: Source

    def __str__(self) -> str:
        return self.version


def driver_version_seen(facts: Facts) -> DriverVersion | None:
    """The driver's version from NVML, else nvidia-smi, else the loaded kernel module."""
    if isinstance(facts.nvml, NvmlFacts) and isinstance(facts.nvml.driver_version, str):
        return DriverVersion(facts.nvml.driver_version, Source.NVML)
    if isinstance(facts.smi, SmiFacts) and facts.smi.driver_version:
        return DriverVersion(facts.smi.driver_version, Source.SMI)
    kernel = facts.kernel
    if isinstance(kernel, KernelFacts) and isinstance(kernel.module_version, str):
        return DriverVersion(kernel.module_version, Source.PROCFS)
    return None


def gpu_names(gpus: tuple[GPUFacts, ...]) -> str:
    """ "8 × NVIDIA H100 80GB HBM3" or "NVIDIA A100, NVIDIA RTX 4090"; unreadable GPUs are counted as such."""
    names = Counter(g.name for g in gpus if isinstance(g.name, str))
    parts = [f"{n} × {name}" if n > 1 else name for name, n in names.items()]
    unreadable = len(gpus) - sum(names.values())
    if unreadable:
        parts.append(f"{unreadable} unreadable")
    return ", ".join(parts)


def readable_gpus(facts: Facts) -> tuple[GPUFacts, ...]:
    """NVML's GPUs whose name could be read."""
    if not isinstance(facts.nvml, NvmlFacts):
        return ()
    return tuple(g for g in facts.nvml.gpus if isinstance(g.name, str))


def presence(facts: Facts) -> list[Evidence]:
    """Signs of NVIDIA hardware or a driver that do not come from NVML."""
    found: list[Evidence] = []
    kernel = facts.kernel
    if isinstance(kernel, KernelFacts):
        if isinstance(kernel.pci_gpus, tuple) and kernel.pci_gpus:
            buses = ", ".join(d.bus_id for d in kernel.pci_gpus)
            found.append(Evidence(Source.PROCFS, "NVIDIA GPUs on the PCI bus", buses))
        if isinstance(kernel.dev_nodes, tuple) and kernel.dev_nodes:
            found.append(Evidence(Source.DEVFS, "device nodes", ", ".join(kernel.dev_nodes)))
        if isinstance(kernel.module_version, str):
            found.append(Evidence(Source.PROCFS, "/proc/driver/nvidia/version", kernel.module_version))
    if isinstance(facts.smi, SmiFacts):
        names = ", ".join(g.name for g in facts.smi.gpus) or "no GPUs"
        found.append(Evidence(Source.SMI, "nvidia-smi", f"driver {facts.smi.driver_version}; {names}"))
    return found


def no_nvidia_at_all(facts: Facts) -> bool:
    """True only when NVML has no library to load and nothing else shows an NVIDIA driver or GPU."""
    nvml = facts.nvml
    return isinstance(nvml, Unavailable) and nvml.code in NO_LIBRARY and not presence(facts)


def gpu_field_problems(gpu: GPUFacts, codes: set[str]) -> list[tuple[str, Unavailable]]:
    """(field, why) for each field of ``gpu`` that failed with one of ``codes``."""
    out = []
    for name, value in vars(gpu).items():
        if isinstance(value, Unavailable) and value.code in codes:
            out.append((name, value))
    return out


def driver_line(facts: Facts) -> str:
    """The driver's state in one line, the same words in every format."""
    nvml = facts.nvml
    if isinstance(nvml, NvmlFacts) and isinstance(nvml.driver_version, str):
        cuda = f" (supports CUDA {nvml.cuda_driver_version})" if isinstance(nvml.cuda_driver_version, str) else ""
        count = plural(nvml.gpu_count, "GPU") if isinstance(nvml.gpu_count, int) else plural(len(nvml.gpus), "GPU")
        if isinstance(nvml.gpu_count, Unavailable) and nvml.gpu_count.code != "not_recorded":
            count = "GPUs not counted"
        return f"driver {nvml.driver_version}{cuda}, {count} (NVML)"
    if no_nvidia_at_all(facts):
        return "no NVIDIA driver or GPU on this machine"
    reason = nvml.reason if isinstance(nvml, Unavailable) else "NVML did not report the driver's version"
    line = f"NVML could not read the driver: {reason}"
    seen = driver_version_seen(facts)
    if seen is not None:
        line += f"; driver {seen.version} ({seen.source.value})"
    kernel = facts.kernel
    if isinstance(kernel, KernelFacts) and isinstance(kernel.pci_gpus, tuple) and kernel.pci_gpus:
        line += f"; {plural(len(kernel.pci_gpus), 'NVIDIA GPU')} on the PCI bus"
    return line


@dataclass(frozen=True)
class SeenGpu:
    index: int
    name: str
    compute_capability: str
    source: Source


def gpus_seen(facts: Facts) -> tuple[SeenGpu, ...]:
    """GPUs with a known compute capability: from NVML, else nvidia-smi."""
    if isinstance(facts.nvml, NvmlFacts) and facts.nvml.gpus:
        return tuple(
            SeenGpu(g.index, str(g.name), g.compute_capability, Source.NVML)
            for g in facts.nvml.gpus
            if isinstance(g.compute_capability, str)
        )
    if isinstance(facts.smi, SmiFacts):
        return tuple(
            SeenGpu(g.index, g.name, g.compute_capability, Source.SMI)
            for g in facts.smi.gpus
            if isinstance(g.compute_capability, str)
        )
    return ()


def gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"


def gpu_line(facts: Facts) -> str:
    """The GPUs in one line: identical ones grouped, the ones that failed named with what failed."""
    nvml = facts.nvml
    if no_nvidia_at_all(facts):
        return "no NVIDIA GPU"
    if not isinstance(nvml, NvmlFacts):
        return "not checked: NVML could not read the driver (see NVIDIA driver)"
    if not nvml.gpus:
        if isinstance(nvml.gpu_count, Unavailable) and nvml.gpu_count.code != "not_recorded":
            return f"not checked: NVML could not count the GPUs ({nvml.gpu_count.reason})"
        return "no GPUs"
    groups: Counter[str] = Counter()
    troubled = []
    for g in nvml.gpus:
        lost = gpu_field_problems(g, LOST)
        hung = [(f, u) for f, u in gpu_field_problems(g, HUNG) if not u.reason.startswith("not read")]
        if lost:
            troubled.append(f"GPU {g.index} lost ({lost[0][1].code})")
        elif hung:
            troubled.append(f"GPU {g.index}: {hung[0][1].reason}")
        elif isinstance(g.name, str):
            memory = f" {gib(g.memory_total)}" if isinstance(g.memory_total, int) else ""
            groups[f"{g.name}{memory}"] += 1
        else:
            troubled.append(f"GPU {g.index} unreadable ({g.name.reason})")
    parts = [f"{n} × {what}" if n > 1 else what for what, n in groups.items()]
    busy: dict[str, list[int]] = {}  # identical notes, one line: "GPUs 0-6 in use: ..." (as findings group)
    for g in nvml.gpus:
        if note := busy_note(g):
            busy.setdefault(note, []).append(g.index)
    return "; ".join(parts + troubled + [f"{gpu_indices(ns)} in use: {note}" for note, ns in busy.items()])


BUSY_SHARE = 0.25
"""A GPU whose memory is this full, or whose utilisation is at least BUSY_PCT, is worth naming: other jobs on
it explain an out-of-memory error or a slow smoke run."""
BUSY_PCT = 50


def busy_note(g: GPUFacts) -> str:
    """What makes a GPU look in use ("75.0 GiB of 80.0 GiB held by 1 process, 97% busy"), or "" when it is not."""
    used = g.memory_used if isinstance(g.memory_used, int) else 0
    total = g.memory_total if isinstance(g.memory_total, int) else 0
    share = used / total if total > 0 else 0.0
    util = g.utilization_pct if isinstance(g.utilization_pct, int) else 0
    if share < BUSY_SHARE and util < BUSY_PCT:
        return ""
    parts = []
    if share >= BUSY_SHARE:
        procs = g.processes if isinstance(g.processes, tuple) else ()
        by = f" by {plural(len(procs), 'process')}" if procs else ""
        parts.append(f"{gib(used)} of {gib(total)} held{by}")
    if util >= BUSY_PCT:
        parts.append(f"{util}% busy")
    return ", ".join(parts)
