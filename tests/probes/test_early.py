"""The standalone probes start while the command line is read; the probe takes each one only when its inputs
are the options finally read, reports how long it really ran, and a probe no command took ends with the doctor."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Doctor
from torchdoctor.probes.early import EarlyProbes, start_early


def started_with(**probes: tuple[object, object]) -> EarlyProbes:
    early = start_early(lambda e: [e.start(name, key, fn) for name, (key, fn) in probes.items()])  # type: ignore[misc]
    early.ready.wait(5)
    return early


def test_a_probe_is_taken_once_and_only_with_the_inputs_it_was_started_with() -> None:
    early = started_with(nvml=(5.0, lambda: "driver facts"), host=((), lambda: "host facts"))
    assert early.take("nvml", 30.0) is None  # --nvml-timeout 30 was read: the one started with 5 s does not fit
    assert early.take("nvml", 5.0) is None  # and it is gone: nothing is taken twice
    taken = early.take("host", ())
    assert taken is not None and taken.result() == "host facts"
    assert early.take("host", ()) is None
    assert early.take("interpreter", ("/usr/bin/python3", 20.0)) is None  # never started


def test_what_an_early_probe_raised_is_raised_where_it_is_taken() -> None:
    def broken() -> str:
        raise OSError("no /proc here")

    taken = started_with(kernel=((), broken)).take("kernel", ())
    assert taken is not None
    with pytest.raises(OSError, match="no /proc here"):
        taken.result()


def test_a_starter_that_fails_leaves_the_probes_to_the_command() -> None:
    def starter(early: EarlyProbes) -> None:
        raise RuntimeError("can't start new thread")

    early = start_early(starter)
    assert early.ready.wait(5)
    assert early.take("nvml", 5.0) is None and early.active_python() is None


def test_an_early_probe_reports_how_long_it_ran_not_how_long_it_was_waited_for() -> None:
    gate = threading.Event()
    taken = started_with(env=((), lambda: gate.wait(5) and "env facts")).take("env", ())
    time.sleep(0.3)
    gate.set()
    assert taken is not None and taken.result() == "env facts"
    assert taken.seconds >= 0.25


def logging_python(tmp_path: Path, delay: float = 0.0) -> Path:
    """A virtual environment whose `python` writes each command line it runs (and its pid) to a log first."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        f'#!/bin/sh\necho "$$ $*" >> {tmp_path / "runs.log"}\n'
        f'case "$*" in *_interp_child.py*) sleep {delay};; esac\n'  # the examination is slow, not `python -c`
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return venv


def interpreter_runs(tmp_path: Path) -> list[str]:
    log = tmp_path / "runs.log"
    return [line for line in log.read_text().splitlines() if "_interp_child.py" in line] if log.exists() else []


def test_check_examines_the_active_environment_once_with_the_child_started_early(doctor: Doctor) -> None:
    venv = logging_python(doctor.tmp_path)
    doctor.env["VIRTUAL_ENV"] = str(venv)
    doc, proc = doctor.json("--quick", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    assert len(interpreter_runs(doctor.tmp_path)) == 1  # started before the options were read, and taken
    timing = {t["name"]: t["seconds"] for t in doc["timings"]}
    assert timing["interpreter"] > 0  # its own time, not the moment it took to hand over a finished answer


@pytest.mark.parametrize("command", [["check", "--quick"], ["recommend"]])
def test_the_probes_start_early_and_are_taken(doctor: Doctor, command: list[str]) -> None:
    """Started early: with another --python, the active environment was examined anyway (once, for nothing);
    taken: without one, it is examined once, not again by the probes."""
    doctor.env["VIRTUAL_ENV"] = str(logging_python(doctor.tmp_path))
    other = logging_python(doctor.tmp_path / "other")
    proc = doctor.run(*command, "-f", "json", "--python", str(other / "bin" / "python"))
    assert proc.returncode in (0, 1), proc.stderr
    assert len(interpreter_runs(doctor.tmp_path)) == 1, "nothing was started before the options were read"
    (doctor.tmp_path / "runs.log").unlink()
    proc = doctor.run(*command, "-f", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert len(interpreter_runs(doctor.tmp_path)) == 1, "the early probe was not taken: it ran twice"


def test_another_python_on_the_command_line_is_examined_not_the_one_started_early(doctor: Doctor) -> None:
    venv = logging_python(doctor.tmp_path)
    other = logging_python(doctor.tmp_path / "other")
    doctor.env["VIRTUAL_ENV"] = str(venv)
    doc, proc = doctor.json("--quick", "--fail-on", "never", "--python", str(other / "bin" / "python"))
    assert proc.returncode == 0, proc.stderr
    assert len(interpreter_runs(doctor.tmp_path / "other")) == 1
    assert doc["facts"]["python"]["executable"] == sys.executable  # the wrapper execs the real interpreter


def test_a_probe_started_early_that_no_command_takes_ends_with_the_doctor(doctor: Doctor, tmp_path: Path) -> None:
    captured, _ = doctor.json("--quick", "--fail-on", "never")
    report = tmp_path / "report.json"
    report.write_text(json.dumps(captured))
    venv = logging_python(doctor.tmp_path, delay=30)  # still starting when `check --from` is done
    doctor.env["VIRTUAL_ENV"] = str(venv)
    proc = doctor.run("check", "--from", str(report), "-f", "json", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    runs = interpreter_runs(doctor.tmp_path)
    assert runs, "the early interpreter probe was not started: this test proves nothing"
    pid = int(runs[0].split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    assert not alive(pid), "the early child outlived the doctor"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat_line = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat_line  # a zombie has ended; its parent (pytest's reaper or init) collects it


@pytest.mark.parametrize(
    "argv, live",
    [
        ([], True),  # bare torchdoctor is check
        (["-v", "--quick"], True),  # options before a command are check's
        (["check", "--quick", "-f", "json"], True),
        (["recommend"], True),
        (["explain", "TD001"], False),
        (["fleet", "reports/"], False),
        (["--version"], False),
        (["-h"], False),
    ],
)
def test_the_probes_of_a_live_command_start_before_typer_is_imported(argv: list[str], live: bool) -> None:
    """typer (and the pydantic it loads to read options) takes as long as the probes' children: they start first,
    for the commands that gather this machine's facts, routed as the command line routes them."""
    code = (
        "import sys\n"
        "import torchdoctor.commands.early as early\n"
        "def started():\n"
        "    print('started', 'typer' in sys.modules, 'pydantic' in sys.modules, flush=True)\n"
        "    raise SystemExit(0)\n"
        "early.start_live_probes = started\n"
        f"sys.argv = ['torchdoctor', *{argv!r}]\n"
        "from torchdoctor.__main__ import main\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    said = [line for line in out.stdout.splitlines() if line.startswith("started")]
    assert said == (["started False False"] if live else []), (out.stdout, out.stderr)


@pytest.mark.parametrize(("descriptors", "started"), [(32, False), (1024, True)])
def test_under_a_tight_descriptor_limit_nothing_starts_early(descriptors: int, started: bool) -> None:
    """ulimit -n 32: the early probes' pipes would take the descriptors typer's imports need (a real limit, set in
    a process of its own); the command starts its probes after the imports instead, and says what the limit cost."""
    code = (
        "import resource, sys\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        f"soft = {descriptors} if hard == resource.RLIM_INFINITY else min({descriptors}, hard)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))\n"
        "import torchdoctor.commands.early as early\n"
        "early.start_live_probes = lambda: 'started'\n"
        "print(early.start_for(['check', '--quick']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == ("started" if started else "None"), out.stderr
