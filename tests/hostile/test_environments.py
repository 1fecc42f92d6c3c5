"""Bad environments and bad input end in a report or a one-line error, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories as f
from tests.conftest import Doctor, fired
from torchdoctor.doctor import judge
from torchdoctor.exitcodes import ExitCode
from torchdoctor.reportfile import report_to_dict


def saved_report(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_to_dict(judge(f.facts(torch=f.cpu_runtime())))))
    return path


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def run_in(doctor: Doctor, setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point after ``setup`` (Python) has broken this process's surroundings."""
    script = f"import os, runpy, sys, tempfile; {setup}; sys.argv = ['torchdoctor', *{list(args)!r}]; "
    script += "runpy.run_module('torchdoctor', run_name='__main__')"
    env = doctor.environment()
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)


def test_no_writable_temp_directory(doctor: Doctor) -> None:
    # As a read-only root filesystem does it: every candidate temp folder refuses (root can write /tmp here).
    proc = run_in(doctor, "tempfile.tempdir = '/nonexistent/tmp'", "check", "--device", "cpu", "-f", "json")
    no_traceback(proc)
    report = json.loads(proc.stdout)
    assert report["smoke"]["unavailable"] is True and "temp directory" in report["smoke"]["reason"]


def test_a_deleted_working_directory(doctor: Doctor, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = run_in(doctor, f"os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})", "check", "--no-smoke", "-f", "json")
    no_traceback(proc)
    report = json.loads(proc.stdout)
    assert "cwd-deleted" in fired(report)


def test_non_utf8_bytes_in_an_environment_value(doctor: Doctor) -> None:
    doctor.env["CUDA_HOME"] = "/opt/cuda-\udcff\udcfe"  # the bytes 0xff 0xfe, as Python keeps them
    report, proc = doctor.json("--quick")
    no_traceback(proc)
    values = {v["name"]: v["value"] for v in report["facts"]["env"]["variables"]}
    assert values["CUDA_HOME"] == "/opt/cuda-\ufffd\ufffd"


def test_an_ascii_only_stdout(doctor: Doctor, tmp_path: Path) -> None:
    doctor.env["PYTHONIOENCODING"] = "ascii"
    proc = doctor.run("check", "--from", str(saved_report(tmp_path)))
    no_traceback(proc)
    assert proc.returncode == ExitCode.FINDINGS and "PyTorch" in proc.stdout


@pytest.mark.parametrize("where", ["/dev/full", "closed"])
def test_stdout_full_or_closed_is_exit_4_with_one_line(doctor: Doctor, tmp_path: Path, where: str) -> None:
    argv = [sys.executable, "-m", "torchdoctor", "check", "--from", str(saved_report(tmp_path))]
    if where == "closed":
        proc = subprocess.run(
            argv, stderr=subprocess.PIPE, text=True, env=doctor.environment(), preexec_fn=lambda: os.close(1)
        )
    else:
        with open(where, "w") as full:
            proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, env=doctor.environment())
    assert proc.returncode == ExitCode.OUTPUT_FAILED, proc.stderr
    assert proc.stderr.startswith("torchdoctor: could not write the report to stdout"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_reader_that_goes_away_is_exit_4(doctor: Doctor, tmp_path: Path) -> None:
    report = saved_report(tmp_path)
    shell = f"{sys.executable} -m torchdoctor check --from {report} -v | true; echo ${{PIPESTATUS[0]}} >&2"
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=doctor.environment())
    assert proc.stderr.strip().splitlines()[-1] == str(int(ExitCode.OUTPUT_FAILED)), proc.stderr
    assert "Traceback" not in proc.stderr


