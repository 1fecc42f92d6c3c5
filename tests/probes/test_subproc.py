"""External commands run in their own process group: a timeout kills the whole group."""

from __future__ import annotations

import os
import time
from pathlib import Path

from torchdoctor.probes.subproc import run_command
from torchdoctor.progress import LiveProgress


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_wrapper_scripts_grandchild_dies_with_it_on_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    started = time.monotonic()
    result = run_command([str(script)], timeout=1.0)
    assert result.timed_out and time.monotonic() - started < 4
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild), "the grandchild outlived the timeout"


def test_a_missing_program_is_a_start_error_not_an_exception(tmp_path: Path) -> None:
    result = run_command([str(tmp_path / "nope")], timeout=1.0)
    assert result.start_error and not result.timed_out


def test_the_progress_line_names_what_is_still_awaited() -> None:
    progress = LiveProgress("/usr/bin/python3")
    assert "import torch" in progress.text() and "NVML" in progress.text()
    progress({"probe_done": "torch"})
    assert progress.text() == "examining /usr/bin/python3: waiting for NVML (the NVIDIA driver) ..."
    progress({"probe_done": "nvml"})
    assert "waiting" not in progress.text()
