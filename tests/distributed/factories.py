"""Cluster facts in one line: two healthy GPU ranks on one node by default."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torchdoctor.distributed.model import (
    BandwidthSample,
    ClusterFacts,
    Interface,
    Launch,
    PeerAccess,
    RankFacts,
    StepResult,
)
from torchdoctor.model import StepStatus

LAUNCH = Launch("torchrun", 0, 0, 2, 2, "node-a", 29500, True)
STEPS = ("rendezvous", "init_process_group", "all_reduce", "all_gather", "broadcast", "reduce_scatter", "barrier")


def rank(r: int = 0, **kw: Any) -> RankFacts:
    base = RankFacts(
        rank=r,
        local_rank=r % 8,
        host="node-a",
        pid=1000 + r,
        python="3.11.9",
        torch="2.5.1+cu124",
        cuda="12.4",
        nccl="2.21.5",
        nccl_available=True,
        gloo_available=True,
        driver="550.54.15",
        cuda_device_count=2,
        device=f"cuda:{r % 8}",
        gpu_name="NVIDIA H100 80GB HBM3",
        gpu_uuid=f"GPU-0000000{r}-aaaa-bbbb-cccc-dddddddddddd",
        gpu_bus_id=f"00000000:{r + 0x17:02x}:00.0",
        mig=False,
        pcie="gen5 x16",
        cuda_visible_devices="<unset>",
        env=(),
        nccl_conf=(),
        interfaces=(Interface("lo", ("127.0.0.1",)), Interface("eth0", ("10.0.0.5",))),
        shm_bytes=64 * 1024**3,
        platform="linux",
    )
    return replace(base, **kw)


def step(name: str, status: str = "passed", error: str = "", **kw: Any) -> StepResult:
    return StepResult(name, StepStatus(status), 0.01, error, **kw)


def cluster(*ranks: RankFacts, **kw: Any) -> ClusterFacts:
    ranks = ranks or (rank(0), rank(1))
    base = ClusterFacts(
        launch=LAUNCH,
        backend="nccl",
        world_size=len(ranks),
        ranks=ranks,
        steps=tuple(step(n) for n in STEPS),
        bandwidth=(BandwidthSample(256 * 1024**2, 0.002, 134.2, 134.2),),
        control_bandwidth=(BandwidthSample(16 * 1024**2, 0.02, 0.8, 0.8),),
        peer=(
            PeerAccess("node-a", ("cuda:0", "cuda:1"), ((True, True), (True, True)), ((-1.0, 250.0), (250.0, -1.0))),
        ),
        seconds=2.0,
    )
    return replace(base, **kw)


def failed(name: str, error: str, **kw: Any) -> ClusterFacts:
    return cluster(steps=tuple(step(n, "failed", error, **kw) if n == name else step(n) for n in STEPS))
