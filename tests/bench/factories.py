"""Bench facts in one line: an H100 measured at healthy figures by default, any part overridable."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests import factories as f
from torchdoctor.model import BenchFacts, BenchMetric, DeviceBench, Facts, LoadSample

H100 = "NVIDIA H100 80GB HBM3"


def load(**kw: Any) -> LoadSample:
    base = LoadSample(1980, 1980, 690.0, 700.0, 71, ("sw_power_cap",), 40)
    return replace(base, **kw)


def device(*metrics: BenchMetric, **kw: Any) -> DeviceBench:
    metrics = metrics or (
        BenchMetric("matmul", "bf16", 798.0, "TFLOP/s"),
        BenchMetric("matmul", "fp32", 51.0, "TFLOP/s"),
        BenchMetric("memory", "", 3010.0, "GB/s"),
        BenchMetric("h2d", "pinned", 53.0, "GB/s"),
    )
    base = DeviceBench("cuda:0", H100, "9.0", metrics, pci_bus="01:00.0", load=load())
    return replace(base, **kw)


def facts(*devices: DeviceBench, **kw: Any) -> Facts:
    gpu = f.gpu(name=H100, compute_capability="9.0", pcie_gen_max=5, pcie_width=16, pcie_width_max=16)
    values: dict[str, Any] = {"nvml": f.nvml(gpu), "bench": BenchFacts(devices or (device(),), 15.0)}
    values.update(kw)
    return f.facts(**values)
