"""One rank's run: rendezvous through a side channel, exchange facts, collectives, bandwidth.

Every rank runs this inside the launcher the job will use. A TCPStore (torchrun's agent store, or
one rank 0 hosts) is the side channel: it still answers when NCCL is stuck, so rank 0 can say
which ranks never arrived, never entered a collective or never finished it. Nothing waits forever:
rendezvous, each collective and the whole run have deadlines (`DistOptions`); a watchdog thread ends
a rank whose collective hangs. The state the steps share is job.py's; a rank that cannot unwind
ends in lastresort.py.

The run is a line of named steps over one `Job` (what this rank has learnt so far):
launch (this rank's device and facts) → rendezvous (the side channel) → facts (every rank's, and
the backend they agree on) → collectives (process group, known-value collectives, bandwidth, peer
access) → gather (rank 0 learns which ranks saw a wrong result) → report (rank 0 judges and
renders; every rank exits with rank 0's code).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NoReturn

from torchdoctor import serde
from torchdoctor.distributed.collectives import bandwidth, barrier, collectives, peer_access
from torchdoctor.distributed.job import DistOptions, Finish, Job, Log, Rank
from torchdoctor.distributed.lastresort import TerminationReport, exit_hard, watch_parent
from torchdoctor.distributed.launcher import leave_facts, mark
from torchdoctor.distributed.model import ClusterFacts, Launch, PeerAccess, RankFacts, StepResult
from torchdoctor.distributed.rank import NodeView, gather, norm_bus
from torchdoctor.distributed.sidechannel import (
    Heartbeat,
    SideChannel,
    StoreLost,
    Watchdog,
    connect,
    key,
    reachable,
)
from torchdoctor.distributed.survivor import AFTER_RUN, Survivor, applies, by_hosts
from torchdoctor.exitcodes import Stop
from torchdoctor.model import StepStatus

__all__ = ["DistOptions", "TerminationReport", "choose_backend", "run"]
"""DistOptions and TerminationReport are importable from here too: the CLI takes them from run."""

HUNG_EXIT_WAIT = 2.0
"""Seconds a hung rank other than 0 waits for rank 0's exit code before it exits hard."""


# ------------------------------------------------------------------------------- the run


def run(
    launch: Launch,
    options: DistOptions,
    finish: Finish,
    log: Log,
    terminated: TerminationReport | None = None,
) -> int:
    """One rank's run, step by step; returns its exit code (every rank exits with rank 0's)."""
    import torch
    import torch.distributed  # Job.dist

    if terminated is not None and launch.rank == 0 and not options.state:  # (a launcher of ours reports then)
        terminated.report = lambda: finish(_stopped_early(launch, options))
    if options.state:  # started by our launcher's torchrun: end with it, however it ends
        watch_parent()
    rank = _launch(torch, launch, options, finish, log)
    try:
        job = _rendezvous(rank, terminated)
        if isinstance(job, int):
            return job
        mark(options.state, "joined")
        _watch(job, terminated)
        if _collectives(job):
            _gather(job)
        return _report(job)
    except StoreLost:
        if rank.survivor is None:  # the store's host was not rank 0: the caller says so
            raise
        return _orphaned(rank)


def _launch(torch: Any, launch: Launch, options: DistOptions, finish: Finish, log: Log) -> Rank:
    """This rank on its own: its GPU (LOCAL_RANK's, when it has one) and what it knows about itself."""
    started = time.monotonic()
    if torch.cuda.is_available() and torch.cuda.device_count() > launch.local_rank:
        torch.cuda.set_device(launch.local_rank)
    me = gather(torch, launch, _nvml_view(), os.environ)
    leave_facts(options.state, launch, me)
    survivor = Survivor(launch, options.all_ranks) if applies(launch, bool(options.state)) else None
    return Rank(launch, options, finish, log, torch, me, started, survivor)


def _store_gone(rank: Rank) -> NoReturn:
    """The heartbeat thread found rank 0's store gone: report (or say one line), and end this rank there and
    then (its main thread may be inside a collective that rank 0 will never join)."""
    try:
        code = _orphaned(rank)
    except Stop as exc:  # the report could not be written: the command line would have said why
        rank.log(f"{exc.message}", everywhere=True)
        code = int(exc.code)
    exit_hard(code)


def _orphaned(rank: Rank) -> int:
    """Rank 0, the store's host, is gone: the rank named to report does; the others say one line. Exit code."""
    assert rank.survivor is not None
    return rank.survivor.report(rank.me, rank.seconds(), rank.finish, lambda line: rank.log(line, everywhere=True))


