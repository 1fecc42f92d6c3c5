"""Honest driver states, end to end: the real entry point, the real NVML bindings, a fake driver.

A pass mark for the NVIDIA driver is shown only when there is no NVIDIA anything; every other
failure to read it is a finding. These run `python -m torchdoctor` in a subprocess whose NVML
child loads the fake libnvidia-ml.so.1 playing a driver branch (tests/fakes/nvml_lib.py).
"""

from __future__ import annotations

import re
import time

from tests.conftest import Doctor, fired
from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine
from torchdoctor.compat.tables import load_tables
from torchdoctor.rules.versions import driver_version_key

RTX3090 = {"name": "NVIDIA GeForce RTX 3090", "cc": "8.6", "memory": f"{24 * 1024**3} {1024**3}"}


def finding(report: dict, slug: str) -> dict:
    (found,) = [x for x in report["findings"] if x["slug"] == slug]
    return found


def test_r470_with_a_cpu_torch_is_diagnosed_with_a_fix_that_runs_on_r470(
    doctor: Doctor, nvml_lib: FakeNvmlLibrary
) -> None:
    """The issue's machine: nvidia-ml-py 13 on R470 used to lose every NVML fact and say 'healthy'."""
    doctor.real_nvml(nvml_lib, Machine("R470", [RTX3090]))
    report, proc = doctor.json("--no-smoke")
    assert proc.returncode == 1
    nvml = report["facts"]["nvml"]
    assert nvml["driver_version"] == "470.82.01" and nvml["gpus"][0]["name"] == "NVIDIA GeForce RTX 3090"
    cpu_only = finding(report, "torch-cpu-only-build")
    variant = re.search(r"/whl/(cu\d+)", cpu_only["fix_command"])
    assert variant, cpu_only["fix_command"]
    cuda = f"{variant.group(1)[2:-1]}.{variant.group(1)[-1]}"
    needed = load_tables().min_driver(cuda, "linux")
    assert driver_version_key("470.82.01") >= driver_version_key(needed), (cuda, needed)
    terminal = doctor.run("check", "--no-smoke")
    assert "driver 470.82.01 (supports CUDA 11.4), 1 GPU (NVML)" in terminal.stdout
    assert "NVIDIA GeForce RTX 3090" in terminal.stdout
    assert "no problems found" not in terminal.stdout


def test_a_hung_nvml_is_a_finding_within_the_timeout(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", system={"init_hang": 1}))
    started = time.monotonic()
    report, proc = doctor.json("--no-smoke", "--nvml-timeout", "3")
    assert time.monotonic() - started < 3 + 15  # the NVML bound, plus `import torch` beside it
    assert proc.returncode == 1
    hung = finding(report, "nvml-unresponsive")
    said = " ".join(e["value"] for e in hung["evidence"])
    assert "nvmlInit did not return within 2 s" in said, said
    terminal = doctor.run("check", "--no-smoke", "--nvml-timeout", "3")
    assert "[✓] NVIDIA driver" not in terminal.stdout
    assert "NVML hung" in terminal.stdout


def test_one_field_hanging_on_one_gpu_is_named_in_the_gpu_line(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", [{}, {"hang.temperature": 1}]))
    terminal = doctor.run("check", "--quick")
    assert terminal.returncode == 1
    gpu_line = next(line for line in terminal.stdout.splitlines() if "GPU health" in line)
    assert "GPU 1: temperature did not return within 5 s" in gpu_line
    assert gpu_line.startswith("[✗] GPU health")
    assert "GPU 1 (NVIDIA A100-SXM4-80GB) did not answer NVML" in terminal.stdout


def test_one_gpu_of_eight_lost(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    gpus: list[dict[str, object]] = [{} for _ in range(8)]
    gpus[3] = {"handle_error": 15}
    doctor.real_nvml(nvml_lib, Machine("R550", gpus))
    report, proc = doctor.json("--quick")
    assert proc.returncode == 1
    lost = finding(report, "gpu-lost")
    assert lost["title"].startswith("GPU 3 ") and lost["fix_command"] == "sudo nvidia-smi -r -i 3"
    assert "cuda-device-order" not in fired(report), "an unreadable name is not a second GPU model"
    terminal = doctor.run("check", "--quick")
    gpu_line = next(line for line in terminal.stdout.splitlines() if "GPU health" in line)
    assert "7 × NVIDIA A100-SXM4-80GB 80.0 GiB" in gpu_line and "GPU 3 lost (GpuIsLost)" in gpu_line


def test_driver_installed_but_not_loaded_is_never_a_pass(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", system={"init_error": 9}))
    report, _ = doctor.json("--quick")
    found = finding(report, "nvidia-driver-not-loaded")
    # this test machine has no NVIDIA GPU on its PCI bus: the finding says so rather than guessing
    assert any("PCI" in e["label"] or "PCI" in e["value"] for e in found["evidence"])
    terminal = doctor.run("check", "--quick")
    assert "[✓] NVIDIA driver" not in terminal.stdout
    assert "NVML could not read the driver" in terminal.stdout


def test_no_permission_and_bindings_too_new_are_findings(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", system={"init_error": 4}))
    report, proc = doctor.json("--quick")
    assert finding(report, "nvml-unusable")["title"] == "no permission to use the NVIDIA driver"
    assert proc.returncode == 1
    doctor.real_nvml(nvml_lib, Machine("R550", hide=("nvmlInitWithFlags",)))
    report, proc = doctor.json("--quick")
    assert finding(report, "nvml-unusable")["title"] == "these NVML bindings cannot talk to this driver"


def test_no_nvidia_anything_is_the_only_pass_without_nvml(doctor: Doctor, tmp_path) -> None:
    empty = tmp_path / "no-driver"
    empty.mkdir()
    doctor.env["LD_LIBRARY_PATH"] = str(empty)  # this machine has no libnvidia-ml.so.1 of its own
    report, _ = doctor.json("--quick")
    assert report["facts"]["nvml"]["code"] == "LibraryNotFound"
    assert not {"nvml-unusable", "nvml-unresponsive", "nvidia-driver-not-loaded"} & fired(report)
    terminal = doctor.run("check", "--quick")
    assert "[✓] NVIDIA driver  no NVIDIA driver or GPU on this machine" in terminal.stdout


def test_cuda_visible_devices_naming_an_unknown_uuid(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", [{}]))
    doctor.env["CUDA_VISIBLE_DEVICES"] = "GPU-deadbeef-0000"
    report, _ = doctor.json("--quick")
    found = finding(report, "cuda-visible-devices")
    assert found["title"] == "CUDA_VISIBLE_DEVICES names a GPU this machine does not have"
    assert found["severity"] == "error"


def test_smoke_on_a_gpu_machine_whose_torch_cannot_use_it_says_what_it_did_not_test(
    doctor: Doctor, nvml_lib: FakeNvmlLibrary
) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", [RTX3090]))
    proc = doctor.run("smoke", "--device", "all")
    assert proc.returncode == 1, proc.stdout
    assert "NVIDIA GeForce RTX 3090 not tested: torch cannot use it" in proc.stdout
    required = doctor.run("smoke", "--device", "cpu", "--require", "cuda")
    assert required.returncode == 1 and "require-cuda" in required.stdout
