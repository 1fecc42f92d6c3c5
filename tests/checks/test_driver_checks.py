"""The driver's state in every case the issue names: never a pass mark for something unchecked,
no false alarm in a CPU container, a CPU-only torch always named on a GPU machine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests import factories as f
from torchdoctor.doctor import judge
from torchdoctor.model import Finding, PciDevice, Severity, SmiFacts, SmiGpu, Unavailable
from torchdoctor.nvidia import driver_line, gpu_line
from torchdoctor.render.terminal import render

DRIVER_NOT_LOADED = Unavailable("NVML", "nvmlInit failed: DriverNotLoaded: Driver Not Loaded", "DriverNotLoaded")


def slugs(report) -> dict[str, Severity]:  # type: ignore[no-untyped-def]
    return {x.slug: x.severity for x in report.findings}


def test_a_cpu_container_with_pypi_torch_has_no_error_only_a_note() -> None:
    report = judge(f.cpu_container())
    assert not [x for x in report.findings if x.severity is not Severity.INFO], report.findings
    assert slugs(report) == {"container-without-gpu": Severity.INFO}
    (note,) = report.findings
    assert "run on the CPU" in note.title


def test_a_container_meant_for_a_gpu_is_an_error_whatever_the_sign() -> None:
    signs = [
        {"env": f.env(NVIDIA_VISIBLE_DEVICES="all")},
        {"env": f.env(CUDA_VISIBLE_DEVICES="0")},
        {"nvml": DRIVER_NOT_LOADED},  # the driver's library is mounted in
        {"kernel": f.kernel(dev_nodes=(), pci_gpus=(PciDevice("0000:01:00.0", "0x2684", "nvidia"),))},
        {"smi": SmiFacts("/usr/bin/nvidia-smi", "550.54.15", ())},
    ]
    for sign in signs:
        assert slugs(judge(f.cpu_container(**sign))).get("container-without-gpu") is Severity.ERROR, sign


def test_the_driver_pass_mark_only_when_there_is_no_nvidia_anything() -> None:
    assert driver_line(f.no_gpu()) == "no NVIDIA driver or GPU on this machine"
    assert "[✓] NVIDIA driver  no NVIDIA driver or GPU" in render(judge(f.no_gpu()))
    dev_nodes_only = f.no_gpu(kernel=f.kernel(pci_gpus=(), module_version="550.54.15"))
    report = judge(dev_nodes_only)
    assert "nvml-unusable" in slugs(report)
    assert "[✓] NVIDIA driver" not in render(report)
    assert "driver 550.54.15 (/proc and /sys)" in driver_line(dev_nodes_only)


def test_driver_not_loaded_without_a_gpu_on_the_bus_says_so() -> None:
    facts = f.no_gpu(nvml=DRIVER_NOT_LOADED)
    report = judge(facts)
    (found,) = [x for x in report.findings if x.slug == "nvidia-driver-not-loaded"]
    assert found.severity is Severity.WARNING
    assert any(e.value == "none" and "PCI" in e.label for e in found.evidence)
    with_gpu = f.facts(nvml=DRIVER_NOT_LOADED, torch=f.cpu_runtime(), kernel=f.kernel(nvidia_loaded=False))
    assert slugs(judge(with_gpu))["nvidia-driver-not-loaded"] is Severity.ERROR


def test_a_cpu_only_torch_fires_whatever_else_is_wrong() -> None:
    no_module = f.kernel(nvidia_loaded=False, module_version=Unavailable("/proc", "x"), dev_nodes=())
    broken = f.facts(torch=f.cpu_runtime(), nvml=DRIVER_NOT_LOADED, kernel=no_module)
    (found,) = [x for x in judge(broken).findings if x.slug == "torch-cpu-only-build"]
    assert "driver works" in found.fix and not found.fix_command, "no CPU build offered as the cure"
    k80 = f.gpu(name="Tesla K80", compute_capability="3.7")
    old = f.facts(torch=f.cpu_runtime(), nvml=f.nvml(k80, driver="470.82.01", cuda="11.4"))
    (found,) = [x for x in judge(old).findings if x.slug == "torch-cpu-only-build"]
    assert "/whl/cu" in found.fix_command


def test_nvidia_smi_stands_in_for_nvml() -> None:
    smi = SmiFacts("/usr/bin/nvidia-smi", "470.82.01", (SmiGpu(0, "NVIDIA GeForce RTX 3090", "GPU-1", "01", "8.6", 1),))
    facts = f.facts(
        nvml=Unavailable("NVML", "the NVML bindings (nvidia-ml-py) cannot be imported", "NoBindings"),
        smi=smi,
        torch=f.runtime(version="2.5.1+cu124", cuda="12.4"),
    )
    report = judge(facts)
    (too_old,) = [x for x in report.findings if x.slug == "driver-too-old"]
    assert any(e.source.value == "nvidia-smi" and e.value.startswith("470.82.01") for e in too_old.evidence)
    assert "nvml-unusable" in slugs(report)


def test_gpu_line_groups_identical_gpus_and_names_the_ones_that_fail() -> None:
    gpus = [f.gpu(i, name="NVIDIA H100 80GB HBM3") for i in range(7)] + [f.lost_gpu(7)]
    assert gpu_line(f.facts(nvml=f.nvml(*gpus))) == "7 × NVIDIA H100 80GB HBM3 80.0 GiB; GPU 7 lost (GpuIsLost)"
    assert gpu_line(f.no_gpu()) == "no NVIDIA GPU"


def test_a_driver_branch_older_than_the_gpu_is_driver_too_old_for_the_card() -> None:
    rtx5090 = f.gpu(name="NVIDIA GeForce RTX 5090", compute_capability="12.0")
    old = judge(f.facts(torch=f.cpu_runtime(), nvml=f.nvml(rtx5090, driver="550.54.15", cuda="12.4")))
    (found,) = [x for x in old.findings if x.slug == "driver-too-old"]
    assert found.title == "driver 550.54.15 is too old for NVIDIA GeForce RTX 5090"
    assert any(e.value.startswith("driver >= 570.26") for e in found.evidence)
    assert found.fix.startswith(
        "This driver branch predates the Blackwell architecture: update the NVIDIA driver to 570.26"
    )
    new = judge(f.facts(torch=f.cpu_runtime(), nvml=f.nvml(rtx5090, driver="575.57.08", cuda="12.9")))
    assert "driver-too-old" not in {x.slug for x in new.findings}


def test_companion_mismatch_reads_the_companions_own_requires_python() -> None:
    def on(python: str) -> set[str]:
        packages = f.packages(f.dist("torch", "2.14.1"), f.dist("torchvision", "0.29.1"), f.dist("numpy", "2"))
        facts = f.facts(
            python=f.python(version=python), torch=f.runtime(version="2.14.1", cuda="13.0"), packages=packages
        )
        return {x.slug for x in judge(facts).findings}

    assert "companion-mismatch" in on("3.14.1")
    assert "companion-mismatch" not in on("3.14.0")


QUICK = Unavailable("torch", "skipped: --quick", "skipped")


def test_quick_knows_a_pypi_cpu_wheel_on_windows_from_the_missing_cuda_wheels() -> None:
    rtx3080 = f.gpu(name="NVIDIA GeForce RTX 3080", compute_capability="8.6")
    windows = f.host(system="Windows", os_name="Windows 10.0.19045", glibc=Unavailable("platform", "not glibc"))
    facts = f.facts(
        host=windows,
        python=f.python(executable="C:/venv/Scripts/python.exe", machine="AMD64"),
        torch=QUICK,
        nvml=f.nvml(rtx3080),
        packages=f.packages(f.dist("torch", "2.13.0"), f.dist("numpy", "2")),
    )
    assert "torch-cpu-only-build" in slugs(judge(facts))
    with_cuda = replace(
        facts, packages=f.packages(f.dist("torch", "2.13.0"), f.dist("nvidia-cuda-runtime-cu12", "12.6.77"))
    )
    assert "torch-cpu-only-build" not in slugs(judge(with_cuda))


def test_quick_knows_a_pypi_cu130_wheel_is_too_new_for_r550() -> None:
    packages = f.packages(f.dist("torch", "2.13.0"), f.dist("cuda-toolkit", "13.0.2"), f.dist("numpy", "2"))
    facts = f.facts(torch=QUICK, packages=packages, nvml=f.nvml(driver="550.54.15", cuda="12.4"))
    assert "driver-too-old" in slugs(judge(facts))
    ok = f.facts(torch=QUICK, packages=packages, nvml=f.nvml(driver="580.65.06", cuda="13.0"))
    assert "driver-too-old" not in slugs(judge(ok))


@pytest.mark.parametrize("cuda", ["13.3", "13.5"])
def test_a_newer_cuda_13_torch_needs_the_13x_floor_not_the_driver_its_toolkit_ships(cuda: str) -> None:
    """Minor-version compatibility (drivers.toml [[major]] 13, NVIDIA's "CUDA 13.x >= 580"): a torch built with
    13.3 (whose toolkit ships 610.43.02) or 13.5 (no toolkit row) is too old below 580.65.06 and runs from it on,
    also on a driver older than the one its toolkit ships."""
    torch = f.runtime(version=f"2.15.0+cu{cuda.replace('.', '')}", cuda=cuda, arch_list=("sm_80", "sm_90"))

    def too_old(driver: str, supports: str) -> list[Finding]:
        report = judge(f.facts(torch=torch, nvml=f.nvml(driver=driver, cuda=supports)))
        return [x for x in report.findings if x.slug == "driver-too-old"]

    (found,) = too_old("575.57.08", "12.9")
    assert any(e.value.startswith("driver >= 580.65.06") for e in found.evidence)
    assert not too_old("580.65.06", "13.0")
    assert not too_old("595.71.05", "13.2")


def test_jetson_orin_runs_sm80_code_from_cuda_13_2_on() -> None:
    """torch's own table (W-2141): SBSA code runs on Jetson from CUDA 13.2, so cu132's sm_80 covers 8.7."""
    orin = f.gpu(name="Orin", compute_capability="8.7")

    def fired_on(cuda: str) -> bool:
        torch = f.runtime(version=f"2.15.0+cu{cuda.replace('.', '')}", cuda=cuda, arch_list=("sm_80", "sm_90"))
        return "gpu-arch-unsupported" in slugs(judge(f.facts(torch=torch, nvml=f.nvml(orin, driver="580.65.06"))))

    assert not fired_on("13.2")
    assert fired_on("13.0")


def test_gpu_line_names_gpus_other_jobs_are_using() -> None:
    busy = f.gpu(1, memory_used=70 * 1024**3, utilization_pct=97, processes=(f.process(4242), f.process(4243)))
    line = gpu_line(f.facts(nvml=f.nvml(f.gpu(0), busy)))
    assert "GPU 1 in use: 70.0 GiB of 80.0 GiB held by 2 processes, 97% busy" in line
    assert "in use" not in gpu_line(f.facts())


def test_collect_env_facts_cpu_features_and_compilers_are_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from torchdoctor.probes.host import cpu_features

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text("processor : 0\nflags : fpu sse4_2 avx avx2 avx512f amx_tile\n")
    assert cpu_features(tmp_path) == ("sse4_2", "avx", "avx2", "avx512f", "amx_tile")


def test_glibc_too_old_fix_is_the_build_recommend_picks_for_this_glibc_and_keeps_the_variant() -> None:
    """The old fix was a bare `pip install torch==2.5.1`: on a CPU-only Linux box, PyPI's multi-GB CUDA build."""

    cpu_box = judge(f.no_gpu(host=f.host(glibc="2.27"), torch=f.cpu_runtime(version="2.6.0+cpu")))
    (cpu_fix,) = [x for x in cpu_box.findings if x.slug == "glibc-too-old"]
    assert cpu_fix.fix_command.endswith("torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu")
    gpu_box = judge(f.facts(host=f.host(glibc="2.27"), torch=f.runtime(version="2.6.0+cu124")))
    (gpu_fix,) = [x for x in gpu_box.findings if x.slug == "glibc-too-old"]
    assert gpu_fix.fix_command.endswith("torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124")
    assert "torch 2.15 needs glibc >= 2.28 (this system has 2.27)" in gpu_fix.fix