def _stopped_early(launch: Launch, options: DistOptions) -> ClusterFacts:
    """Rank 0, stopped (SIGTERM) before it knew even its own facts: that much is still a report."""
    error = "the launcher stopped this rank (SIGTERM) before the rendezvous, while it gathered its own facts"
    step = StepResult("terminated", StepStatus.FAILED, 0.0, error)
    return ClusterFacts(launch, options.backend, launch.world_size, (), (step,))


def _nvml_view() -> NodeView:
    """What NVML says about this node's GPUs, from the NVML child (no NVML: an empty view)."""
    from torchdoctor.model import NvmlFacts
    from torchdoctor.probes.nvml import probe_nvml

    nvml = probe_nvml(timeout=20)
    if not isinstance(nvml, NvmlFacts):
        return NodeView()
    links = {
        norm_bus(str(g.pci_bus_id)): (g.pcie_gen_max, g.pcie_width_max)
        for g in nvml.gpus
        if isinstance(g.pcie_gen_max, int) and isinstance(g.pcie_width_max, int)
    }
    return NodeView(
        driver=nvml.driver_version if isinstance(nvml.driver_version, str) else "",
        mig={norm_bus(str(g.pci_bus_id)) for g in nvml.gpus if g.mig_enabled is True},
        links=links,
    )


# ---- rendezvous and facts


def _rendezvous(rank: Rank, terminated: TerminationReport | None = None) -> Job | int:
    """The side channel (the job's store, within rdzv_timeout), then every rank's facts; a Job, or
    the exit code when the job never came together (rank 0 has reported why)."""
    t0 = time.monotonic()
    sides: list[SideChannel] = []
    if terminated is not None and rank.launch.rank == 0:  # stopped while waiting: say who had not come
        terminated.report = lambda: rank.finish(_stopped_waiting(rank, sides))
    try:
        store = connect(rank.torch, rank.launch, rank.options.rdzv_timeout)
    except Exception as exc:
        survivor = rank.survivor
        if survivor is not None and not survivor.reports:  # every rank that cannot reach rank 0 would say the same
            said = f"rank {rank.launch.rank}: could not reach rank 0's store; rank {survivor.deputy} reports"
            rank.log(said, everywhere=True)
            return 1
        return rank.finish(_unreachable(rank, t0, exc))
    side = SideChannel(store, rank.launch.rank, rank.launch.world_size)
    sides.append(side)
    if rank.survivor is not None:
        rank.survivor.side = side
    agreed = _facts(rank, side, t0)
    if isinstance(agreed, int):
        return agreed
    backend, ranks = agreed
    steps = [StepResult("rendezvous", StepStatus.PASSED, round(time.monotonic() - t0, 3))]
    if rank.survivor is not None:
        rank.survivor.started(backend, steps)
    heartbeat = Heartbeat(side)
    torch = rank.torch
    device = torch.device(f"cuda:{torch.cuda.current_device()}" if backend == "nccl" else "cpu")
    return Job(rank, side, store, backend, ranks, steps, heartbeat, device)


def _unreachable(rank: Rank, t0: float, exc: Exception) -> ClusterFacts:
    launch = rank.launch
    why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    step = StepResult(
        "rendezvous",
        StepStatus.FAILED,
        round(time.monotonic() - t0, 3),
        f"could not reach the store at {launch.master_addr}:{launch.master_port}: {why}; "
        + reachable(launch.master_addr, launch.master_port),
        missing_ranks=(0,),
    )
    return ClusterFacts(launch, rank.options.backend, launch.world_size, (rank.me,), (step,), seconds=rank.seconds())


def _stopped_waiting(rank: Rank, sides: list[SideChannel]) -> ClusterFacts:
    """Rank 0, stopped by the launcher (SIGTERM) before every rank arrived: the ones that had not."""
    launch = rank.launch
    ranks = _read_facts(sides[0], launch.world_size) if sides else (rank.me,)
    missing = tuple(r for r in range(launch.world_size) if r not in {f.rank for f in ranks})
    error = "the launcher stopped this rank (SIGTERM) during the rendezvous" + (
        f": rank(s) {', '.join(map(str, missing))} had not arrived (most often: died on the way)" if missing else ""
    )
    step = StepResult("rendezvous" if missing else "terminated", StepStatus.FAILED, rank.seconds(), error, missing)
    return ClusterFacts(launch, rank.options.backend, launch.world_size, ranks, (step,), seconds=rank.seconds())


Agreed = tuple[str, tuple[RankFacts, ...]]
"""The backend every rank uses, and every rank's facts (rank 0; () elsewhere)."""


