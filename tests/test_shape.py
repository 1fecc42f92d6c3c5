"""The package's shape holds: no function over 100 lines (a long one is several steps that want names)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LONGEST = 100


def long_functions(root: str = "torchdoctor") -> list[str]:
    found = []
    for path in sorted((REPO / root).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONGEST:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_over_100_lines() -> None:
    assert long_functions() == []


def test_the_rule_sees_a_long_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "torchdoctor"
    package.mkdir()
    (package / "long.py").write_text("def f():\n" + "    x = 1\n" * 120)
    monkeypatch.setattr("tests.test_shape.REPO", tmp_path)
    assert long_functions() == ["torchdoctor/long.py:1 f (121 lines)"]
