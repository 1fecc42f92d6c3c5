"""`dist`: one job's ranks examined together — rendezvous, each rank's facts, collectives, one report."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from torchdoctor.distributed.model import ClusterFacts, DistReport
from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.model import Finding
from torchdoctor.output import OutputOptions, deliver, say
from torchdoctor.policy import exit_code
from torchdoctor.render import OutputFormat, RenderOptions
from torchdoctor.result import Result
from torchdoctor.rules import timeouts
from torchdoctor.settings import Settings


def _render(fmt: OutputFormat) -> Callable[[DistResult, RenderOptions], str]:
    from torchdoctor.distributed.render import render

    def one(result: DistResult, options: RenderOptions) -> str:
        return render(
            result.report,
            fmt,
            options.verbose,
            options.color,
            options.width,
            redact_identity=options.redact_identity,
        )

    return one


@dataclass(frozen=True)
class DistResult(Result):
    report: DistReport
    kind: ClassVar[str] = "dist"
    renderers: ClassVar = {fmt: _render(fmt) for fmt in OutputFormat}
    redacts: ClassVar[bool] = True

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.report.findings

    def document(self) -> dict[str, Any]:
        from torchdoctor.distributed.render import to_dict

        return to_dict(self.report)


@dataclass(frozen=True)
class DistOptions:
    settings: Settings
    out: OutputOptions
    backend: str = "auto"
    timeout: float = timeouts.DIST_RUN
    rdzv_timeout: float = timeouts.DIST_RENDEZVOUS
    collective_timeout: float = timeouts.DIST_COLLECTIVE
    max_mib: int = 0
    all_ranks: bool = False


def check_backend(backend: str) -> None:
    if backend not in ("auto", "nccl", "gloo"):
        raise Stop(f"--backend {backend}: use auto, nccl or gloo", ExitCode.USAGE)


def launch_ranks(python: str | None, nproc: int, argv: list[str], options: DistOptions) -> int:
    """``--nproc N``: start N local ranks through torchrun, each running this command; their exit code.

    When the ranks failed and none of them reported (rank 0 died, or was stopped before the job came
    together), the launcher reports what it saw: which rank died, how and when."""
    from torchdoctor.distributed.launcher import after_the_ranks, launch_local
    from torchdoctor.interpreter import default_python

    forwarded = list(argv[argv.index("dist") + 1 :]) if "dist" in argv else []
    forwarded = without_option(forwarded, "--nproc")
    forwarded = without_option(forwarded, "--python")
    slack = options.timeout + timeouts.DIST_LAUNCH_SLACK
    launched = launch_local(python or default_python(), nproc, forwarded, slack)
    cluster = after_the_ranks(launched, nproc, options.backend)
    if cluster is not None:
        return judge_and_deliver(cluster, options)
    if launched.problem:
        say(f"torchdoctor: {launched.problem}")
    return launched.code


def judge_and_deliver(cluster: ClusterFacts, options: DistOptions) -> int:
    """The job's facts judged, the report delivered (the one writer), and its exit code."""
    from torchdoctor.checks.base import run_checks
    from torchdoctor.distributed import checks as dist_checks
    from torchdoctor.reportfile import SCHEMA_VERSION, TOOL, now

    outcomes = run_checks(cluster, dist_checks.all_dist_checks(), options.settings.ignore)
    result = DistResult(DistReport(SCHEMA_VERSION, TOOL, now(), cluster, outcomes))
    deliver(result, options.out)
    return int(exit_code(result.severities(), options.settings.fail_on))


def without_option(args: list[str], name: str) -> list[str]:
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


def run_rank(options: DistOptions) -> int:
    """This process is one rank of the job: run it; rank 0 writes the report. Returns the exit code."""
    from torchdoctor.distributed import rank as dist_rank
    from torchdoctor.distributed import run as dist_run
    from torchdoctor.distributed.launcher import STATE_ENV, mark

    alone = False  # no launcher: a world of one, this process
    try:
        launch = dist_rank.resolve(os.environ)
    except dist_rank.LaunchError as exc:
        if any(v in os.environ for v in ("RANK", "WORLD_SIZE", "SLURM_PROCID")):
            raise Stop(str(exc), ExitCode.USAGE) from None
        launch, alone = dist_rank.single(dist_rank.free_port()), True
    run_options = dist_run.DistOptions(
        options.backend,
        options.rdzv_timeout,
        options.collective_timeout,
        options.timeout,
        options.max_mib * 1024 * 1024,
        state=os.environ.get(STATE_ENV, ""),
        all_ranks=options.all_ranks,
    )
    once = threading.Lock()
    codes: list[int] = []

    def finish(cluster: ClusterFacts) -> int:
        """Judge and deliver once, whichever thread gets here first (the main one, the watchdog, SIGTERM's)."""
        with once:
            if not codes:
                codes.append(judge_and_deliver(cluster, options))
                mark(run_options.state, "reported")
            return codes[0]

    def log(message: str, *, everywhere: bool = False) -> None:
        if everywhere or options.all_ranks or launch.rank == 0:
            say(f"torchdoctor: {message}")

    terminated = dist_run.TerminationReport()  # before torch starts any thread
    try:
        import torch  # noqa: F401  (this process is a rank: torch is what it examines)
    except Exception as exc:
        raise Stop(no_torch_in_this_rank(exc, alone)) from None
    try:
        return dist_run.run(launch, run_options, finish, log, terminated)
    except Stop:
        raise
    except Exception as exc:  # the store's host (rank 0, or torchrun's agent) went away mid-run, most often
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Stop(
            f"rank {launch.rank}: lost the job's store at {launch.master_addr}:{launch.master_port} "
            f"({type(exc).__name__}: {first}); rank 0 or the launcher has gone away",
            ExitCode.FINDINGS,
        ) from None


def no_torch_in_this_rank(exc: Exception, alone: bool) -> str:
    """Why this process cannot be a rank, and, when it runs alone in an environment other than the active one
    (torchdoctor installed in a venv of its own), the command that runs a rank with the active one."""
    import sys
    from pathlib import Path

    from torchdoctor.interpreter import active_python

    said = f"dist runs inside each rank and needs torch there ({sys.executable}): {type(exc).__name__}: {exc}"
    target = active_python().path if alone else sys.executable
    if Path(target).absolute() != Path(sys.executable).absolute():
        said += f"; `torchdoctor dist --nproc 1` runs the rank with {target}"
    return said
