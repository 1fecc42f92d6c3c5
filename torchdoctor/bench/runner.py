"""Run the bench: one child per device, all at once, each with its own timeout; NVML sampled beside them.

A crash or hang in one device's child never stops the others. NVML is sampled by a child of the
doctor's own interpreter (never the measured one), so the clocks, power and clock-event reasons
the report shows are what the GPU did while it was loaded.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchdoctor import serde
from torchdoctor.children import BENCH_CHILD
from torchdoctor.model import BenchFacts, BenchMetric, DeviceBench, LoadSample, TorchRuntime, TorchState, Unavailable
from torchdoctor.probes.nvml import sample_under_load
from torchdoctor.probes.subproc import ChildResult, run_child, track_dir, untrack_dir, working_dir
from torchdoctor.probes.torch import child_env
from torchdoctor.rules import timeouts
from torchdoctor.rules.devices import DeviceError, parse_device, pick

START_SECONDS = timeouts.BENCH_START
"""What a child may take beyond --seconds: `import torch` and CUDA start-up."""
CPU_SECONDS = 4.0
"""The CPU needs no long soak (no clocks to ramp, no datasheet to compare with): at most this long."""


def devices_for(selection: str, torch: TorchState) -> tuple[list[str], list[DeviceBench]]:
    """The devices to measure, and the ones asked for that torch cannot use (as failed entries)."""
    chosen, label = pick(selection, torch)
    if chosen:
        return chosen, []
    try:
        parse_device(selection)
        why = "torch did not import" if not isinstance(torch, TorchRuntime) else "torch cannot use it here"
    except DeviceError as exc:
        why = str(exc)
    return [], [DeviceBench(label, "", "", (), died=f"not available: {why}")]


def collect(result: ChildResult, device: str, timeout: float) -> DeviceBench:
    name = capability = bus = ""
    metrics: list[BenchMetric] = []
    window: tuple[float, ...] = ()
    done = False
    for message in result.messages:
        if "bench_device" in message and message["bench_device"].get("device") == device:
            info = message["bench_device"]
            name, capability, bus = (
                str(info.get("name", "")),
                str(info.get("capability", "")),
                str(info.get("pci_bus", "")),
            )
        elif "bench_metric" in message and message["bench_metric"].get("device") == device:
            data = dict(message["bench_metric"])
            data.pop("device", None)
            try:
                metrics.append(serde.from_jsonable(BenchMetric, data))
            except serde.SnapshotError:
                continue
        elif "bench_window" in message and message["bench_window"].get("device") == device:
            w = message["bench_window"]
            if isinstance(w.get("start"), (int, float)) and isinstance(w.get("end"), (int, float)):
                window = (float(w["start"]), float(w["end"]))
        elif "bench_done" in message:
            done = True
    died = ""
    if not done:
        if result.timed_out:
            died = f"timeout ({timeout:g} s)"
        elif result.signal_name:
            died = result.signal_name
        elif result.start_error:
            died = f"could not start: {result.start_error}"
        else:
            tail = result.stderr_tail(3).replace("\n", " | ")
            died = f"exited with status {result.returncode}" + (f": {tail}" if tail else "")
    return DeviceBench(device, name, capability, tuple(metrics), died, round(result.seconds, 3), bus, window=window)


def run_bench(python: str, torch: TorchState, selection: str, seconds: float) -> BenchFacts:
    chosen, unavailable = devices_for(selection, torch)
    results: dict[str, DeviceBench] = {}
    timeout = seconds + START_SECONDS
    samples: list[ChildResult] = []

    def one(device: str) -> None:
        budget = min(seconds, CPU_SECONDS) if device == "cpu" else seconds
        argv = [python, str(BENCH_CHILD), "--device", device, "--seconds", f"{budget:g}"]
        result = run_child(argv, timeout, env=child_env(), cwd=working_dir())
        results[device] = collect(result, device, timeout)

    workers = [threading.Thread(target=one, args=(d,), daemon=True, name=f"bench-{d}") for d in chosen]
    sampler: threading.Thread | None = None
    stop_dir = tempfile.mkdtemp(prefix="torchdoctor-bench-")
    track_dir(stop_dir)
    stop = os.path.join(stop_dir, "stop")
    if any(d.startswith("cuda") for d in chosen):
        sampler = threading.Thread(target=lambda: samples.append(sample_under_load(timeout, stop)), daemon=True)
        sampler.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()  # every child has its own timeout
    Path(stop).touch()
    if sampler is not None:
        sampler.join()
    shutil.rmtree(stop_dir, ignore_errors=True)
    untrack_dir(stop_dir)
    measured = [attach_load(results[d], samples[0] if samples else None) for d in chosen if d in results]
    gpus = [d for d in chosen if d.startswith("cuda:")]
    if len(gpus) >= 2 and selection.strip().lower() in ("all", "cuda"):  # after the others: it loads two GPUs
        argv = [python, str(BENCH_CHILD), "--device", "p2p", "--seconds", f"{max(2.0, seconds / 3):g}"]
        measured.append(collect(run_child(argv, timeout, env=child_env(), cwd=working_dir()), "p2p", timeout))
    return BenchFacts(tuple(measured + unavailable), seconds, selection)


def attach_load(bench: DeviceBench, sampled: ChildResult | None) -> DeviceBench:
    """The NVML samples of this device's GPU (matched by PCI bus), taken while it was loaded."""
    if not bench.device.startswith("cuda"):
        return bench
    if sampled is None:
        return replace(bench, load=Unavailable("NVML", "not sampled", "not_sampled"))
    window = bench.window
    mine = [
        m["nvml_sample"]
        for m in sampled.messages
        if "nvml_sample" in m
        and same_bus(m["nvml_sample"], bench)
        and (not window or window[0] <= float(m["nvml_sample"].get("t") or 0) <= window[1])
    ]
    if not mine:
        return replace(bench, load=Unavailable("NVML", "NVML gave no sample for this GPU", "no_samples"))
    return replace(bench, load=summarize(mine))


def same_bus(sample: dict[str, Any], bench: DeviceBench) -> bool:
    bus = str(sample.get("bus") or "").lower()
    return bool(bench.pci_bus) and bus.endswith(bench.pci_bus.lower())


def summarize(samples: Iterable[dict[str, Any]]) -> LoadSample:
    rows = list(samples)
    clocks = [int(r["sm"]) for r in rows if isinstance(r.get("sm"), int)]
    powers = [float(r["power"]) for r in rows if isinstance(r.get("power"), (int, float))]
    temps = [int(r["temp"]) for r in rows if isinstance(r.get("temp"), int)]
    reasons = sorted({str(x) for r in rows for x in (r.get("reasons") or [])})
    first = rows[0]
    nothing = Unavailable("NVML", "not reported", "not_supported")
    return LoadSample(
        sm_clock_mhz=int(statistics.median(clocks)) if clocks else nothing,
        sm_clock_max_mhz=int(first["sm_max"]) if isinstance(first.get("sm_max"), int) else nothing,
        power_w=max(powers) if powers else nothing,
        power_limit_w=float(first["limit"]) if isinstance(first.get("limit"), (int, float)) else nothing,
        temperature_c=max(temps) if temps else nothing,
        reasons=tuple(reasons),
        samples=len(rows),
    )
