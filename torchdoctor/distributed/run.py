"""One rank's run: rendezvous through a side channel, exchange facts, collectives, bandwidth.

Every rank runs this inside the launcher the job will use. A TCPStore (torchrun's agent store, or
one rank 0 hosts) is the side channel: it still answers when NCCL is stuck, so rank 0 can say
which ranks never arrived, never entered a collective or never finished it. Nothing waits forever:
rendezvous, each collective and the whole run have deadlines; a watchdog thread ends a rank whose
collective hangs.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from torchdoctor import serde
from torchdoctor.distributed.collectives import bandwidth, barrier, collectives, peer_access
from torchdoctor.distributed.model import ClusterFacts, Launch, PeerAccess, RankFacts, StepResult
from torchdoctor.distributed.rank import NodeView, gather, norm_bus
from torchdoctor.distributed.sidechannel import Heartbeat, SideChannel, Watchdog, connect, key, reachable
from torchdoctor.model import StepStatus

STALL_HOOK = "TORCHDOCTOR_DIST_STALL"
"""Test-only: "RANK:STEP" makes that rank stall before entering STEP (proves the timeout path)."""
DIE_HOOK = "TORCHDOCTOR_DIST_DIE"
"""Test-only: "RANK:STEP" makes that rank kill itself (SIGKILL) before entering STEP (a rank lost mid-run)."""


@dataclass(frozen=True)
class DistOptions:
    backend: str = "auto"
    rdzv_timeout: float = 60.0
    collective_timeout: float = 60.0
    total_timeout: float = 600.0
    """Seconds for the whole run on each rank; past it the rank reports what it has and exits."""
    max_bytes: int = 0
    """Largest all_reduce in the bandwidth sweep; 0 = by backend (gloo 16 MiB, nccl 256 MiB)."""
    iters: int = 5


Finish = Callable[[ClusterFacts], int]
"""Rank 0 hands the cluster facts over to be judged and rendered; it returns the exit code."""


# ------------------------------------------------------------------------------- the run


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


def run(
    launch: Launch,
    options: DistOptions,
    finish: Finish,
    log: Callable[[str], None],
    terminated: TerminationReport | None = None,
) -> int:
    import torch
    import torch.distributed as dist

    started = time.monotonic()
    if torch.cuda.is_available() and torch.cuda.device_count() > launch.local_rank:
        torch.cuda.set_device(launch.local_rank)
    me = gather(torch, launch, _nvml_view(), os.environ)
    steps: list[StepResult] = []

    # ---- rendezvous on the side channel
    t0 = time.monotonic()
    try:
        store = connect(torch, launch, options.rdzv_timeout)
    except Exception as exc:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        steps.append(
            StepResult(
                "rendezvous",
                StepStatus.FAILED,
                round(time.monotonic() - t0, 3),
                f"could not reach the store at {launch.master_addr}:{launch.master_port}: {why}; "
                + reachable(launch.master_addr, launch.master_port),
                missing_ranks=(0,),
            )
        )
        return finish(
            ClusterFacts(
                launch,
                options.backend,
                launch.world_size,
                (me,),
                tuple(steps),
                seconds=round(time.monotonic() - started, 3),
            )
        )
    side = SideChannel(store, launch.rank, launch.world_size)
    side.put("facts", launch.rank, value=json.dumps(serde.to_jsonable(me)))
    deadline = time.monotonic() + options.rdzv_timeout
    if launch.rank == 0:
        missing = side.wait_for("facts", deadline=deadline)
        ranks = _read_facts(side, launch.world_size)
        disagree = [r for r in ranks if r.world_size and r.world_size != launch.world_size]
        if missing or disagree:
            error = (
                f"{len(missing)} of {launch.world_size} rank(s) never arrived within {options.rdzv_timeout:g} s; "
                f"store at {launch.master_addr}:{launch.master_port} ({launch.launcher}); from rank 0: "
                + reachable(launch.master_addr, launch.master_port)
            )
            if disagree:
                said = ", ".join(f"rank {r.rank} says {r.world_size}" for r in disagree)
                error = f"the ranks disagree on WORLD_SIZE: rank 0 says {launch.world_size}, {said}"
            steps.append(
                StepResult(
                    "rendezvous",
                    StepStatus.FAILED,
                    round(time.monotonic() - t0, 3),
                    error,
                    missing_ranks=tuple(missing),
                )
            )
            side.put("abort", value=error)
            code = finish(
                ClusterFacts(
                    launch,
                    options.backend,
                    launch.world_size,
                    ranks,
                    tuple(steps),
                    seconds=round(time.monotonic() - started, 3),
                )
            )
            side.put("exit", value=str(code))
            return code
        backend = choose_backend(options.backend, ranks)
        side.put("go", value=backend)
    else:
        go = None
        while time.monotonic() < deadline + 5 and go is None:
            if side.has("abort"):
                log(f"rank {launch.rank}: rank 0 aborted: {side.get('abort')}")
                return _exit_code(side, options)
            go = side.waitkey("go", deadline=min(deadline + 5, time.monotonic() + 0.5))
        if go is None:
            log(f"rank {launch.rank}: rank 0 did not start the run within {options.rdzv_timeout:g} s")
            return 1
        backend = go
        ranks = ()
    steps.append(StepResult("rendezvous", StepStatus.PASSED, round(time.monotonic() - t0, 3)))
    heartbeat = Heartbeat(side)

    # ---- the process group and the collectives, each under the watchdog
    device = torch.device(f"cuda:{torch.cuda.current_device()}" if backend == "nccl" else "cpu")
    result: dict[str, Any] = {"bandwidth": (), "control": (), "peer": ()}

    def snapshot(partial_steps: list[StepResult]) -> ClusterFacts:
        facts = ranks if launch.rank == 0 else (me,)
        if launch.rank == 0 and any(s.status == StepStatus.FAILED for s in partial_steps):
            partial_steps = [*partial_steps, *_liveness(heartbeat, partial_steps)]
        return ClusterFacts(
            launch,
            backend,
            launch.world_size,
            facts,
            tuple(partial_steps),
            result["bandwidth"],
            result["control"],
            result["peer"],
            round(time.monotonic() - started, 3),
        )

    def on_timeout(step: str) -> None:
        entered = side.ranks_with("enter", step)
        done = side.ranks_with("done", step)
        not_entered = [r for r in range(launch.world_size) if r not in entered]
        stuck = not_entered or [r for r in range(launch.world_size) if r not in done]
        error = f"{step} did not finish within {options.collective_timeout:g} s: " + (
            f"rank(s) {not_entered} never entered it"
            if not_entered
            else f"rank(s) {stuck} entered it but never finished"
        )
        timed = [
            *steps,
            StepResult(step, StepStatus.FAILED, options.collective_timeout, error, missing_ranks=tuple(stuck)),
        ]
        code = 1
        if launch.rank == 0:
            code = finish(snapshot(timed))
            side.put("exit", value=str(code))
        else:
            log(f"rank {launch.rank}: {error}")
            code = _exit_code(side, options, wait=2.0)
        os._exit(code)

    watchdog = Watchdog(on_timeout, started + options.total_timeout)
    stall = os.environ.get(STALL_HOOK, "")
    die = os.environ.get(DIE_HOOK, "")
    if terminated is not None and launch.rank == 0:
        terminated.report = lambda: finish(snapshot([*steps, _terminated(steps)]))

    def guarded(name: str, fn: Callable[[], str], seconds: float | None = None) -> StepResult:
        if stall == f"{launch.rank}:{name}":
            time.sleep(3600)  # test-only: never enter the collective
        if die == f"{launch.rank}:{name}":
            os.kill(os.getpid(), signal.SIGKILL)  # test-only: a rank lost mid-run
        side.put("enter", name, launch.rank)
        watchdog.arm(name, seconds or options.collective_timeout)
        t = time.monotonic()
        try:
            wrong = fn()
            status = StepStatus.FAILED if wrong else StepStatus.PASSED
        except Exception as exc:
            wrong, status = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", StepStatus.FAILED
        watchdog.disarm()
        side.put("done", name, launch.rank, value=wrong or "ok")
        return StepResult(name, status, round(time.monotonic() - t, 4), wrong)

    init_kwargs: dict[str, Any] = {}
    if backend == "nccl":
        init_kwargs["device_id"] = device
    init = guarded(
        "init_process_group", lambda: _init(dist, backend, store, launch, options, init_kwargs), options.rdzv_timeout
    )
    steps.append(init)
    if init.status == StepStatus.PASSED:
        for name, fn in collectives(torch, dist, device, launch.world_size, launch.rank):
            steps.append(guarded(name, fn))
        gloo = None
        if backend == "nccl":
            gloo = dist.new_group(backend="gloo")
            for name, fn in collectives(torch, dist, torch.device("cpu"), launch.world_size, launch.rank, gloo):
                steps.append(guarded(f"gloo_{name}", fn))
        if launch.world_size > 1 and all(s.status == StepStatus.PASSED for s in steps):
            max_bytes = options.max_bytes or (256 * 1024**2 if backend == "nccl" else 16 * 1024**2)
            bw = guarded(
                "bandwidth",
                lambda: _measure(result, "bandwidth", torch, dist, device, launch.world_size, max_bytes, options.iters),
                options.collective_timeout * 4,
            )
            steps.append(bw)
            if gloo is not None:  # the control run: what plain TCP gives on the same machines
                cpu = torch.device("cpu")
                steps.append(
                    guarded(
                        "gloo_bandwidth",
                        lambda: _measure(
                            result, "control", torch, dist, cpu, launch.world_size, 16 * 1024**2, options.iters, gloo
                        ),
                        options.collective_timeout * 4,
                    )
                )
        if backend == "nccl" and launch.local_rank == 0:
            try:
                peer = peer_access(torch, me.host)
                side.put("peer", me.host, value=json.dumps(serde.to_jsonable(peer)))
            except Exception as exc:
                log(f"rank {launch.rank}: peer-access matrix failed: {exc}")
        steps = _merge_wrong(side, steps, launch, options, heartbeat)
        steps.append(guarded("final_barrier", lambda: barrier(dist)))
    watchdog.disarm()
    if launch.rank == 0:
        result["peer"] = tuple(
            serde.from_jsonable(PeerAccess, json.loads(side.get("peer", host)))
            for host in sorted({r.host for r in ranks})
            if side.has("peer", host)
        )
        code = finish(snapshot(steps))
        side.put("exit", value=str(code))
        side.put("bye", 0)
        side.wait_for("bye", deadline=time.monotonic() + 5)  # keep the store up until every rank read the code
    else:
        side.put("finished", launch.rank)  # not dead: done
        code = _exit_code(side, options)
    heartbeat.stop()
    if dist.is_initialized():
        dist.destroy_process_group()
    return code


def _init(dist: Any, backend: str, store: Any, launch: Launch, options: DistOptions, kwargs: dict[str, Any]) -> str:
    dist.init_process_group(
        backend,
        store=dist.PrefixStore(key("pg"), store),
        rank=launch.rank,
        world_size=launch.world_size,
        timeout=datetime.timedelta(seconds=options.collective_timeout * 4),
        **kwargs,
    )
    return ""


def _measure(result: dict[str, Any], key: str, *args: Any) -> str:
    result[key] = bandwidth(*args)
    return ""


def _merge_wrong(
    side: SideChannel, steps: list[StepResult], launch: Launch, options: DistOptions, heartbeat: Heartbeat
) -> list[StepResult]:
    """On rank 0: which ranks saw a wrong result in each step (every rank checks its own)."""
    if launch.rank != 0:
        return steps
    merged = []
    deadline = time.monotonic() + options.collective_timeout
    for step in steps:
        if step.name in ("rendezvous", "init_process_group", "bandwidth", "gloo_bandwidth"):
            merged.append(step)
            continue
        while time.monotonic() < deadline:  # a dead rank will never say it is done: stop waiting for it
            missing = side.wait_for("done", step.name, deadline=min(deadline, time.monotonic() + 0.5))
            if not missing or set(missing) <= set(heartbeat.dead()):
                break
        wrong = []
        first_error = step.error
        for r in range(launch.world_size):
            if side.has("done", step.name, r):
                value = side.get("done", step.name, r)
                if value != "ok":
                    wrong.append(r)
                    first_error = first_error or f"rank {r}: {value}"
        if wrong:
            merged.append(replace(step, status=StepStatus.FAILED, error=first_error, wrong_ranks=tuple(wrong)))
        else:
            merged.append(step)
    return merged


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


def _exit_code(side: SideChannel, options: DistOptions, wait: float | None = None) -> int:
    value = side.waitkey(
        "exit", deadline=time.monotonic() + (wait if wait is not None else options.collective_timeout * 2)
    )
    if value is not None:
        with contextlib.suppress(Exception):  # rank 0 may already be gone: nothing to tell it
            side.put("bye", side.rank)
    try:
        return int(value) if value is not None else 1
    except ValueError:
        return 1


def _liveness(heartbeat: Heartbeat, steps: list[StepResult]) -> list[StepResult]:
    """A step naming the ranks that stopped answering, when something failed (else nothing)."""
    dead = heartbeat.settle()
    if not dead:
        return []
    failed = next((s.name for s in steps if s.status == StepStatus.FAILED), "the run")
    error = (
        f"rank(s) {', '.join(map(str, dead))} stopped answering the side channel by {failed} "
        "(killed, crashed, or its node went down); the steps that failed after it failed because of it"
    )
    return [StepResult("liveness", StepStatus.FAILED, 0.0, error, missing_ranks=tuple(dead))]


def _terminated(steps: list[StepResult]) -> StepResult:
    after = steps[-1].name if steps else "the start"
    return StepResult("terminated", StepStatus.FAILED, 0.0, f"the launcher stopped this rank (SIGTERM) after {after}")


class TerminationReport:
    """A rank that the launcher stops (SIGTERM: torchrun does when another rank dies) still reports.

    The main thread may be stuck inside a collective, where no Python signal handler runs, so SIGTERM
    is blocked in it (and so in every thread started after) and taken by a thread of its own, which
    calls ``report`` (set by rank 0 once it has something to say) and ends the process. Create it before
    any other thread starts (before `import torch`).
    """

    def __init__(self) -> None:
        self.report: Callable[[], int] | None = None
        self.event = threading.Event()
        if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        with contextlib.suppress(ValueError):  # a thread that slipped through still only raises the flag
            signal.signal(signal.SIGTERM, lambda signum, frame: self.event.set())
        threading.Thread(target=self._wait, daemon=True, name="torchdoctor-sigterm").start()

    def _wait(self) -> None:
        while not self.event.is_set():
            if signal.sigtimedwait({signal.SIGTERM}, 0.2) is not None:
                break
        code = 143
        if self.report is not None:
            with contextlib.suppress(Exception):
                code = self.report() or 143
        os._exit(code)
