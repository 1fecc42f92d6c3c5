"""Every dist finding, firing on a cluster built to show it and quiet on one next to it."""

from __future__ import annotations

import json

import pytest

from tests.distributed import factories as d
from tests.render.junit_schemas import assert_valid_junit
from torchdoctor.checks.base import run_checks
from torchdoctor.distributed.checks import all_dist_checks
from torchdoctor.distributed.model import BandwidthSample, ClusterFacts, DistReport, Interface
from torchdoctor.distributed.rank import LaunchError, first_host, resolve
from torchdoctor.distributed.render import render
from torchdoctor.model import CheckStatus, ToolInfo
from torchdoctor.redact import Redactor
from torchdoctor.render import OutputFormat

CASES: dict[str, tuple[ClusterFacts, ClusterFacts]] = {
    "dist-rank-missing": (
        d.cluster(
            d.rank(0), steps=(d.step("rendezvous", "failed", "1 of 2 rank(s) never arrived", missing_ranks=(1,)),)
        ),
        d.cluster(),
    ),
    "dist-collective-timeout": (
        d.failed(
            "all_reduce", "all_reduce did not finish within 60 s: rank(s) [1] never entered it", missing_ranks=(1,)
        ),
        d.cluster(),
    ),
    "dist-collective-wrong": (
        d.failed("all_gather", "rank 1: all_gather slots [0] hold another rank's data", wrong_ranks=(1,)),
        d.cluster(),
    ),
    "dist-rank-died": (
        d.cluster(
            steps=(
                *d.failed("all_gather", "Connection reset by peer").steps,
                d.step("liveness", "failed", "rank(s) 1 stopped answering", missing_ranks=(1,)),
            )
        ),
        d.failed("all_gather", "Connection reset by peer"),  # wrong data, no dead rank: another check's
    ),
    "dist-run-terminated": (
        d.cluster(steps=(*d.cluster().steps[:3], d.step("terminated", "failed", "the launcher stopped this rank"))),
        d.cluster(),
    ),
    "dist-version-mismatch": (d.cluster(d.rank(0), d.rank(1, torch="2.4.1+cu124", host="node-b")), d.cluster()),
    "dist-gpu-count-mismatch": (
        d.cluster(d.rank(0), d.rank(1, host="node-b", cuda_device_count=7)),
        d.cluster(d.rank(0), d.rank(1, host="node-b")),
    ),
    "dist-duplicate-gpu": (d.cluster(d.rank(0), d.rank(1, gpu_uuid=d.rank(0).gpu_uuid)), d.cluster()),
    "dist-low-bandwidth": (
        d.cluster(bandwidth=(BandwidthSample(256 * 1024**2, 1.0, 0.3, 0.3),)),
        d.cluster(),
    ),
    "dist-nccl-env": (
        d.cluster(d.rank(0), d.rank(1, env=(("NCCL_P2P_DISABLE", "1"),))),
        d.cluster(d.rank(0), d.rank(1, env=(("NCCL_DEBUG", "WARN"),))),
    ),
    "dist-nccl-unavailable": (
        d.cluster(
            d.rank(0, nccl_available=False, platform="win32"),
            d.rank(1, nccl_available=False, platform="win32"),
            backend="gloo",
        ),
        d.cluster(),
    ),
    "dist-mig-nccl": (d.cluster(d.rank(0, mig=True), d.rank(1, mig=True)), d.cluster()),
    "dist-socket-ifname": (
        d.cluster(d.rank(0, env=(("GLOO_SOCKET_IFNAME", "ib0"),)), d.rank(1)),
        d.cluster(d.rank(0, env=(("GLOO_SOCKET_IFNAME", "eth0"), ("NCCL_SOCKET_IFNAME", "eth"))), d.rank(1)),
    ),
    "dist-shm-small": (d.cluster(d.rank(0, shm_bytes=64 * 1024**2), d.rank(1, shm_bytes=64 * 1024**2)), d.cluster()),
}


def run_one(slug: str, cluster: ClusterFacts):
    (chk,) = [c for c in all_dist_checks() if c.slug == slug]
    (outcome,) = run_checks(cluster, [chk])
    return outcome


@pytest.mark.parametrize("slug", sorted(CASES))
def test_fires(slug: str) -> None:
    outcome = run_one(slug, CASES[slug][0])
    assert outcome.status is CheckStatus.FIRED, outcome.reason
    assert all(f.evidence and f.fix for f in outcome.findings)


@pytest.mark.parametrize("slug", sorted(CASES))
def test_stays_quiet(slug: str) -> None:
    outcome = run_one(slug, CASES[slug][1])
    assert outcome.status is CheckStatus.PASSED, outcome.findings


