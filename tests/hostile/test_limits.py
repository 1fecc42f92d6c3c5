"""No false greens: when the doctor itself runs out of threads, descriptors or permissions, the report says so.

Each limit is set for real on the doctor's own process (``preexec_fn``), as ``ulimit`` or a batch scheduler
sets it; the report must carry could-not-examine (an error) and exit non-zero under ``--fail-on error``.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Doctor, fired
from torchdoctor.exitcodes import ExitCode
from torchdoctor.rules import limits

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3


def run_limited(doctor: Doctor, limit: Callable[[], None], *args: str) -> tuple[dict[str, Any], int]:
    proc = subprocess.run(
        [sys.executable, "-m", "torchdoctor", "check", "-f", "json", "--fail-on", "error", *args],
        capture_output=True,
        text=True,
        env=doctor.environment(),
        cwd=doctor.tmp_path,
        preexec_fn=limit,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout), proc.returncode


def own_failures(report: dict[str, Any]) -> list[str]:
    facts = report["facts"]
    return [
        name
        for name, value in facts.items()
        if isinstance(value, dict) and value.get("unavailable") and value.get("code") in limits.OWN_FAILURES
    ]


def assert_not_green(report: dict[str, Any], code: int) -> None:
    assert own_failures(report), "the limit did not bite: nothing was attacked"
    assert "could-not-examine" in fired(report)
    assert report["summary"]["errors"] >= 1 and code == ExitCode.FINDINGS


def test_no_thread_can_be_started(doctor: Doctor) -> None:
    # glibc sizes each thread's stack from RLIMIT_STACK: at 100 GiB every pthread_create fails with EAGAIN,
    # "can't start new thread", as under a low RLIMIT_NPROC (which uid 0 is exempt from, so not usable here).
    report, code = run_limited(
        doctor, lambda: resource.setrlimit(resource.RLIMIT_STACK, (100 * 2**30,) * 2), "--no-smoke"
    )
    assert_not_green(report, code)
    assert report["facts"]["torch"]["code"] == limits.LIMIT


def test_few_file_descriptors(doctor: Doctor) -> None:
    report, code = run_limited(doctor, lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (12, 12)), "--no-smoke")
    assert_not_green(report, code)
    assert "nvml-unresponsive" not in fired(report) and "container-without-gpu" not in fired(report)


def no_permission_override_and_umask_0777() -> None:
    """As a non-root user: root loses the capabilities that let it ignore file modes, for good (exec too)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if os.geteuid() == 0 and libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    os.umask(0o777)


def test_umask_0777(doctor: Doctor, tmp_path: Path) -> None:
    doctor.env["TMPDIR"] = str(tmp_path)
    report, code = run_limited(doctor, no_permission_override_and_umask_0777, "--device", "cpu")
    assert_not_green(report, code)
    assert not list(tmp_path.glob("torchdoctor-smoke-*")), "its temp dir, made mode 000, must still be removed"


def test_a_healthy_run_has_no_such_finding(doctor: Doctor) -> None:
    report, _ = run_limited(doctor, lambda: None, "--quick")
    assert not own_failures(report) and "could-not-examine" not in fired(report)
