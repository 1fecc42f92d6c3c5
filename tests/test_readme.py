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
