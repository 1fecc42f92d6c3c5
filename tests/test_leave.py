"""The doctor ends with os._exit once what it said is flushed (no interpreter teardown): the status is what
sys.exit would have given, buffered output still arrives, and a stdout gone with its reader is exit 4."""

from __future__ import annotations

import subprocess
import sys

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
