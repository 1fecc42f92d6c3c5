"""Hardware health as NVML reports it: memory errors, PCIe link, throttling, compute mode."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.model import GPUFacts, Severity, Source, field_label
from torchdoctor.nvidia import HUNG, LOST, gpu_field_problems

BUSY_PERCENT = 30

PCIE_FIELDS = "pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max"
"""nvidia-smi's --query-gpu names for the PCIe link (`nvidia-smi --help-query-gpu`); `-q -d` has no PCIe section
(its list: MEMORY, UTILIZATION, ECC, TEMPERATURE, POWER, CLOCK, COMPUTE, PIDS, PERFORMANCE, ...; nvidia-smi(1),
https://manpages.ubuntu.com/manpages/plucky/man1/nvidia-smi.1.html)."""
"""Above this utilisation a lowered PCIe generation is a problem; idle GPUs lower it to save power."""
SLOWDOWN_REASONS = {
    "hw_slowdown": "hardware slowdown (power supply or temperature)",
    "hw_thermal_slowdown": "hardware thermal slowdown",
    "sw_thermal_slowdown": "driver thermal slowdown",
    "hw_power_brake_slowdown": "power brake (external power-brake signal)",
}


@check(
    "TD017",
    "gpu-ecc-errors",
    "GPU memory errors",
    Severity.ERROR,
    Area.GPU,
    "Uncorrectable ECC errors and pending or failed row remaps mean the GPU's memory is faulty: results "
    "can be silently wrong and jobs crash with Xid errors.",
)
def gpu_ecc_errors(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
    for gpu in nvml_gpus:
        evidence = []
        if isinstance(gpu.ecc_uncorrected_volatile, int) and gpu.ecc_uncorrected_volatile > 0:
            evidence.append(ev(Source.NVML, "uncorrectable ECC errors (since boot)", gpu.ecc_uncorrected_volatile))
        if gpu.remap_pending is True:
            evidence.append(ev(Source.NVML, "row remapping", "pending (needs a GPU reset)"))
        if gpu.remap_failed is True:
            evidence.append(ev(Source.NVML, "row remapping", "failed"))
        if not evidence:
            continue
        failed = gpu.remap_failed is True
        yield Fire(
            (ev(Source.NVML, "GPU", gpu.label()), *evidence),
            "Drain the GPU and reset it (or reboot) so pending remaps take effect; if errors return or a remap "
            "failed, the GPU needs service (RMA)."
            if not failed
            else "A row remap failed: this GPU's memory is damaged. Take it out of service and contact the vendor.",
            f"sudo nvidia-smi -r -i {gpu.index}",
            title=f"{gpu.label()} has memory errors",
        )


@check(
    "TD018",
    "gpu-pcie-degraded",
    "GPU PCIe link below its maximum",
    Severity.WARNING,
    Area.GPU,
    "A link running narrower than the GPU's maximum (x8 instead of x16), or at a lower generation while "
    "busy, cuts host-device bandwidth: a badly seated card, a riser or a BIOS setting.",
)
def gpu_pcie_degraded(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
    for gpu in nvml_gpus:
        evidence = []
        if (
            isinstance(gpu.pcie_width, int)
            and isinstance(gpu.pcie_width_max, int)
            and gpu.pcie_width < gpu.pcie_width_max
        ):
            evidence.append(ev(Source.NVML, "PCIe width", f"x{gpu.pcie_width} of x{gpu.pcie_width_max}"))
        busy = isinstance(gpu.utilization_pct, int) and gpu.utilization_pct >= BUSY_PERCENT
        if (
            busy
            and isinstance(gpu.pcie_gen, int)
            and isinstance(gpu.pcie_gen_max, int)
            and gpu.pcie_gen < gpu.pcie_gen_max
        ):
            evidence.append(
                ev(
                    Source.NVML,
                    "PCIe generation while busy",
                    f"gen {gpu.pcie_gen} of {gpu.pcie_gen_max} at {gpu.utilization_pct}% utilisation",
                )
            )
        if evidence:
            yield Fire(
                (ev(Source.NVML, "GPU", gpu.label()), *evidence),
                "Reseat the card in a x16 slot without a riser, and check the slot's link settings in the BIOS.",
                f"nvidia-smi -i {gpu.index} --query-gpu={PCIE_FIELDS} --format=csv",
                title=f"{gpu.label()} PCIe link is degraded",
            )


@check(
    "TD019",
    "gpu-throttled",
    "GPU clocks held down by heat or power",
    Severity.WARNING,
    Area.GPU,
    "Thermal or hardware slowdown and power braking lower the GPU's clocks far below normal: training "
    "runs slower than it should. (Idle clocks and power capping are normal and not reported.)",
)
def gpu_throttled(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
    for gpu in nvml_gpus:
        if not isinstance(gpu.throttle_reasons, tuple):
            continue
        active = [SLOWDOWN_REASONS[r] for r in gpu.throttle_reasons if r in SLOWDOWN_REASONS]
        if not active:
            continue
        evidence = [
            ev(Source.NVML, "GPU", gpu.label()),
            ev(Source.NVML, "clock event reasons", ", ".join(active)),
        ]
        if isinstance(gpu.temperature_c, int):
            evidence.append(ev(Source.NVML, "temperature", f"{gpu.temperature_c} °C"))
        yield Fire(
            tuple(evidence),
            "Check cooling (fans, airflow, dust) and the power supply and cables; see the reasons live with "
            "the command below.",
            f"nvidia-smi -q -i {gpu.index} -d PERFORMANCE,TEMPERATURE,POWER",
            title=f"{gpu.label()} is throttled",
        )


@check(
    "TD020",
    "gpu-compute-mode",
    "GPU compute mode blocks new processes",
    Severity.ERROR,
    Area.GPU,
    "In 'prohibited' mode no CUDA context can be created; in exclusive mode a second process gets "
    "'all CUDA-capable devices are busy or unavailable'.",
)
def gpu_compute_mode(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
    for gpu in nvml_gpus:
        mode = gpu.compute_mode
        if mode == "prohibited":
            yield Fire(
                (ev(Source.NVML, "GPU", gpu.label()), ev(Source.NVML, "compute mode", mode)),
                "Ask the administrator to set the default compute mode.",
                f"sudo nvidia-smi -i {gpu.index} -c DEFAULT",
                title=f"{gpu.label()} prohibits compute",
            )
        elif mode in ("exclusive_process", "exclusive_thread") and isinstance(gpu.processes, tuple) and gpu.processes:
            pids = ", ".join(str(p.pid) for p in gpu.processes)
            yield Fire(
                (
                    ev(Source.NVML, "GPU", gpu.label()),
                    ev(Source.NVML, "compute mode", mode),
                    ev(Source.NVML, "held by PID", pids),
                ),
                "Use another GPU, wait for or stop the holding process, or (admin) set the default mode.",
                f"sudo nvidia-smi -i {gpu.index} -c DEFAULT",
                severity=Severity.WARNING,
                title=f"{gpu.label()} is exclusive and taken",
            )


@check(
    "TD027",
    "gpu-lost",
    "a GPU has fallen off the bus",
    Severity.ERROR,
    Area.GPU,
    "NVML says 'GPU is lost' (or that it needs a reset) when a GPU stops answering on the PCI bus: after a "
    "power or thermal event, a bad riser or a driver fault (Xid 79). Nothing can use it until it is reset, "
    "and a job placed on it hangs or dies.",
)
def gpu_lost(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
    for gpu in nvml_gpus:
        problems = gpu_field_problems(gpu, LOST)
        if not problems:
            continue
        field, why = problems[0]
        evidence = [ev(Source.NVML, "GPU", gpu.label())]
        if isinstance(gpu.pci_bus_id, str):
            evidence.append(ev(Source.NVML, "PCI bus id", gpu.pci_bus_id))
        asked = "every query" if len(problems) > 1 else field_label(field)
        evidence.append(ev(Source.NVML, f"NVML, asked for {asked}", why.reason))
        yield Fire(
            tuple(evidence),
            "See what the kernel logged (`sudo dmesg | grep -i xid`: Xid 79 means the GPU fell off the bus) and "
            f"what `nvidia-smi -q -i {gpu.index}` says. Drain the node, then reset the GPU (or reboot); if it "
            "happens again, reseat the card and check its power cables and riser.",
            f"sudo nvidia-smi -r -i {gpu.index}",
            title=f"{gpu.label()} is lost: it has fallen off the bus or stopped answering",
        )


@check(
    "TD029",
    "gpu-unresponsive",
    "a GPU did not answer NVML",
    Severity.ERROR,
    Area.GPU,
    "An NVML query that hangs or crashes on one GPU means that GPU (or its part of the driver) is in a bad "
    "state: CUDA work placed on it hangs or fails the same way.",
)
def gpu_unresponsive(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
    for gpu in nvml_gpus:
        problems = gpu_field_problems(gpu, HUNG)
        if not problems:
            continue
        first_field, first = next(((f, u) for f, u in problems if not u.reason.startswith("not read")), problems[0])
        unread = sum(1 for _, u in problems if u is not first)
        evidence = [ev(Source.NVML, "GPU", gpu.label()), ev(Source.NVML, field_label(first_field), first.reason)]
        if unread:
            evidence.append(ev(Source.NVML, "not read after it", f"{unread} other field(s)"))
        yield Fire(
            tuple(evidence),
            "Look at what the kernel logged (`sudo dmesg | grep -iE 'NVRM|Xid'`) and at "
            f"`timeout 60 nvidia-smi -q -i {gpu.index}`. Drain the GPU and reset it; if it does not come back, "
            "reboot.",
            f"sudo nvidia-smi -r -i {gpu.index}",
            title=f"{gpu.label()} did not answer NVML",
        )
