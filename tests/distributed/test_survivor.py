"""When rank 0, the store's host, is gone: who reports (the rule every rank computes alike), what the report
says, and how a rank finds the store gone (a real TCPStore in a child process, killed with SIGKILL)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.distributed import factories as d
from torchdoctor.checks.base import run_checks
from torchdoctor.distributed.checks import all_dist_checks
from torchdoctor.distributed.model import ClusterFacts, Launch
from torchdoctor.distributed.sidechannel import Heartbeat, SideChannel, StoreLost
from torchdoctor.distributed.survivor import BEFORE_GO, Survivor, applies, by_hosts, by_layout
from torchdoctor.model import StepStatus

STATIC = Launch("static", 1, 1, 3, 3, "127.0.0.1", 29500, False)


def slurm(rank: int, world: int, per_node: int) -> Launch:
    return Launch("slurm", rank, rank % per_node, world, per_node, "gpu-000", 29500, False)


def test_only_a_rank_other_than_0_whose_store_rank_0_hosts_reports_for_it() -> None:
    assert applies(STATIC, launched_by_us=False)
    assert not applies(replace(STATIC, rank=0), launched_by_us=False), "rank 0 is the one that died"
    assert not applies(replace(STATIC, agent_store=True), launched_by_us=False), "torchrun's agent reports"
    assert not applies(STATIC, launched_by_us=True), "our --nproc launcher reports"
    assert not applies(replace(STATIC, world_size=1, rank=0), launched_by_us=False)


def test_before_go_every_rank_names_the_first_rank_of_the_second_node_by_the_layout() -> None:
    assert {by_layout(slurm(r, 16, 8))[0] for r in range(1, 16)} == {8}
    assert by_layout(slurm(3, 8, 8))[0] == 1, "one node: rank 1"
    assert by_layout(STATIC)[0] == 1


def test_rank_0_names_the_lowest_rank_on_another_node() -> None:
    ranks = (d.rank(0), d.rank(1), d.rank(2, host="node-b"), d.rank(3, host="node-b"))
    assert by_hosts(ranks)[0] == 2
    assert by_hosts((d.rank(0), d.rank(1), d.rank(2)))[0] == 1


def judged(cluster: ClusterFacts) -> dict[str, list[str]]:
    return {f.slug: [f.title] for o in run_checks(cluster, all_dist_checks()) for f in o.findings}


def test_the_named_rank_reports_rank_0_dead_once_whichever_thread_gets_there_first() -> None:
    survivor = Survivor(STATIC, every_rank=False)
    survivor.started("gloo", [d.step("rendezvous"), d.step("all_reduce")])
    survivor.rank0_done = "all_reduce"
    survivor.entering("all_gather")
    written: list[ClusterFacts] = []
    said: list[str] = []

    def finish(cluster: ClusterFacts) -> int:
        written.append(cluster)
        time.sleep(0.2)  # the other thread arrives meanwhile
        return 1

    other = threading.Thread(target=survivor.report, args=(d.rank(1), 2.0, finish, said.append))
    other.start()
    code = survivor.report(d.rank(1), 2.0, finish, said.append)
    other.join()
    assert code == 1 and len(written) == 1 and said == []
    cluster = written[0]
    liveness = cluster.step("liveness")
    assert liveness is not None and liveness.missing_ranks == (0,)
    assert "stopped answering in all_gather" in liveness.error
    assert "rank 0 last said it completed all_reduce" in liveness.error
    assert "reported by rank 1" in liveness.error and cluster.notes
    cut = cluster.step("all_gather")
    assert cut is not None and cut.status == StepStatus.FAILED
    assert judged(cluster) == {"dist-rank-died": ["rank(s) 0 died during the run"]}


def test_a_rank_not_named_says_one_line_naming_the_one_that_reports_and_exits_1() -> None:
    survivor = Survivor(replace(STATIC, rank=2), every_rank=False)
    said: list[str] = []
    code = survivor.report(d.rank(2), 1.0, lambda cluster: pytest.fail("it must not report"), said.append)
    assert code == 1
    assert said == [
        f"rank 2: rank 0 (the store's host) is gone, {BEFORE_GO}; rank 1 writes the report, "
        "the lowest rank after 0, every rank being on one node by the launch's layout"
    ]


def test_under_all_ranks_every_survivor_reports() -> None:
    survivor = Survivor(replace(STATIC, rank=2), every_rank=True)
    written: list[ClusterFacts] = []
    assert survivor.report(d.rank(2), 1.0, lambda c: written.append(c) or 1, lambda line: None) == 1
    assert "--all-ranks" in written[0].notes[0]


def test_a_dead_rank_0_in_the_rendezvous_is_named_with_what_the_survivor_knows() -> None:
    survivor = Survivor(STATIC, every_rank=False)
    reported: list[ClusterFacts] = []
    survivor.report(d.rank(1), 0.5, lambda c: reported.append(c) or 1, lambda line: None)
    (liveness,) = reported[0].steps
    assert liveness.name == "liveness" and liveness.missing_ranks == (0,)
    assert BEFORE_GO in liveness.error and "no step yet" in liveness.error
    assert [r.rank for r in reported[0].ranks] == [1]
    assert judged(reported[0]) == {"dist-rank-died": ["rank(s) 0 died during the run"]}


STORE_HOST = """
import datetime, sys, time
import torch.distributed as dist
store = dist.TCPStore("127.0.0.1", 0, None, True, datetime.timedelta(seconds=30), wait_for_workers=False)
print(store.port, flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def hosted_store() -> Iterator[tuple[subprocess.Popen[str], Any]]:
    """A real TCPStore hosted by a child (rank 0, to be killed) and a client of it here (rank 1)."""
    pytest.importorskip("torch")
    import datetime

    import torch.distributed as dist

    host = subprocess.Popen([sys.executable, "-c", STORE_HOST], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        port = int(host.stdout.readline())
        yield host, dist.TCPStore("127.0.0.1", port, None, False, datetime.timedelta(seconds=10))
    finally:
        host.kill()
        host.wait(timeout=30)


def test_a_store_whose_host_is_killed_is_found_lost_and_the_heartbeat_says_so() -> None:
    with hosted_store() as (host, client):
        side = SideChannel(client, 1, 2)
        side.put("facts", 1)
        assert side.has("facts", 1) and not side.lost
        lost = threading.Event()
        heartbeat = Heartbeat(side, interval=0.05)
        heartbeat.on_lost = lost.set
        host.kill()
        host.wait(timeout=30)
        assert lost.wait(timeout=30), "the heartbeat did not find the store gone"
        assert side.lost and side.lost_at > 0
        assert not side.has("facts", 1)
        with pytest.raises(StoreLost):
            side.put("enter", "all_reduce", 1)
        assert side.waitkey("exit", deadline=time.monotonic() + 60) is None  # at once, not at the deadline


def test_a_store_that_goes_after_rank_0_said_its_code_is_the_jobs_end_not_a_death() -> None:
    with hosted_store() as (host, client):
        side = SideChannel(client, 1, 2)
        SideChannel(client, 0, 2).put("exit", value="0")  # rank 0 has reported
        called = threading.Event()
        heartbeat = Heartbeat(side, interval=0.05)
        heartbeat.on_lost = called.set
        deadline = time.monotonic() + 30
        while not side.ended and time.monotonic() < deadline:  # the heartbeat looks for rank 0's code
            time.sleep(0.05)
        assert side.ended
        host.kill()
        host.wait(timeout=30)
        heartbeat.thread.join(timeout=30)
        assert not heartbeat.thread.is_alive() and not called.is_set()