def _facts(rank: Rank, side: SideChannel, t0: float) -> Agreed | int:
    """Every rank publishes its facts; rank 0 reads them all and says go (the backend) or abort."""
    side.put("facts", rank.launch.rank, value=json.dumps(serde.to_jsonable(rank.me)))
    deadline = time.monotonic() + rank.options.rdzv_timeout
    if rank.launch.rank == 0:
        return _agree(rank, side, t0, deadline)
    return _await_go(rank, side, deadline)


def _agree(rank: Rank, side: SideChannel, t0: float, deadline: float) -> Agreed | int:
    """Rank 0: go with a backend when every rank arrived and agrees on the world, else report and abort."""
    launch, options = rank.launch, rank.options
    missing = side.wait_for("facts", deadline=deadline)
    ranks = _read_facts(side, launch.world_size)
    disagree = [r for r in ranks if r.world_size and r.world_size != launch.world_size]
    if not missing and not disagree:
        backend = choose_backend(options.backend, ranks)
        if not launch.agent_store:  # the rank that reports should this one (the store's host) die
            deputy, why = by_hosts(ranks)
            side.put("deputy", value=f"{deputy} {why}")
        side.put("go", value=backend)
        return backend, ranks
    error = (
        f"{len(missing)} of {launch.world_size} rank(s) never arrived within {options.rdzv_timeout:g} s; "
        f"store at {launch.master_addr}:{launch.master_port} ({launch.launcher}); from rank 0: "
        + reachable(launch.master_addr, launch.master_port)
    )
    if disagree:
        said = ", ".join(f"rank {r.rank} says {r.world_size}" for r in disagree)
        error = f"the ranks disagree on WORLD_SIZE: rank 0 says {launch.world_size}, {said}"
    step = StepResult("rendezvous", StepStatus.FAILED, round(time.monotonic() - t0, 3), error, tuple(missing))
    side.put("abort", value=error)
    code = rank.finish(ClusterFacts(launch, options.backend, launch.world_size, ranks, (step,), seconds=rank.seconds()))
    side.put("exit", value=str(code))
    side.put("bye", 0)
    _await_byes(side, time.monotonic() + options.linger, gone=lambda: missing)  # the ranks that came read it
    return code


def _await_go(rank: Rank, side: SideChannel, deadline: float) -> Agreed | int:
    """A rank other than 0: wait for rank 0's go (the backend) or its abort (then its exit code)."""
    until = deadline + rank.options.linger
    while time.monotonic() < until:
        if side.has("abort"):
            rank.log(f"rank {rank.launch.rank}: rank 0 aborted: {side.get('abort')}")
            return _exit_code(side, rank.options)
        if side.has("go"):
            backend = side.get("go")
            survivor = rank.survivor
            if survivor is not None:
                survivor.named(side)
                if survivor.reports:  # it may have to report for rank 0: it learns what rank 0 knows
                    survivor.ranks = _read_facts(side, rank.launch.world_size)
            return backend, ()
        if side.lost:
            raise StoreLost(side.lost)
        time.sleep(0.05)
    rank.log(f"rank {rank.launch.rank}: rank 0 did not start the run within {rank.options.rdzv_timeout:g} s")
    return 1


def _read_facts(side: SideChannel, world: int) -> tuple[RankFacts, ...]:
    out = []
    for r in range(world):
        if side.has("facts", r):
            try:
                out.append(serde.from_jsonable(RankFacts, json.loads(side.get("facts", r))))
            except (serde.SnapshotError, ValueError):
                continue
    return tuple(out)


def choose_backend(requested: str, ranks: tuple[RankFacts, ...]) -> str:
    if requested in ("nccl", "gloo"):
        return requested
    every_gpu = all(r.device.startswith("cuda") and r.nccl_available for r in ranks)
    return "nccl" if ranks and every_gpu else "gloo"


# ---- the watchdog: a step that hangs


def _watch(job: Job, terminated: TerminationReport | None) -> None:
    """Arm the watchdog (total_timeout, and each step's own), and let rank 0 report when stopped."""
    job.watchdog = Watchdog(lambda step: _hung(job, step), job.rank.started + job.options.total_timeout)
    if job.rank.survivor is not None:  # the heartbeat is the first to find the store gone, wherever the run is
        job.heartbeat.on_lost = lambda: _store_gone(job.rank)
    if terminated is not None and job.launch.rank == 0:
        terminated.report = lambda: job.report([*job.steps, _terminated(job.steps)], tell=False)


