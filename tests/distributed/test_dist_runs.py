"""Real multi-process runs with gloo on this CPU box: torchrun with 2 and 4 ranks, a rank that never
starts, a rank that stalls before a collective (a fault from faults/sitecustomize.py), per-rank differences.
Each run passes short timeouts through dist's own options, so a test waits seconds, not the defaults."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from torchdoctor.distributed.launcher import torchrun_argv

pytest.importorskip("torch")

EVERY_STEP = [
    "rendezvous",
    "init_process_group",
    "all_reduce",
    "all_gather",
    "broadcast",
    "reduce_scatter",
    "barrier",
    "bandwidth",
    "final_barrier",
]


FAULTS = Path(__file__).parent / "faults"
"""A sitecustomize.py that makes one rank stall or die before a step (DIST_FAULT="RANK:STEP:stall|die")."""


def env(fault: str = "", **extra: str) -> dict[str, str]:
    """The environment of a run; ``fault``: DIST_FAULT for every process it starts (see FAULTS)."""
    out = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", NO_COLOR="1", GLOO_SOCKET_IFNAME="lo")
    out.pop("DIST_FAULT", None)
    if fault:
        out.update(PYTHONPATH=os.pathsep.join([str(FAULTS), str(REPO)]), DIST_FAULT=fault)
    out.update(extra)
    return out


def start_rank(argv: list[str], environ: dict[str, str]) -> subprocess.Popen[str]:
    """Another rank in the background, its output captured (read it with ``communicate``)."""
    return subprocess.Popen(argv, env=environ, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_json(argv: list[str], environ: dict[str, str], timeout: float = 120) -> tuple[dict[str, Any], int]:
    proc = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=timeout, cwd=REPO)
    assert "Traceback" not in proc.stdout
    start = proc.stdout.find("{")
    assert start >= 0, (proc.stdout, proc.stderr[-3000:])
    return json.loads(proc.stdout[start:]), proc.returncode


def steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["cluster"]["steps"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("nproc, how", [(2, "torchrun"), (4, "--nproc")])
def test_torchrun_ranks_agree_on_every_collective(nproc: int, how: str) -> None:
    """2 ranks under torchrun itself; 4 through `torchdoctor dist --nproc`, which starts torchrun for us."""
    options = ["-f", "json", "--max-mib", "4"]
    if how == "torchrun":
        argv = torchrun_argv(sys.executable, nproc, options)
    else:
        argv = [sys.executable, "-m", "torchdoctor", "dist", "--nproc", str(nproc), *options]
    report, code = run_json(argv, env())
    assert code == 0, report["findings"]
    cluster = report["cluster"]
    assert cluster["backend"] == "gloo" and cluster["world_size"] == nproc
    assert [r["rank"] for r in cluster["ranks"]] == list(range(nproc))
    assert cluster["launch"]["launcher"] == "torchrun"
    assert [n for n in EVERY_STEP if steps(report)[n]["status"] != "passed"] == []
    sample = cluster["bandwidth"][-1]
    assert sample["bytes"] == 4 * 1024**2 and sample["busbw_gbs"] > 0
    assert abs(sample["busbw_gbs"] - sample["algbw_gbs"] * 2 * (nproc - 1) / nproc) < 1e-3
    assert report["findings"] == []


def test_a_rank_that_never_starts_is_named_within_the_timeout() -> None:
    environ = env(RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    report, code = run_json(
        [sys.executable, "-m", "torchdoctor", "dist", "-f", "json", "--rdzv-timeout", "2"], environ, timeout=60
    )
    assert code == 1
    (finding,) = report["findings"]
    assert finding["slug"] == "dist-rank-missing"
    assert finding["title"] == "rank(s) 1 never joined (1 of 2 arrived)"
    assert report["cluster"]["seconds"] < 30


def test_a_rank_that_stalls_in_a_collective_is_named() -> None:
    argv = torchrun_argv(sys.executable, 2, ["-f", "json", "--collective-timeout", "2"])
    report, code = run_json(argv, env("1:all_gather:stall"), timeout=90)
    assert code != 0
    assert steps(report)["all_reduce"]["status"] == "passed"
    stalled = steps(report)["all_gather"]
    assert stalled["status"] == "failed" and stalled["missing_ranks"] == [1]
    (finding,) = [f for f in report["findings"] if f["slug"] == "dist-collective-timeout"]
    assert finding["title"] == "all_gather timed out: rank(s) 1"


def test_per_rank_differences_reach_rank_0(tmp_path: Path) -> None:
    """Two static ranks started by hand, one with a leftover NCCL switch and a bad GLOO_SOCKET_IFNAME prefix."""
    port = str(free_port())
    common = dict(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    argv = [
        sys.executable,
        "-m",
        "torchdoctor",
        "dist",
        "-f",
        "json",
        "--rdzv-timeout",
        "30",
        "--max-mib",
        "1",
        "--fail-on",
        "warning",
    ]
    other = start_rank(argv, env(RANK="1", NCCL_P2P_DISABLE="1", **common))
    report, code = run_json(argv, env(RANK="0", **common))
    out, _ = other.communicate(timeout=60)
    assert out == "", "ranks other than 0 print nothing"
    assert other.returncode == code == 1  # every rank exits with rank 0's code
    (finding,) = [f for f in report["findings"] if f["slug"] == "dist-nccl-env"]
    assert finding["evidence"][0]["label"] == "NCCL_P2P_DISABLE=1"
    assert report["cluster"]["launch"]["launcher"] == "static"
