"""Every bench verdict fires on captured facts that show its problem and stays quiet beside them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests import factories as f
from tests.bench import factories as b
from torchdoctor.bench.checks import all_bench_checks
from torchdoctor.checks.base import run_checks
from torchdoctor.checks.requirements import parse
from torchdoctor.model import BenchMetric, CheckStatus, Facts, Severity

SLOW_BF16 = b.device(BenchMetric("matmul", "bf16", 400.0, "TFLOP/s"), BenchMetric("memory", "", 3010.0, "GB/s"))
SLOW_COPY = b.device(BenchMetric("matmul", "bf16", 798.0, "TFLOP/s"), BenchMetric("memory", "", 1500.0, "GB/s"))
SLOW_LINK = b.device(BenchMetric("h2d", "pinned", 12.0, "GB/s"))
CPU_ONLY = b.device(BenchMetric("matmul", "fp32", 0.038, "TFLOP/s"), device="cpu", name="CPU", pci_bus="")
EIGHT_GPUS = f.nvml(*(f.gpu(i, name=b.H100, compute_capability="9.0") for i in range(8)))

CASES: dict[str, tuple[Facts, Facts]] = {
    "gpu-slow-matmul": (b.facts(SLOW_BF16), b.facts()),
    "gpu-slow-memory": (b.facts(SLOW_COPY), b.facts()),
    "pcie-bandwidth-low": (b.facts(SLOW_LINK), b.facts()),
    "gpu-throttled-under-load": (b.facts(b.device(load=b.load(reasons=("hw_thermal_slowdown",)))), b.facts()),
    "gpu-clocks-low-under-load": (b.facts(b.device(load=b.load(sm_clock_mhz=900))), b.facts()),
    "bench-device-failed": (b.facts(b.device(died="SIGSEGV")), b.facts()),
    "gpus-not-measured": (b.facts(CPU_ONLY, nvml=EIGHT_GPUS, torch=f.cpu_runtime()), b.facts()),
}


def run(slug: str, facts: Facts):  # type: ignore[no-untyped-def]
    (chk,) = [c for c in all_bench_checks() if c.slug == slug]
    (outcome,) = run_checks(facts, [chk])
    return outcome


@pytest.mark.parametrize("slug", sorted(CASES))
def test_fires(slug: str) -> None:
    assert run(slug, CASES[slug][0]).status is CheckStatus.FIRED


@pytest.mark.parametrize("slug", sorted(CASES))
def test_stays_quiet(slug: str) -> None:
    assert run(slug, CASES[slug][1]).status is CheckStatus.PASSED


def test_every_bench_check_has_both_cases() -> None:
    assert sorted(CASES) == sorted(c.slug for c in all_bench_checks())


def test_a_matmul_at_40_percent_is_an_error_and_names_the_cause_from_nvml() -> None:
    hot = b.device(
        BenchMetric("matmul", "bf16", 395.0, "TFLOP/s"), load=b.load(reasons=("hw_thermal_slowdown",), temperature_c=92)
    )
    (finding,) = run("gpu-slow-matmul", b.facts(hot)).findings
    assert finding.severity is Severity.ERROR and "40% of the datasheet" in finding.title
    assert "thermal" in finding.fix


def test_a_gpu_without_a_datasheet_figure_is_measured_not_judged() -> None:
    unknown = b.device(BenchMetric("matmul", "bf16", 1.0, "TFLOP/s"), name="NVIDIA Imaginary 9000")
    assert run("gpu-slow-matmul", b.facts(unknown)).status is CheckStatus.PASSED
    (finding,) = run_checks(b.facts(unknown), [parse("bench>=0.8")])[0].findings
    assert "no datasheet figure" in finding.evidence[1].value


def test_require_bench_ratio() -> None:
    assert run_checks(b.facts(), [parse("bench>=0.8")])[0].status is CheckStatus.PASSED
    assert run_checks(b.facts(SLOW_BF16), [parse("bench>=0.8")])[0].status is CheckStatus.FIRED


def test_an_h200_nvl_is_not_judged_against_the_h200_sxm_datasheet() -> None:
    """45 % of the H200 (SXM)'s 989 TFLOP/s would be an error; the NVL is another part, with no figure here."""
    nvl = b.device(BenchMetric("matmul", "bf16", 445.0, "TFLOP/s"), name="NVIDIA H200 NVL")
    assert run("gpu-slow-matmul", b.facts(nvl)).status is CheckStatus.PASSED
    (finding,) = run_checks(b.facts(nvl), [parse("bench>=0.8")])[0].findings
    assert "no datasheet figure" in finding.evidence[1].value


def test_eight_gpus_and_a_cpu_only_torch_is_an_error_that_names_them_and_the_cuda_build_to_install() -> None:
    (finding,) = run("gpus-not-measured", CASES["gpus-not-measured"][0]).findings
    assert finding.severity is Severity.ERROR
    assert {e.label: e.value for e in finding.evidence}["GPUs"] == f"8 × {b.H100}"
    assert "pip" in finding.fix_command and "torch" in finding.fix_command


@pytest.mark.parametrize("selection", ["cpu", "cuda"])
def test_a_device_chosen_by_name_is_not_a_gpu_left_unmeasured(selection: str) -> None:
    """--device cpu asked for the CPU alone; --device cuda that torch cannot use is bench-device-failed."""
    facts = b.facts(CPU_ONLY, nvml=EIGHT_GPUS, torch=f.cpu_runtime())
    facts = replace(facts, bench=replace(facts.bench, selection=selection))
    assert run("gpus-not-measured", facts).status is CheckStatus.PASSED