def _hung(job: Job, step: str) -> NoReturn:
    """The watchdog thread, when ``step`` overran: rank 0 reports who is stuck; every rank then exits
    hard with rank 0's code (its main thread is inside the collective and cannot be unwound)."""
    launch, options = job.launch, job.options
    entered = job.side.ranks_with("enter", step)
    done = job.side.ranks_with("done", step)
    not_entered = [r for r in range(launch.world_size) if r not in entered]
    stuck = not_entered or [r for r in range(launch.world_size) if r not in done]
    error = f"{step} did not finish within {options.collective_timeout:g} s: " + (
        f"rank(s) {not_entered} never entered it" if not_entered else f"rank(s) {stuck} entered it but never finished"
    )
    failed = StepResult(step, StepStatus.FAILED, options.collective_timeout, error, missing_ranks=tuple(stuck))
    if launch.rank == 0:
        code = job.report([*job.steps, failed])
        _await_byes(job.side, time.monotonic() + HUNG_EXIT_WAIT, gone=job.heartbeat.dead)  # the others read the code
    else:
        job.rank.log(f"rank {launch.rank}: {error}")
        code = _exit_code(job.side, options, wait=HUNG_EXIT_WAIT)
        if job.rank.survivor is not None and job.side.lost and not job.side.ended:
            code = _orphaned(job.rank)
    exit_hard(code)


def _guarded(job: Job, name: str, fn: Callable[[], str], seconds: float | None = None) -> StepResult:
    """One step under the watchdog, told on the side channel: entered, then done ("ok" or what was wrong)."""
    survivor = job.rank.survivor
    if survivor is not None:
        survivor.saw(job.side)
    job.side.put("enter", name, job.launch.rank)
    if survivor is not None:
        survivor.entering(name)
    job.watchdog.arm(name, seconds or job.options.collective_timeout)
    t = time.monotonic()
    try:
        wrong = fn()
        status = StepStatus.FAILED if wrong else StepStatus.PASSED
    except Exception as exc:
        wrong, status = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", StepStatus.FAILED
    job.watchdog.disarm()
    if survivor is not None:
        survivor.failure = wrong
    job.side.put("done", name, job.launch.rank, value=wrong or "ok")
    if survivor is not None:
        survivor.left(name)
        survivor.saw(job.side, name)
    return StepResult(name, status, round(time.monotonic() - t, 4), wrong)


# ---- collectives


def _collectives(job: Job) -> bool:
    """The process group, then each collective on known values, the bandwidth sweeps and the
    peer-access matrix; False when the process group never came up."""
    if not _init_process_group(job):
        return False
    torch, dist, launch = job.rank.torch, job.dist, job.launch
    for name, fn in collectives(torch, dist, job.device, launch.world_size, launch.rank):
        job.steps.append(_guarded(job, name, fn))
    if job.backend == "nccl":
        job.gloo = dist.new_group(backend="gloo")
        for name, fn in collectives(torch, dist, torch.device("cpu"), launch.world_size, launch.rank, job.gloo):
            job.steps.append(_guarded(job, f"gloo_{name}", fn))
    _bandwidth(job)
    _peer_access(job)
    return True


def _init_process_group(job: Job) -> bool:
    launch, options = job.launch, job.options
    kwargs: dict[str, Any] = {"device_id": job.device} if job.backend == "nccl" else {}

    def init() -> str:
        job.dist.init_process_group(
            job.backend,
            store=job.dist.PrefixStore(key("pg"), job.store),
            rank=launch.rank,
            world_size=launch.world_size,
            timeout=datetime.timedelta(seconds=options.collective_timeout * 4),
            **kwargs,
        )
        return ""

    step = _guarded(job, "init_process_group", init, options.rdzv_timeout)
    job.steps.append(step)
    return step.status == StepStatus.PASSED


def _bandwidth(job: Job) -> None:
    """The all_reduce sweep on the job's backend and, beside nccl, the same on gloo (plain TCP on the
    same machines: the control run); only when every step so far passed."""
    launch, options = job.launch, job.options
    if launch.world_size <= 1 or any(s.status != StepStatus.PASSED for s in job.steps):
        return
    torch, dist, world = job.rank.torch, job.dist, launch.world_size
    max_bytes = options.max_bytes or (256 * 1024**2 if job.backend == "nccl" else 16 * 1024**2)

    def sweep() -> str:
        job.bandwidth = bandwidth(torch, dist, job.device, world, max_bytes, options.iters)
        return ""

    def control() -> str:
        job.control = bandwidth(torch, dist, torch.device("cpu"), world, 16 * 1024**2, options.iters, job.gloo)
        return ""

    job.steps.append(_guarded(job, "bandwidth", sweep, options.collective_timeout * 4))
    if job.gloo is not None:
        job.steps.append(_guarded(job, "gloo_bandwidth", control, options.collective_timeout * 4))