def test_every_dist_check_has_both_cases() -> None:
    assert sorted(CASES) == sorted(c.slug for c in all_dist_checks())


def test_a_healthy_cluster_has_no_findings() -> None:
    assert [o.slug for o in run_checks(d.cluster(), all_dist_checks()) if o.findings] == []


def test_nccl_slower_than_gloo_is_low_bandwidth() -> None:
    slow = d.cluster(
        bandwidth=(BandwidthSample(256 * 1024**2, 1.0, 0.5, 0.5),),
        control_bandwidth=(BandwidthSample(16 * 1024**2, 0.02, 0.8, 0.8),),
        peer=(),
    )
    (finding,) = run_one("dist-low-bandwidth", slow).findings
    assert finding.title == "NCCL is slower than gloo"


def test_far_below_the_pcie_link_is_low_bandwidth() -> None:
    slow = d.cluster(bandwidth=(BandwidthSample(256 * 1024**2, 1.0, 10.0, 10.0),), control_bandwidth=(), peer=())
    (finding,) = run_one("dist-low-bandwidth", slow).findings
    assert finding.evidence[1].value == "PCIe gen5 x16 = 63.0 GB/s per direction"
    fine = d.cluster(bandwidth=(BandwidthSample(256 * 1024**2, 1.0, 40.0, 40.0),), control_bandwidth=(), peer=())
    assert run_one("dist-low-bandwidth", fine).findings == ()


def test_only_loopback_interfaces_on_a_multi_node_job() -> None:
    lonely = d.rank(1, host="node-b", interfaces=(Interface("lo", ("127.0.0.1",)), Interface("docker0", ())))
    outcome = run_one("dist-socket-ifname", d.cluster(d.rank(0), lonely))
    assert [f.title for f in outcome.findings] == ["node-b has no routable interface"]