def test_output_file_is_written_whole_and_leaves_no_temp_file(doctor: Doctor, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    out.write_text("the previous report")
    proc = doctor.run("check", "--from", str(saved_report(tmp_path)), "-f", "json", "-o", str(out))
    no_traceback(proc)
    assert json.loads(out.read_text())["tool"]["name"] == "torchdoctor"
    assert [p.name for p in out.parent.iterdir()] == ["report.json"]
    missing = doctor.run("check", "--from", str(saved_report(tmp_path)), "-o", str(tmp_path / "no" / "dir" / "r.txt"))
    assert missing.returncode == ExitCode.COULD_NOT_RUN and missing.stderr.startswith("torchdoctor: cannot write")


@pytest.mark.parametrize(
    ("python", "needle"),
    [
        ("{tmp}", "is a folder, not an interpreter"),
        ("{tmp}/script.txt", "not executable"),
        ("/bin/ls", "is not a Python interpreter"),
        ("{tmp}/never-answers", "did not answer within 2 s"),
    ],
)
def test_python_that_is_not_an_interpreter_is_a_usage_error(
    doctor: Doctor, tmp_path: Path, python: str, needle: str
) -> None:
    (tmp_path / "script.txt").write_text("print('hi')")
    never = tmp_path / "never-answers"
    never.write_text("#!/bin/sh\nsleep 300\n")
    never.chmod(0o755)
    proc = doctor.run("check", "--no-smoke", "--timeout", "2", "--python", python.format(tmp=tmp_path))
    assert proc.returncode == ExitCode.USAGE, proc.stdout + proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_python_at_a_venv_root_examines_its_interpreter(doctor: Doctor, tmp_path: Path) -> None:
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    report, _ = doctor.json("--no-smoke", "--python", str(venv))
    assert report["facts"]["python"]["executable"] == str(venv / "bin" / "python")
    assert "torch-missing" in fired(report)


def test_a_virtual_env_whose_interpreter_is_gone_is_said(doctor: Doctor, tmp_path: Path) -> None:
    doctor.env["VIRTUAL_ENV"] = str(tmp_path / "deleted-venv")
    env = doctor.environment()
    env["VIRTUAL_ENV"] = str(tmp_path / "deleted-venv")
    proc = subprocess.run(
        [sys.executable, "-m", "torchdoctor", "check", "--quick", "-f", "json"], capture_output=True, text=True, env=env
    )
    assert "has no Python interpreter" in proc.stderr and "deleted-venv" in proc.stderr
    assert json.loads(proc.stdout)["facts"]["python"]["executable"] == sys.executable


def test_a_torch_that_imports_but_is_broken(doctor: Doctor) -> None:
    doctor.fake_torch("__version__ = '2.13.0'\n")  # no torch.version, no torch.cuda
    report, proc = doctor.json("--no-smoke")
    assert report["facts"]["torch"]["kind"] == "imports, but broken"
    (found,) = [x for x in report["findings"] if x["slug"] == "torch-import-failed"]
    assert "--force-reinstall torch==" in found["fix_command"]
    assert proc.returncode == ExitCode.FINDINGS


def test_cuda_is_available_raising_is_a_finding(doctor: Doctor) -> None:
    doctor.fake_torch(
        """
        import types
        __version__ = "2.13.0"
        version = types.SimpleNamespace(cuda=None, hip=None, git_version="", debug=False)
        def _raise():
            raise RuntimeError("cudaGetDeviceCount failed")
        cuda = types.SimpleNamespace(is_available=_raise)
        """
    )
    report, _ = doctor.json("--no-smoke")
    assert "cuda.is_available() raised RuntimeError" in report["facts"]["torch"]["message"]
    assert "torch-import-failed" in fired(report)


def test_an_empty_torch_folder_does_not_shadow(doctor: Doctor) -> None:
    (doctor.tmp_path / "torch").mkdir()
    report, _ = doctor.json("--no-smoke")
    assert report["facts"]["torch"]["type"] == "runtime"
    assert "duplicate-torch" not in fired(report)


def test_a_raising_torch_folder_gets_the_shadowing_fix(doctor: Doctor) -> None:
    (doctor.tmp_path / "torch").mkdir()
    (doctor.tmp_path / "torch" / "__init__.py").write_text("raise ImportError('my own torch module')\n")
    report, _ = doctor.json("--no-smoke")
    (found,) = [x for x in report["findings"] if x["slug"] == "torch-import-failed"]
    assert "shadows" in found["fix"] and "reinstall" not in found["fix"].lower() and not found["fix_command"]


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        ({"RANK": "abc", "WORLD_SIZE": "2"}, "RANK='abc' is not a whole number"),
        ({"RANK": "0", "WORLD_SIZE": "-1"}, "WORLD_SIZE='-1' must be at least 1"),
        ({"RANK": "3", "WORLD_SIZE": "2"}, "RANK=3 is not below WORLD_SIZE=2"),
    ],
)
def test_bad_launcher_variables_are_a_usage_error_naming_the_key(
    doctor: Doctor, variables: dict[str, str], needle: str
) -> None:
    doctor.env.update(variables, MASTER_ADDR="127.0.0.1", MASTER_PORT="29500")
    proc = doctor.run("dist", timeout=60)
    assert proc.returncode == ExitCode.USAGE and needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("damage", "needle"),
    [("empty-metadata", "METADATA is empty"), ("no-record", "no RECORD")],
)
def test_broken_package_metadata_is_a_finding(doctor: Doctor, damage: str, needle: str) -> None:
    site = doctor.tmp_path / "broken_site"
    info = site / "torchaudio-2.5.1.dist-info"
    info.mkdir(parents=True)
    if damage == "empty-metadata":
        (info / "METADATA").write_text("")
        (info / "RECORD").write_text("")
    else:
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torchaudio\nVersion: 2.5.1\n")
    doctor.pythonpath.append(str(site))
    report, proc = doctor.json("--quick")
    no_traceback(proc)
    (found,) = [x for x in report["findings"] if x["slug"] == "broken-metadata"]
    assert needle in found["evidence"][0]["value"]
    assert "--ignore-installed --no-deps torchaudio==2.5.1" in found["fix_command"]
