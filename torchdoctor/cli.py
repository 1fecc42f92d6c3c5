"""The command line. The only module that prints to the user and the only one that exits."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from torchdoctor import __version__
from torchdoctor.exitcodes import ExitCode
from torchdoctor.model import Report, Severity

if TYPE_CHECKING:
    from torchdoctor.smoke.runner import SmokeOptions

app = typer.Typer(
    name="torchdoctor",
    help="Diagnose a PyTorch environment: verdicts with evidence and an exact fix.",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class FailOn(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"


def stderr(message: str) -> None:
    print(message, file=sys.stderr)


def fatal(message: str, code: ExitCode = ExitCode.COULD_NOT_RUN) -> NoReturn:
    stderr(f"torchdoctor: {message}")
    raise typer.Exit(int(code))


def default_python() -> str:
    """The active environment's interpreter (VIRTUAL_ENV, CONDA_PREFIX), else the running one."""
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = os.environ.get(var)
        if not prefix:
            continue
        candidates = (
            [Path(prefix, "Scripts", "python.exe"), Path(prefix, "python.exe")]
            if os.name == "nt"
            else [Path(prefix, "bin", "python")]
        )
        for candidate in candidates:
            if candidate.exists():
                return str(candidate)
    return sys.executable


def use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def terminal_width() -> int:
    try:
        return max(60, min(os.get_terminal_size().columns, 140))
    except OSError:
        return 100


