"""Verdicts on `bench`'s measurements: each a ratio to the datasheet (compat/gpu_peaks.toml), with the
thresholds that file documents, and the likely cause named from what NVML saw under load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torchdoctor.bench.peaks import Peak, load_peaks
from torchdoctor.checks.base import Area, Check, DeclaredFn, Fire, check, ev
from torchdoctor.model import (
    BenchFacts,
    DeviceBench,
    Evidence,
    Facts,
    LoadSample,
    NvmlFacts,
    Severity,
    Source,
    TorchImportFailure,
    TorchRuntime,
)
from torchdoctor.nvidia import gpus_seen
from torchdoctor.words import grouped

BENCH_REGISTRY: dict[str, Check] = {}
SLOWDOWN = {
    "hw_slowdown": "hardware slowdown (power supply or temperature)",
    "hw_thermal_slowdown": "hardware thermal slowdown",
    "sw_thermal_slowdown": "driver thermal slowdown",
    "hw_power_brake_slowdown": "power brake",
}
MATMUL_ORDER = ("bf16", "fp16", "tf32", "fp32")
"""The dtype a matmul verdict uses: the first one both measured and in the datasheet."""
PCIE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}
"""Usable GB/s per PCIe lane and direction after encoding (8b/10b to gen 2, 128b/130b from gen 3)."""


def all_bench_checks() -> tuple[Check, ...]:
    return tuple(sorted(BENCH_REGISTRY.values(), key=lambda c: c.code))


def bench_check(code: str, slug: str, title: str, severity: Severity, why: str) -> Callable[[DeclaredFn], DeclaredFn]:
    """A check of `bench`'s measurements: it asks for ``bench: BenchFacts`` (and ``facts`` if it needs more)."""
    return check(code, slug, title, severity, Area.BENCH, why, BENCH_REGISTRY)


def gpus(facts: Facts) -> Iterator[tuple[DeviceBench, Peak | None]]:
    if isinstance(facts.bench, BenchFacts):
        yield from measured_gpus(facts.bench, facts)


def measured_gpus(bench: BenchFacts, facts: Facts | None = None) -> Iterator[tuple[DeviceBench, Peak | None]]:
    """Each CUDA device the bench finished, with its datasheet figures (None when the datasheet has none): by
    its name and NVML's PCI device ID, where NVML saw the device (matched by bus)."""
    peaks = load_peaks()
    for device in bench.devices:
        if device.device.startswith("cuda") and not device.died:
            yield device, peaks.find(device.name, pci_device_id_of(facts, device))


def pci_device_id_of(facts: Facts | None, device: DeviceBench) -> str:
    """NVML's PCI vendor:device ID of the GPU on this device's bus ("" when NVML did not say)."""
    if facts is None or not isinstance(facts.nvml, NvmlFacts) or not device.pci_bus:
        return ""
    for g in facts.nvml.gpus:
        if isinstance(g.pci_bus_id, str) and g.pci_bus_id.lower().endswith(device.pci_bus.lower()):
            return g.pci_device_id if isinstance(g.pci_device_id, str) else ""
    return ""


@dataclass(frozen=True)
class Ratio:
    measured: float
    peak: float
    label: str
    unit: str
    note: str

    @property
    def value(self) -> float:
        return self.measured / self.peak if self.peak else 0.0

    def evidence(self) -> tuple[Evidence, ...]:
        return (
            ev(Source.BENCH, f"measured {self.label}", f"{self.measured:,.1f} {self.unit}"),
            ev(Source.COMPAT, "datasheet", f"{self.peak:,.1f} {self.unit}{self.note}"),
            ev(Source.BENCH, "ratio", f"{self.value:.0%}"),
        )


def matmul_ratio(device: DeviceBench, peak: Peak) -> Ratio | None:
    for dtype in MATMUL_ORDER:
        measured = device.metric("matmul", dtype)
        if measured is not None and dtype in peak.tflops:
            return Ratio(measured.value, peak.tflops[dtype], f"{dtype} matmul", "TFLOP/s", peak.note(dtype))
    return None


def memory_ratio(device: DeviceBench, peak: Peak) -> Ratio | None:
    measured = device.metric("memory")
    if measured is None or not peak.mem_gbs:
        return None
    return Ratio(measured.value, peak.mem_gbs, "device copy", "GB/s", peak.note("mem_gbs"))


