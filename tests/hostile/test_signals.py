"""Ctrl-C and SIGTERM while a child runs: the doctor exits at once with one line, and leaves no
process and no temp dir behind. Real signals to real processes; children found with psutil."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import Doctor
from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine
from tests.fakes.torch_sources import HANGING_IMPORT, HANGING_SMOKE


def wait_for_children(proc: subprocess.Popen[str], names: tuple[str, ...], seconds: float = 20) -> list[psutil.Process]:
    """The doctor's descendants once one whose command line mentions each of ``names`` is running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = psutil.Process(proc.pid).children(recursive=True)
        lines = [command_line(p) for p in found]
        if all(any(name in line for line in lines) for name in names):
            return found
        time.sleep(0.1)
    raise AssertionError(f"{names} never started; the doctor said: {proc.communicate(timeout=5)}")


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # gone, or a zombie, since it was listed
        return ""


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err, time.monotonic() - started


def assert_all_gone(children: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(children, timeout=5)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] if alive else alive
    assert not alive, [command_line(p) for p in alive]


@pytest.mark.parametrize(
    ("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_during_a_hanging_import_torch(doctor: Doctor, signum: int, code: int, word: str) -> None:
    doctor.fake_torch(HANGING_IMPORT)
    proc = doctor.start("check", "--no-smoke")
    children = wait_for_children(proc, ("_torch_child.py",))
    returncode, out, err, seconds = stop(proc, signum)
    assert (returncode, seconds < 5) == (code, True), (returncode, seconds, err)
    assert err.strip() == f"torchdoctor: {word}" if signum == signal.SIGINT else word in err
    assert "Traceback" not in err and out == ""
    assert_all_gone(children)


def test_sigterm_during_a_hanging_nvml_init(doctor: Doctor, nvml_lib: FakeNvmlLibrary) -> None:
    doctor.real_nvml(nvml_lib, Machine("R550", system={"init_hang": 1}))
    proc = doctor.start("check", "--quick", "--nvml-timeout", "120")
    children = wait_for_children(proc, ("torchdoctor.probes.nvml",))
    time.sleep(0.5)  # inside nvmlInit
    returncode, _, err, seconds = stop(proc, signal.SIGTERM)
    assert returncode == 143 and seconds < 5 and "Traceback" not in err
    assert_all_gone(children)


def test_ctrl_c_during_the_smoke_tests_removes_the_temp_dir(doctor: Doctor, tmp_path: Path) -> None:
    doctor.fake_torch(HANGING_SMOKE)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    doctor.env["TMPDIR"] = str(scratch)
    proc = doctor.start("check", "--device", "cpu", "--smoke-timeout", "600")
    children = wait_for_children(proc, ("_torch_child.py",))
    deadline = time.monotonic() + 20
    while not list(scratch.glob("torchdoctor-smoke-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(scratch.glob("torchdoctor-smoke-*")), "the smoke tests never started"
    time.sleep(1.0)  # the fake torch's facts are in; the smoke tests hang
    returncode, _, err, seconds = stop(proc, signal.SIGINT)
    assert returncode == 130 and seconds < 5, err
    assert_all_gone(children)
    assert not list(scratch.glob("torchdoctor-smoke-*"))


@pytest.mark.parametrize("after", [0.05, 0.1, 0.15, 0.2, 0.3])
def test_ctrl_c_while_the_doctor_is_still_starting_is_one_line(doctor: Doctor, after: float) -> None:
    proc = doctor.start("check", "--quick")
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    if "init_import_site" in err:  # Python itself was still starting: its own message, before any of ours ran
        return
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 1, 130), (proc.returncode, err)
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1] == "torchdoctor: interrupted"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGQUIT, signal.SIGABRT])
def test_children_die_with_the_doctor_whatever_kills_it(doctor: Doctor, signum: int) -> None:
    """SIGKILL (the OOM killer, kill -9, a CI runner's hard cancel), Ctrl-\\ and an abort run no handler of ours:
    the children, in sessions of their own, learn it from the lifeline pipe closing."""
    doctor.fake_torch(HANGING_IMPORT)
    proc = doctor.start("check", "--no-smoke", "--timeout", "600")
    children = wait_for_children(proc, ("_torch_child.py",))
    proc.send_signal(signum)
    proc.communicate(timeout=15)
    assert_all_gone(children)


WORKER_THEN_HANG = """
import os, time
if os.fork() == 0:  # a worker, as DataLoader forks them: same process group, no lifeline thread of its own
    time.sleep(3600)
    os._exit(0)
time.sleep(3600)
"""


def test_workers_the_child_forked_die_with_the_doctor_too(doctor: Doctor) -> None:
    doctor.fake_torch(WORKER_THEN_HANG)
    proc = doctor.start("check", "--no-smoke", "--timeout", "600")
    children = wait_for_children(proc, ("_torch_child.py",))
    # the doctor's own child (a forked worker shows the same command line)
    (torch_child,) = [p for p in children if "_torch_child.py" in command_line(p) and p.ppid() == proc.pid]
    deadline = time.monotonic() + 60
    while not torch_child.children():  # the worker it forks
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.1)
    family = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.communicate(timeout=15)
    assert_all_gone(family)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_cancelled_pytest_run_leaves_no_torch_child(doctor: Doctor, tmp_path: Path, signum: int) -> None:
    """`pytest --torchdoctor` diagnoses in its header; cancelled there (Ctrl-C, a CI runner's SIGTERM or kill -9),
    the torch child it started goes with it."""
    doctor.fake_torch(HANGING_IMPORT)
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    env = doctor.environment()
    env["PYTEST_ADDOPTS"] = ""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--torchdoctor", "-p", "no:cacheprovider", "-n", "0", "test_nothing.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children = wait_for_children(proc, ("_torch_child.py",))
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    assert_all_gone(children)


def test_sigterm_reaches_a_doctor_started_with_it_blocked(doctor: Doctor) -> None:
    """A signal mask is inherited: started by a parent that blocked SIGTERM, the doctor unblocks it and stops."""
    doctor.fake_torch(HANGING_IMPORT)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        proc = doctor.start("check", "--no-smoke")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    children = wait_for_children(proc, ("_torch_child.py",))
    returncode, _, err, seconds = stop(proc, signal.SIGTERM)
    assert (returncode, seconds < 5) == (143, True), (returncode, seconds, err)
    assert_all_gone(children)
