"""A static launch (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, no torchrun agent, no launcher of ours) whose
rank 0, the side channel's host, is SIGKILLed mid-run or in the rendezvous: one survivor writes the report
(-o included), naming rank 0; the others say one line. Real ranks, gloo on this CPU box; the kill comes from
tests/distributed/faults (rank 0 kills itself at a named point), the short timeouts from dist's options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distributed.test_dist_runs import env, free_port, start_rank, steps
from tests.hostile.test_dist_hostile import SilentStore
from tests.test_documents import valid

pytest.importorskip("torch")


def static_job(fault: str, started: int, world: int, out: Path) -> list[subprocess.Popen[str]]:
    """Ranks 0..started-1 of a ``world``-rank static job, every one with the same command line (as srun
    starts them), rank 0 killing itself at ``fault``."""
    common = dict(WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    argv = [
        sys.executable,
        "-m",
        "torchdoctor",
        "dist",
        "-f",
        "json",
        "-o",
        str(out),
        "--rdzv-timeout",
        "60",
        "--collective-timeout",
        "30",
        "--max-mib",
        "1",
    ]
    return [start_rank(argv, env(fault, RANK=str(r), **common)) for r in range(started)]


def finished(ranks: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """(exit code, stdout, the doctor's own stderr lines) of each rank."""
    out = []
    for proc in ranks:
        stdout, stderr = proc.communicate(timeout=180)
        assert "Traceback" not in stderr, stderr[-3000:]
        said = "\n".join(line for line in stderr.splitlines() if line.startswith("torchdoctor:"))
        out.append((proc.returncode, stdout, said))
    return out


def test_rank_0_killed_mid_run_leaves_one_report_from_the_rank_it_named(tmp_path: Path) -> None:
    out = tmp_path / "dist.json"
    host, named, other = finished(static_job("0:all_gather:die", 3, 3, out))
    assert host[0] == -9, "rank 0 was killed"
    assert named[0] == other[0] == 1
    assert named[1] == other[1] == "", "the report goes to the -o file only"
    assert named[2] == f"torchdoctor: report written to {out}", named[2]
    assert other[2].count("\n") == 0 and "rank 1 writes the report" in other[2], other[2]
    report = valid(json.loads(out.read_text()))
    (died,) = [f for f in report["findings"] if f["slug"] == "dist-rank-died"]
    assert died["code"] == "TD413" and died["title"] == "rank(s) 0 died during the run"
    liveness = steps(report)["liveness"]
    assert liveness["missing_ranks"] == [0]
    assert "stopped answering" in liveness["error"] and "all_reduce" in liveness["error"], liveness["error"]
    cluster = report["cluster"]
    assert cluster["launch"]["rank"] == 1 and cluster["launch"]["launcher"] == "static"
    assert cluster["notes"][0].startswith("reported by rank 1: named by rank 0"), cluster["notes"]
    assert [r["rank"] for r in cluster["ranks"]] == [0, 1, 2], "every rank's facts, as rank 0 had them"
    assert steps(report)["init_process_group"]["status"] == "passed"


def test_rank_0_killed_in_the_rendezvous_before_every_rank_arrived_leaves_one_report(tmp_path: Path) -> None:
    """Rank 2 never comes; rank 0 dies once rank 1 has arrived (rank 1 waits for its go)."""
    out = tmp_path / "dist.json"
    host, named = finished(static_job("0:facts:die", 2, 3, out))
    assert host[0] == -9
    assert named[0] == 1 and named[1] == ""
    assert named[2] == f"torchdoctor: report written to {out}", named[2]
    report = valid(json.loads(out.read_text()))
    assert [f["title"] for f in report["findings"]] == ["rank(s) 0 died during the run"]
    (liveness,) = report["cluster"]["steps"]
    assert liveness["missing_ranks"] == [0] and "during the rendezvous" in liveness["error"], liveness
    assert report["cluster"]["launch"]["rank"] == 1
    assert [r["rank"] for r in report["cluster"]["ranks"]] == [1], "all it knows: itself"
    assert report["cluster"]["seconds"] < 60, "found at once, not at --rdzv-timeout"


def test_a_rank_that_cannot_reach_rank_0_and_is_not_the_one_to_report_says_one_line() -> None:
    """Every rank that cannot reach rank 0's store would report the same: rank 1 does, rank 2 says so."""
    store = SilentStore()
    try:
        environ = env(RANK="2", WORLD_SIZE="3", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(store.port))
        argv = [sys.executable, "-m", "torchdoctor", "dist", "-f", "json", "--rdzv-timeout", "1"]
        proc = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=120)
    finally:
        store.close()
    said = [line for line in proc.stderr.splitlines() if line.startswith("torchdoctor:")]
    assert proc.returncode == 1 and proc.stdout == "", proc.stdout[:2000]
    assert said == ["torchdoctor: rank 2: could not reach rank 0's store; rank 1 reports"], proc.stderr[-2000:]
