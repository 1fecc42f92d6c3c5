"""dist on hostile ground: a rank killed mid-run, a store that never answers, a busy MASTER_PORT,
ranks that disagree on WORLD_SIZE (the store's host dying: test_dist_rank0_gone.py). Real processes, gloo on
this CPU box; the faults come from tests/distributed/faults (env(fault)), the short timeouts from dist's own
options."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import REPO
from tests.distributed.test_dist_runs import env, free_port, run_json, start_rank, steps
from tests.test_documents import valid
from torchdoctor.distributed.launcher import failed_ranks, torchrun_argv, torchrun_failures

pytest.importorskip("torch")

DIST = [sys.executable, "-m", "torchdoctor", "dist", "-f", "json"]


def slugs(report: dict) -> list[str]:
    return [f["slug"] for f in report["findings"]]


def test_a_rank_killed_mid_run_under_nproc_is_named_dead(tmp_path) -> None:
    argv = [*DIST, "--nproc", "2", "--max-mib", "1", "--collective-timeout", "3"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env("1:all_gather:die"), timeout=120, cwd=REPO)
    assert time.monotonic() - started < 60
    assert "Traceback" not in proc.stderr and "ChildFailedError" not in proc.stderr, proc.stderr[-2000:]
    report = json.loads(proc.stdout[proc.stdout.find("{") :])
    assert "dist-rank-died" in slugs(report), report["findings"]
    assert "dist-collective-wrong" not in slugs(report), "the dead rank is the cause, not wrong data"
    (died,) = [f for f in report["findings"] if f["slug"] == "dist-rank-died"]
    assert died["title"] == "rank(s) 1 died during the run"
    assert proc.returncode != 0


def test_a_rank_killed_mid_run_under_a_static_launch() -> None:
    common = dict(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    argv = [*DIST, "--rdzv-timeout", "30", "--max-mib", "1", "--collective-timeout", "3"]
    other = start_rank(argv, env("1:broadcast:die", RANK="1", **common))
    report, code = run_json(argv, env(RANK="0", **common), timeout=120)
    other.communicate(timeout=30)
    assert code == 1
    assert "dist-rank-died" in slugs(report) and "dist-collective-wrong" not in slugs(report), report["findings"]
    assert steps(report)["liveness"]["missing_ranks"] == [1]


def test_a_rank_killed_under_an_external_torchrun_still_gets_rank_0s_report() -> None:
    argv = torchrun_argv(sys.executable, 2, ["-f", "json", "--max-mib", "1", "--collective-timeout", "3"])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env("1:all_reduce:die"), timeout=120, cwd=REPO)
    start = proc.stdout.find("{")
    assert start >= 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout[start:])
    assert "terminated" in steps(report) or "liveness" in steps(report), report["cluster"]["steps"]
    assert report["findings"], "a run cut short is never a pass"


def run_to_file(fault: str, tmp_path, *options: str) -> tuple[dict, subprocess.CompletedProcess[str]]:  # type: ignore[no-untyped-def]
    """`dist --nproc 2 -f json -o FILE` with ``fault``; the report from the file, and the run."""
    out = tmp_path / "dist.json"
    argv = [
        *DIST,
        "--nproc",
        "2",
        "--max-mib",
        "1",
        "--collective-timeout",
        "3",
        "--rdzv-timeout",
        "20",
        "-o",
        str(out),
    ]
    proc = subprocess.run([*argv, *options], capture_output=True, text=True, env=env(fault), timeout=120, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert out.exists(), f"no report written: {proc.stderr[-2000:]}"
    assert proc.stderr.count("report written to") == 1, proc.stderr
    return valid(json.loads(out.read_text())), proc


def test_a_rank_killed_before_the_rendezvous_under_nproc_leaves_a_report_naming_it(tmp_path) -> None:
    report, proc = run_to_file("1:facts:die", tmp_path)
    assert proc.returncode == 1
    assert report["kind"] == "dist"
    (missing,) = [f for f in report["findings"] if f["slug"] == "dist-rank-missing"]
    assert missing["title"].startswith("rank(s) 1 never joined"), missing


def test_rank_0_killed_mid_run_under_nproc_leaves_the_launchers_report(tmp_path) -> None:
    report, proc = run_to_file("0:all_gather:die", tmp_path)
    assert proc.returncode == 1
    (died,) = [f for f in report["findings"] if f["slug"] == "dist-rank-died"]
    assert died["title"] == "rank(s) 0 died during the run"
    assert "rank 0 exited with -9 (SIGKILL)" in steps(report)["liveness"]["error"]
    assert {r["rank"] for r in report["cluster"]["ranks"]} == {0, 1}, "what each rank knew of itself, from the launcher"


def test_a_rank_killed_mid_run_says_report_written_once(tmp_path) -> None:
    report, proc = run_to_file("1:all_gather:die", tmp_path)
    assert proc.returncode == 1 and "dist-rank-died" in slugs(report)


def test_rank_0_stopped_during_the_rendezvous_under_an_external_torchrun_reports_who_had_not_come() -> None:
    argv = torchrun_argv(sys.executable, 2, ["-f", "json", "--rdzv-timeout", "20"])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env("1:facts:die"), timeout=120, cwd=REPO)
    start = proc.stdout.find("{")
    assert start >= 0, proc.stderr[-2000:]
    report = valid(json.loads(proc.stdout[start:]))
    assert steps(report)["rendezvous"]["missing_ranks"] == [1]
    assert any(f["title"].startswith("rank(s) 1 never joined") for f in report["findings"]), report["findings"]


class SilentStore:
    """Accepts TCP connections and never says a word (a wrong service on MASTER_PORT, a hung store)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.server.close()