def test_resolve_torchrun_slurm_and_static() -> None:
    torchrun = resolve(
        {
            "RANK": "3",
            "WORLD_SIZE": "8",
            "LOCAL_RANK": "1",
            "LOCAL_WORLD_SIZE": "4",
            "MASTER_ADDR": "n1",
            "MASTER_PORT": "29500",
            "TORCHELASTIC_RUN_ID": "x",
            "TORCHELASTIC_USE_AGENT_STORE": "True",
        }
    )
    assert (torchrun.launcher, torchrun.rank, torchrun.local_rank, torchrun.agent_store) == ("torchrun", 3, 1, True)
    slurm = resolve(
        {
            "SLURM_PROCID": "5",
            "SLURM_NTASKS": "8",
            "SLURM_LOCALID": "1",
            "SLURM_NTASKS_PER_NODE": "4",
            "SLURM_JOB_NODELIST": "gpu[07-08,12]",
            "SLURM_JOB_ID": "123456",
        }
    )
    assert (slurm.launcher, slurm.rank, slurm.world_size, slurm.master_addr, slurm.master_port) == (
        "slurm",
        5,
        8,
        "gpu07",
        3456 + 15000,
    )
    static = resolve({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1234"})
    assert static.launcher == "static" and not static.agent_store
    with pytest.raises(LaunchError):
        resolve({"RANK": "0", "WORLD_SIZE": "2"})
    with pytest.raises(LaunchError):
        resolve({})


@pytest.mark.parametrize(
    "nodelist, first",
    [("gpu[07-09,12],cpu01", "gpu07"), ("node1,node2", "node1"), ("single", "single"), ("a[1]", "a1")],
)
def test_first_host(nodelist: str, first: str) -> None:
    assert first_host(nodelist) == first


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_renders_a_dist_report(fmt: OutputFormat) -> None:
    cluster = CASES["dist-collective-timeout"][0]
    report = DistReport(
        1, ToolInfo("torchdoctor", "0"), "2026-11-27T00:00:00+00:00", cluster, run_checks(cluster, all_dist_checks())
    )
    out = render(report, fmt, redactor=Redactor("ada", "/home/ada", "node-a"))
    if fmt is not OutputFormat.JUNIT:
        assert "TD402" in out, fmt
    if fmt is OutputFormat.HTML:
        assert out.startswith("<!DOCTYPE html>") and "<script" not in out
    if fmt.shared:
        assert "node-a" not in out and "node0" in out, "every node's name is hidden in shared formats"
    if fmt is OutputFormat.JSON:
        assert json.loads(out)["kind"] == "dist"
    if fmt is OutputFormat.JUNIT:
        assert "<failure" in out
        assert_valid_junit(out)


def test_an_init_process_group_timeout_is_a_missing_rank_not_a_collective_timeout() -> None:
    stuck = d.failed(
        "init_process_group",
        "init_process_group did not finish within 60 s: rank(s) [1] entered it but never finished",
        missing_ranks=(1,),
    )
    (finding,) = run_one("dist-rank-missing", stuck).findings
    assert finding.title.startswith("rank(s) 1 never joined")
    assert run_one("dist-collective-timeout", stuck).findings == ()


def test_a_dead_rank_is_the_one_finding_not_every_collective_after_it() -> None:
    died = d.cluster(
        steps=(
            *d.failed("all_gather", "Connection reset by peer").steps,
            d.step("liveness", "failed", "rank(s) 1 stopped answering", missing_ranks=(1,)),
        )
    )
    outcomes = run_checks(died, all_dist_checks())
    assert [f.slug for o in outcomes for f in o.findings] == ["dist-rank-died"]


def test_a_missing_rank_probes_the_rendezvous_port_only_when_it_is_known() -> None:
    """`dist --nproc 2` whose ranks died before the rendezvous printed `$ nc -zv 127.0.0.1 0`."""
    from dataclasses import replace

    missing, _ = CASES["dist-rank-missing"]
    (known,) = run_one("dist-rank-missing", missing).findings
    assert known.fix_command == f"nc -zv {missing.launch.master_addr} {missing.launch.master_port}"
    assert missing.launch.master_port
    unknown = replace(missing, launch=replace(missing.launch, master_port=0))
    (finding,) = run_one("dist-rank-missing", unknown).findings
    assert finding.fix_command == "" and "logs" in finding.fix


def test_the_verdict_counts_as_check_does() -> None:
    """dist said "1 error(s), 0 warning(s) ... 1 node(s)" where every other command says "1 error, 0 warnings"."""
    from torchdoctor.distributed.render import verdict

    missing, _ = CASES["dist-rank-missing"]
    broken = DistReport(1, ToolInfo("torchdoctor", "0"), "", missing, tuple(run_checks(missing, all_dist_checks())))
    said = verdict(broken)
    assert "(s)" not in said and "1 error, 0 warnings" in said and "on 1 node," in said, said


def test_a_busy_port_and_a_world_size_disagreement_are_named() -> None:
    busy = d.cluster(
        d.rank(0),
        steps=(d.step("rendezvous", "failed", "DistNetworkError: address already in use", missing_ranks=(0,)),),
    )
    assert run_one("dist-rank-missing", busy).findings[0].title.startswith("MASTER_PORT ")
    disagree = d.cluster(
        d.rank(0), steps=(d.step("rendezvous", "failed", "the ranks disagree on WORLD_SIZE: rank 0 says 2"),)
    )
    assert run_one("dist-rank-missing", disagree).findings[0].title == "the ranks disagree on WORLD_SIZE"


def _launched(**kw: object) -> object:
    from dataclasses import replace

    from torchdoctor.distributed.launcher import Launched, RankExit

    base: dict[str, object] = dict(
        code=1,
        problem="the local ranks failed (exit 1)",
        exits=(RankExit(1, 143, "t1", False), RankExit(0, -9, "t0", True)),
        ranks=((d.LAUNCH, d.rank(0)), (replace(d.LAUNCH, rank=1), d.rank(1))),
    )
    base.update(kw)
    return Launched(**base)  # type: ignore[arg-type]


def test_the_launcher_names_the_rank_that_died_mid_run_and_the_one_that_never_joined() -> None:
    from torchdoctor.distributed.launcher import after_the_ranks

    mid = after_the_ranks(_launched(joined=True), 2)  # type: ignore[arg-type]
    assert mid is not None
    (died,) = run_one("dist-rank-died", mid).findings
    assert died.title == "rank(s) 0 died during the run"
    early = after_the_ranks(_launched(joined=False), 2)  # type: ignore[arg-type]
    assert early is not None and [r.rank for r in early.ranks] == [1]
    (missing,) = run_one("dist-rank-missing", early).findings
    assert missing.title == "rank(s) 0 never joined (1 of 2 arrived)"


def test_the_launcher_stays_quiet_when_a_rank_reported_or_nothing_is_known() -> None:
    from torchdoctor.distributed.launcher import after_the_ranks

    assert after_the_ranks(_launched(reported=True), 2) is None  # type: ignore[arg-type]
    assert after_the_ranks(_launched(code=0, exits=()), 2) is None  # type: ignore[arg-type]
    assert after_the_ranks(_launched(exits=()), 2) is None, "torchrun itself failed: no ranks to speak of"  # type: ignore[arg-type]
    timed_out = after_the_ranks(_launched(exits=(), timed_out=True, problem="did not finish within 5 s"), 2)  # type: ignore[arg-type]
    assert timed_out is not None and timed_out.steps[0].name == "terminated"
