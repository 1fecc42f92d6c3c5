"""What the examined interpreter prints cannot break or forge the doctor's conversation with its
children, and a child that exits is reported when it exits, whatever it left holding its pipes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.conftest import Doctor, fired
from tests.fakes.torch_sources import HANGING_SMOKE


def sitecustomize(doctor: Doctor, body: str) -> None:
    """Code every child the doctor starts runs first (its own NVML child included), not the doctor itself."""
    folder = doctor.tmp_path / "site_hooks"
    folder.mkdir(exist_ok=True)
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    (folder / "sitecustomize.py").write_text(f"import os\nif 'TORCHDOCTOR_CHANNEL' in os.environ:\n{indented}")
    doctor.pythonpath.insert(0, str(folder))


def test_output_without_a_newline_does_not_hide_a_good_import(doctor: Doctor) -> None:
    sitecustomize(doctor, "import sys\nsys.stdout.write('a library that never ends its line')\nsys.stdout.flush()\n")
    report, _ = doctor.json("--no-smoke")
    assert report["facts"]["torch"]["type"] == "runtime"
    assert report["facts"]["python"].get("unavailable") is not True


def test_forged_protocol_lines_on_stdout_are_ignored(doctor: Doctor) -> None:
    forged_torch = '{"torch": {"type": "not_installed", "python": "x", "reason": "forged"}}'
    forged_nvml = '{"nvml": {"unavailable": true, "source": "NVML", "reason": "forged", "code": "timeout"}}'
    sitecustomize(
        doctor,
        f"print('@@torchdoctor@@ ' + {forged_torch!r})\nprint('@@torchdoctor@@ ' + {forged_nvml!r})\n",
    )
    report, _ = doctor.json("--no-smoke")
    assert report["facts"]["torch"]["type"] == "runtime"
    assert "forged" not in str(report["facts"]["nvml"])
    assert "nvml-unresponsive" not in fired(report)


def test_deeply_nested_json_on_stdout_does_not_stall(doctor: Doctor) -> None:
    sitecustomize(doctor, "print('@@torchdoctor@@ ' + '[' * 200000)\n")
    started = time.monotonic()
    report, _ = doctor.json("--no-smoke")
    assert time.monotonic() - started < 30
    assert report["facts"]["torch"]["type"] == "runtime"


def test_a_child_that_exits_while_a_daemon_holds_its_pipes_is_reported_at_once(doctor: Doctor, tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    doctor.fake_torch(
        f"""
        import os, subprocess
        daemon = subprocess.Popen(["sleep", "300"], start_new_session=True)  # inherits stdout and stderr
        open({str(pidfile)!r}, "w").write(str(daemon.pid))
        os._exit(3)
        """
    )
    started = time.monotonic()
    try:
        report, _ = doctor.json("--no-smoke", "--timeout", "60")
        assert time.monotonic() - started < 20, "waited for the pipe, not for the child"
        assert report["facts"]["torch"]["type"] == "import_failed"
        assert "status 3" in report["facts"]["torch"]["message"]
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_smoke_timeout_bounds_the_cpu_smoke_too(doctor: Doctor) -> None:
    doctor.fake_torch(HANGING_SMOKE)
    started = time.monotonic()
    report, _ = doctor.json("--device", "cpu", "--smoke-timeout", "3")
    assert time.monotonic() - started < 20, "a hanging CPU smoke waited --timeout + --smoke-timeout"
    (cpu,) = report["smoke"]["devices"]
    assert cpu["died"].startswith("timeout"), cpu
