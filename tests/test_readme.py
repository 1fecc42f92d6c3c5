"""The README opens with the two commands, and CI runs the second one as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readmes_test_command_as_written() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    install_and_check, install_and_test = (block.strip() for block in blocks[:2])
    assert install_and_check.endswith("torchdoctor check")
    ci = (ROOT / ".ci" / "run").read_text()
    between = ci.split("# --- the README's test command", 1)[1].split("# --- end ---", 1)[0]
    assert install_and_test in between.splitlines()
    assert "pytest" in install_and_test and "torch==" not in install_and_test  # pins live in pyproject's [test]


def test_the_readmes_sample_output_is_an_80_column_terminal_as_scripts_readme_sample_makes_it() -> None:
    """The sample is pasted from `scripts/readme_sample.py` (a real run on the fake GPU machine, 80 columns)."""
    text = (ROOT / "README.md").read_text()
    sample = text.split("```\n$ torchdoctor\n", 1)[1].split("```", 1)[0]
    lines = sample.splitlines()
    assert lines[0].startswith("torchdoctor ") and lines[-1].startswith("problems found: ")
    assert all(len(line) <= 80 for line in lines if not line.lstrip().startswith("$ ")), "wider than 80 columns"
    assert all(line == line.rstrip() for line in lines)
    commands = [line.strip() for line in lines if line.lstrip().startswith("$ ")]
    assert commands and all("--index-url https://download.pytorch.org/whl/" in c for c in commands)  # one line each
    counts = re.search(r"problems found: (\d+) errors?, (\d+) warnings?, (\d+) notes?", lines[-1])
    assert counts is not None  # the wording the renderer prints today ("1 error", not "1 error(s)")
