"""Bench results for a person: one line per measurement, with the ratio to the datasheet as a bar."""

from __future__ import annotations

from collections.abc import Iterator

from rich.markup import escape

from torchdoctor.bench.checks import matmul_ratio, memory_ratio
from torchdoctor.bench.peaks import load_peaks
from torchdoctor.model import BenchFacts, BenchMetric, DeviceBench, LoadSample

BAR = 20


def bar(ratio: float, unicode: bool) -> str:
    filled = max(0, min(BAR, round(ratio * BAR)))
    full, empty = ("█", "░") if unicode else ("#", ".")
    return full * filled + empty * (BAR - filled)


def figure(value: float, unit: str) -> str:
    """One unit rule for every bench line, headline and detail alike: below 1 TFLOP/s a figure is in GFLOP/s
    (a CPU's "38.0 GFLOP/s", never "0.0 TFLOP/s"); three digits or more without decimals, fewer with one."""
    if unit == "TFLOP/s" and abs(value) < 1:
        value, unit = value * 1000, "GFLOP/s"
    return f"{value:,.{0 if abs(value) >= 100 else 1}f} {unit}"


def summary(bench: BenchFacts) -> str:
    """The Performance area's line: each device's headline figures."""
    return "; ".join(device_summary(d) for d in bench.devices) or "no device measured"


def device_summary(device: DeviceBench) -> str:
    if device.died:
        return f"{device.device}: {device.died}"
    if device.device == "p2p":
        pairs = [f"{m.dtype} {figure(m.value, m.unit)}" for m in device.metrics if not m.error]
        return f"p2p: {', '.join(pairs) or 'not measured'}"
    peak = load_peaks().find(device.name) if device.device.startswith("cuda") else None
    parts = []
    matmul = matmul_ratio(device, peak) if peak else None
    memory = memory_ratio(device, peak) if peak else None
    if matmul:
        parts.append(f"{matmul.label} {figure(matmul.measured, 'TFLOP/s')} ({matmul.value:.0%})")
    else:
        best = max(
            (m for m in device.metrics if m.metric == "matmul" and not m.error), key=lambda m: m.value, default=None
        )
        if best:
            parts.append(f"{best.dtype} matmul {figure(best.value, best.unit)}")
    copy = device.metric("memory")
    if memory:
        parts.append(f"copy {figure(memory.measured, 'GB/s')} ({memory.value:.0%})")
    elif copy:
        parts.append(f"copy {figure(copy.value, copy.unit)}")
    reference = " (no datasheet reference)" if unreferenced(device, peak) else ""
    return f"{device.device}: {', '.join(parts)}{reference}"


def unreferenced(device: DeviceBench, peak: object) -> bool:
    """A GPU measured with no datasheet row to judge it by (one where nothing was measured needs no such note)."""
    return device.device.startswith("cuda") and not peak and any(not m.error for m in device.metrics)


def lines(bench: BenchFacts, unicode: bool) -> Iterator[str]:
    """The measurements, device by device (markup for a rich Console)."""
    peaks = load_peaks()
    for device in bench.devices:
        peak = peaks.find(device.name) if device.device.startswith("cuda") else None
        yield f"    [bold]{escape(device.device)}[/] {escape(device.name)}" + (
            " [dim](no datasheet reference: measured only)[/]" if unreferenced(device, peak) else ""
        )
        if device.died:
            yield f"      {escape(device.died)}"
        for m in device.metrics:
            yield "      " + metric_line(m, peak, unicode)
        load = device.load
        if isinstance(load, LoadSample):
            yield (
                f"      [dim]under load: SM {load.sm_clock_mhz} of {load.sm_clock_max_mhz} MHz, "
                f"{load.power_w} of {load.power_limit_w} W, {load.temperature_c} °C"
                + (f", reasons {', '.join(load.reasons)}" if load.reasons else "")
                + "[/]"
            )


def metric_line(m: BenchMetric, peak: object, unicode: bool) -> str:
    label = f"{m.metric} {m.dtype}".strip()
    if m.error:
        return f"{escape(label):<16} [red]{escape(m.error)}[/]"
    reference = None
    if peak is not None:
        if m.metric == "matmul":
            reference = getattr(peak, "tflops", {}).get(m.dtype)
        elif m.metric == "memory":
            reference = getattr(peak, "mem_gbs", None)
    value = figure(m.value, m.unit)
    if reference:
        ratio = m.value / reference
        return f"{escape(label):<16} {value:>16}  {bar(ratio, unicode)} {ratio:>4.0%} of {reference:,.0f}"
    return f"{escape(label):<16} {value:>16}  [dim]{escape(m.detail)}[/]"
