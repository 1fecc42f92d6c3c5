"""The doctor never dies of the disease: each broken machine ends in a report with the right
finding, no traceback, within the timeout. These run the real entry point in a subprocess with
fakes only at the process boundary (a fake `torch` package or `pynvml` module on PYTHONPATH)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Doctor, fired

GPU_MACHINE = {"driver": "550.54.15", "cuda": 12040, "gpus": [{"name": "NVIDIA GeForce RTX 4090", "cc": [8, 9]}]}


def test_torch_not_installed(doctor: Doctor, tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    report, proc = doctor.json("--python", str(venv / "bin" / "python"))
    assert proc.returncode == 1
    assert report["facts"]["torch"]["type"] == "not_installed"
    assert "torch-missing" in fired(report)
    (finding,) = [x for x in report["findings"] if x["slug"] == "torch-missing"]
    assert finding["fix_command"].startswith(str(venv / "bin" / "python") + " -m pip install torch==")


def test_import_torch_raises_oserror_for_missing_cudnn(doctor: Doctor) -> None:
    doctor.fake_torch('raise OSError("libcudnn.so.9: cannot open shared object file: No such file or directory")')
    report, proc = doctor.json()
    torch = report["facts"]["torch"]
    assert torch["type"] == "import_failed"
    assert torch["kind"] == "missing shared library"
    assert "libcudnn.so.9" in torch["message"]
    (finding,) = [x for x in report["findings"] if x["slug"] == "torch-import-failed"]
    assert finding["title"].startswith("`import torch` fails: libcudnn.so.9 is missing")  # named, from the loader facts
    assert proc.returncode == 1


def test_import_torch_raises_importerror(doctor: Doctor) -> None:
    doctor.fake_torch('raise ImportError("/lib/x86_64-linux-gnu/libm.so.6: version `GLIBC_2.29\' not found")')
    report, _ = doctor.json()
    assert report["facts"]["torch"]["kind"] == "GLIBC too old"
    assert "torch-import-failed" in fired(report)


def test_import_torch_hangs(doctor: Doctor) -> None:
    doctor.fake_torch("import time\ntime.sleep(120)\n")
    started = time.monotonic()
    report, _ = doctor.json("--timeout", "2")
    assert time.monotonic() - started < 20
    torch = report["facts"]["torch"]
    assert torch["kind"] == "timeout"
    assert "within 2 s" in torch["message"]
    assert "torch-import-failed" in fired(report)


def test_import_torch_segfaults(doctor: Doctor) -> None:
    doctor.fake_torch("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    report, proc = doctor.json()
    torch = report["facts"]["torch"]
    assert torch["kind"] == "crash by signal"
    assert torch["exc_type"] == "SIGSEGV"
    assert "during `import torch`" in torch["message"]
    assert proc.returncode == 1


def test_pynvml_missing(doctor: Doctor) -> None:
    doctor.fake_nvml("missing")
    report, _ = doctor.json("--quick")
    nvml = report["facts"]["nvml"]
    assert nvml["unavailable"] is True and nvml["code"] == "NoBindings"
    skipped = {c["slug"]: c for c in report["checks"] if c["status"] == "skipped"}
    assert "nvidia-ml-py" in skipped["gpu-ecc-errors"]["reason"]


def test_nvml_library_missing(doctor: Doctor) -> None:
    doctor.fake_nvml({"init_error": 12})
    report, proc = doctor.json("--quick")
    assert report["facts"]["nvml"]["code"] == "LibraryNotFound"
    assert proc.returncode in (0, 1)


def test_nvml_every_device_query_raising(doctor: Doctor) -> None:
    doctor.fake_nvml({"gpus": [{"error": 999}, {"error": 999}]})
    report, _ = doctor.json("--quick")
    gpus = report["facts"]["nvml"]["gpus"]
    assert len(gpus) == 2
    assert gpus[0]["name"]["unavailable"] is True
    assert all(c["status"] != "skipped" or "internal error" not in c["reason"] for c in report["checks"])


def test_fake_gpu_machine_with_cpu_torch_is_diagnosed(doctor: Doctor) -> None:
    # The real CPU torch of the test environment on a (fake) RTX 4090 machine: the classic.
    doctor.fake_nvml(GPU_MACHINE)
    report, proc = doctor.json()
    assert report["facts"]["torch"]["type"] == "runtime"
    assert "torch-cpu-only-build" in fired(report)
    (finding,) = [x for x in report["findings"] if x["slug"] == "torch-cpu-only-build"]
    assert "--index-url https://download.pytorch.org/whl/cu" in finding["fix_command"]
    assert proc.returncode == 1


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "not JSON"),
        ("{not json", "not JSON"),
        ("[1, 2, 3]", "not a torchdoctor report"),
        ('{"tool": {"name": "torchdoctor"}, "schema_version": 99, "facts": {}}', "schema_version 99"),
        ('{"tool": {"name": "torchdoctor"}, "schema_version": 1, "facts": {"host": 7}}', "$.facts"),
        ("\udcff binary", "not"),
    ],
)
def test_garbage_in_from(doctor: Doctor, tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    proc = doctor.run("check", "--from", str(path))
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines


def test_from_a_file_that_does_not_exist(doctor: Doctor) -> None:
    proc = doctor.run("check", "--from", "/nonexistent/report.json")
    assert proc.returncode == 3
    assert proc.stderr.startswith("torchdoctor: cannot read")