def load_evidence(device: DeviceBench) -> tuple[Evidence, ...]:
    load = device.load
    if not isinstance(load, LoadSample):
        return (ev(Source.NVML, "under load", str(load)),)
    out = []
    if isinstance(load.sm_clock_mhz, int) and isinstance(load.sm_clock_max_mhz, int):
        out.append(ev(Source.NVML, "SM clock under load", f"{load.sm_clock_mhz} of {load.sm_clock_max_mhz} MHz"))
    if isinstance(load.power_w, float) and isinstance(load.power_limit_w, float):
        out.append(ev(Source.NVML, "power under load", f"{load.power_w:.0f} of {load.power_limit_w:.0f} W"))
    if isinstance(load.temperature_c, int):
        out.append(ev(Source.NVML, "temperature under load", f"{load.temperature_c} °C"))
    if load.reasons:
        out.append(ev(Source.NVML, "clock event reasons", ", ".join(load.reasons)))
    return tuple(out)


def likely_cause(device: DeviceBench) -> str:
    load = device.load
    if not isinstance(load, LoadSample):
        return "NVML did not sample this GPU under load, so the cause is not known."
    slow = [SLOWDOWN[r] for r in load.reasons if r in SLOWDOWN]
    if slow:
        return f"NVML saw {', '.join(slow)}: check cooling, airflow and the power supply."
    if "sw_power_cap" in load.reasons:
        return (
            "The power limit held the clocks down (sw_power_cap): check `nvidia-smi -q -d POWER` for a lowered limit."
        )
    clock, top = load.sm_clock_mhz, load.sm_clock_max_mhz
    if isinstance(clock, int) and isinstance(top, int) and clock < 0.7 * top:
        return "The SM clock stayed low with no reason given: locked or application clocks (`nvidia-smi -rgc`)."
    return "Clocks and power looked normal: another process on the GPU, a mis-identified SKU, or an old torch/cuBLAS."


def severity_for(ratio: float, ok: float, fail: float) -> Severity | None:
    if ratio >= ok:
        return None
    return Severity.ERROR if ratio < fail else Severity.WARNING


@bench_check(
    "TD501",
    "gpu-slow-matmul",
    "a GPU multiplies matrices far below its datasheet",
    Severity.WARNING,
    "A large square bf16 matmul on a healthy GPU reaches about 70-90 % of the dense datasheet peak; well below "
    "that, training runs slower than it should: clocks held down by heat or power, a power cap, or a GPU "
    "that is not the model its name says.",
)
def gpu_slow_matmul(bench: BenchFacts, facts: Facts) -> Iterator[Fire]:
    yield from below_datasheet(
        bench,
        facts,
        matmul_ratio,
        "matmul",
        "-d PERFORMANCE,POWER,TEMPERATURE,CLOCK",
        lambda ratio: f"{ratio.label} at {ratio.value:.0%} of the datasheet",
    )


@bench_check(
    "TD502",
    "gpu-slow-memory",
    "a GPU's memory bandwidth is far below its datasheet",
    Severity.WARNING,
    "A large device-to-device copy (read plus write counted) reaches about 80-90 % of the HBM/GDDR peak on a "
    "healthy GPU; far below, memory-bound work (attention, optimizers, data movement) is slow: memory clocks "
    "held down, a degraded memory stack, or another process using the GPU.",
)
def gpu_slow_memory(bench: BenchFacts, facts: Facts) -> Iterator[Fire]:
    yield from below_datasheet(
        bench,
        facts,
        memory_ratio,
        "memory",
        "-d CLOCK,PERFORMANCE",
        lambda ratio: f"memory bandwidth at {ratio.value:.0%} of the datasheet",
    )


def below_datasheet(
    bench: BenchFacts,
    facts: Facts,
    measure: Callable[[DeviceBench, Peak], Ratio | None],
    limit: str,
    query: str,
    says: Callable[[Ratio], str],
) -> Iterator[Fire]:
    """One finding per GPU whose measure is below the `limit`_ok share of its datasheet peak."""
    limits = load_peaks().thresholds
    for device, peak in measured_gpus(bench, facts):
        ratio = measure(device, peak) if peak else None
        if ratio is None:
            continue
        severity = severity_for(ratio.value, limits[f"{limit}_ok"], limits[f"{limit}_fail"])
        if severity is None:
            continue
        yield Fire(
            (ev(Source.BENCH, "GPU", f"{device.device} {device.name}"), *ratio.evidence(), *load_evidence(device)),
            likely_cause(device),
            f"nvidia-smi -q -i {device.device.split(':')[1]} {query}",
            severity=severity,
            title=f"{device.device} {device.name}: {says(ratio)}",
        )


