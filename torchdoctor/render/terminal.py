"""The report for a person at a terminal: areas with a mark each, the fix under each problem."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import fields, is_dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torchdoctor.checks.base import Area
from torchdoctor.model import (
    BenchFacts,
    CheckOutcome,
    CheckStatus,
    DeviceSmoke,
    Facts,
    Finding,
    HostFacts,
    PackagesFacts,
    PythonFacts,
    Report,
    Severity,
    SmokeFacts,
    StepStatus,
    TorchImportFailure,
    TorchNotInstalled,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import driver_line, gpu_line
from torchdoctor.render.console import hanging, string_console
from torchdoctor.render.summary import python_kind
from torchdoctor.words import counts

MARKS = {
    "error": ("✗", "[X]", "bold red"),
    "warning": ("!", "[!]", "yellow"),
    "info": ("i", "[i]", "cyan"),
    "ok": ("✓", "[ok]", "green"),
    "skip": ("-", "[-]", "dim"),
}


def mark(kind: str, unicode: bool) -> str:
    symbol, ascii_mark, style = MARKS[kind]
    text = f"[{symbol}]" if unicode else ascii_mark
    return f"[{style}]{escape(text)}[/]"


def area_state(outcomes: list[CheckOutcome]) -> str:
    findings = [f for o in outcomes for f in o.findings]
    if any(f.severity == Severity.ERROR for f in findings):
        return "error"
    if any(f.severity == Severity.WARNING for f in findings):
        return "warning"
    if any(f.severity == Severity.INFO for f in findings):
        return "info"
    if outcomes and all(o.status in (CheckStatus.SKIPPED, CheckStatus.IGNORED) for o in outcomes):
        return "skip"
    return "ok"


def gib(n: object) -> str:
    return f"{n / 1024**3:.1f} GiB" if isinstance(n, int) else str(n)


def area_line(area: str, facts: Facts, ascii_only: bool = False) -> str:
    """One line of the key facts behind an area."""
    if area == Area.TORCH.value:
        t = facts.torch
        if isinstance(t, TorchRuntime):
            build = t.build if not t.is_cpu_build else "CPU-only build"
            extra = (
                f", {t.device_count} GPU(s) usable" if t.cuda_available else ", CUDA not available" if t.cuda else ""
            )
            mps = ", MPS available" if t.mps_available else ""
            return f"torch {t.version} ({build}{extra}{mps})"
        if isinstance(t, TorchNotInstalled):
            return "torch not installed"
        if isinstance(t, TorchImportFailure):
            return f"import torch failed: {t.kind.value}"
        installed = facts.packages.version_of("torch") if isinstance(facts.packages, PackagesFacts) else ""
        if installed and isinstance(t, Unavailable):
            return f"torch {installed} installed, not imported ({t.reason})"
        return str(t)
    if area == Area.DRIVER.value:
        return driver_line(facts)
    if area == Area.GPU.value:
        return gpu_line(facts)
    if area == Area.PLATFORM.value:
        h, p = facts.host, facts.python
        parts = []
        if isinstance(h, HostFacts):
            parts.append(
                f"{h.os_name} {h.machine}"
                + (f" ({h.container} container)" if h.container else "")
                + (f" ({h.wsl.upper()})" if h.wsl else "")
            )
        if isinstance(p, PythonFacts):
            env = python_kind(p)
            parts.append(f"Python {p.version} {p.bits}-bit {p.machine} ({env})")
        return " - ".join(parts) if ascii_only else " · ".join(parts)
    if area == Area.SMOKE.value:
        smoke = facts.smoke
        if not isinstance(smoke, SmokeFacts):
            return str(smoke)
        return "; ".join(device_summary(d) for d in smoke.devices)
    if area == Area.BENCH.value:
        from torchdoctor.render.bench import summary

        return summary(facts.bench) if isinstance(facts.bench, BenchFacts) else str(facts.bench)
    if area == Area.PACKAGES.value:
        pk = facts.packages
        if isinstance(pk, PackagesFacts):
            names = ["torch", "torchvision", "torchaudio", "numpy", "triton"]
            shown = [f"{n} {pk.version_of(n)}" for n in names if pk.version_of(n)]
            return ", ".join(shown) or "no torch-family packages"
        return str(pk)
    return ""


def device_summary(device: DeviceSmoke) -> str:
    if device.died and not device.steps:
        return f"{device.device}: {device.died}"
    counts = {s: sum(1 for x in device.steps if x.status == s) for s in StepStatus}
    parts = [f"{counts[StepStatus.PASSED]} passed"]
    if counts[StepStatus.FAILED]:
        parts.append(f"{counts[StepStatus.FAILED]} failed")
    if counts[StepStatus.SKIPPED]:
        parts.append(f"{counts[StepStatus.SKIPPED]} skipped")
    return f"{device.device}: {', '.join(parts)} in {device.seconds:.2f} s" + (
        f" ({device.died})" if device.died else ""
    )


def smoke_lines(smoke: SmokeFacts, unicode: bool) -> Iterable[str]:
    kinds = {StepStatus.PASSED: "ok", StepStatus.FAILED: "error", StepStatus.SKIPPED: "skip"}
    for device in smoke.devices:
        yield f"    [bold]{escape(device.device)}[/] {escape(device.name)}"
        for step in device.steps:
            text = step.error if step.status == StepStatus.FAILED else step.detail
            yield (
                f"      {mark(kinds[step.status], unicode)} {escape(step.name):<12} {step.seconds * 1000:7.0f} ms  "
                f"[dim]{escape(text.splitlines()[0] if text else '')}[/]"
            )


def print_finding(console: Console, f: Finding, unicode: bool, verbose: bool) -> None:
    """A finding under its area: wrapped text keeps the tree's indent; the command is never broken up."""
    hanging(
        console, f"    {mark(f.severity.value, unicode)} ", f"[bold]{escape(f.title)}[/]  [dim]{f.code} {f.slug}[/]"
    )
    for e in f.evidence:
        hanging(console, "        ", f"[dim]saw[/] {escape(e.label)}: {escape(e.value)} [dim]({e.source.value})[/]")
    if verbose:
        hanging(console, "        ", f"[dim]why[/] {escape(f.why)}")
    fix = f.fix
    if f.fix_command and fix.endswith(f.fix_command):
        fix = fix[: -len(f.fix_command)].rstrip()
    if fix:
        hanging(console, "        ", f"[bold]fix[/] {escape(fix)}")
    if f.fix_command:  # soft-wrapped: the terminal may fold it, but a copy stays one command
        console.print(f"            [bold cyan]$ {escape(f.fix_command)}[/]", soft_wrap=True)