def _peer_access(job: Job) -> None:
    """Under nccl, the first rank of each node measures its node's GPU-to-GPU matrix for rank 0."""
    if job.backend != "nccl" or job.launch.local_rank != 0:
        return
    host = job.rank.me.host
    try:
        peer = peer_access(job.rank.torch, host)
        job.side.put("peer", host, value=json.dumps(serde.to_jsonable(peer)))
    except Exception as exc:
        job.rank.log(f"rank {job.launch.rank}: peer-access matrix failed: {exc}")


# ---- gather


def _gather(job: Job) -> None:
    """Rank 0 learns which ranks saw a wrong result; then every rank meets at a last barrier."""
    if job.launch.rank == 0:
        job.steps = _merge_wrong(job)
    job.steps.append(_guarded(job, "final_barrier", lambda: barrier(job.dist)))


def _merge_wrong(job: Job) -> list[StepResult]:
    """On rank 0: which ranks saw a wrong result in each step (every rank checks its own)."""
    merged = []
    deadline = time.monotonic() + job.options.collective_timeout
    for step in job.steps:
        if step.name in ("rendezvous", "init_process_group", "bandwidth", "gloo_bandwidth"):
            merged.append(step)
            continue
        while time.monotonic() < deadline:  # a dead rank will never say it is done: stop waiting for it
            missing = job.side.wait_for("done", step.name, deadline=min(deadline, time.monotonic() + 0.5))
            if not missing or set(missing) <= set(job.heartbeat.dead()):
                break
        merged.append(_wrong_ranks(job.side, step, job.launch.world_size))
    return merged


def _wrong_ranks(side: SideChannel, step: StepResult, world: int) -> StepResult:
    wrong = []
    first_error = step.error
    for r in range(world):
        if side.has("done", step.name, r):
            value = side.get("done", step.name, r)
            if value != "ok":
                wrong.append(r)
                first_error = first_error or f"rank {r}: {value}"
    if not wrong:
        return step
    return replace(step, status=StepStatus.FAILED, error=first_error, wrong_ranks=tuple(wrong))


def _read_peers(job: Job) -> tuple[PeerAccess, ...]:
    return tuple(
        serde.from_jsonable(PeerAccess, json.loads(job.side.get("peer", host)))
        for host in sorted({r.host for r in job.ranks})
        if job.side.has("peer", host)
    )


# ---- report


def _report(job: Job) -> int:
    """Rank 0 reports and keeps the store up until every live rank read its exit code; the other
    ranks say they finished (not dead: done) and take rank 0's code."""
    job.watchdog.disarm()
    if job.launch.rank == 0:
        job.peer = _read_peers(job)
        code = job.report(job.steps)
        job.side.put("bye", 0)
        _await_byes(job.side, time.monotonic() + job.options.linger, gone=job.heartbeat.dead)
    else:
        if job.rank.survivor is not None:
            job.rank.survivor.saw(job.side)
            job.rank.survivor.phase = AFTER_RUN
        job.side.put("finished", job.launch.rank)
        code = _exit_code(job.side, job.options)
        if job.rank.survivor is not None and job.side.lost and not job.side.ended:
            raise StoreLost(job.side.lost)  # rank 0 went before it said its code
    job.heartbeat.stop()
    if job.dist.is_initialized():
        job.dist.destroy_process_group()
    return code


def _await_byes(side: SideChannel, deadline: float, gone: Callable[[], list[int]]) -> None:
    """Rank 0 keeps the store up until every rank said bye (it read its exit code) or the deadline;
    ranks that are ``gone`` (dead, or never came) will not say it, so it does not wait for them."""
    while True:
        missing = side.wait_for("bye", deadline=min(deadline, time.monotonic() + 0.25))
        if not missing or set(missing) <= set(gone()) or time.monotonic() >= deadline:
            return


def _exit_code(side: SideChannel, options: DistOptions, wait: float | None = None) -> int:
    """A rank other than 0: rank 0's exit code (1 when it never came), and a bye once read."""
    value = side.waitkey(
        "exit", deadline=time.monotonic() + (wait if wait is not None else options.collective_timeout * 2)
    )
    if value is not None:
        side.ended = True
        with contextlib.suppress(Exception):  # rank 0 may already be gone: nothing to tell it
            side.put("bye", side.rank)
    try:
        return int(value) if value is not None else 1
    except ValueError:
        return 1


def _terminated(steps: list[StepResult]) -> StepResult:
    after = steps[-1].name if steps else "the start"
    return StepResult("terminated", StepStatus.FAILED, 0.0, f"the launcher stopped this rank (SIGTERM) after {after}")
