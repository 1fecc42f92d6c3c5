"""When rank 0, the store's host, is gone: which surviving rank reports, and what it can still say.

Under a static launch (srun, or RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set by hand) no torchrun agent
and no launcher of ours outlives the ranks: rank 0 hosts the TCPStore side channel and writes the report.
When it dies (SIGKILL, the OOM killer, its node lost) the store goes with it, and the survivors can no
longer agree on anything. So who reports is settled while the store still works (`deputy`): rank 0 names
a rank when it says go; before that every rank computes the same rule from the launcher's layout. That
rank writes the report (the -o file included) from what it saw: when it lost the store, in which step,
the last step rank 0 said it had completed, its own facts, and every rank's facts when rank 0 had named
it (it reads them then, as rank 0 does). The other survivors say one line and exit 1; with --all-ranks
every survivor reports.

Only where rank 0 hosts the store: under torchrun the agent hosts it and torchrun reports a dead rank
(with `--nproc`, our launcher does, from torchrun's failure table).
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from torchdoctor.distributed.model import ClusterFacts, Launch, RankFacts, StepResult
from torchdoctor.distributed.sidechannel import SideChannel, reachable
from torchdoctor.model import StepStatus

BEFORE_GO = "during the rendezvous, before rank 0 started the run"
AFTER_RUN = "at the end of the run, while waiting for rank 0's report"


def applies(launch: Launch, launched_by_us: bool) -> bool:
    """Rank 0 hosts the store and nothing else outlives it to report: a rank other than 0 under a static
    launch (not torchrun's agent store, not our own launcher)."""
    return launch.rank != 0 and launch.world_size > 1 and not launch.agent_store and not launched_by_us


def by_layout(launch: Launch) -> tuple[int, str]:
    """The reporter before rank 0 named one, and why: every rank computes the same from the launcher's
    layout. Launchers place ranks in blocks of LOCAL_WORLD_SIZE per node (torchrun, srun's default block
    distribution), so rank LOCAL_WORLD_SIZE is the first of the second node, which a lost first node does
    not take with it; on one node, rank 1."""
    per_node = launch.local_world_size
    if 0 < per_node < launch.world_size:
        return per_node, f"by the launch's layout the first rank of the second node, LOCAL_WORLD_SIZE being {per_node}"
    return 1, "the lowest rank after 0, every rank being on one node by the launch's layout"


def by_hosts(ranks: tuple[RankFacts, ...]) -> tuple[int, str]:
    """The reporter rank 0 names when it says go (it knows every rank's host): the lowest rank on another
    node than rank 0's, so a node lost whole does not take the reporter with it; else rank 1."""
    host0 = next((r.host for r in ranks if r.rank == 0), "")
    elsewhere = sorted(r.rank for r in ranks if r.host != host0)
    if elsewhere:
        return elsewhere[0], "named by rank 0 when it started the run, the lowest rank on another node than rank 0's"
    return 1, "named by rank 0 when it started the run, the lowest rank after 0, every rank being on rank 0's node"


@dataclass
class Survivor:
    """What a rank other than 0 knows of rank 0 as the run goes, and its report once the store is gone.

    The main thread moves ``phase`` on; the heartbeat thread, the watchdog or the main thread itself may be
    the one that finds the store gone, and whichever comes first reports (`report`, once)."""

    launch: Launch
    every_rank: bool
    """--all-ranks: every survivor writes its report."""
    deputy: int = -1
    why: str = ""
    phase: str = BEFORE_GO
    """Where this rank is: BEFORE_GO, "in STEP", "after STEP", AFTER_RUN."""
    current: str = ""
    """The step this rank is inside, "" between steps."""
    rank0_done: str = ""
    """The last step rank 0 said (on the side channel) it had completed."""
    ranks: tuple[RankFacts, ...] = ()
    """Every rank's facts, read at the start of the run by the rank named to report."""
    backend: str = ""
    steps: list[StepResult] = field(default_factory=list)
    """This rank's own results, step by step (the run's list, shared)."""
    failure: str = ""
    """What the step in progress raised, when rank 0's death made it fail."""
    side: SideChannel | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    code: int | None = None

    def __post_init__(self) -> None:
        self.deputy, self.why = by_layout(self.launch)

    @property
    def reports(self) -> bool:
        return self.every_rank or self.launch.rank == self.deputy

    def started(self, backend: str, steps: list[StepResult]) -> None:
        """Rank 0 said go: the backend, and the run's list of this rank's results (shared, it grows)."""
        self.backend, self.steps = backend, steps
        self.left(steps[-1].name)

    def entering(self, step: str) -> None:
        self.phase, self.current = f"in {step}", step

    def left(self, step: str) -> None:
        self.phase, self.current = f"after {step}", ""

    def named(self, side: SideChannel) -> None:
        """After go: the rank rank 0 named to report (when it named one)."""
        if side.has("deputy"):
            text = side.get("deputy").split(" ", 1)
            if text[0].isdigit():
                self.deputy, self.why = int(text[0]), text[1] if len(text) > 1 else "named by rank 0"

    def saw(self, side: SideChannel, just_done: str = "") -> None:
        """Note the newest step rank 0 said it completed (it completes them in order), among this rank's own
        and ``just_done``; a check or two per step, while the store answers."""
        names = [s.name for s in self.steps if s.name != "rendezvous"] + ([just_done] if just_done else [])
        start = names.index(self.rank0_done) + 1 if self.rank0_done in names else 0
        for name in reversed(names[start:]):
            if side.has("done", name, 0):
                self.rank0_done = name
                return

    def report(
        self,
        me: RankFacts,
        seconds: float,
        finish: Callable[[ClusterFacts], int],
        say: Callable[[str], None],
    ) -> int:
        """Once, whichever thread gets here first: the report (the named rank), or one line (the others)."""
        with self.lock:
            if self.code is None:
                if self.reports:
                    self.code = finish(self.facts(me, seconds))
                else:
                    say(
                        f"rank {self.launch.rank}: rank 0 (the store's host) is gone, {self.phase}; "
                        f"rank {self.deputy} writes the report, {self.why}"
                    )
                    self.code = 1
            return self.code

    def facts(self, me: RankFacts, seconds: float) -> ClusterFacts:
        """The job as this rank saw it: its own steps, the one rank 0's death cut short, and rank 0 gone."""
        launch = self.launch
        steps = list(self.steps)
        if self.current and self.current not in {s.name for s in steps}:
            cut = "cut short: rank 0 is gone" + (f" ({self.failure})" if self.failure else "")
            steps.append(StepResult(self.current, StepStatus.FAILED, 0.0, cut, missing_ranks=(0,)))
        steps.append(StepResult("liveness", StepStatus.FAILED, 0.0, self.what_happened(seconds), (0,)))
        ranks = self.ranks or (me,)
        note = f"reported by rank {launch.rank}: {self.why}" if launch.rank == self.deputy else ""
        note = note or f"reported by rank {launch.rank} (--all-ranks); rank {self.deputy} reports by default"
        backend = self.backend or "unknown"
        return ClusterFacts(launch, backend, launch.world_size, ranks, tuple(steps), seconds=seconds, notes=(note,))

    def what_happened(self, seconds: float) -> str:
        launch, side = self.launch, self.side
        where = f"{launch.master_addr}:{launch.master_port}"
        lost_at = side.lost_at if side is not None and side.lost_at else time.time()
        into = max(0.0, seconds - max(0.0, time.time() - lost_at))
        why = side.lost if side is not None and side.lost else "no answer"
        own = next((s.name for s in reversed(self.steps) if s.status == StepStatus.PASSED), "")
        seen = f"rank 0 last said it completed {self.rank0_done or 'no step yet'}" + (
            f", this rank {own}" if own else ""
        )
        who = (
            f"reported by rank {launch.rank}, {self.why}"
            if launch.rank == self.deputy
            else f"reported by rank {launch.rank} (--all-ranks; rank {self.deputy} reports by default)"
        )
        return (
            f"rank 0, the side channel's host ({where}), stopped answering {self.phase}, "
            f"at {_clock(lost_at)}, {into:.1f} s into rank {launch.rank}'s run ({why}); "
            f"{reachable(launch.master_addr, launch.master_port, 1.0)}; {seen}; {who}"
        )


def _clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")