def link_of(facts: Facts, device: DeviceBench) -> tuple[int, int, int, int] | None:
    """(current gen, current width, max gen, max width) of the GPU's PCIe link, from NVML (matched by bus)."""
    if not isinstance(facts.nvml, NvmlFacts) or not device.pci_bus:
        return None
    for g in facts.nvml.gpus:
        if isinstance(g.pci_bus_id, str) and g.pci_bus_id.lower().endswith(device.pci_bus.lower()):
            values = (g.pcie_gen_max, g.pcie_width, g.pcie_gen_max, g.pcie_width_max)
            if all(isinstance(v, int) for v in values):
                return values  # type: ignore[return-value]
    return None


@bench_check(
    "TD503",
    "pcie-bandwidth-low",
    "host-to-device copies are far below the PCIe link",
    Severity.WARNING,
    "A pinned host-to-device copy reaches about 80-90 % of the link's per-direction rate (generation x "
    "width); far below it, data loading and CPU offload starve the GPU: a narrower link than the slot, a "
    "riser, a BIOS setting, or an IOMMU/ACS setting in the way.",
)
def pcie_bandwidth_low(bench: BenchFacts, facts: Facts) -> Iterator[Fire]:
    ok = load_peaks().thresholds["pcie_ok"]
    for device, _ in measured_gpus(bench):
        measured = device.metric("h2d", "pinned")
        link = link_of(facts, device)
        if measured is None or link is None:
            continue
        gen, width, gen_max, width_max = link
        theoretical = PCIE_GBS.get(gen, 0.0) * width
        if not theoretical or measured.value >= ok * theoretical:
            continue
        yield Fire(
            (
                ev(Source.BENCH, "GPU", f"{device.device} {device.name}"),
                ev(Source.BENCH, "pinned host-to-device", f"{measured.value:.1f} GB/s"),
                ev(Source.NVML, "PCIe link", f"gen {gen} x{width} (max gen {gen_max} x{width_max})"),
                ev(Source.COMPAT, "link rate per direction", f"{theoretical:.1f} GB/s"),
            ),
            "Reseat the card in a full x16 slot without a riser, check the slot's link settings in the BIOS, and "
            "on servers the IOMMU/ACS settings for the PCIe switch.",
            f"nvidia-smi -q -i {device.device.split(':')[1]} -d PCIE",
            title=f"{device.device} {device.name}: host-to-device at {measured.value / theoretical:.0%} of its link",
        )


@bench_check(
    "TD504",
    "gpu-throttled-under-load",
    "a GPU slowed itself down under load",
    Severity.WARNING,
    "Under a sustained load, thermal or hardware slowdown and power braking lower the clocks: the GPU runs "
    "hot, is under-cooled, or its power delivery is marginal. Idle, these reasons are not visible.",
)
def gpu_throttled_under_load(bench: BenchFacts) -> Iterator[Fire]:
    for device, _ in measured_gpus(bench):
        load = device.load
        if not isinstance(load, LoadSample):
            continue
        slow = [SLOWDOWN[r] for r in load.reasons if r in SLOWDOWN]
        if not slow:
            continue
        yield Fire(
            (ev(Source.BENCH, "GPU", f"{device.device} {device.name}"), *load_evidence(device)),
            "Check cooling (fans, airflow, dust, the room) and the power supply and cables.",
            f"nvidia-smi -q -i {device.device.split(':')[1]} -d PERFORMANCE,TEMPERATURE,POWER",
            title=f"{device.device} {device.name} throttled under load: {', '.join(slow)}",
        )


