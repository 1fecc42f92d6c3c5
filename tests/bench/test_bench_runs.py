"""bench for real on this CPU, and the runner's scheduling with stand-in children of known behaviour."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from tests import factories as f
from tests.conftest import REPORT_SCHEMA, Doctor
from torchdoctor.bench import runner
from torchdoctor.bench.runner import run_bench, summarize

STAND_IN = """
import os, signal, sys, time
sys.path.insert(0, {probes!r})
import _channel_child
_channel_child.open_channel()
device = sys.argv[sys.argv.index("--device") + 1]
_channel_child.emit({{"bench_device": {{"device": device, "name": "stand-in", "capability": "9.0"}}}})
time.sleep(1.5)
if device == "cuda:1":
    os.kill(os.getpid(), signal.SIGSEGV)
metric = {{"device": device, "metric": "memory", "dtype": "", "value": 1.0, "unit": "GB/s"}}
_channel_child.emit({{"bench_metric": metric}})
_channel_child.emit({{"bench_done": {{"device": device}}}})
"""


def test_every_device_at_once_and_a_crash_costs_only_its_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = tmp_path / "stand_in.py"
    child.write_text(STAND_IN.format(probes=str(Path(runner.__file__).parents[1] / "children")))
    monkeypatch.setattr(runner, "BENCH_CHILD", child)
    monkeypatch.setattr(runner, "sample_under_load", lambda seconds, stop: None)  # no NVML on this machine
    torch = f.runtime(device_count=3, cuda_available=True)
    started = time.monotonic()
    facts = run_bench(sys.executable, torch, "cuda", 5)
    assert time.monotonic() - started < 5.5, "three 1.5 s children (then the pair copies) ran one after another"
    by_device = {d.device: d for d in facts.devices}
    assert by_device["cuda:1"].died == "SIGSEGV"
    assert not by_device["cuda:0"].died and by_device["cuda:0"].metric("memory") is not None
    assert not by_device["cuda:2"].died
    assert "p2p" in by_device, "with two GPUs or more, the copies between them are measured too"


def test_nvml_samples_under_load_are_summarized() -> None:
    rows = [
        {"sm": 1980, "power": 650.0, "temp": 70, "reasons": ["sw_power_cap"], "sm_max": 1980, "limit": 700.0},
        {"sm": 1410, "power": 700.0, "temp": 88, "reasons": ["hw_thermal_slowdown"], "sm_max": 1980, "limit": 700.0},
        {"sm": 1500, "power": None, "temp": 80, "reasons": None, "sm_max": 1980, "limit": 700.0},
    ]
    load = summarize(rows)
    assert (load.sm_clock_mhz, load.power_w, load.temperature_c) == (1500, 700.0, 88)
    assert load.reasons == ("hw_thermal_slowdown", "sw_power_cap") and load.samples == 3


def test_bench_on_this_cpu_end_to_end(doctor: Doctor) -> None:
    proc = doctor.run("bench", "--device", "cpu", "--seconds", "2", "-f", "json", timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)
    (cpu,) = report["bench"]["devices"]
    metrics = {(m["metric"], m["dtype"]): m["value"] for m in cpu["metrics"]}
    assert metrics[("matmul", "fp32")] > 0 and metrics[("memory", "")] > 0
    terminal = doctor.run("bench", "--device", "cpu", "--seconds", "2", timeout=120)
    assert "Performance" in terminal.stdout and "GFLOP/s" in terminal.stdout
