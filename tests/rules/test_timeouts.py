"""The table of default timeouts: each documented, positive, and the one source of every default."""

from __future__ import annotations

import ast
import inspect

import pytest
from typer.testing import CliRunner

from torchdoctor.cli import app
from torchdoctor.probes import ProbeOptions
from torchdoctor.probes.environment import probe_nvcc
from torchdoctor.probes.nvml import FIELD_TIMEOUT, probe_nvml_here
from torchdoctor.rules import timeouts
from torchdoctor.settings import Settings
from torchdoctor.smoke.runner import SmokeOptions

ENV = {"NO_COLOR": "1", "COLUMNS": "200", "CI": "1"}


def constants() -> dict[str, str]:
    """Each UPPER_CASE name in the table and the docstring that follows it ("" when it has none)."""
    body = ast.parse(inspect.getsource(timeouts)).body
    found: dict[str, str] = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper():
            doc = after.value.value if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) else ""
            found[node.targets[0].id] = str(doc)
    return found


def test_every_timeout_is_positive_seconds_with_a_docstring() -> None:
    table = constants()
    assert len(table) >= 15
    for name, doc in table.items():
        seconds = getattr(timeouts, name)
        assert isinstance(seconds, float) and seconds > 0, name
        assert doc.strip(), f"{name} has no docstring"


def test_the_defaults_are_the_ones_the_tool_has_always_had() -> None:
    assert (timeouts.IMPORT_TORCH, timeouts.NVML, timeouts.SMOKE_PER_DEVICE) == (90, 20, 120)
    assert (timeouts.DIST_RENDEZVOUS, timeouts.DIST_COLLECTIVE, timeouts.DIST_RUN) == (60, 60, 600)
    assert (timeouts.NVML_INIT, timeouts.NVML_FIELD, timeouts.NVCC, timeouts.SIDECHANNEL_CONNECT) == (15, 5, 10, 3)


def test_options_take_their_defaults_from_the_table() -> None:
    probe = ProbeOptions()
    assert (probe.timeout, probe.fast_timeout, probe.nvml_timeout, probe.guard_seconds) == (
        timeouts.IMPORT_TORCH,
        timeouts.FAST_PROBE,
        timeouts.NVML,
        timeouts.PROBE_GUARD,
    )
    assert SmokeOptions().timeout == timeouts.SMOKE_PER_DEVICE
    assert Settings.nvml_timeout == timeouts.NVML
    assert FIELD_TIMEOUT == timeouts.NVML_FIELD
    assert inspect.signature(probe_nvml_here).parameters["init_timeout"].default == timeouts.NVML_INIT
    assert inspect.signature(probe_nvcc).parameters["timeout"].default == timeouts.NVCC


@pytest.mark.parametrize("seconds", [90.0, 0.5, 120.0, 600.0])
def test_shown_is_how_help_prints_a_default(seconds: float) -> None:
    assert timeouts.shown(seconds) == {90.0: "[90]", 0.5: "[0.5]", 120.0: "[120]", 600.0: "[600]"}[seconds]


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("check", ("`import torch` may take [90].", "read the driver [20].", "smoke tests [120].")),
        ("dist", ("whole run [600].", "every rank to join [60].", "per collective [60].")),
    ],
)
def test_help_shows_the_tables_defaults(command: str, said: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for words in said:
        assert words in text, (words, text)
