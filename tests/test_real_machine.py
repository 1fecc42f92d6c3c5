"""`torchdoctor check` on this very machine, through the real entry point, with the real CPU torch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import Doctor
from tests.render.test_formats import SCHEMA

pytest.importorskip("torch")


def test_check_on_this_machine(doctor: Doctor) -> None:
    report, proc = doctor.json()
    assert proc.returncode in (0, 1)
    torch = report["facts"]["torch"]
    assert torch["type"] == "runtime" and torch["version"].startswith("2.")
    (cpu,) = [d for d in report["smoke"]["devices"] if d["device"] == "cpu"]
    failed = [s for s in cpu["steps"] if s["status"] == "failed"]
    assert failed == [], failed
    assert {s["name"] for s in cpu["steps"]} >= {"tensors", "autograd", "model", "train", "modes", "data", "save_load"}
    assert not [c for c in report["checks"] if "internal error" in c["reason"]]
    assert {t["name"] for t in report["timings"]} == {
        "interpreter",
        "nvml",
        "host",
        "kernel",
        "env",
        "torch",
        "loader",
        "loaders",
    }
    jsonschema.Draft202012Validator(SCHEMA).validate(report)


def test_quick_skips_torch_and_says_so(doctor: Doctor) -> None:
    report, _ = doctor.json("--quick")
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert report["facts"]["torch"] == {
        "unavailable": True,
        "source": "torch",
        "reason": "--quick",
        "code": "skipped",
    }
    skipped = {c["slug"]: c["reason"] for c in report["checks"] if c["status"] == "skipped"}
    assert "--quick" in skipped["cuda-unavailable"]


def test_console_script_terminal_report(tmp_path: Path) -> None:
    exe = shutil.which("torchdoctor", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("torchdoctor is not installed as a console script in this environment")
    proc = subprocess.run(
        [exe, "check", "--no-smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith("torchdoctor ")
    assert "[" in proc.stdout and (
        "no problems found" in proc.stdout or "problems found" in proc.stdout or "warnings" in proc.stdout
    )
    assert "\x1b[" not in proc.stdout, "NO_COLOR and a pipe give plain text"
