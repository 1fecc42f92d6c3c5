"""Odd but real inputs end in a report or a one-line usage error: unknown codes, odd COLUMNS, a closed stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import factories as f
from tests.conftest import Doctor
from tests.test_cli import ENV, write_report
from torchdoctor.cli import app
from torchdoctor.exitcodes import ExitCode

runner = CliRunner()


def test_an_unknown_code_to_ignore_is_a_usage_error_with_a_near_name(tmp_path: Path) -> None:
    report = write_report(tmp_path, f.facts())
    typo = runner.invoke(app, ["check", "--from", str(report), "--ignore", "cuda-unavailabel"], env=ENV)
    assert typo.exit_code == ExitCode.USAGE
    assert "no check named cuda-unavailabel (did you mean cuda-unavailable?)" in typo.output
    known = runner.invoke(app, ["check", "--from", str(report), "--ignore", "TD004,gpu-lost"], env=ENV)
    assert known.exit_code in (0, 1), known.output


def test_an_unknown_code_in_pyproject_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = write_report(tmp_path, f.facts())
    (tmp_path / "pyproject.toml").write_text('[tool.torchdoctor]\nignore = ["TD999"]\n')
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check", "--from", str(report)], env=ENV)
    assert result.exit_code == ExitCode.USAGE and "pyproject.toml: ignore: no check named TD999" in result.output


def test_columns_that_are_digits_but_not_ascii_are_ignored(tmp_path: Path) -> None:
    report = write_report(tmp_path, f.facts())
    result = runner.invoke(app, ["check", "--from", str(report)], env={**ENV, "COLUMNS": "²"})
    assert result.exit_code in (0, 1), result.exception
    assert "problems found" in result.stdout or "no problems" in result.stdout


def test_a_closed_stderr_still_gives_the_report(doctor: Doctor, tmp_path: Path) -> None:
    report = write_report(tmp_path, f.facts())
    env = doctor.environment()
    env.pop("CI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "torchdoctor", "check", "--from", str(report), "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
        close_fds=True,
        preexec_fn=lambda: __import__("os").close(2),
    )
    assert json.loads(proc.stdout)["kind"] == "check"
