"""`[tool.torchdoctor] timeout` holds for the pytest plugin too, as for `torchdoctor check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchdoctor import pytest_plugin


def test_the_plugin_reads_the_configured_timeouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.torchdoctor]\ntimeout = 7\nnvml-timeout = 3\n")
    monkeypatch.chdir(tmp_path)
    assert pytest_plugin._configured_timeouts() == {"timeout": 7.0, "nvml_timeout": 3.0}


def test_without_a_table_the_defaults_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('tool = "x"\n')
    monkeypatch.chdir(tmp_path)
    assert pytest_plugin._configured_timeouts() == {}
