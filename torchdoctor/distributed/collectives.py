"""Collectives on known values, the all_reduce bandwidth sweep, and the peer-access matrix."""

from __future__ import annotations

import time
from typing import Any

from torchdoctor.distributed.model import BandwidthSample, PeerAccess


def collectives(torch: Any, dist: Any, device: Any, world: int, rank: int, group: Any = None) -> list[tuple[str, Any]]:
    """(name, fn) pairs; each fn runs one collective and returns "" or what was wrong."""
    n = 1_000_003 if device.type == "cpu" else 4_000_037  # odd, not a power of two

    def all_reduce() -> str:
        t = torch.full((n,), float(rank + 1), device=device)
        dist.all_reduce(t, group=group)
        expected = world * (world + 1) / 2
        return "" if bool((t == expected).all()) else f"all_reduce(SUM) gave {t[0].item()} instead of {expected}"

    def all_gather() -> str:
        t = torch.full((1024,), float(rank), device=device)
        out = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(out, t, group=group)
        bad = [i for i, o in enumerate(out) if not bool((o == i).all())]
        return "" if not bad else f"all_gather slots {bad} hold another rank's data (order is wrong)"

    def broadcast() -> str:
        src = world - 1
        t = torch.full((4096,), float(rank), device=device)
        dist.broadcast(t, src=src, group=group)
        return "" if bool((t == src).all()) else f"broadcast from rank {src} gave {t[0].item()}"

    def reduce_scatter() -> str:
        chunk = 1024
        inp = torch.arange(world * chunk, dtype=torch.float32, device=device) + rank
        out = torch.empty(chunk, dtype=torch.float32, device=device)
        reduce_scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
        reduce_scatter(out, inp, group=group)
        base = torch.arange(rank * chunk, (rank + 1) * chunk, dtype=torch.float32, device=device)
        expected = base * world + world * (world - 1) / 2
        return "" if bool((out == expected).all()) else "reduce_scatter chunk differs from the known sum"

    def barrier() -> str:
        dist.barrier(group=group)
        return ""

    return [
        ("all_reduce", all_reduce),
        ("all_gather", all_gather),
        ("broadcast", broadcast),
        ("reduce_scatter", reduce_scatter),
        ("barrier", barrier),
    ]


def _sync(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bandwidth(
    torch: Any, dist: Any, device: Any, world: int, max_bytes: int, iters: int, group: Any = None
) -> tuple[BandwidthSample, ...]:
    """all_reduce algbw and busbw (nccl-tests definitions: busbw = algbw * 2(n-1)/n), size sweep."""
    samples = []
    size = 64 * 1024
    while size <= max_bytes:
        t = torch.ones(size // 4, dtype=torch.float32, device=device)
        dist.all_reduce(t, group=group)  # warm-up
        _sync(torch, device)
        dist.barrier(group=group)
        started = time.perf_counter()
        for _ in range(iters):
            dist.all_reduce(t, group=group)
        _sync(torch, device)
        seconds = (time.perf_counter() - started) / iters
        algbw = size / seconds / 1e9
        samples.append(
            BandwidthSample(size, round(seconds, 6), round(algbw, 4), round(algbw * 2 * (world - 1) / world, 4))
        )
        size *= 4
    return tuple(samples)


def peer_access(torch: Any, host: str, copy_bytes: int = 64 * 1024 * 1024) -> PeerAccess:
    count = min(torch.cuda.device_count(), 8)
    devices = tuple(f"cuda:{i}" for i in range(count))
    matrix = tuple(
        tuple(i == j or bool(torch.cuda.can_device_access_peer(i, j)) for j in range(count)) for i in range(count)
    )
    copy: list[tuple[float, ...]] = []
    for i in range(count):
        row = []
        src = torch.empty(copy_bytes, dtype=torch.uint8, device=f"cuda:{i}")
        for j in range(count):
            if i == j:
                row.append(-1.0)
                continue
            dst = torch.empty(copy_bytes, dtype=torch.uint8, device=f"cuda:{j}")
            dst.copy_(src)
            torch.cuda.synchronize(i)
            torch.cuda.synchronize(j)
            started = time.perf_counter()
            for _ in range(3):
                dst.copy_(src)
            torch.cuda.synchronize(i)
            torch.cuda.synchronize(j)
            row.append(round(copy_bytes * 3 / (time.perf_counter() - started) / 1e9, 2))
        copy.append(tuple(row))
    return PeerAccess(host, devices, matrix, tuple(copy))


def barrier(dist: Any) -> str:
    dist.barrier()
    return ""
