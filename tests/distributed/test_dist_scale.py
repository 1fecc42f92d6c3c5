"""A thousand-rank world: rank 0's report groups identical nodes and names the one that differs."""

from __future__ import annotations

import time
from dataclasses import replace

from tests.distributed import factories as d
from torchdoctor.checks.base import run_checks
from torchdoctor.distributed.checks import all_dist_checks
from torchdoctor.distributed.model import DistReport
from torchdoctor.distributed.render import render
from torchdoctor.model import ToolInfo
from torchdoctor.render import OutputFormat

NODES, PER_NODE = 128, 8


def world(odd_driver_node: int | None = 77) -> DistReport:
    ranks = []
    for n in range(NODES):
        host = f"gpu-{n:03d}"
        driver = "535.104.05" if n == odd_driver_node else "550.54.15"
        for local in range(PER_NODE):
            r = n * PER_NODE + local
            bus = f"00000000:{local + 0x17:02x}:00.0"
            uuid = f"GPU-{n:04d}{local:04d}-aaaa-bbbb-cccc-dddddddddddd"
            ranks.append(
                replace(
                    d.rank(r), host=host, local_rank=local, device=f"cuda:{local}", gpu_bus_id=bus, gpu_uuid=uuid,
                    driver=driver, cuda_device_count=8,
                )
            )  # fmt: skip
    cluster = d.cluster(*ranks, launch=replace(d.LAUNCH, world_size=len(ranks)), peer=())
    return DistReport(
        1, ToolInfo("torchdoctor", "0"), "2026-11-29T00:00:00+00:00", cluster, run_checks(cluster, all_dist_checks())
    )


def test_a_1024_rank_report_stays_a_page_and_names_the_node_that_differs() -> None:
    report = world()
    text = render(report, OutputFormat.TERMINAL, width=100)
    lines = text.splitlines()
    assert len(lines) < 60, f"{len(lines)} lines"
    assert any(line.startswith("127 nodes (gpu-000, gpu-001") and "driver 550.54.15" in line for line in lines), text
    assert any(line.startswith("node gpu-077") and "driver 535.104.05" in line for line in lines), text
    assert "1024/1024 ranks on 128 nodes" in text
    assert "saw NVIDIA driver 550.54.15: rank(s) 0-615, 624-1023 (torch)" in text
    assert "saw NVIDIA driver 535.104.05: rank(s) 616-623 (torch)" in text
    assert max(len(line) for line in lines) < 250


def test_verbose_still_lists_every_rank() -> None:
    text = render(world(None), OutputFormat.TERMINAL, verbose=True, width=100)
    assert sum(line.lstrip().startswith("rank ") for line in text.splitlines()) == NODES * PER_NODE


def test_rank_0_reads_1024_virtual_ranks_facts_through_one_tcpstore() -> None:
    """Virtual ranks (threads with their own store clients) publish as `dist` ranks do; rank 0 reads all."""
    import datetime
    import json
    import threading

    import torch.distributed as dist

    from torchdoctor import serde
    from torchdoctor.distributed.rank import free_port
    from torchdoctor.distributed.run import _read_facts
    from torchdoctor.distributed.sidechannel import SideChannel

    size, threads = NODES * PER_NODE, 16
    port = free_port()
    timeout = datetime.timedelta(seconds=30)
    server = dist.TCPStore("127.0.0.1", port, None, True, timeout, wait_for_workers=False)
    facts = [serde.to_jsonable(r) for r in world().cluster.ranks]

    def publish(first: int) -> None:
        client = dist.TCPStore("127.0.0.1", port, None, False, timeout)
        for r in range(first, size, threads):
            SideChannel(client, r, size).put("facts", r, value=json.dumps(facts[r]))

    workers = [threading.Thread(target=publish, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    rank0 = SideChannel(server, 0, size)
    missing = rank0.wait_for("facts", deadline=time.monotonic() + 30)
    for w in workers:
        w.join()
    assert missing == []
    ranks = _read_facts(rank0, size)
    assert [r.rank for r in ranks] == list(range(size))
    assert {r.host for r in ranks} == {f"gpu-{n:03d}" for n in range(NODES)}


def test_markdown_of_a_big_job_has_a_row_per_kind_of_node_and_of_a_small_one_a_row_per_rank() -> None:
    from torchdoctor.redact import Redactor

    nobody = Redactor("ada", "/home/ada", "x")
    big = render(world(), OutputFormat.MARKDOWN, redactor=nobody)
    assert len(big.splitlines()) < 60
    assert "| 127: node0, node1, node2, node3, node4, node5 and 121 more |" in big  # in natural order
    assert "| 1: node77 |" in big
    small = render(DistReport(1, ToolInfo("torchdoctor", "0"), "t", d.cluster(), ()), OutputFormat.MARKDOWN)
    assert "| rank | host |" in small and "| 1 | " in small
