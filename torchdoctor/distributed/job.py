"""One rank's run as data: what it was asked (`DistOptions`), who it is (`Rank`) and what its steps
have found so far (`Job`). The steps themselves are run.py's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from torchdoctor.distributed.model import BandwidthSample, ClusterFacts, Launch, PeerAccess, RankFacts, StepResult
from torchdoctor.distributed.sidechannel import Heartbeat, SideChannel, Watchdog
from torchdoctor.distributed.survivor import Survivor
from torchdoctor.model import StepStatus


@dataclass(frozen=True)
class DistOptions:
    backend: str = "auto"
    rdzv_timeout: float = 60.0
    """Seconds for every rank to join (and for init_process_group)."""
    collective_timeout: float = 60.0
    """Seconds for each collective (the bandwidth sweeps get four times this)."""
    total_timeout: float = 600.0
    """Seconds for the whole run on each rank; past it the rank reports what it has and exits."""
    max_bytes: int = 0
    """Largest all_reduce in the bandwidth sweep; 0 = by backend (gloo 16 MiB, nccl 256 MiB)."""
    iters: int = 5
    linger: float = 5.0
    """Seconds a rank waits on the others past its own deadlines: a rank other than 0 for rank 0's
    go past rdzv_timeout, rank 0 for every live rank to read its exit code before the store goes."""
    state: str = ""
    """The folder of the launcher that started this rank (`launcher.STATE_ENV`), else "": the rank
    leaves there what the launcher needs to report when no rank can."""
    all_ranks: bool = False
    """--all-ranks: every rank speaks, and when rank 0 (the store's host) is gone every survivor reports."""


Finish = Callable[[ClusterFacts], int]
"""Rank 0 hands the cluster facts over to be judged and rendered; it returns the exit code."""


class Log(Protocol):
    def __call__(self, message: str, *, everywhere: bool = False) -> None:
        """A line on stderr from rank 0 (every rank under --all-ranks); ``everywhere``: from this rank regardless."""


@dataclass(frozen=True)
class Rank:
    """This rank before it joins: who it is, what it was asked, what it knows about itself."""

    launch: Launch
    options: DistOptions
    finish: Finish
    log: Log
    torch: Any
    me: RankFacts
    started: float
    survivor: Survivor | None = None
    """A rank other than 0 whose store rank 0 hosts (a static launch): what it knows of rank 0, to report
    if rank 0 dies; None elsewhere."""

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


@dataclass
class Job:
    """One rank's run once every rank has joined: the side channel and what the steps found so far."""

    rank: Rank
    side: SideChannel
    store: Any
    backend: str
    ranks: tuple[RankFacts, ...]
    """Every rank's facts on rank 0; () on the others (they report only their own)."""
    steps: list[StepResult]
    heartbeat: Heartbeat
    device: Any
    gloo: Any = None
    """The gloo group beside an nccl run (the control run), else None."""
    bandwidth: tuple[BandwidthSample, ...] = ()
    control: tuple[BandwidthSample, ...] = ()
    peer: tuple[PeerAccess, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    code: int | None = None
    """Rank 0's exit code once it has reported (it reports once, whichever thread gets there first)."""
    watchdog: Watchdog = field(init=False)
    """Set by `_watch` (it needs the job to report a hung step)."""

    @property
    def launch(self) -> Launch:
        return self.rank.launch

    @property
    def options(self) -> DistOptions:
        return self.rank.options

    @property
    def dist(self) -> Any:
        return self.rank.torch.distributed

    def snapshot(self, steps: list[StepResult]) -> ClusterFacts:
        """The cluster facts as they stand, with the ranks that stopped answering when a step failed."""
        facts = self.ranks if self.launch.rank == 0 else (self.rank.me,)
        if self.launch.rank == 0 and any(s.status == StepStatus.FAILED for s in steps):
            steps = [*steps, *liveness(self.heartbeat, steps)]
        return ClusterFacts(
            self.launch,
            self.backend,
            self.launch.world_size,
            facts,
            tuple(steps),
            self.bandwidth,
            self.control,
            self.peer,
            self.rank.seconds(),
        )

    def report(self, steps: list[StepResult], tell: bool = True) -> int:
        """Rank 0 judges and renders (once, whichever thread gets here first) and returns the exit
        code; ``tell``: hand it to the other ranks through the side channel."""
        with self.lock:
            first = self.code is None
            if self.code is None:
                self.code = self.rank.finish(self.snapshot(steps))
            if first and tell:
                self.side.put("exit", value=str(self.code))
            return self.code


def liveness(heartbeat: Heartbeat, steps: list[StepResult]) -> list[StepResult]:
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
