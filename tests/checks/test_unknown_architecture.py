"""A GPU whose compute capability the driver did not give (huggingface/lerobot#4093, tests/corpus case 077).

NVML (or an nvidia-smi older than 510) can name a GPU without giving its capability. The tables then know it by
its name (compat/gpus.toml); a GPU neither says nor names is left out, and TD003 must not answer a CPU-only torch
with the CPU build it fired on.
"""

from __future__ import annotations

from tests import factories as f
from torchdoctor.checks import find
from torchdoctor.checks.base import run_checks
from torchdoctor.checks.fixes import machine_here
from torchdoctor.compat.recommend import Machine
from torchdoctor.compat.tables import load_tables
from torchdoctor.model import CheckStatus, Facts, NvmlFacts, Unavailable

NO_CC = Unavailable("NVML", "nvmlDeviceGetCudaComputeCapability: Not Supported", "NotSupported")
NO_NVML = Unavailable("NVML", "NVML Shared Library Not Found", "LibraryNotFound")


def _windows_cpu_torch(name: str, capability: object = NO_CC) -> Facts:
    gpu = f.gpu(name=name, compute_capability=capability)
    return f.facts(
        host=f.host(system="Windows", release="10", machine="AMD64", glibc=Unavailable("platform", "not Linux")),
        python=f.python(executable="C:\\venv\\Scripts\\python.exe", machine="AMD64", version="3.12.13"),
        packages=f.packages(f.dist("torch", "2.11.0+cpu")),
        nvml=NvmlFacts("580.88", "13.0", "", (gpu,), 1),
        torch=f.cpu_runtime(version="2.11.0+cpu"),
    )


def _machine(facts: Facts) -> Machine:
    return machine_here(facts, load_tables())


def _td003(facts: Facts) -> tuple[CheckStatus, str, str]:
    (outcome,) = run_checks(facts, [find("TD003")])
    fix = outcome.findings[0] if outcome.findings else None
    return outcome.status, fix.fix if fix else "", fix.fix_command if fix else ""


def test_a_gpu_without_a_capability_is_known_by_its_name() -> None:
    (gpu,) = _machine(_windows_cpu_torch("NVIDIA GeForce RTX 5080")).gpus
    assert gpu.cc == 120


def test_a_gpu_neither_the_driver_nor_the_tables_can_place_is_left_out() -> None:
    assert _machine(_windows_cpu_torch("NVIDIA Prototype Z")).gpus == ()
    assert _machine(_windows_cpu_torch("NVIDIA GeForce RTX 5080", capability="?")).gpus == ()


def test_the_drivers_capability_wins_over_the_name() -> None:
    (gpu,) = _machine(_windows_cpu_torch("NVIDIA GeForce RTX 5080", capability="8.6")).gpus
    assert gpu.cc == 86


def test_td003_gives_a_cpu_torch_the_cuda_build_of_a_gpu_known_by_its_name() -> None:
    status, _, command = _td003(_windows_cpu_torch("NVIDIA GeForce RTX 5080"))
    assert status is CheckStatus.FIRED
    assert "torch==2.11.0" in command and "/whl/cu" in command and "/whl/cpu" not in command


def test_td003_never_answers_a_gpu_it_cannot_place_with_the_cpu_build() -> None:
    """A container without GPU access: the GPU is on the host's PCI bus, NVML is not there, the driver is known."""
    facts = f.facts(
        host=f.host(container="docker", container_evidence=("/.dockerenv",)),
        packages=f.packages(f.dist("torch", "2.5.1+cpu")),
        nvml=NO_NVML,
        kernel=f.kernel(dev_nodes=()),
        torch=f.cpu_runtime(version="2.5.1+cpu"),
    )
    status, text, command = _td003(facts)
    assert status is CheckStatus.FIRED
    assert command == "" and "No CUDA build can be chosen for this GPU yet" in text


def test_td003_with_a_gpu_it_can_place_names_the_cuda_build() -> None:
    facts = f.facts(packages=f.packages(f.dist("torch", "2.5.1+cpu")), torch=f.cpu_runtime(version="2.5.1+cpu"))
    status, text, command = _td003(facts)
    assert status is CheckStatus.FIRED
    assert "/whl/cu" in command and "No CUDA build can be chosen" not in text


def _sm120_gpu_on(torch_version: str) -> Facts:
    gpu = f.gpu(name="NVIDIA GeForce RTX 5060 Ti", compute_capability="12.0")
    runtime = f.runtime(version=torch_version, devices=(), arch_list=("sm_50", "sm_80", "sm_90"))
    return f.facts(nvml=f.nvml(gpu), torch=runtime, packages=f.packages(f.dist("torch", torch_version)))


def test_td102_says_this_torch_where_the_version_is_unknown() -> None:
    (outcome,) = run_checks(_sm120_gpu_on(""), [find("TD102")])
    assert outcome.findings[0].title.startswith("this torch has no kernels for")


def test_td102_names_the_version_it_knows() -> None:
    (outcome,) = run_checks(_sm120_gpu_on("2.5.1+cu124"), [find("TD102")])
    assert outcome.findings[0].title.startswith("torch 2.5.1+cu124 has no kernels for")
