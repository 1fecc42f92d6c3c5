"""`bench`: is this hardware as fast as it should be? Measured per device, judged against the datasheet."""

from __future__ import annotations

from dataclasses import dataclass, replace

from torchdoctor.commands.early import picked
from torchdoctor.commands.report import ReportResult
from torchdoctor.probes.early import EarlyProbes
from torchdoctor.settings import Settings


@dataclass(frozen=True)
class BenchOptions:
    settings: Settings
    device: str = "all"
    seconds: float = 15.0
    python: str | None = None
    early: EarlyProbes | None = None
    """The probes the command line started before these options were read (see probes/early.py)."""


def run_bench(options: BenchOptions) -> ReportResult:
    from torchdoctor.bench.checks import all_bench_checks
    from torchdoctor.bench.runner import run_bench as measure
    from torchdoctor.checks.base import run_checks
    from torchdoctor.interpreter import resolve_python
    from torchdoctor.model import Report, Unavailable
    from torchdoctor.probes import ProbeOptions, gather
    from torchdoctor.progress import LiveProgress
    from torchdoctor.reportfile import SCHEMA_VERSION, TOOL, now

    conf = options.settings
    target = resolve_python(options.python, conf.timeout, picked(options.early, options.python))
    with LiveProgress(target) as progress:
        probing = ProbeOptions(python=target, timeout=conf.timeout)
        facts, timings = gather(probing, on_message=progress, early=options.early)
        progress.phase = f"measuring {options.device} for {options.seconds:g} s"
        progress({})
        measured = measure(target, facts.torch, options.device, options.seconds)
    facts = replace(facts, bench=measured, smoke=Unavailable("smoke", "`torchdoctor smoke` runs them", "skipped"))
    outcomes = run_checks(facts, [*all_bench_checks(), *conf.required], conf.ignore)
    return ReportResult(Report(SCHEMA_VERSION, TOOL, now(), "probed", facts, outcomes, timings, "bench"))