def test_a_store_that_accepts_and_never_answers_is_bounded_by_rdzv_timeout() -> None:
    store = SilentStore()
    try:
        environ = env(RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(store.port))
        started = time.monotonic()
        proc = subprocess.run([*DIST, "--rdzv-timeout", "1"], capture_output=True, text=True, env=environ, timeout=90)
        assert time.monotonic() - started < 30, "the rendezvous hung past --rdzv-timeout"
        assert "Traceback" not in proc.stderr and proc.returncode != 0
    finally:
        store.close()


def test_a_busy_master_port_is_named() -> None:
    store = SilentStore()  # holds the port rank 0 must listen on
    try:
        environ = env(RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(store.port))
        report, code = run_json([*DIST, "--rdzv-timeout", "3"], environ, timeout=90)
        assert code == 1
        (found,) = report["findings"]
        assert found["title"] == f"MASTER_PORT {store.port} is already in use on rank 0's host", found
    finally:
        store.close()


def test_ranks_that_disagree_on_world_size_are_named() -> None:
    port = str(free_port())
    argv = [*DIST, "--rdzv-timeout", "10"]
    other = start_rank(argv, env(RANK="1", WORLD_SIZE="3", MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
    report, code = run_json(argv, env(RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
    other.communicate(timeout=60)
    assert code == 1
    assert [f["title"] for f in report["findings"]] == ["the ranks disagree on WORLD_SIZE"]


def test_failed_ranks_reads_torchruns_failure_table() -> None:
    table = [
        "[1]:",
        "  time      : 2026-11-29_12:00:00",
        "  rank      : 1 (local_rank: 1)",
        "  exitcode  : -9 (pid: 7)",
    ]
    assert failed_ranks(table) == ": rank 1 exited with -9"


def test_torchrun_failures_reads_who_failed_first_and_when() -> None:
    table = [
        "Failures:",
        "[1]:",
        "  time      : 2026-12-02_15:06:09",
        "  rank      : 1 (local_rank: 1)",
        "  exitcode  : 143 (pid: 5718) ",
        "Root Cause (first observed failure):",
        "[0]:",
        "  time      : 2026-12-02_15:06:08",
        "  rank      : 0 (local_rank: 0)",
        "  exitcode  : -9 (pid: 5717)  (SIGKILL)",
    ]
    stopped, root = torchrun_failures(table)
    assert (stopped.rank, stopped.exitcode, stopped.root) == (1, 143, False)
    assert root.said() == "rank 0 exited with -9 (SIGKILL) at 2026-12-02_15:06:08" and root.root


def test_ctrl_c_on_dist_nproc_leaves_no_torchrun_and_no_rank() -> None:
    import signal

    import psutil

    argv = [*DIST, "--nproc", "2", "--collective-timeout", "120"]
    proc = start_rank(argv, env("1:all_gather:stall"))
    deadline = time.monotonic() + 60
    ranks: list[psutil.Process] = []
    while time.monotonic() < deadline and len(ranks) < 2:
        family = psutil.Process(proc.pid).children(recursive=True)
        ranks = [p for p in family if _is_rank(p)]
        time.sleep(0.2)
    assert len(ranks) >= 2, "the ranks never started"
    family = psutil.Process(proc.pid).children(recursive=True)
    time.sleep(2)  # inside the stalled collective
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [_cmdline(p) for p in alive]


def _is_rank(process) -> bool:  # type: ignore[no-untyped-def]
    """A rank (`-m torchdoctor dist`), not the torchrun that started it (our launcher child runs torchrun)."""
    line = " ".join(_cmdline(process))
    return "torchdoctor dist" in line and "_launcher_child.py" not in line and "torch.distributed.run" not in line


def test_killing_the_doctor_outright_takes_torchrun_and_every_rank_with_it() -> None:
    """SIGKILL runs no handler of ours: torchrun learns it from the lifeline and stops its ranks, and a rank
    whose torchrun is gone ends by itself."""
    import signal

    import psutil

    proc = start_rank([*DIST, "--nproc", "2", "--collective-timeout", "120"], env("1:all_gather:stall"))
    deadline = time.monotonic() + 60
    ranks: list[psutil.Process] = []
    while time.monotonic() < deadline and len(ranks) < 2:
        ranks = [p for p in psutil.Process(proc.pid).children(recursive=True) if _is_rank(p)]
        time.sleep(0.2)
    assert len(ranks) >= 2, "the ranks never started"
    family = psutil.Process(proc.pid).children(recursive=True)
    time.sleep(2)  # inside the stalled collective
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    _, alive = psutil.wait_procs(family, timeout=20)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [_cmdline(p) for p in alive]


def _cmdline(process) -> list[str]:  # type: ignore[no-untyped-def]
    try:
        return process.cmdline()
    except Exception:
        return []