@bench_check(
    "TD505",
    "gpu-clocks-low-under-load",
    "a GPU's clock stayed low under load",
    Severity.WARNING,
    "A loaded GPU boosts towards its maximum SM clock; staying well below it without a thermal reason means a "
    "power cap, locked or application clocks, or a GPU stuck in a low performance state.",
)
def gpu_clocks_low_under_load(bench: BenchFacts) -> Iterator[Fire]:
    ok = load_peaks().thresholds["clock_ok"]
    for device, _ in measured_gpus(bench):
        load = device.load
        if not isinstance(load, LoadSample) or any(r in SLOWDOWN for r in load.reasons):
            continue  # gpu-throttled-under-load says why
        if not (isinstance(load.sm_clock_mhz, int) and isinstance(load.sm_clock_max_mhz, int)):
            continue
        if load.sm_clock_mhz >= ok * load.sm_clock_max_mhz:
            continue
        index = device.device.split(":")[1]
        capped = "sw_power_cap" in load.reasons
        yield Fire(
            (ev(Source.BENCH, "GPU", f"{device.device} {device.name}"), *load_evidence(device)),
            "The power limit held the clocks down: restore the default limit (admin)."
            if capped
            else "Reset locked or application clocks (admin), then run the bench again.",
            f"sudo nvidia-smi -i {index} -pl $(nvidia-smi -i {index} --query-gpu=power.default_limit "
            "--format=csv,noheader,nounits)"
            if capped
            else f"sudo nvidia-smi -i {index} -rgc",
            title=f"{device.device} {device.name}: SM clock {load.sm_clock_mhz} of {load.sm_clock_max_mhz} MHz loaded",
        )


@bench_check(
    "TD506",
    "bench-device-failed",
    "a device's bench crashed, hung or could not start",
    Severity.ERROR,
    "The bench runs plain matmuls and copies: a device that cannot finish them would fail real work the same way.",
)
def bench_device_failed(bench: BenchFacts) -> Iterator[Fire]:
    for device in bench.devices:
        # fp8 goes through a private torch API whose signature moves between releases: not a device fault
        failed = [m for m in device.metrics if m.error and not (m.metric == "matmul" and m.dtype == "fp8")]
        if not device.died and not failed:
            continue
        evidence = [ev(Source.BENCH, device.device, device.died)] if device.died else []
        evidence += [ev(Source.BENCH, f"{m.metric} {m.dtype}".strip(), m.error) for m in failed[:3]]
        yield Fire(
            tuple(evidence),
            "Run `torchdoctor check` on this machine: its smoke tests say what is wrong with the device.",
            title=f"{device.device}: bench {'could not finish' if device.died else 'had failures'}",
        )


@bench_check(
    "TD507",
    "gpus-not-measured",
    "the machine has GPUs the bench never measured",
    Severity.ERROR,
    "Asked to measure every device, the bench measures the ones torch can use: with a CPU-only torch, or CUDA "
    "unavailable to it, that is the CPU alone, and a report without a GPU figure says nothing about the GPUs.",
)
def gpus_not_measured(bench: BenchFacts, facts: Facts) -> Iterator[Fire]:
    seen = gpus_seen(facts)
    if bench.selection.strip().lower() != "all" or not seen:
        return  # a device chosen by name that torch cannot use is bench-device-failed
    if any(d.device.startswith("cuda") for d in bench.devices):
        return
    torch = facts.torch
    cpu_build = isinstance(torch, TorchRuntime) and torch.is_cpu_build
    if isinstance(torch, TorchRuntime):
        why = f"torch {torch.version}: " + ("a CPU-only build" if cpu_build else torch.cuda_error or "CUDA unavailable")
    elif isinstance(torch, TorchImportFailure):
        why = f"torch did not import: {torch.exc_type}: {torch.message}"
    else:
        why = f"torch did not import: {torch.reason}"
    evidence = (
        ev(Source.NVML, "GPUs", grouped([g.name for g in seen])),
        ev(Source.TORCH, "torch", why),
        ev(Source.BENCH, "measured", ", ".join(d.device for d in bench.devices) or "nothing"),
    )
    if cpu_build:
        from torchdoctor.checks.fixes import install_torch_fix

        fix = install_torch_fix(facts, reinstall=True)
        yield Fire(evidence, f"Install a CUDA build of torch, then run the bench again. {fix.text}", fix.command)
        return
    yield Fire(
        evidence,
        "Find out why torch cannot use the GPUs (`torchdoctor check` says), fix that, then run the bench again.",
        "torchdoctor check",
    )
