"""Odd but real inputs, round two: each ends in a report or a one-line error, never "a bug in torchdoctor"."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import Doctor, fired
from tests.hostile.test_environments import no_traceback, saved_report
from torchdoctor.exitcodes import ExitCode


def test_pythonsafepath_does_not_hide_the_childrens_helper(doctor: Doctor) -> None:
    doctor.env["PYTHONSAFEPATH"] = "1"  # the script's folder is not put on sys.path (Python 3.11+)
    report, proc = doctor.json("--no-smoke")
    no_traceback(proc)
    assert report["facts"]["torch"]["type"] == "runtime", report["facts"]["torch"]
    assert report["facts"]["python"].get("unavailable") is not True
    assert "torch-import-failed" not in fired(report)


def test_warnings_as_errors_in_the_doctor_and_its_children(doctor: Doctor) -> None:
    doctor.env["PYTHONWARNINGS"] = "error"
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-m", "torchdoctor", "check", "--quick", "-f", "json"],
        capture_output=True,
        text=True,
        env=doctor.environment(),
        cwd=doctor.tmp_path,
        timeout=120,
    )
    no_traceback(proc)
    assert "ResourceWarning" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "check"


def test_a_5000_digit_integer_in_a_report(doctor: Doctor, tmp_path: Path) -> None:
    path = saved_report(tmp_path)
    text = path.read_text()
    doc = json.loads(text)
    doc["facts"]["host"]["shm_bytes"] = 0
    path.write_text(json.dumps(doc).replace('"shm_bytes": 0', '"shm_bytes": ' + "9" * 5000))
    proc = doctor.run("check", "--from", str(path))
    no_traceback(proc)
    assert proc.returncode not in (ExitCode.OK, ExitCode.FINDINGS)
    assert "integer of 5000 digits" in proc.stderr


def test_tool_that_is_not_a_table_in_pyproject(doctor: Doctor, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('tool = "x"\n')
    proc = doctor.run("check", "--from", str(saved_report(tmp_path)), cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode in (ExitCode.OK, ExitCode.FINDINGS)


def test_a_1500_level_folder_tree_in_fleet(doctor: Doctor, tmp_path: Path) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    (root / "top.json").write_text(saved_report(tmp_path).read_text())
    fd = os.open(root, os.O_RDONLY)
    for _ in range(1500):  # made by descriptor: Path.mkdir(parents=True) itself recurses too deep
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)
    try:
        proc = doctor.run("fleet", str(root))
    finally:  # bottom up, by path: pytest's own tmp cleanup (shutil.rmtree) recurses too deep for it
        for depth in range(1500, 0, -1):
            os.rmdir(os.path.join(root, *["d"] * depth))
    no_traceback(proc)
    assert "1 node with errors, from 2 reports" in proc.stdout and "folders deeper than" in proc.stdout


def test_a_rich_folder_on_pythonpath_does_not_shadow_the_doctors_own(doctor: Doctor, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "rich"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the user rich, not the doctor one')\n")
    doctor.pythonpath.insert(0, str(shadow.parent))
    proc = doctor.run("check", "--from", str(saved_report(tmp_path)))
    no_traceback(proc)
    assert proc.returncode == ExitCode.FINDINGS and "PyTorch" in proc.stdout


def test_a_virtual_env_whose_python_is_a_junk_script(doctor: Doctor, tmp_path: Path) -> None:
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\necho hello\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    doctor.env["VIRTUAL_ENV"] = str(tmp_path / "venv")
    report, proc = doctor.json("--no-smoke")
    no_traceback(proc)
    assert f"its {python} is not a Python interpreter" in proc.stderr
    assert report["facts"]["torch"]["type"] == "runtime" and "torch-import-failed" not in fired(report)
