"""One device grammar: what it accepts, what each command makes of it, and one wording for errors."""

from __future__ import annotations

import pytest

from tests import factories as f
from torchdoctor.bench.runner import devices_for
from torchdoctor.checks.requirements import RequirementError, parse
from torchdoctor.pytest_plugin import device_problem
from torchdoctor.rules.devices import Device, DeviceError, Kind, choices, parse_device, pick, present_devices
from torchdoctor.smoke.runner import select

ROCM = f.runtime(version="2.5.1+rocm6.2", cuda="", hip="6.2", device_count=2)


@pytest.mark.parametrize(
    ("text", "device"),
    [
        ("cpu", Device(Kind.CPU)),
        ("cuda", Device(Kind.CUDA)),
        ("cuda:0", Device(Kind.CUDA, 0)),
        ("cuda:12", Device(Kind.CUDA, 12)),
        ("mps", Device(Kind.MPS)),
        ("xpu", Device(Kind.XPU)),
        ("rocm", Device(Kind.ROCM)),
        ("all", Device(Kind.ALL)),
        (" CUDA: 1 ", Device(Kind.CUDA, 1)),  # the pytest marker always allowed spaces and case
        ("cuda:01", Device(Kind.CUDA, 1)),
    ],
)
def test_the_grammar_accepts_every_name(text: str, device: Device) -> None:
    assert parse_device(text) == device


@pytest.mark.parametrize("text", ["", "gpu", "cuda:", "cuda:-1", "cuda:x", "cdua", "mps:0", "cuda0", "cuda:²"])
def test_anything_else_is_an_error_that_names_the_choices(text: str) -> None:
    with pytest.raises(DeviceError, match=r"unknown device .* \(use cpu, cuda, cuda:N, mps, xpu, rocm or all\)"):
        parse_device(text)


def test_all_only_where_a_command_takes_it() -> None:
    with pytest.raises(DeviceError, match=r"unknown device .all. \(use cpu, cuda, cuda:N, mps, xpu or rocm\)"):
        parse_device("all", allow_all=False)


def test_choices_is_one_sentence_end() -> None:
    assert choices() == "cpu, cuda, cuda:N, mps, xpu, rocm or all"
    assert choices(allow_all=False) == "cpu, cuda, cuda:N, mps, xpu or rocm"
    assert choices(allow_all=False, extra="gpus>=N") == "cpu, cuda, cuda:N, mps, xpu, rocm or gpus>=N"


def test_a_device_prints_in_its_one_spelling() -> None:
    assert [str(parse_device(t)) for t in ("CUDA : 3", "Mps", "ALL")] == ["cuda:3", "mps", "all"]


def test_present_devices_are_what_torch_can_use() -> None:
    assert present_devices(f.runtime(device_count=2)) == ["cpu", "cuda:0", "cuda:1"]
    assert present_devices(f.cpu_runtime()) == ["cpu"]


def test_pick_by_name() -> None:
    two = f.runtime(device_count=2)
    assert pick("all", two) == (["cpu", "cuda:0", "cuda:1"], "all")
    assert pick("cuda", two) == (["cuda:0", "cuda:1"], "cuda")
    assert pick("CUDA:1", two) == (["cuda:1"], "cuda:1")
    assert pick("cuda:2", two) == ([], "cuda:2")
    assert pick("rocm", two) == ([], "rocm")  # a CUDA build's GPUs are not ROCm's
    assert pick("rocm", ROCM) == (["cuda:0", "cuda:1"], "rocm")  # torch names ROCm GPUs cuda:N
    assert pick("Bogus", two) == ([], "bogus")


def test_smoke_says_an_absent_xpu_or_rocm_is_not_available() -> None:
    _, (xpu,) = select("xpu", f.runtime())
    assert xpu.device == "xpu" and xpu.died == "not available: torch.xpu.is_available() is False"
    _, (rocm,) = select("rocm", f.runtime())
    assert rocm.died == "not available: torch 2.5.1+cu124 is not a ROCm build"
    assert select("rocm", ROCM)[0] == ["cuda:0", "cuda:1"]


def test_smoke_says_which_names_exist_for_an_unknown_device() -> None:
    _, (bad,) = select("tpu", f.runtime())
    assert bad.died == "not available: unknown device 'tpu' (use cpu, cuda, cuda:N, mps, xpu, rocm or all)"


def test_bench_reads_the_same_grammar() -> None:
    assert devices_for("cuda", f.runtime(device_count=2))[0] == ["cuda:0", "cuda:1"]
    assert devices_for("rocm", ROCM)[0] == ["cuda:0", "cuda:1"]
    _, (xpu,) = devices_for("xpu", f.runtime())
    assert xpu.died == "not available: torch cannot use it here"
    _, (bad,) = devices_for("tpu", f.runtime())
    assert bad.died == "not available: unknown device 'tpu' (use cpu, cuda, cuda:N, mps, xpu, rocm or all)"


def test_requirements_take_cuda_and_mps_from_the_grammar() -> None:
    assert parse(" CUDA ").slug == "require-cuda"
    assert parse("MPS").slug == "require-mps"
    for other in ("cuda:0", "xpu", "all"):
        with pytest.raises(RequirementError):
            parse(other)


def test_the_pytest_marker_reads_the_grammar_plus_gpus() -> None:
    assert device_problem("cpu", f.facts()) == ""
    assert device_problem("xpu", f.facts()) == "XPU is not available to torch 2.5.1+cu124"
    assert device_problem("rocm", f.facts()) == "torch 2.5.1+cu124 is not a ROCm build"
    assert device_problem("rocm", f.facts(torch=ROCM)) == ""
    assert device_problem("CUDA: 0", f.facts()) == ""
    assert device_problem("tpu", f.facts()).startswith("unknown device 'tpu' in torchdoctor_device (use cpu,")
