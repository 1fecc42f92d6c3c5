"""`check` (alias `report`) and `smoke`: probe this machine, or re-judge a captured report, into a Report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torchdoctor.commands.early import picked
from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.model import Finding, Report
from torchdoctor.probes.early import EarlyProbes
from torchdoctor.render import OutputFormat, render
from torchdoctor.result import Result
from torchdoctor.settings import Settings
from torchdoctor.smoke.runner import SmokeOptions


def _render(fmt: OutputFormat) -> Any:
    return lambda result, options: render(result.report, fmt, options)


@dataclass(frozen=True)
class ReportResult(Result):
    """One machine's report: `check`, `smoke` and `bench` share it (the document's kind says which)."""

    report: Report
    renderers: ClassVar = {fmt: _render(fmt) for fmt in OutputFormat}
    github_extras: ClassVar[bool] = True
    redacts: ClassVar[bool] = True

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.report.kind

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.report.findings

    def document(self) -> dict[str, Any]:
        from torchdoctor.reportfile import report_to_dict

        return report_to_dict(self.report)


@dataclass(frozen=True)
class CheckOptions:
    settings: Settings
    python: str | None = None
    quick: bool = False
    from_file: Path | None = None
    early: EarlyProbes | None = None
    """The probes the command line started before these options were read (see probes/early.py)."""


def run_check(options: CheckOptions) -> ReportResult:
    """Diagnose this machine (or the facts of a captured report)."""
    from torchdoctor.doctor import judge
    from torchdoctor.reportfile import ReportFileError, load_facts

    conf = options.settings
    if options.from_file is not None:
        try:
            facts = load_facts(options.from_file)
        except ReportFileError as exc:
            raise Stop(str(exc)) from None
        return ReportResult(judge(facts, conf.ignore, origin=str(options.from_file), required=conf.required))
    smoke = smoke_options(conf.device, conf.smoke_timeout) if conf.smoke else None
    return ReportResult(probe(options.python, options.quick, smoke, conf, False, options.early))


def run_smoke(settings: Settings, python: str | None, early: EarlyProbes | None = None) -> ReportResult:
    """Only the smoke tests (and what they need to know about the machine)."""
    smoke = smoke_options(settings.device, settings.smoke_timeout)
    return ReportResult(probe(python, False, smoke, settings, True, early))


def smoke_options(device: str, timeout: float) -> SmokeOptions:
    from torchdoctor.rules.devices import DeviceError, choices, parse_device

    try:
        parse_device(device)
    except DeviceError:
        raise Stop(f"--device {device}: use {choices()}", ExitCode.USAGE) from None
    return SmokeOptions(device=device, timeout=timeout)


def probe(
    python: str | None,
    quick: bool,
    smoke: SmokeOptions | None,
    conf: Settings,
    only_smoke: bool,
    early: EarlyProbes | None = None,
) -> Report:
    from torchdoctor.checks.base import Area
    from torchdoctor.doctor import diagnose
    from torchdoctor.interpreter import resolve_python
    from torchdoctor.probes import ProbeOptions
    from torchdoctor.progress import LiveProgress

    target = resolve_python(python, conf.timeout, picked(early, python))
    options = ProbeOptions(python=target, timeout=conf.timeout, quick=quick, nvml_timeout=conf.nvml_timeout)
    only = Area.SMOKE if only_smoke else None
    with LiveProgress(target, quick) as progress:
        return diagnose(options, conf.ignore, smoke, progress, only, conf.required, early)
