"""One exit-code table for every command (README "Exit codes"), and the commands keep to it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from torchdoctor.cli import app
from torchdoctor.commands.compat import CompatResult
from torchdoctor.commands.dist import DistResult
from torchdoctor.commands.explain import CatalogueResult, ExplainResult
from torchdoctor.commands.fleet import FleetResult
from torchdoctor.commands.recommend import RecommendResult
from torchdoctor.commands.report import ReportResult
from torchdoctor.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "100", "CI": "1"}
RESULTS = {
    "check": ReportResult,
    "report": ReportResult,
    "smoke": ReportResult,
    "bench": ReportResult,
    "dist": DistResult,
    "fleet": FleetResult,
    "compat": CompatResult,
    "recommend": RecommendResult,
    "check --list": CatalogueResult,
    "explain": ExplainResult,
}


def readme_commands() -> dict[str, tuple[set[str], bool]]:
    """command -> (its formats, has -o) from the README's per-command table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[set[str], bool]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        formats = {f.strip() for f in cells[2].split(",")}
        for command in re.findall(r"`([^`]+)`", cells[0]):
            rows[command] = (formats, cells[3] == "yes")
    return rows


def test_the_readme_table_names_every_command_with_the_formats_and_output_it_has() -> None:
    rows = readme_commands()
    assert set(rows) == set(RESULTS)
    for command, (formats, has_output) in rows.items():
        assert formats == {f.value for f in RESULTS[command].renderers}, command
        help_text = runner.invoke(app, [*command.split()[:1], "-h"], env=ENV).stdout
        assert ("--output" in help_text) is has_output, command


def test_no_published_build_is_a_no_like_every_other_and_exits_1() -> None:
    none = runner.invoke(app, ["compat", "--torch", "9.9"], env=ENV)
    assert none.exit_code == ExitCode.FINDINGS and "no published torch build matches" in none.stdout
    some = runner.invoke(app, ["compat", "--torch", "2.5"], env=ENV)
    assert some.exit_code == ExitCode.OK


@pytest.mark.parametrize(
    "args",
    [
        ["compat", "--torch", "2.5.1", "-f", "json"],
        [
            "recommend",
            "--driver",
            "550.54.15",
            "--gpu",
            "RTX 4090",
            "--python-version",
            "3.12",
            "--platform",
            "linux-x86_64",
            "-f",
            "json",
        ],
    ],
)
def test_compat_and_recommend_write_their_answer_with_o(args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "answer.json"
    result = runner.invoke(app, [*args, "-o", str(out)], env=ENV)
    assert result.exit_code == ExitCode.OK and result.stdout == ""
    assert f'"kind": "{args[0]}"' in out.read_text()


@pytest.mark.parametrize("args", [["bench", "--require", "smoke"], ["check", "--require", "smoke", "--no-smoke"]])
def test_requiring_smoke_where_no_smoke_test_runs_is_a_usage_error(args: list[str]) -> None:
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == ExitCode.USAGE and "--require smoke" in result.output


@pytest.mark.parametrize("args", [["--help"], ["fleet", "--help"], ["explain", "TD004"], ["check", "--list"]])
def test_a_reader_that_went_away_is_exit_4_for_help_and_answers_as_for_reports(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before a byte is written: every write is EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "torchdoctor", *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write)
    assert done.returncode == ExitCode.OUTPUT_FAILED, done.stderr
    assert "the reader went away" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", sorted({c.split()[0] for c in RESULTS}))
def test_help_shows_each_argument_and_default_once_without_type_labels(command: str) -> None:
    text = runner.invoke(app, [command, "-h"], env={**ENV, "COLUMNS": "200"}).stdout
    assert not re.search(r"<[a-z\[\], ]+>", text), text  # <list[str]>, <str>, <float range>
    assert not re.search(r"\{\w", text), text  # {code}
    assert not re.search(r"\[[^\]]+\]\.\s+\[default: ", text), text  # "[15].  [default: 15.0]"
