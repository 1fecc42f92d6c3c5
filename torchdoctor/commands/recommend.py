"""`recommend`: the newest torch this machine (or the one described) can run, and the exact command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from torchdoctor.commands.early import picked
from torchdoctor.compat.recommend import Machine, NoFit, Recommendation, gpu_list
from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.model import Severity
from torchdoctor.probes.early import EarlyProbes
from torchdoctor.render import RenderOptions
from torchdoctor.reportfile import header
from torchdoctor.result import Result, answer_renderers


def _terminal(result: RecommendResult, options: RenderOptions) -> str:
    from torchdoctor.render.compat import render_recommendation

    return render_recommendation(result.answer, result.machine, options.color, options.width)


@dataclass(frozen=True)
class RecommendResult(Result):
    answer: Recommendation | NoFit
    machine: str
    """The machine it answers for, in words."""
    as_of: str
    kind: ClassVar[str] = "recommend"
    renderers: ClassVar = answer_renderers(_terminal)

    def severities(self) -> Iterable[Severity]:
        """No torch fits: the run fails."""
        return (Severity.ERROR,) if isinstance(self.answer, NoFit) else ()

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {**header(self.kind), "machine": self.machine, "as_of": self.as_of}
        result = self.answer
        if isinstance(result, NoFit):
            doc.update(fits=False, reasons=list(result.reasons), changes=list(result.changes))
        else:
            doc.update(
                fits=True,
                torch=result.torch,
                variant=result.variant,
                torchvision=result.torchvision,
                torchaudio=result.torchaudio,
                index_url=result.index_url,
                command=result.command,
                reasons=list(result.reasons),
                upgrades=list(result.upgrades),
            )
        return doc


@dataclass(frozen=True)
class RecommendOptions:
    driver: str = ""
    gpus: tuple[str, ...] = ()
    python_version: str = ""
    platform: str = ""
    macos: str = ""
    python: str | None = None
    early: EarlyProbes | None = None
    """The probes the command line started before these options were read (see probes/early.py)."""


def run_recommend(options: RecommendOptions) -> RecommendResult:
    from torchdoctor.compat.machine import machine_from_facts
    from torchdoctor.compat.recommend import recommend
    from torchdoctor.compat.tables import load_tables
    from torchdoctor.interpreter import resolve_python
    from torchdoctor.probes import ProbeOptions, gather
    from torchdoctor.rules import installers, timeouts

    tables = load_tables()
    active = picked(options.early, options.python)
    target = resolve_python(options.python, timeouts.INTERPRETER_CHECK, active)  # checked as `check` checks it
    facts, _ = gather(ProbeOptions(python=target, quick=True), early=options.early)
    machine = assumed(machine_from_facts(facts), options, tables)
    python_cmd = target if not options.python_version and not options.platform else "python"
    if python_cmd == "python" and machine.free_threaded:  # the free-threaded interpreter is installed beside
        python_cmd = "python" + ".".join(machine.python.split(".")[:2]) + "t"  # the regular one: python3.13t
    answer = recommend(tables, machine, python_cmd)
    if isinstance(answer, Recommendation) and python_cmd == target and answer.packages:
        url = f" --index-url {answer.index_url}" if answer.command.endswith(answer.index_url) else ""
        spoken = installers.command(facts, "install " + " ".join(answer.packages) + url)
        if spoken.command:  # this environment's installer (uv, a project, a venv under PEP 668)
            answer = replace(
                answer, command=spoken.command, reasons=(*answer.reasons, *([spoken.note] if spoken.note else []))
            )
    return RecommendResult(answer, described(machine), tables.as_of)


def assumed(machine: Machine, options: RecommendOptions, tables: Any) -> Machine:
    """This machine with what the options say instead (another driver, GPU, Python, platform, macOS)."""
    from torchdoctor.compat.machine import check_platform, check_version, parse_python, resolve_gpu

    try:
        if options.driver:
            machine = replace(machine, driver=options.driver)
        if options.gpus:
            machine = replace(machine, gpus=tuple(resolve_gpu(tables, g, i) for i, g in enumerate(options.gpus)))
        if options.python_version:
            version, free_threaded = parse_python(options.python_version)
            machine = replace(machine, python=version, free_threaded=free_threaded)
        if options.platform and check_platform(options.platform) != machine.platform:
            # another OS or architecture: this host's C library and macOS say nothing about it
            machine = replace(machine, platform=options.platform, glibc="", macos="")
        if options.macos:
            machine = replace(machine, macos=check_version(options.macos, "--macos"))
    except ValueError as exc:
        raise Stop(str(exc), ExitCode.USAGE) from None
    return machine


def described(machine: Machine) -> str:
    return (
        f"{machine.platform}, "
        + ("free-threaded " if machine.free_threaded else "")
        + f"Python {machine.python}"
        + (f", macOS {machine.macos}" if machine.macos else "")
        + (f", driver {machine.driver}" if machine.driver else ", no NVIDIA driver")
        + (f", {gpu_list(machine.gpus)}" if machine.gpus else "")  # identical GPUs once: "8 × ..."
    )
