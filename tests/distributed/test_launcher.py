"""``dist --nproc N`` starts its ranks with the examined environment's interpreter, which must find torchdoctor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from torchdoctor.distributed.launcher import PACKAGE_PARENT, rank_env


def _imports_torchdoctor(python: Path, env: dict[str, str]) -> str:
    """Where ``python`` imports torchdoctor from, run outside the checkout; "" if it cannot."""
    done = subprocess.run(
        [str(python), "-c", "import torchdoctor; print(torchdoctor.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=python.parent,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def test_ranks_in_another_environment_find_torchdoctor_though_both_link_to_one_python(tmp_path: Path) -> None:
    """The README's install: torchdoctor in a venv of its own, torch in another, both made from one python3.

    Both interpreters resolve to the same binary, so the two were taken for one environment: the ranks got no
    way to torchdoctor, died at once, and the report blamed MASTER_PORT (`nc -zv 127.0.0.1 0`).
    """
    other = tmp_path / "train" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.symlink_to(Path(sys.executable).resolve())
    assert other.resolve() == Path(sys.executable).resolve()
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert not _imports_torchdoctor(other, {**clean, "PYTHONNOUSERSITE": "1"}), "the base Python has torchdoctor"
    env = rank_env(str(other), clean)
    assert PACKAGE_PARENT in env["PYTHONPATH"].split(os.pathsep)
    assert Path(_imports_torchdoctor(other, {**env, "PYTHONNOUSERSITE": "1"})).is_relative_to(PACKAGE_PARENT)


def test_the_doctors_own_interpreter_gets_no_extra_path() -> None:
    env = rank_env(sys.executable, {"PYTHONPATH": "/x"})
    assert env["PYTHONPATH"] == "/x" and env["OMP_NUM_THREADS"] == "1"


def test_a_world_of_one_without_torch_says_how_to_run_the_rank_with_the_active_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`torchdoctor dist` from torchdoctor's own venv (no torch) stopped at "needs torch there" with no way on."""
    from typer.testing import CliRunner

    from torchdoctor.cli import app
    from torchdoctor.exitcodes import ExitCode

    train = tmp_path / "train"
    (train / "bin").mkdir(parents=True)
    (train / "bin" / "python").symlink_to(sys.executable)
    for var in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "CONDA_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VIRTUAL_ENV", str(train))
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(app, ["dist"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == ExitCode.COULD_NOT_RUN, result.output
    assert "needs torch there" in result.output
    assert f"`torchdoctor dist --nproc 1` runs the rank with {train / 'bin' / 'python'}" in result.output