def split_codes(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def exit_code_for(report: Report, fail_on: FailOn) -> ExitCode:
    if fail_on is FailOn.NEVER:
        return ExitCode.OK
    threshold = Severity.ERROR.rank if fail_on is FailOn.ERROR else Severity.WARNING.rank
    if any(f.severity.rank >= threshold for f in report.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fatal(f"cannot write {output}: {exc.strerror or exc}")
    stderr(f"torchdoctor: report written to {output}")


def version_callback(value: bool) -> None:
    if value:
        print(f"torchdoctor {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=version_callback, is_eager=True),
    ] = False,
) -> None:
    """Bare `torchdoctor` runs `torchdoctor check`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(check)


class OutputFormatArg(str, enum.Enum):
    TERMINAL = "terminal"
    JSON = "json"


PythonOpt = Annotated[
    str | None, typer.Option("--python", help="The interpreter to examine (default: the active environment's).")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds `import torch` may take.", min=0.1)]
DeviceOpt = Annotated[str, typer.Option("--device", help="Smoke-test cpu, cuda, cuda:N, mps or all (present).")]
SmokeTimeoutOpt = Annotated[float, typer.Option("--smoke-timeout", help="Seconds per device's smoke tests.", min=1)]
FormatOpt = Annotated[OutputFormatArg, typer.Option("--format", "-f", help="terminal or json.", case_sensitive=False)]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")]
IgnoreOpt = Annotated[list[str] | None, typer.Option("--ignore", help="Skip a check (code or slug; repeatable).")]
FailOnOpt = Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on findings at or above this.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show every fact, step and skipped check.")]


@app.command()
def check(
    fmt: FormatOpt = OutputFormatArg.TERMINAL,
    output: OutputOpt = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Re-judge the facts of a JSON report instead of probing.")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Skip `import torch`: metadata, NVML, platform.")] = False,
    no_smoke: Annotated[bool, typer.Option("--no-smoke", help="Do not run the smoke tests.")] = False,
    device: DeviceOpt = "all",
    python: PythonOpt = None,
    timeout: TimeoutOpt = 90.0,
    smoke_timeout: SmokeTimeoutOpt = 120.0,
    ignore: IgnoreOpt = None,
    fail_on: FailOnOpt = FailOn.ERROR,
    verbose: VerboseOpt = False,
    list_checks: Annotated[bool, typer.Option("--list", help="List every check and exit.")] = False,
) -> None:
    """Diagnose this machine's PyTorch environment (or a captured report with --from)."""
    if list_checks:
        print_catalogue()
        raise typer.Exit(0)
    from torchdoctor.doctor import ReportFileError, judge, load_facts

    ignored = split_codes(ignore)
    if from_file is not None:
        try:
            facts = load_facts(from_file)
        except ReportFileError as exc:
            fatal(str(exc))
        report = judge(facts, ignored, origin=str(from_file))
    else:
        smoke = None if no_smoke else smoke_options(device, smoke_timeout)
        report = probe(python, timeout, quick, smoke, ignored, only_smoke=False)
    emit(render_report(report, fmt, verbose, output), output)
    raise typer.Exit(int(exit_code_for(report, fail_on)))


@app.command()
def smoke(
    device: DeviceOpt = "all",
    fmt: FormatOpt = OutputFormatArg.TERMINAL,
    output: OutputOpt = None,
    python: PythonOpt = None,
    timeout: TimeoutOpt = 90.0,
    smoke_timeout: SmokeTimeoutOpt = 120.0,
    ignore: IgnoreOpt = None,
    fail_on: FailOnOpt = FailOn.ERROR,
    verbose: VerboseOpt = False,
) -> None:
    """Prove each device can train, evaluate, save and load a small model (only the smoke tests)."""
    report = probe(python, timeout, False, smoke_options(device, smoke_timeout), split_codes(ignore), only_smoke=True)
    emit(render_report(report, fmt, verbose, output), output)
    raise typer.Exit(int(exit_code_for(report, fail_on)))


def smoke_options(device: str, timeout: float) -> SmokeOptions:
    from torchdoctor.smoke.runner import SmokeOptions

    valid = device in ("all", "cpu", "cuda", "mps") or (device.startswith("cuda:") and device[5:].isdigit())
    if not valid:
        fatal(f"--device {device}: use cpu, cuda, cuda:N, mps or all", ExitCode.USAGE)
    return SmokeOptions(device=device, timeout=timeout)


def probe(
    python: str | None, timeout: float, quick: bool, smoke: SmokeOptions | None, ignored: list[str], only_smoke: bool
) -> Report:
    from torchdoctor.checks.base import Area
    from torchdoctor.doctor import diagnose
    from torchdoctor.probes import ProbeOptions

    target = python or default_python()
    if python and not (Path(python).exists() or shutil_which(python)):
        fatal(f"--python {python}: no such interpreter", ExitCode.USAGE)
    options = ProbeOptions(python=target, timeout=timeout, quick=quick)
    with LiveProgress(target) as progress:
        return diagnose(options, ignored, smoke, progress, Area.SMOKE if only_smoke else None)


class LiveProgress:
    """A spinner on stderr (only when it is a terminal) that follows the children's progress."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.status: Any = None

    def __enter__(self) -> LiveProgress:
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console

            console = Console(stderr=True)
            self.status = console.status(f"examining {self.target} (import torch) ...")
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def __call__(self, message: dict[str, Any]) -> None:
        if self.status is None:
            return
        if "torch" in message:
            self.status.update("torch imported; smoke tests ...")
        elif "smoke_start" in message:
            start = message["smoke_start"]
            self.status.update(f"smoke {start.get('device')}: {start.get('step')} ...")


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def render_report(report: Report, fmt: OutputFormatArg, verbose: bool, output: Path | None) -> str:
    from torchdoctor.render import OutputFormat, RenderOptions, render

    to_terminal = output is None
    options = RenderOptions(
        verbose=verbose,
        color=to_terminal and use_color(),
        width=terminal_width() if to_terminal else 100,
        unicode=(sys.stdout.encoding or "").lower().replace("-", "") in ("utf8", "utf16") or not to_terminal,
    )
    return render(report, OutputFormat(fmt.value), options)


def print_catalogue() -> None:
    from torchdoctor.checks import all_checks

    for c in all_checks():
        print(f"{c.code}  {c.slug:<26} {c.severity.value:<8} {c.title}")


@app.command()
def explain(
    code: Annotated[str, typer.Argument(help="A check code (TD004) or slug (cuda-unavailable).")],
) -> None:
    """Explain one check: what it looks at, why it matters."""
    from torchdoctor.checks import find

    chk = find(code)
    if chk is None:
        fatal(f"no check named {code!r}; `torchdoctor check --list` lists them", ExitCode.USAGE)
    print(f"{chk.code} {chk.slug} ({chk.severity.value}, {chk.area.value})")
    print(chk.title)
    print()
    print(chk.why)
    if chk.requires:
        print()
        print("Needs facts: " + ", ".join(chk.requires))


GpuOpt = Annotated[list[str] | None, typer.Option("--gpu", help="A GPU name ('RTX 5090'), sm_XY or X.Y; repeatable.")]
PlatformHelp = "linux-x86_64, linux-aarch64, windows-x86_64, macos-arm64 or macos-x86_64"


@app.command()
def compat(
    torch: Annotated[str, typer.Option("--torch", help="A release (2.5.1), series (2.5) or range (>=2.4).")] = "",
    python_version: Annotated[str, typer.Option("--python", help="A Python version (3.12).")] = "",
    driver: Annotated[str, typer.Option("--driver", help="An NVIDIA driver version (550.54.15).")] = "",
    cuda: Annotated[str, typer.Option("--cuda", help="A CUDA version (12.6) or variant (cu126).")] = "",
    gpu: GpuOpt = None,
    platform: Annotated[list[str] | None, typer.Option("--platform", help=PlatformHelp + "; repeatable.")] = None,
    torchvision: Annotated[str, typer.Option("--torchvision", help="Is this torchvision right for --torch?")] = "",
    torchaudio: Annotated[str, typer.Option("--torchaudio", help="Is this torchaudio right for --torch?")] = "",
    fmt: FormatOpt = OutputFormatArg.TERMINAL,
) -> None:
    """Answer compatibility questions from the tables alone (offline; this machine is not examined)."""
    import platform as platform_module

    from torchdoctor.compat.machine import check_platform, platform_key, resolve_gpu
    from torchdoctor.compat.query import Query, answer
    from torchdoctor.compat.tables import load_tables
    from torchdoctor.render.compat import render_answer

    tables = load_tables()
    try:
        platforms = tuple(check_platform(p) for p in platform or []) or (
            platform_key(platform_module.system(), platform_module.machine()),
        )
        gpus = tuple(resolve_gpu(tables, g, i) for i, g in enumerate(gpu or []))
        query = Query(torch, python_version, driver, cuda, gpus, platforms, torchvision, torchaudio)
        result = answer(tables, query)
    except ValueError as exc:
        fatal(str(exc), ExitCode.USAGE)
    if fmt is OutputFormatArg.JSON:
        import json

        emit(json.dumps(result.to_json(), indent=2) + "\n", None)
    else:
        emit(render_answer(result, use_color(), terminal_width()), None)


@app.command()
def recommend(
    driver: Annotated[str, typer.Option("--driver", help="Assume this NVIDIA driver (default: this machine's).")] = "",
    gpu: GpuOpt = None,
    python_version: Annotated[str, typer.Option("--python", help="Assume this Python version.")] = "",
    platform: Annotated[str, typer.Option("--platform", help=PlatformHelp)] = "",
    interpreter: Annotated[str | None, typer.Option("--interpreter", help="Examine this Python instead.")] = None,
    fmt: FormatOpt = OutputFormatArg.TERMINAL,
) -> None:
    """The newest torch this machine (or the one described) can run, and the exact pip command."""
    from dataclasses import replace

    from torchdoctor.compat.machine import check_platform, machine_from_facts, resolve_gpu
    from torchdoctor.compat.recommend import NoFit
    from torchdoctor.compat.recommend import recommend as pick
    from torchdoctor.compat.tables import load_tables
    from torchdoctor.probes import ProbeOptions, gather
    from torchdoctor.render.compat import render_recommendation

    tables = load_tables()
    target = interpreter or default_python()
    facts, _ = gather(ProbeOptions(python=target, quick=True))
    machine = machine_from_facts(facts)
    try:
        if driver:
            machine = replace(machine, driver=driver)
        if gpu:
            machine = replace(machine, gpus=tuple(resolve_gpu(tables, g, i) for i, g in enumerate(gpu)))
        if python_version:
            machine = replace(machine, python=python_version)
        if platform:
            machine = replace(machine, platform=check_platform(platform))
    except ValueError as exc:
        fatal(str(exc), ExitCode.USAGE)
    python_cmd = target if not python_version and not platform else "python"
    result = pick(tables, machine, python_cmd)
    described = (
        f"{machine.platform}, Python {machine.python}"
        + (f", driver {machine.driver}" if machine.driver else ", no NVIDIA driver")
        + ("".join(f", {g.label} (sm_{g.cc})" for g in machine.gpus))
    )
    if fmt is OutputFormatArg.JSON:
        import json

        doc: dict[str, Any] = {"machine": described, "as_of": tables.as_of}
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
        emit(json.dumps(doc, indent=2) + "\n", None)
    else:
        emit(render_recommendation(result, described, use_color(), terminal_width()), None)
    raise typer.Exit(int(ExitCode.FINDINGS if isinstance(result, NoFit) else ExitCode.OK))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        stderr("torchdoctor: interrupted")
        sys.exit(130)
