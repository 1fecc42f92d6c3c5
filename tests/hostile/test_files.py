"""Paths that are not regular files, given to --from, fleet and -o: real FIFOs, devices, links, read-only files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests import factories as f
from tests.conftest import Doctor
from tests.test_cli import write_report
from torchdoctor.exitcodes import ExitCode

NULL_DEVICE = os.makedev(1, 3)  # Linux's /dev/null: a character device, major 1, minor 3


def test_from_a_fifo_is_refused_at_once_not_waited_on(doctor: Doctor, tmp_path: Path) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    proc = doctor.run("check", "--from", str(fifo), timeout=30)
    assert proc.returncode == ExitCode.COULD_NOT_RUN
    assert "is a FIFO, not a report file" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_from_an_endless_device_is_refused(doctor: Doctor, device: str) -> None:
    proc = doctor.run("check", "--from", device, timeout=30)
    assert proc.returncode == ExitCode.COULD_NOT_RUN
    assert "character device" in proc.stderr


def test_fleet_skips_a_fifo_named_like_a_report(doctor: Doctor, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    write_report(reports, f.facts())
    os.mkfifo(reports / "stuck.json")
    proc = doctor.run("fleet", str(reports), "-f", "json", timeout=30)
    doc = json.loads(proc.stdout)
    assert doc["nodes"] == 1
    assert [u["reason"] for u in doc["unreadable"]] == ["it is a FIFO, not a report file"]


def report_to(doctor: Doctor, report: Path, out: Path | str) -> subprocess.CompletedProcess[str]:
    return doctor.run("check", "--from", str(report), "-f", "json", "-o", str(out), "--fail-on", "never")


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return write_report(tmp_path, f.facts())


def test_output_to_a_device_writes_into_it_and_leaves_it_a_device(doctor: Doctor, report: Path, tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, NULL_DEVICE)
    proc = report_to(doctor, report, null)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(null.stat().st_mode) and "report written" not in proc.stderr


def test_output_to_a_fifo_feeds_its_reader_and_one_without_reader_is_said(
    doctor: Doctor, report: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    lonely = report_to(doctor, report, fifo)
    assert lonely.returncode == ExitCode.COULD_NOT_RUN and "nothing is reading it" in lonely.stderr
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        assert report_to(doctor, report, fifo).returncode == 0
        assert json.loads(reader.communicate(timeout=30)[0])["kind"] == "check"
    finally:
        reader.kill()
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_output_through_a_symlink_writes_its_target(doctor: Doctor, report: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert report_to(doctor, report, link).returncode == 0
    assert link.is_symlink() and json.loads(target.read_text())["kind"] == "check"


def test_output_to_a_read_only_file_is_refused_not_replaced(doctor: Doctor, report: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept.json"
    kept.write_text("keep me")
    kept.chmod(0o444)
    proc = report_to(doctor, report, kept)
    assert proc.returncode == ExitCode.COULD_NOT_RUN and "read-only" in proc.stderr
    assert kept.read_text() == "keep me"


def test_output_dash_is_stdout_and_a_long_name_is_written(doctor: Doctor, report: Path, tmp_path: Path) -> None:
    dash = report_to(doctor, report, "-")
    assert json.loads(dash.stdout)["kind"] == "check" and not (tmp_path / "-").exists()
    long = tmp_path / ("r" * 240 + ".json")
    assert report_to(doctor, report, long).returncode == 0
    assert json.loads(long.read_text())["kind"] == "check"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_output_keeps_an_existing_files_mode(doctor: Doctor, report: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared.json"
    shared.write_text("{}")
    shared.chmod(0o640)
    assert report_to(doctor, report, shared).returncode == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640


def test_output_to_dev_stdout_goes_to_stdout(doctor: Doctor, report: Path) -> None:
    proc = report_to(doctor, report, "/dev/stdout")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "check"
