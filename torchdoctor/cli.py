"""The command line. The only module that prints to the user and the only one that exits."""

from __future__ import annotations

import contextlib
import enum
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from torchdoctor import __version__
from torchdoctor.checks.base import Check
from torchdoctor.exitcodes import ExitCode
from torchdoctor.model import Finding, Report, Severity
from torchdoctor.render import OutputFormat
from torchdoctor.rules import timeouts
from torchdoctor.rules.devices import choices as device_choices
from torchdoctor.rules.timeouts import shown

if TYPE_CHECKING:
    from torchdoctor.smoke.runner import SmokeOptions

app = typer.Typer(
    name="torchdoctor",
    help="Diagnose a PyTorch environment: verdicts with evidence and an exact fix.",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def at_least_seconds(least: float) -> Any:
    """A callback that accepts a number of seconds of at least ``least`` (a finite one); else a usage error."""

    def check(value: float | None) -> float | None:
        if value is not None and not (least <= value <= 86400):
            raise typer.BadParameter(f"give a number of seconds from {least:g} to 86400, not {value:g}")
        return value

    return check


class AnswerFormat(str, enum.Enum):
    """What `compat` and `recommend` print: their answers are not reports, so only these two."""

    TERMINAL = "terminal"
    JSON = "json"


AnswerFormatOpt = Annotated[
    AnswerFormat,
    typer.Option("--format", "-f", metavar="FORMAT", help="terminal or json.", case_sensitive=False),
]


class FailOn(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"


def stderr(message: str) -> None:
    """One line on stderr, whatever its encoding; a closed stderr loses the line, not the run."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        encoding = sys.stderr.encoding or "utf-8"
        sys.stderr.write(message.encode(encoding, errors="replace").decode(encoding) + "\n")
        sys.stderr.flush()


def fatal(message: str, code: ExitCode = ExitCode.COULD_NOT_RUN) -> NoReturn:
    stderr(f"torchdoctor: {message}")
    raise typer.Exit(int(code))


class PythonChoice:
    """The interpreter to examine, and why that one (said when the obvious one could not be used)."""

    def __init__(self, path: str, note: str = "") -> None:
        self.path = path
        self.note = note


def active_python() -> PythonChoice:
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
                return PythonChoice(str(candidate))
        return PythonChoice(
            sys.executable,
            f"{var}={prefix} has no Python interpreter (a deleted environment?); examining {sys.executable} "
            "instead. Deactivate it, or pass --python.",
        )
    if own_tool_environment(sys.prefix):
        # Installed with pipx or `uv tool`: the doctor's own environment is never where the user's torch is.
        found = shutil.which("python3") or shutil.which("python")
        if found:
            return PythonChoice(
                found,
                f"examining {found}, the Python on PATH (torchdoctor runs in an environment of its own); "
                "activate the environment you train in, or pass --python PATH",
            )
    return PythonChoice(sys.executable)


def own_tool_environment(prefix: str) -> bool:
    """Is this pipx's or uv's private environment for torchdoctor (not one a user would train in)?"""
    path = prefix.replace("\\", "/").rstrip("/")
    return path.endswith(("/venvs/torchdoctor", "/tools/torchdoctor"))


def default_python() -> str:
    return active_python().path


def interpreter_problem(python: str, seconds: float = 20.0) -> tuple[str, str]:
    """Why ``--python`` cannot be examined: ("" , resolved path) when it can."""
    path = Path(python)
    if not path.exists():
        found = shutil.which(python)
        if found is None:
            return f"--python {python}: no such interpreter", ""
        path = Path(found)
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe", path / "python.exe"):
            if candidate.is_file():
                return "", str(candidate)
        return f"--python {python} is a folder, not an interpreter (for a virtual environment, give its bin/python)", ""
    if not os.access(path, os.X_OK):
        return f"--python {python}: not executable", ""
    return answers_as_python(python, str(path), seconds), str(path)


def answers_as_python(given: str, path: str, seconds: float) -> str:
    """ "" if ``path`` runs ``-c`` like a Python interpreter, else why not (it is pasted by a person)."""
    from torchdoctor.probes.subproc import run_command

    said = "torchdoctor-python-ok"
    result = run_command([path, "-c", f"print('{said}')"], seconds)
    if result.start_error:
        return f"--python {given}: cannot run it ({result.start_error})"
    if result.timed_out:
        return f"--python {given} did not answer within {seconds:g} s (is it a Python interpreter?)"
    if said not in result.stdout:
        return f"--python {given} is not a Python interpreter (it did not run `-c`)"
    return ""


def use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def terminal_width() -> int:
    """The terminal's width (COLUMNS first, as shells and rich read it), kept within 60-140; 100 when unknown."""
    columns = os.environ.get("COLUMNS", "")
    try:
        width = int(columns) if columns.isdigit() else os.get_terminal_size().columns
    except OSError:
        return 100
    return max(60, min(width, 140))


def split_codes(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def exit_code_for(findings: Iterable[Finding], fail_on: FailOn) -> ExitCode:
    if fail_on is FailOn.NEVER:
        return ExitCode.OK
    threshold = Severity.ERROR.rank if fail_on is FailOn.ERROR else Severity.WARNING.rank
    if any(f.severity.rank >= threshold for f in findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def emit(text: str, output: Path | None) -> None:
    """Write the report: to stdout in its own encoding, or to ``output`` atomically (temp file + rename)."""
    if output is None:
        write_stdout(text)
        return
    output = output_path(output)
    tmp = output.with_name(f".{output.name}.torchdoctor-{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        fatal(f"cannot write {output}: {exc.strerror or exc}")
    stderr(f"torchdoctor: report written to {output}")


def output_path(output: Path) -> Path:
    """``%h`` in -o is this host's name (short), so one command line serves every node: ``-o reports/%h.json``."""
    if "%" not in str(output):
        return output
    import socket

    host = socket.gethostname().split(".")[0] or "localhost"
    return Path(re.sub(r"%([h%])", lambda m: host if m.group(1) == "h" else "%", str(output)))


def write_stdout(text: str) -> None:
    """Characters the terminal cannot show become '?'; a closed, full or vanished stdout is one line on stderr."""
    stream = sys.stdout
    try:
        if stream is None:
            raise OSError("stdout is closed")
        encoding = stream.encoding or "utf-8"
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(text.encode(encoding, errors="replace"))
            buffer.flush()
        else:
            stream.write(text.encode(encoding, errors="replace").decode(encoding))
            stream.flush()
    except (OSError, ValueError) as exc:  # EPIPE, ENOSPC (/dev/full), EBADF, "I/O operation on closed file"
        with contextlib.suppress(OSError, ValueError):
            # stdout must not be flushed again at exit: point it at nothing
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        why = "the reader went away" if isinstance(exc, BrokenPipeError) else (getattr(exc, "strerror", None) or exc)
        stderr(f"torchdoctor: could not write the report to stdout: {why}")
        raise typer.Exit(int(ExitCode.OUTPUT_FAILED)) from None


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
    """Bare `torchdoctor` runs `torchdoctor check` (with any of check's options: `torchdoctor -v -f json`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(check)


TOP_LEVEL = {"--version", "--help", "-h"}


def default_to_check(argv: list[str]) -> list[str]:
    """``torchdoctor -v`` is ``torchdoctor check -v``: options before any command belong to check."""
    if not argv or argv[0] in TOP_LEVEL or not argv[0].startswith("-"):
        return argv
    return ["check", *argv]


PythonOpt = Annotated[
    str | None,
    typer.Option("--python", metavar="PATH", help="The interpreter to examine (default: the active environment's)."),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help=f"Seconds `import torch` may take {shown(timeouts.IMPORT_TORCH)}.",
        callback=at_least_seconds(0.1),
    ),
]
NvmlTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--nvml-timeout",
        metavar="SECONDS",
        help=f"Seconds NVML (then nvidia-smi) may take to read the driver {shown(timeouts.NVML)}.",
        callback=at_least_seconds(1),
    ),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", metavar="DEVICE", help=f"Smoke-test {device_choices()} present [all]."),
]
SmokeTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--smoke-timeout",
        metavar="SECONDS",
        help=f"Seconds per device's smoke tests {shown(timeouts.SMOKE_PER_DEVICE)}.",
        callback=at_least_seconds(1),
    ),
]
FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="terminal, json, markdown, html, junit or github.",
        case_sensitive=False,
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the report to FILE (%h: this host's name).")
]
IgnoreOpt = Annotated[
    list[str] | None, typer.Option("--ignore", metavar="CHECK", help="Skip a check (code or slug; repeatable).")
]
RequireOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--require", metavar="REQUIREMENT", help="Fail unless: cuda, mps, gpus>=N, torch>=X or smoke (repeatable)."
    ),
]
FailOnOpt = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on", metavar="SEVERITY", help="Exit 1 on findings at or above: error, warning or never [error]."
    ),
]
RedactOpt = Annotated[
    bool | None,
    typer.Option("--redact/--no-redact", help="Hide user, home, host and GPU UUIDs in markdown/html [redact]."),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show every fact, step and skipped check.")]


@dataclass(frozen=True)
class Settings:
    """The command line merged over [tool.torchdoctor] merged over the defaults."""

    fail_on: FailOn
    ignore: tuple[str, ...]
    required: tuple[Check, ...]
    timeout: float
    smoke_timeout: float
    device: str
    smoke: bool
    redact: bool
    nvml_timeout: float = timeouts.NVML


def settings(
    fail_on: FailOn | None,
    ignore: list[str] | None,
    require: list[str] | None,
    timeout: float | None,
    smoke_timeout: float | None,
    device: str | None,
    smoke: bool | None,
    redact: bool | None,
    nvml_timeout: float | None = None,
) -> Settings:
    from torchdoctor.checks.requirements import RequirementError, parse
    from torchdoctor.config import ConfigError, load

    try:
        config = load()
    except ConfigError as exc:
        fatal(str(exc), ExitCode.USAGE)

    def pick(cli: Any, key: str, default: Any) -> Any:
        return cli if cli is not None else config.get(key, default)

    try:
        fail = FailOn(pick(fail_on, "fail-on", "error"))
    except ValueError:
        fatal(f"{config.path}: fail-on must be error, warning or never", ExitCode.USAGE)
    requirements = pick(require, "require", [])
    try:
        required = tuple(parse(r) for r in split_codes(requirements))
    except RequirementError as exc:
        fatal(str(exc), ExitCode.USAGE)
    return Settings(
        fail_on=fail,
        ignore=tuple(split_codes(pick(ignore, "ignore", []))),
        required=required,
        timeout=float(pick(timeout, "timeout", timeouts.IMPORT_TORCH)),
        smoke_timeout=float(pick(smoke_timeout, "smoke-timeout", timeouts.SMOKE_PER_DEVICE)),
        device=str(pick(device, "device", "all")),
        smoke=bool(pick(smoke, "smoke", True)),
        redact=bool(pick(redact, "redact", True)),
        nvml_timeout=float(pick(nvml_timeout, "nvml-timeout", timeouts.NVML)),
    )


@app.command()
def check(
    fmt: FormatOpt = OutputFormat.TERMINAL,
    output: OutputOpt = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", metavar="FILE", help="Re-judge the facts of a JSON report instead of probing."),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Skip `import torch`: metadata, NVML, platform.")] = False,
    smoke: Annotated[bool | None, typer.Option("--smoke/--no-smoke", help="Run the smoke tests [smoke].")] = None,
    device: DeviceOpt = None,
    python: PythonOpt = None,
    timeout: TimeoutOpt = None,
    smoke_timeout: SmokeTimeoutOpt = None,
    nvml_timeout: NvmlTimeoutOpt = None,
    ignore: IgnoreOpt = None,
    require: RequireOpt = None,
    fail_on: FailOnOpt = None,
    redact: RedactOpt = None,
    verbose: VerboseOpt = False,
    list_checks: Annotated[bool, typer.Option("--list", help="List every check and exit.")] = False,
) -> None:
    """Diagnose this machine's PyTorch environment (or a captured report with --from)."""
    if list_checks:
        print_catalogue()
        raise typer.Exit(0)
    from torchdoctor.doctor import ReportFileError, judge, load_facts

    conf = settings(fail_on, ignore, require, timeout, smoke_timeout, device, smoke, redact, nvml_timeout)
    if from_file is not None:
        try:
            facts = load_facts(from_file)
        except ReportFileError as exc:
            fatal(str(exc))
        report = judge(facts, conf.ignore, origin=str(from_file), required=conf.required)
    else:
        smoke_opts = smoke_options(conf.device, conf.smoke_timeout) if conf.smoke else None
        report = probe(python, conf.timeout, quick, smoke_opts, conf, only_smoke=False)
    finish(report, fmt, output, verbose, conf)


app.command(
    "report", help="Same as `check`: write the diagnosis in any format (-f markdown|html|json|junit|github) to share."
)(check)


@app.command()
def smoke(
    device: DeviceOpt = None,
    fmt: FormatOpt = OutputFormat.TERMINAL,
    output: OutputOpt = None,
    python: PythonOpt = None,
    timeout: TimeoutOpt = None,
    smoke_timeout: SmokeTimeoutOpt = None,
    nvml_timeout: NvmlTimeoutOpt = None,
    ignore: IgnoreOpt = None,
    require: RequireOpt = None,
    fail_on: FailOnOpt = None,
    redact: RedactOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Prove each device can train, evaluate, save and load a small model (only the smoke tests)."""
    conf = settings(fail_on, ignore, require or [], timeout, smoke_timeout, device, True, redact, nvml_timeout)
    report = probe(python, conf.timeout, False, smoke_options(conf.device, conf.smoke_timeout), conf, only_smoke=True)
    finish(report, fmt, output, verbose, conf)


def finish(report: Report, fmt: OutputFormat, output: Path | None, verbose: bool, conf: Settings) -> NoReturn:
    emit(render_report(report, fmt, verbose, output, conf.redact), output)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        github_extras(report, fmt, output)
    raise typer.Exit(int(exit_code_for(report.findings, conf.fail_on)))


def github_extras(report: Report, fmt: OutputFormat, output: Path | None) -> None:
    """Inside GitHub Actions, whatever -f/-o say, once: annotations and the job summary."""
    from torchdoctor.render import RenderOptions, render

    github_outputs(
        fmt,
        output,
        lambda: render(report, OutputFormat.GITHUB),
        lambda: render(report, OutputFormat.MARKDOWN, RenderOptions()),
    )


def github_outputs(
    fmt: OutputFormat, output: Path | None, annotations: Callable[[], str], summary: Callable[[], str]
) -> None:
    """Annotations (unless -f github already printed them) and the Markdown job summary.

    Annotations go to stdout when it carries a person's report (or nothing), to stderr when it carries
    a machine-readable one (the runner reads workflow commands on both).
    """
    if fmt is not OutputFormat.GITHUB:
        text = annotations()
        if output is None and fmt is not OutputFormat.TERMINAL:
            stderr(text.rstrip("\n"))
        elif text:
            write_stdout(text)
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(summary() + "\n")
        except OSError as exc:
            stderr(f"torchdoctor: cannot append to GITHUB_STEP_SUMMARY ({exc})")


def smoke_options(device: str, timeout: float) -> SmokeOptions:
    from torchdoctor.rules.devices import DeviceError, parse_device
    from torchdoctor.smoke.runner import SmokeOptions

    try:
        parse_device(device)
    except DeviceError:
        fatal(f"--device {device}: use {device_choices()}", ExitCode.USAGE)
    return SmokeOptions(device=device, timeout=timeout)


def probe(
    python: str | None, timeout: float, quick: bool, smoke: SmokeOptions | None, conf: Settings, only_smoke: bool
) -> Report:
    from torchdoctor.checks.base import Area
    from torchdoctor.doctor import diagnose
    from torchdoctor.probes import ProbeOptions

    target = resolve_python(python, timeout)
    options = ProbeOptions(python=target, timeout=timeout, quick=quick, nvml_timeout=conf.nvml_timeout)
    required = conf.required
    with LiveProgress(target, quick) as progress:
        return diagnose(options, conf.ignore, smoke, progress, Area.SMOKE if only_smoke else None, required)


def resolve_python(python: str | None, timeout: float) -> str:
    """The interpreter to examine: --python (checked), else the active environment's (said when it is not)."""
    if python:
        problem, target = interpreter_problem(python, min(timeouts.INTERPRETER_CHECK, timeout))
        if problem:
            fatal(problem, ExitCode.USAGE)
        return target
    choice = active_python()
    if choice.note:
        stderr(f"torchdoctor: {choice.note}")
    return choice.path


class LiveProgress:
    """A spinner on stderr (only when it is a terminal) that says what the doctor is waiting for."""

    def __init__(self, target: str, quick: bool = False) -> None:
        self.target = target
        self.status: Any = None
        self.waiting = {"NVML (the NVIDIA driver)"} | (set() if quick else {"import torch"})
        self.phase = ""

    def __enter__(self) -> LiveProgress:
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console

            console = Console(stderr=True)
            self.status = console.status(self.text())
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def text(self) -> str:
        parts = [self.phase] if self.phase else []
        if self.waiting:
            parts.append(f"waiting for {' and '.join(sorted(self.waiting))}")
        return f"examining {self.target}: {'; '.join(parts) or 'judging'} ..."

    def __call__(self, message: dict[str, Any]) -> None:
        done = message.get("probe_done")
        if done == "nvml":
            self.waiting.discard("NVML (the NVIDIA driver)")
        elif done == "torch" or "torch" in message:
            self.waiting.discard("import torch")
        if "smoke_start" in message:
            start = message["smoke_start"]
            self.phase = f"smoke {start.get('device')}: {start.get('step')}"
        if self.status is not None:
            self.status.update(self.text())


def render_report(report: Report, fmt: OutputFormat, verbose: bool, output: Path | None, redact: bool = True) -> str:
    from torchdoctor.render import RenderOptions, render

    to_terminal = output is None
    options = RenderOptions(
        verbose=verbose,
        color=to_terminal and use_color(),
        width=terminal_width() if to_terminal else 100,
        unicode=(getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") in ("utf8", "utf16")
        or not to_terminal,
        redact_identity=redact,
    )
    return render(report, fmt, options)


def catalogue() -> list[Check]:
    """Every check with a fixed code: `check`'s catalogue, the requirements, then `dist`'s."""
    from torchdoctor.bench.checks import all_bench_checks
    from torchdoctor.checks import all_checks
    from torchdoctor.checks.requirements import catalogue as requirements
    from torchdoctor.distributed.checks import all_dist_checks

    return [*all_checks(), *requirements(), *all_bench_checks(), *all_dist_checks()]


def print_catalogue() -> None:
    for c in catalogue():
        title = c.title if not c.slug.startswith("require-") else f"--require not met ({c.title})"
        print(f"{c.code}  {c.slug:<26} {c.severity.value:<8} {title}")


@app.command()
def bench(
    device: Annotated[
        str, typer.Option("--device", metavar="DEVICE", help=f"{device_choices()} present [all].")
    ] = "all",
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds", metavar="SECONDS", help="Measuring time per device [15].", callback=at_least_seconds(1)
        ),
    ] = 15.0,
    fmt: FormatOpt = OutputFormat.TERMINAL,
    output: OutputOpt = None,
    python: PythonOpt = None,
    timeout: TimeoutOpt = None,
    require: RequireOpt = None,
    ignore: IgnoreOpt = None,
    fail_on: FailOnOpt = None,
    redact: RedactOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Is this hardware as fast as it should be? Matmul, memory and PCIe per device, against the datasheet."""
    from dataclasses import replace

    from torchdoctor.bench.checks import all_bench_checks
    from torchdoctor.bench.runner import run_bench
    from torchdoctor.checks.base import run_checks
    from torchdoctor.doctor import SCHEMA_VERSION, TOOL, now
    from torchdoctor.model import Report, Unavailable
    from torchdoctor.probes import ProbeOptions, gather

    conf = settings(fail_on, ignore, require or [], timeout, None, device, False, redact)
    target = resolve_python(python, conf.timeout)
    with LiveProgress(target) as progress:
        facts, timings = gather(ProbeOptions(python=target, timeout=conf.timeout), on_message=progress)
        progress.phase = f"measuring {device} for {seconds:g} s"
        progress({})
        measured = run_bench(target, facts.torch, device, seconds)
    facts = replace(facts, bench=measured, smoke=Unavailable("smoke", "`torchdoctor smoke` runs them", "skipped"))
    outcomes = run_checks(facts, [*all_bench_checks(), *conf.required], conf.ignore)
    report = Report(SCHEMA_VERSION, TOOL, now(), "probed", facts, outcomes, timings)
    finish(report, fmt, output, verbose, conf)


@app.command()
def explain(
    code: Annotated[str, typer.Argument(help="A check code (TD004) or slug (cuda-unavailable).")],
) -> None:
    """Explain one check: what it looks at, why it matters."""
    from torchdoctor.checks import find

    checks = catalogue()
    chk = find(code, checks)
    if chk is None:
        import difflib

        names = [c.slug for c in checks] + [c.code for c in checks]
        near = difflib.get_close_matches(code.strip().lower(), [n.lower() for n in names], n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        fatal(f"no check named {code!r}{hint}; `torchdoctor check --list` lists them", ExitCode.USAGE)
    print(f"{chk.code} {chk.slug} ({chk.severity.value}, {chk.area.value})")
    print(chk.title)
    print()
    print(chk.why)
    if chk.requires:
        print()
        print("Needs facts: " + ", ".join(chk.requires))


@app.command()
def dist(
    nproc: Annotated[
        int | None,
        typer.Option(
            "--nproc", metavar="N", help="Start N local ranks through torchrun (else: run as this rank).", min=1
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", metavar="BACKEND", help="auto (nccl when every rank has a GPU), nccl or gloo.")
    ] = "auto",
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help=f"Seconds for the whole run {shown(timeouts.DIST_RUN)}.",
            callback=at_least_seconds(1),
        ),
    ] = timeouts.DIST_RUN,
    rdzv_timeout: Annotated[
        float,
        typer.Option(
            "--rdzv-timeout",
            metavar="SECONDS",
            help=f"Seconds for every rank to join {shown(timeouts.DIST_RENDEZVOUS)}.",
            callback=at_least_seconds(0.5),
        ),
    ] = timeouts.DIST_RENDEZVOUS,
    collective_timeout: Annotated[
        float,
        typer.Option(
            "--collective-timeout",
            metavar="SECONDS",
            help=f"Seconds per collective {shown(timeouts.DIST_COLLECTIVE)}.",
            callback=at_least_seconds(0.5),
        ),
    ] = timeouts.DIST_COLLECTIVE,
    max_mib: Annotated[
        int,
        typer.Option(
            "--max-mib",
            metavar="MIB",
            help="Largest all_reduce in the bandwidth sweep, in MiB (0, the default: 256 for nccl, 16 for gloo).",
            min=0,
            show_default=False,
        ),
    ] = 0,
    python: PythonOpt = None,
    fmt: FormatOpt = OutputFormat.TERMINAL,
    output: OutputOpt = None,
    ignore: IgnoreOpt = None,
    fail_on: FailOnOpt = None,
    redact: RedactOpt = None,
    verbose: VerboseOpt = False,
    all_ranks: Annotated[bool, typer.Option("--all-ranks", help="Let every rank print its problems.")] = False,
) -> None:
    """Diagnose a multi-GPU / multi-node job: run it under torchrun or srun, or use --nproc N locally."""
    if backend not in ("auto", "nccl", "gloo"):
        fatal(f"--backend {backend}: use auto, nccl or gloo", ExitCode.USAGE)
    if nproc is not None:
        from torchdoctor.distributed.launcher import launch_local

        forwarded = [a for a in sys.argv[sys.argv.index("dist") + 1 :]] if "dist" in sys.argv else []
        forwarded = _without_option(forwarded, "--nproc")
        forwarded = _without_option(forwarded, "--python")
        code, problem = launch_local(python or default_python(), nproc, forwarded, timeout + timeouts.DIST_LAUNCH_SLACK)
        if problem:
            stderr(f"torchdoctor: {problem}")
        raise typer.Exit(code)
    conf = settings(fail_on, ignore, None, None, None, None, None, redact)
    raise typer.Exit(
        run_dist(backend, timeout, rdzv_timeout, collective_timeout, max_mib, fmt, output, verbose, all_ranks, conf)
    )


def _without_option(args: list[str], name: str) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == name:
            skip = True
            continue
        if arg.startswith(name + "="):
            continue
        out.append(arg)
    return out


def run_dist(
    backend: str,
    timeout: float,
    rdzv_timeout: float,
    collective_timeout: float,
    max_mib: int,
    fmt: OutputFormat,
    output: Path | None,
    verbose: bool,
    all_ranks: bool,
    conf: Settings,
) -> int:
    from torchdoctor.checks.base import run_checks
    from torchdoctor.distributed import checks as dist_checks
    from torchdoctor.distributed import rank as dist_rank
    from torchdoctor.distributed.model import ClusterFacts, DistReport
    from torchdoctor.distributed.render import render
    from torchdoctor.distributed.run import DistOptions, run
    from torchdoctor.doctor import SCHEMA_VERSION, TOOL, now

    try:
        launch = dist_rank.resolve(os.environ)
    except dist_rank.LaunchError as exc:
        if any(v in os.environ for v in ("RANK", "WORLD_SIZE", "SLURM_PROCID")):
            fatal(str(exc), ExitCode.USAGE)
        launch = dist_rank.single(dist_rank.free_port())
    options = DistOptions(backend, rdzv_timeout, collective_timeout, timeout, max_mib * 1024 * 1024)

    def finish(cluster: ClusterFacts) -> int:
        outcomes = run_checks(cluster, dist_checks.all_dist_checks(), conf.ignore)
        report = DistReport(SCHEMA_VERSION, TOOL, now(), cluster, outcomes)
        to_terminal = output is None
        emit(
            render(
                report,
                fmt,
                verbose,
                to_terminal and use_color(),
                terminal_width() if to_terminal else 100,
                redact_identity=conf.redact,
            ),
            output,
        )
        return int(exit_code_for(report.findings, conf.fail_on))

    def log(message: str) -> None:
        if all_ranks or launch.rank == 0:
            stderr(f"torchdoctor: {message}")

    from torchdoctor.distributed.run import TerminationReport

    terminated = TerminationReport()  # before torch starts any thread
    try:
        import torch  # noqa: F401  (this process is a rank: torch is what it examines)
    except Exception as exc:
        fatal(f"dist runs inside each rank and needs torch there: {type(exc).__name__}: {exc}")
    try:
        return run(launch, options, finish, log, terminated)
    except Exception as exc:  # the store's host (rank 0, or torchrun's agent) went away mid-run, most often
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fatal(
            f"rank {launch.rank}: lost the job's store at {launch.master_addr}:{launch.master_port} "
            f"({type(exc).__name__}: {first}); rank 0 or the launcher has gone away",
            ExitCode.FINDINGS,
        )


GpuOpt = Annotated[
    list[str] | None, typer.Option("--gpu", metavar="GPU", help="A GPU name ('RTX 5090'), sm_XY or X.Y; repeatable.")
]
PlatformHelp = "linux-x86_64, linux-aarch64, windows-x86_64, macos-arm64 or macos-x86_64"


@app.command()
def compat(
    torch: Annotated[
        str, typer.Option("--torch", metavar="VERSION", help="A release (2.5.1), series (2.5) or range (>=2.4).")
    ] = "",
    python_version: Annotated[
        str,
        typer.Option("--python-version", metavar="VERSION", help="A Python version (3.12, or 3.13t free-threaded)."),
    ] = "",
    driver: Annotated[
        str, typer.Option("--driver", metavar="VERSION", help="An NVIDIA driver version (550.54.15).")
    ] = "",
    cuda: Annotated[
        str, typer.Option("--cuda", metavar="VERSION", help="A CUDA version (12.6) or variant (cu126).")
    ] = "",
    gpu: GpuOpt = None,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", metavar="PLATFORM", help=PlatformHelp + "; repeatable.")
    ] = None,
    torchvision: Annotated[
        str, typer.Option("--torchvision", metavar="VERSION", help="Is this torchvision right for --torch?")
    ] = "",
    torchaudio: Annotated[
        str, typer.Option("--torchaudio", metavar="VERSION", help="Is this torchaudio right for --torch?")
    ] = "",
    fmt: AnswerFormatOpt = AnswerFormat.TERMINAL,
) -> None:
    """Answer compatibility questions from the tables alone (offline; this machine is not examined)."""
    import platform as platform_module

    from torchdoctor.compat.machine import check_platform, parse_python, platform_key, resolve_gpu
    from torchdoctor.compat.query import Query, answer
    from torchdoctor.compat.tables import load_tables
    from torchdoctor.render.compat import render_answer

    tables = load_tables()
    try:
        platforms = tuple(check_platform(p) for p in platform or []) or (
            platform_key(platform_module.system(), platform_module.machine()),
        )
        gpus = tuple(resolve_gpu(tables, g, i) for i, g in enumerate(gpu or []))
        if python_version:
            parse_python(python_version)  # a usage error, not an internal one, when it is not a version
        query = Query(torch, python_version, driver, cuda, gpus, platforms, torchvision, torchaudio)
        result = answer(tables, query)
    except ValueError as exc:
        fatal(str(exc), ExitCode.USAGE)
    if fmt is AnswerFormat.JSON:
        import json

        emit(json.dumps(result.to_json(), indent=2) + "\n", None)
    else:
        emit(render_answer(result, use_color(), terminal_width()), None)
    raise typer.Exit(int(ExitCode.FINDINGS if result.negative else ExitCode.OK))


@app.command()
def fleet(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="REPORT...",
            help="JSON reports of check, bench or dist: files, directories (their *.json), or - (standard input: "
            "reports back to back, or JSON lines).",
        ),
    ],
    fmt: FormatOpt = OutputFormat.TERMINAL,
    output: OutputOpt = None,
    hide_hosts: Annotated[
        bool,
        typer.Option(
            "--hide-hosts", help="Name nodes by stable pseudonyms (node-1a2b3c4d) in every format, not host names."
        ),
    ] = False,
    redact: Annotated[
        bool | None,
        typer.Option("--redact/--no-redact", help="Pseudonyms for host names in markdown/html [redact]."),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            metavar="SEVERITY",
            help="Exit 1 on: error (a node's error finding, an unreadable report), warning (also warnings, "
            "outliers, slow nodes and hosts reported twice) or never [error].",
        ),
    ] = None,
    require: Annotated[
        list[str] | None,
        typer.Option(
            "--require",
            metavar="REQUIREMENT",
            help="Fail unless: nodes>=N, configurations<=N, no-outliers (the fleet), or cuda, gpus>=N, torch>=X, "
            "smoke (every node's check report) (repeatable).",
        ),
    ] = None,
    ignore: IgnoreOpt = None,
) -> None:
    """Many machines' reports (check/bench/dist -f json) as one answer: configurations, outliers, findings."""
    from torchdoctor.checks.requirements import RequirementError, parse
    from torchdoctor.fleet import Judging, gather_fleet, is_fleet_requirement, judge_requirements
    from torchdoctor.render.fleet import fleet_github, fleet_html, fleet_json, fleet_junit, fleet_markdown, render_fleet

    conf = settings(fail_on, ignore, [], None, None, None, None, redact)
    specs = split_codes(require or [])
    try:
        per_node = tuple(parse(spec) for spec in specs if not is_fleet_requirement(spec))
    except RequirementError as exc:
        fatal(f"{exc} (or, for the fleet: nodes>=N, configurations<=N, no-outliers)", ExitCode.USAGE)
    hidden = hide_hosts or (fmt.shared and conf.redact)
    gathered = gather_fleet(paths, Judging(conf.ignore, per_node))
    fleet_specs = [spec for spec in specs if is_fleet_requirement(spec)]
    found = gathered.shared() if hidden else gathered
    judge_requirements(found, fleet_specs)
    renderers = {
        OutputFormat.JSON: fleet_json,
        OutputFormat.MARKDOWN: fleet_markdown,
        OutputFormat.HTML: fleet_html,
        OutputFormat.JUNIT: fleet_junit,
        OutputFormat.GITHUB: fleet_github,
    }
    if fmt is OutputFormat.TERMINAL:
        text = render_fleet(found, output is None and use_color(), terminal_width() if output is None else 100)
    else:
        text = renderers[fmt](found)
    emit(text, output)
    if os.environ.get("GITHUB_ACTIONS") == "true":  # as check does: annotations and the job summary, once

        def shared() -> str:  # the summary is read by others: pseudonyms, as markdown has them by default
            if hidden or not conf.redact:
                return fleet_markdown(found)
            view = gathered.shared()
            judge_requirements(view, fleet_specs)
            return fleet_markdown(view)

        github_outputs(fmt, output, lambda: fleet_github(found), shared)
    if not found.nodes:
        stderr("torchdoctor: no report could be read")
    failed = {
        FailOn.ERROR: found.broken(),
        FailOn.WARNING: found.broken() or found.warned(),
        FailOn.NEVER: not found.nodes,
    }[conf.fail_on]
    raise typer.Exit(int(ExitCode.FINDINGS if failed else ExitCode.OK))


@app.command()
def recommend(
    driver: Annotated[
        str, typer.Option("--driver", metavar="VERSION", help="Assume this NVIDIA driver (default: this machine's).")
    ] = "",
    gpu: GpuOpt = None,
    python_version: Annotated[
        str,
        typer.Option(
            "--python-version", metavar="VERSION", help="Assume this Python version (3.12, or 3.13t free-threaded)."
        ),
    ] = "",
    platform: Annotated[str, typer.Option("--platform", metavar="PLATFORM", help=PlatformHelp)] = "",
    macos: Annotated[
        str, typer.Option("--macos", metavar="VERSION", help="Assume this macOS version (default: this Mac's).")
    ] = "",
    interpreter: Annotated[
        str | None, typer.Option("--python", metavar="PATH", help="Examine this interpreter (default: the active one).")
    ] = None,
    fmt: AnswerFormatOpt = AnswerFormat.TERMINAL,
) -> None:
    """The newest torch this machine (or the one described) can run, and the exact pip command."""
    from dataclasses import replace

    from torchdoctor.compat.machine import (
        check_platform,
        check_version,
        machine_from_facts,
        parse_python,
        resolve_gpu,
    )
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
            version, free_threaded = parse_python(python_version)
            machine = replace(machine, python=version, free_threaded=free_threaded)
        if platform and check_platform(platform) != machine.platform:
            # another OS or architecture: this host's C library and macOS say nothing about it
            machine = replace(machine, platform=platform, glibc="", macos="")
        if macos:
            machine = replace(machine, macos=check_version(macos, "--macos"))
    except ValueError as exc:
        fatal(str(exc), ExitCode.USAGE)
    python_cmd = target if not python_version and not platform else "python"
    if python_cmd == "python" and machine.free_threaded:  # the free-threaded interpreter is installed beside
        python_cmd = "python" + ".".join(machine.python.split(".")[:2]) + "t"  # the regular one: python3.13t
    result = pick(tables, machine, python_cmd)
    described = (
        f"{machine.platform}, "
        + ("free-threaded " if machine.free_threaded else "")
        + f"Python {machine.python}"
        + (f", macOS {machine.macos}" if machine.macos else "")
        + (f", driver {machine.driver}" if machine.driver else ", no NVIDIA driver")
        + ("".join(f", {g.label} (sm_{g.cc})" for g in machine.gpus))
    )
    if fmt is AnswerFormat.JSON:
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


SIGNAL_NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)"}
if hasattr(signal, "SIGHUP"):
    SIGNAL_NAMES[signal.SIGHUP] = "hung up (SIGHUP)"


def _on_signal(signum: int, frame: object) -> None:
    """Ctrl-C, SIGTERM, SIGHUP: kill every child's process group, remove temp dirs, say so in one line."""
    from torchdoctor.probes.subproc import kill_everything

    kill_everything()
    with contextlib.suppress(Exception):
        sys.stderr.write(f"torchdoctor: {SIGNAL_NAMES.get(signal.Signals(signum), 'stopped')}\n")
        sys.stderr.flush()
    os._exit(128 + signum)


def install_signal_handlers() -> None:
    for signum in SIGNAL_NAMES:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or not allowed here
            signal.signal(signum, _on_signal)


def main() -> None:
    install_signal_handlers()
    try:
        app(args=default_to_check(sys.argv[1:]), prog_name="torchdoctor")
    except KeyboardInterrupt:  # pragma: no cover - a signal handler could not be installed
        from torchdoctor.probes.subproc import kill_everything

        kill_everything()
        stderr("torchdoctor: interrupted")
        sys.exit(130)
    except Exception as exc:  # a traceback shown to a user is a bug: say so in one line, keep the details
        import tempfile
        import traceback

        try:
            with tempfile.NamedTemporaryFile("w", prefix="torchdoctor-crash-", suffix=".txt", delete=False) as fh:
                traceback.print_exc(file=fh)
            where = f"the traceback is in {fh.name}"
        except OSError:  # no writable temp directory either
            where = "set TMPDIR to a writable folder to keep the traceback"
        stderr(
            f"torchdoctor: internal error ({type(exc).__name__}: {exc}). This is a bug in torchdoctor, not in "
            f"your environment; {where}. Please report it."
        )
        sys.exit(int(ExitCode.COULD_NOT_RUN))
