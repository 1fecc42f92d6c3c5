"""The command line. The only module that prints to the user and the only one that exits."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from torchdoctor import __version__
from torchdoctor.exitcodes import ExitCode
from torchdoctor.model import Report, Severity

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


class OutputFormatArg(str, enum.Enum):
    TERMINAL = "terminal"
    JSON = "json"


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


@app.command()
def check(
    fmt: Annotated[
        OutputFormatArg, typer.Option("--format", "-f", help="terminal or json.", case_sensitive=False)
    ] = OutputFormatArg.TERMINAL,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Re-judge the facts of a JSON report instead of probing.")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Skip `import torch`: metadata, NVML, platform.")] = False,
    python: Annotated[
        str | None, typer.Option("--python", help="The interpreter to examine (default: the active env's).")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds `import torch` may take.", min=0.1)] = 90.0,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Skip a check (code or slug; repeatable).")
    ] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on findings at or above this.")] = FailOn.ERROR,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every fact and skipped check.")] = False,
    list_checks: Annotated[bool, typer.Option("--list", help="List every check and exit.")] = False,
) -> None:
    """Diagnose this machine's PyTorch environment (or a captured report with --from)."""
    if list_checks:
        print_catalogue()
        raise typer.Exit(0)
    from torchdoctor.doctor import ReportFileError, diagnose, judge, load_facts
    from torchdoctor.probes import ProbeOptions

    ignored = split_codes(ignore)
    if from_file is not None:
        try:
            facts = load_facts(from_file)
        except ReportFileError as exc:
            fatal(str(exc))
        report = judge(facts, ignored, origin=str(from_file))
    else:
        target = python or default_python()
        if python and not (Path(python).exists() or shutil_which(python)):
            fatal(f"--python {python}: no such interpreter", ExitCode.USAGE)
        if not quick and sys.stderr.isatty():
            stderr("torchdoctor: examining " + target + " ...")
        report = diagnose(ProbeOptions(python=target, timeout=timeout, quick=quick), ignored)
    emit(render_report(report, fmt, verbose, output), output)
    raise typer.Exit(int(exit_code_for(report, fail_on)))


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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        stderr("torchdoctor: interrupted")
        sys.exit(130)
