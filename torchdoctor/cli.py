"""The command line: parse arguments into options, run the command, deliver its result, exit.

The only module that exits. Each command's logic lives in :mod:`torchdoctor.commands`; output in
:mod:`torchdoctor.output`; the exit code in :mod:`torchdoctor.policy`.
"""

# No `from __future__ import annotations` here: typer reads every command's annotations at each start, and
# strings would be evaluated again each time (objects are made once, as the module is imported).

import contextlib
import enum
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand

from torchdoctor import __version__
from torchdoctor.commands.early import default_to_check
from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.output import OutputOptions, deliver, say
from torchdoctor.policy import FailOn, exit_code
from torchdoctor.render import OutputFormat
from torchdoctor.rules import timeouts
from torchdoctor.rules.devices import choices as device_choices
from torchdoctor.rules.timeouts import shown
from torchdoctor.settings import settings
from torchdoctor.signals import end_children

if TYPE_CHECKING:
    from torchdoctor.probes.early import EarlyProbes
    from torchdoctor.result import Result

app = typer.Typer(
    name="torchdoctor",
    help="Diagnose a PyTorch environment: verdicts with evidence and an exact fix.",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class PlainArgument(TyperArgument):
    """An argument shown as its metavar alone: ``REPORT...``, not ``{REPORT...}...`` and ``<list[str]>``."""

    def display_type(self, ctx: Any) -> str:
        return ""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line's piece (click's own hook, which every typer calls; typer 0.28 braces a required
        argument, ``{CODE}``)."""
        name = self.metavar or (self.name or "").upper()
        return [(name if self.required else f"[{name}]") + ("..." if self.nargs != 1 and "..." not in name else "")]


class PlainArgumentsCommand(TyperCommand):
    """A command whose arguments are written as the help says them (see :class:`PlainArgument`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = PlainArgument


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


def fatal(message: str, code: ExitCode = ExitCode.COULD_NOT_RUN) -> NoReturn:
    say(f"torchdoctor: {message}")
    raise typer.Exit(int(code))


@contextlib.contextmanager
def stops() -> Iterator[None]:
    """A command that cannot go on says why in one line and exits with its code."""
    try:
        yield
    except Stop as exc:
        fatal(exc.message, exc.code)


def finish(result: "Result", out: OutputOptions, fail_on: FailOn = FailOn.ERROR) -> NoReturn:
    """Deliver the result, then exit with the fail-on policy's code."""
    with stops():
        deliver(result, out)
    raise typer.Exit(int(exit_code(result.severities(), fail_on, result.judged)))


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
        ctx.invoke(check, ctx)


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


@app.command(short_help="Diagnose this machine's PyTorch environment.")
def check(
    ctx: typer.Context,
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
        from torchdoctor.commands.explain import run_list

        finish(run_list(), OutputOptions(fmt, output))
    from torchdoctor.commands.report import CheckOptions, run_check

    with stops():
        conf = settings(fail_on, ignore, require, timeout, smoke_timeout, device, smoke, redact, nvml_timeout)
        result = run_check(CheckOptions(conf, python, quick, from_file, ctx.obj))
    finish(result, OutputOptions(fmt, output, verbose, conf.redact), conf.fail_on)


app.command(
    "report",
    help="Same as `check`: write the diagnosis in any format (-f markdown|html|json|junit|github) to share.",
    short_help="Same as check: the diagnosis in any format, to share.",
)(check)


@app.command(short_help="Prove each device can train, evaluate, save and load.")
def smoke(
    ctx: typer.Context,
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
    from torchdoctor.commands.report import run_smoke

    with stops():
        conf = settings(fail_on, ignore, require or [], timeout, smoke_timeout, device, True, redact, nvml_timeout)
        result = run_smoke(conf, python, ctx.obj)
    finish(result, OutputOptions(fmt, output, verbose, conf.redact), conf.fail_on)


@app.command(short_help="Matmul, memory and PCIe speed against the datasheet.")
def bench(
    ctx: typer.Context,
    device: Annotated[
        str,
        typer.Option("--device", metavar="DEVICE", help=f"{device_choices()} present [all].", show_default=False),
    ] = "all",
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds",
            metavar="SECONDS",
            help="Measuring time per device [15].",
            callback=at_least_seconds(1),
            show_default=False,
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
    from torchdoctor.commands.bench import BenchOptions, run_bench

    with stops():
        conf = settings(fail_on, ignore, require or [], timeout, None, device, False, redact)
        result = run_bench(BenchOptions(conf, device, seconds, python, ctx.obj))
    finish(result, OutputOptions(fmt, output, verbose, conf.redact), conf.fail_on)


@app.command(cls=PlainArgumentsCommand, short_help="What one check looks at, and why it matters.")
def explain(
    code: Annotated[str, typer.Argument(metavar="CODE", help="A check code (TD004) or slug (cuda-unavailable).")],
    fmt: AnswerFormatOpt = AnswerFormat.TERMINAL,
) -> None:
    """Explain one check: what it looks at, why it matters."""
    from torchdoctor.commands.explain import run_explain

    with stops():
        result = run_explain(code)
    finish(result, answer_output(fmt))


@app.command(short_help="Diagnose a multi-GPU / multi-node job.")
def dist(
    nproc: Annotated[
        int | None,
        typer.Option(
            "--nproc", metavar="N", help="Start N local ranks through torchrun (else: run as this rank).", min=1
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            metavar="BACKEND",
            help="auto (nccl when every rank has a GPU), nccl or gloo [auto].",
            show_default=False,
        ),
    ] = "auto",
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help=f"Seconds for the whole run {shown(timeouts.DIST_RUN)}.",
            show_default=False,
            callback=at_least_seconds(1),
        ),
    ] = timeouts.DIST_RUN,
    rdzv_timeout: Annotated[
        float,
        typer.Option(
            "--rdzv-timeout",
            metavar="SECONDS",
            help=f"Seconds for every rank to join {shown(timeouts.DIST_RENDEZVOUS)}.",
            show_default=False,
            callback=at_least_seconds(0.5),
        ),
    ] = timeouts.DIST_RENDEZVOUS,
    collective_timeout: Annotated[
        float,
        typer.Option(
            "--collective-timeout",
            metavar="SECONDS",
            help=f"Seconds per collective {shown(timeouts.DIST_COLLECTIVE)}.",
            show_default=False,
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
    from torchdoctor.commands.dist import DistOptions, check_backend, launch_ranks, run_rank

    with stops():
        check_backend(backend)
        conf = settings(fail_on, ignore, None, None, None, None, None, redact)
        out = OutputOptions(fmt, output, verbose, conf.redact)
        options = DistOptions(conf, out, backend, timeout, rdzv_timeout, collective_timeout, max_mib, all_ranks)
        code = launch_ranks(python, nproc, sys.argv, options) if nproc is not None else run_rank(options)
    raise typer.Exit(code)


GpuOpt = Annotated[
    list[str] | None, typer.Option("--gpu", metavar="GPU", help="A GPU name ('RTX 5090'), sm_XY or X.Y; repeatable.")
]
PlatformHelp = "linux-x86_64, linux-aarch64, windows-x86_64, macos-arm64 or macos-x86_64"


@app.command(short_help="Answer compatibility questions from the tables alone.")
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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the answer to FILE.")
    ] = None,
) -> None:
    """Answer compatibility questions from the tables alone (offline; this machine is not examined)."""
    from torchdoctor.commands.compat import CompatOptions, run_compat

    options = CompatOptions(
        torch, python_version, driver, cuda, tuple(gpu or ()), tuple(platform or ()), torchvision, torchaudio
    )
    with stops():
        result = run_compat(options)
    finish(result, answer_output(fmt, output))


@app.command(cls=PlainArgumentsCommand, short_help="Many machines' reports read as one answer.")
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
        typer.Option(
            "--redact/--no-redact",
            help="Pseudonyms for host names in markdown, html and GitHub annotations and job summary [redact].",
        ),
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
    from torchdoctor.commands.fleet import FleetOptions, run_fleet

    with stops():
        conf = settings(fail_on, ignore, [], None, None, None, None, redact)
        result = run_fleet(FleetOptions(tuple(paths), conf, tuple(require or ()), hide_hosts, fmt.shared))
    finish(result, OutputOptions(fmt, output, redact=conf.redact), conf.fail_on)


@app.command(short_help="The newest torch this machine can run, and how.")
def recommend(
    ctx: typer.Context,
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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the answer to FILE.")
    ] = None,
) -> None:
    """The newest torch this machine (or the one described) can run, and the exact pip command."""
    from torchdoctor.commands.recommend import RecommendOptions, run_recommend

    options = RecommendOptions(driver, tuple(gpu or ()), python_version, platform, macos, interpreter, ctx.obj)
    with stops():
        result = run_recommend(options)
    finish(result, answer_output(fmt, output))


def answer_output(fmt: AnswerFormat, output: Path | None = None) -> OutputOptions:
    return OutputOptions(OutputFormat(fmt.value), output)


def main(early: "EarlyProbes | None" = None) -> None:
    """Run the command line (`torchdoctor.__main__` installs the signal handlers and starts ``early``, the probes
    of a live command, first: each command reads them from its context's ``obj``)."""
    try:
        _run(early)
    finally:
        end_children()  # an early probe no command took (`check --from`, `--help`) ends with the doctor


def _run(early: "EarlyProbes | None") -> None:
    try:
        app(args=default_to_check(sys.argv[1:]), prog_name="torchdoctor", obj=early)
    except SystemExit as exc:
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            # click (typer's own copy) met EPIPE writing its text (--help): it wraps stdout so and exits 1
            say("torchdoctor: could not write to stdout: the reader went away")
            sys.exit(int(ExitCode.OUTPUT_FAILED))
        raise
    except KeyboardInterrupt:  # pragma: no cover - a signal handler could not be installed
        end_children()
        say("torchdoctor: interrupted")
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
        say(
            f"torchdoctor: internal error ({type(exc).__name__}: {exc}). This is a bug in torchdoctor, not in "
            f"your environment; {where}. Please report it."
        )
        sys.exit(int(ExitCode.COULD_NOT_RUN))