def render(report: Report, verbose: bool = False, color: bool = False, width: int = 100, unicode: bool = True) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    source = "" if report.origin == "probed" else f" — facts from {report.origin}"
    console.print(f"[bold]torchdoctor {report.tool.version}[/]{escape(source)}")
    by_area: dict[str, list[CheckOutcome]] = {}
    for outcome in report.checks:
        by_area.setdefault(outcome.area, []).append(outcome)
    for area in [a.value for a in Area if a.value in by_area]:
        outcomes = by_area[area]
        state = area_state(outcomes)
        line = area_line(area, report.facts, ascii_only=not unicode)
        hanging(console, f"{mark(state, unicode)} ", f"[bold]{escape(area)}[/]" + (f"  {escape(line)}" if line else ""))
        for outcome in outcomes:
            for f in outcome.findings:
                print_finding(console, f, unicode, verbose)
            if verbose and outcome.status == CheckStatus.SKIPPED:
                console.print(
                    f"    {mark('skip', unicode)} [dim]{outcome.slug}: could not check — {escape(outcome.reason)}[/]"
                )
        if verbose and area == Area.SMOKE.value and isinstance(report.facts.smoke, SmokeFacts):
            for text in smoke_lines(report.facts.smoke, unicode):
                console.print(text)
        if area == Area.BENCH.value and isinstance(report.facts.bench, BenchFacts):
            from torchdoctor.render.bench import lines

            for text in lines(report.facts.bench, unicode):
                console.print(text, soft_wrap=True)
    if verbose:
        console.print()
        console.print(facts_table(report.facts))
    console.print()
    console.print(summary_line(report, verbose))
    return buf.getvalue()


def summary_line(report: Report, verbose: bool = False) -> str:
    c = report.summary()
    if c["errors"]:
        verdict = "[bold red]problems found[/]"
    else:
        verdict = "[yellow]works, with warnings[/]" if c["warnings"] else "[green]no problems found[/]"
    why = " (-v shows why)" if c["checks_skipped"] and not verbose else ""
    return f"{verdict}: {counts(c)}{why}"


def human(key: str, value: object) -> str:
    """A fact in the unit a person reads: GiB for bytes, MHz, W, °C; everything else as it is."""
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(getattr(value, "value", value))
    if leaf.endswith(("_bytes", "memory_total", "memory_used", "used_memory", "total_memory")) and value >= 0:
        return gib(int(value))
    if leaf.endswith("_mhz"):
        return f"{value:g} MHz"
    if leaf.endswith("_w"):
        return f"{value:g} W"
    if leaf.endswith("_c"):
        return f"{value:g} °C"
    if leaf.endswith("_pct"):
        return f"{value:g} %"
    return str(value)


def flatten(prefix: str, value: object) -> Iterable[tuple[str, str]]:
    if isinstance(value, Unavailable):
        yield prefix, str(value)
    elif is_dataclass(value) and not isinstance(value, type):
        for fld in fields(value):
            yield from flatten(f"{prefix}.{fld.name}" if prefix else fld.name, getattr(value, fld.name))
    elif isinstance(value, tuple) and value and is_dataclass(value[0]):
        for i, item in enumerate(value):
            yield from flatten(f"{prefix}[{i}]", item)
    elif isinstance(value, tuple):
        yield prefix, ", ".join(str(v) for v in value) or "(none)"
    else:
        yield prefix, human(prefix, value)


GPU_ROW = re.compile(r"nvml\.gpus\[(\d+)\]\.(.+)")


def without_repeats(rows: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Every GPU after the first shows only what differs from GPU 0: eight H100s are not eight pages."""
    first: dict[str, str] = {}
    said: set[str] = set()
    for key, value in rows:
        match = GPU_ROW.fullmatch(key)
        if match is None:
            yield key, value
            continue
        index, field = int(match.group(1)), match.group(2)
        if index == 0:
            first[field] = value
            yield key, value
            continue
        if f"gpus[{index}]" not in said:
            said.add(f"gpus[{index}]")
            yield f"nvml.gpus[{index}]", "as gpus[0] except:"
        if field != "index" and first.get(field) != value:
            yield key, value


def facts_table(facts: Facts) -> Table:
    table = Table(title="All facts", show_lines=False, expand=False)
    table.add_column("fact", style="bold", overflow="fold")
    table.add_column("value", overflow="fold")
    for key, value in without_repeats(flatten("", facts)):
        table.add_row(escape(key), escape(value))
    return table
