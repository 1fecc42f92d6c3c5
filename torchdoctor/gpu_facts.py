"""What NVML says of the driver and each GPU (re-exported by :mod:`torchdoctor.model`).

Apart from the other facts so that the NVML child imports only these (see :mod:`torchdoctor.maybe`).
"""

from __future__ import annotations

from torchdoctor.maybe import Maybe, Unavailable, record


@record
class GPUProcess:
    """A process using a GPU, as NVML lists it."""

    pid: int
    used_memory: Maybe[int]
    kind: str
    """compute or graphics."""


@record
class GPUFacts:
    """One GPU as NVML reads it; each field read on its own, so one that fails is unavailable, not the GPU."""

    index: int
    name: Maybe[str]
    uuid: Maybe[str]
    pci_bus_id: Maybe[str]
    compute_capability: Maybe[str]
    memory_total: Maybe[int]
    memory_used: Maybe[int]
    temperature_c: Maybe[int]
    power_draw_w: Maybe[float]
    power_limit_w: Maybe[float]
    sm_clock_mhz: Maybe[int]
    sm_clock_max_mhz: Maybe[int]
    mem_clock_mhz: Maybe[int]
    utilization_pct: Maybe[int]
    throttle_reasons: Maybe[tuple[str, ...]]
    pcie_gen: Maybe[int]
    pcie_gen_max: Maybe[int]
    pcie_width: Maybe[int]
    pcie_width_max: Maybe[int]
    ecc_enabled: Maybe[bool]
    ecc_uncorrected_volatile: Maybe[int]
    remap_pending: Maybe[bool]
    remap_failed: Maybe[bool]
    persistence_mode: Maybe[bool]
    compute_mode: Maybe[str]
    """default, exclusive_thread, prohibited or exclusive_process."""
    mig_enabled: Maybe[bool]
    mig_uuids: Maybe[tuple[str, ...]]
    processes: Maybe[tuple[GPUProcess, ...]]
    pci_device_id: Maybe[str] = Unavailable("NVML", "not read (a report written before this field)", "not_recorded")
    """The PCI vendor:device ID ("10de:2335": pci.ids' notation), from nvmlDeviceGetPciInfo's pciDeviceId: it
    tells apart SKUs whose names NVML words alike (H100 SXM5 and PCIe)."""

    def label(self) -> str:
        name = self.name if isinstance(self.name, str) else "unknown GPU"
        return f"GPU {self.index} ({name})"


def field_label(name: str) -> str:
    """``temperature_c`` → ``temperature``: how a GPU field is named to a person."""
    for suffix in ("_c", "_w", "_mhz", "_pct"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.replace("_", " ")


@record
class NvmlFacts:
    """The driver, its CUDA version and every GPU, from NVML."""

    driver_version: Maybe[str]
    cuda_driver_version: Maybe[str]
    """The newest CUDA the driver supports ("12.4"); what nvidia-smi calls "CUDA Version"."""
    nvml_version: Maybe[str]
    gpus: tuple[GPUFacts, ...]
    """Every GPU NVML counted; one it could not read has its fields unavailable, with the reason."""
    gpu_count: Maybe[int] = Unavailable("NVML", "not recorded by this report's torchdoctor", "not_recorded")
    """What nvmlDeviceGetCount said; when it fails, the driver's version is still known."""
