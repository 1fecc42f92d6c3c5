"""The doctor ends with os._exit once what it said is flushed (no interpreter teardown): the status is what
sys.exit would have given, buffered output still arrives, and a stdout gone with its reader is exit 4."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def ended_with(code: str) -> subprocess.CompletedProcess[str]:
    program = (
        f"import sys\nfrom torchdoctor.__main__ import leave\nsys.stdout.write('said, not flushed')\nleave({code})\n"
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize("code, status", [("None", 0), ("0", 0), ("1", 1), ("4", 4)])
def test_the_status_is_sys_exits_and_what_was_buffered_arrives(code: str, status: int) -> None:
    proc = ended_with(code)
    assert proc.returncode == status
    assert proc.stdout == "said, not flushed"


def test_a_message_is_said_on_stderr_with_status_1() -> None:
    proc = ended_with("'torchdoctor: cannot go on'")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "torchdoctor: cannot go on"


def test_a_stdout_whose_reader_went_away_is_exit_4() -> None:
    program = (
        "import os, sys\nfrom torchdoctor.__main__ import leave\n"
        "r, w = os.pipe(); os.close(r); sys.stdout = open(w, 'w')\n"  # a pipe nobody reads any more
        "sys.stdout.write('lost')\nleave(0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 4, proc.stderr


def test_a_module_of_its_own_that_cannot_be_read_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """An install whose cli.py cannot be read (mode 000, as a non-root user with no permission override: a
    broken or half-copied install; EMFILE behaves the same): one line naming the file, exit 3, no traceback."""
    shutil.copytree(REPO / "torchdoctor", tmp_path / "torchdoctor", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "torchdoctor" / "cli.py").chmod(0)
    proc = subprocess.run(
        [sys.executable, "-m", "torchdoctor", "check", "--quick"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        preexec_fn=no_permission_override,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("torchdoctor: could not start: [Errno 13] Permission denied"), proc.stderr
    assert "cli.py" in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def no_permission_override() -> None:
    """As a non-root user: root loses the capabilities that let it ignore file modes, for the program it runs."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if os.geteuid() == 0 and libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
