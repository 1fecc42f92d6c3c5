"""Every printed fix command runs, unedited, in the environment it was printed for.

For each kind of environment this machine can make (a pip venv, a uv venv without pip, a uv project, the
OS's externally managed python3, a conda-layout env), a GPU machine (the fake libnvidia-ml.so.1, driver
550) examines a CPU-only torch or no torch; every fix command the report prints is run for real against a
local index of stand-in wheels (tests/fakes/wheel_index.py), PyTorch's URL swapped for 127.0.0.1 and nothing
else changed. The command must succeed, and the next `check` must no longer show the finding.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Doctor
from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine
from tests.fakes.wheel_index import WheelIndex

RTX3090 = {"name": "NVIDIA GeForce RTX 3090", "cc": "8.6", "memory": f"{24 * 1024**3} {1024**3}"}
INSTALL_FINDINGS = {"torch-cpu-only-build", "torch-missing"}
UV = shutil.which("uv", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
POETRY = shutil.which("poetry", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WheelIndex]:
    index = WheelIndex(tmp_path_factory.mktemp("wheel-index"))
    index.torch("2.13.0", "cpu")
    yield index
    index.close()


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


class Shell:
    """Runs commands as a person would paste them: bash, a home of its own, no user pip or uv config."""

    def __init__(self, home: Path, wheels: WheelIndex, uv_cache: Path) -> None:
        self.wheels = wheels
        assert UV is not None, "uv is a test dependency (pip install -e '.[test]')"
        self.env = {
            **os.environ,
            "HOME": str(home),
            "PATH": os.pathsep.join([str(Path(UV).parent), os.environ.get("PATH", "")]),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "UV_NO_CONFIG": "1",
            "UV_CACHE_DIR": str(uv_cache),
            "UV_PYTHON_DOWNLOADS": "never",
        }
        for var in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PIP_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX_URL"):
            self.env.pop(var, None)

    def run(self, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, env=self.env, cwd=cwd, timeout=300
        )

    def ok(self, command: str, cwd: Path) -> str:
        done = self.run(command, cwd)
        assert done.returncode == 0, f"$ {command}\n{done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture
def shell(tmp_path: Path, wheels: WheelIndex, uv_cache: Path) -> Shell:
    (tmp_path / "home").mkdir()
    return Shell(tmp_path / "home", wheels, uv_cache)


@pytest.fixture
def gpu_box(doctor: Doctor, nvml_lib: FakeNvmlLibrary, shell: Shell, tmp_path: Path) -> Doctor:
    doctor.real_nvml(nvml_lib, Machine("R550", [RTX3090]))
    doctor.env["HOME"] = shell.env["HOME"]
    return doctor


def examine(doctor: Doctor, python: Path | str, cwd: Path) -> dict[str, Any]:
    proc = doctor.run("check", "--format", "json", "--quick", "--python", str(python), cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def install_fixes(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(slug, command) of every finding that prints a command."""
    return [(f["slug"], f["fix_command"]) for f in report["findings"] if f["fix_command"]]


def run_every_fix(doctor: Doctor, shell: Shell, python: Path | str, cwd: Path) -> tuple[list[str], dict[str, Any]]:
    """Examine, run each printed command for real, return the commands and the report they were printed in."""
    report = examine(doctor, python, cwd)
    fixes = install_fixes(report)
    assert {slug for slug, _ in fixes} & INSTALL_FINDINGS, report["findings"]
    for _, command in fixes:
        assert "--break-system-packages" not in command and "sudo pip" not in command, command
        shell.ok(shell.wheels.serve_printed(command), cwd)
    return [c for _, c in fixes], report


def slugs(report: dict[str, Any]) -> set[str]:
    return {f["slug"] for f in report["findings"]}


def test_pip_venv_at_a_path_with_a_space(gpu_box: Doctor, shell: Shell, tmp_path: Path) -> None:
    venv = tmp_path / "my venv"
    shell.ok(f"{sys.executable} -m venv {shlex.quote(str(venv))}", tmp_path)
    python = venv / "bin" / "python"
    quoted = shlex.quote(str(python))
    shell.ok(f"{quoted} -m pip install -q torch==2.13.0 --index-url {shell.wheels.index('cpu')}", tmp_path)
    commands, _ = run_every_fix(gpu_box, shell, python, tmp_path)
    assert commands[0].startswith(f"{quoted} -m pip install --force-reinstall torch==2.13.0 --index-url "), commands
    assert not slugs(examine(gpu_box, python, tmp_path)) & INSTALL_FINDINGS


def test_uv_venv_without_pip(gpu_box: Doctor, shell: Shell, tmp_path: Path) -> None:
    venv = tmp_path / "uvenv"
    shell.ok(f"uv venv -q --python {sys.executable} {venv}", tmp_path)
    python = venv / "bin" / "python"
    shell.ok(f"uv pip install -q --python {python} torch==2.13.0 --index-url {shell.wheels.index('cpu')}", tmp_path)
    assert shell.run(f"{python} -m pip --version", tmp_path).returncode != 0  # uv's venv: no pip inside
    commands, report = run_every_fix(gpu_box, shell, python, tmp_path)
    assert report["facts"]["python"]["environment"]["manager"] == "uv venv"
    assert commands[0].startswith(f"uv pip install --python {python} --reinstall torch==2.13.0 --index-url "), commands
    assert not slugs(examine(gpu_box, python, tmp_path)) & INSTALL_FINDINGS


UV_PROJECT = """\
[project]
name = "trainer"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["torch==2.13.0"]

[[tool.uv.index]]
name = "pytorch-cpu"
url = "{cpu}"
explicit = true

[tool.uv.sources]
torch = [{{ index = "pytorch-cpu" }}]

[[tool.uv.index]]
url = "{pypi}"
default = true
"""


def test_uv_project_fix_survives_uv_sync(gpu_box: Doctor, shell: Shell, tmp_path: Path) -> None:
    project = tmp_path / "trainer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        UV_PROJECT.format(cpu=shell.wheels.index("cpu"), pypi=shell.wheels.index("pypi"))
    )
    shell.ok(f"uv sync -q --python {sys.executable}", project)
    python = project / ".venv" / "bin" / "python"
    commands, report = run_every_fix(gpu_box, shell, python, project)
    assert report["facts"]["python"]["environment"]["manager"] == "uv project"
    assert commands[0].startswith(f"uv remove --project {project} --frozen torch && uv add --project {project} "), (
        commands
    )
    shell.ok("uv sync -q", project)  # the project's own next sync keeps the fix
    assert not slugs(examine(gpu_box, python, project)) & INSTALL_FINDINGS


POETRY_PROJECT = """\
[project]
name = "trainer"
version = "0.1.0"
requires-python = ">={major_minor},<{next_minor}"
dependencies = ["torch==2.13.0"]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "pypi-local"
url = "{pypi}"
priority = "primary"

[[tool.poetry.source]]
name = "pytorch-cpu"
url = "{cpu}"
priority = "explicit"

[tool.poetry.dependencies]
torch = {{ source = "pytorch-cpu" }}
"""


def test_poetry_project_fix_survives_poetry_install(gpu_box: Doctor, shell: Shell, tmp_path: Path) -> None:
    """A Poetry project whose lock file pins the CPU torch from an explicit source: the printed `poetry source add
    --priority=explicit` and `poetry add --source` (flags as Poetry 2's own --help lists them) run, and the next
    `poetry install` keeps the CUDA build."""
    assert POETRY is not None, "poetry is a test dependency (pip install -e '.[test]')"
    shell.env["PATH"] = f"{Path(POETRY).parent}{os.pathsep}{shell.env['PATH']}"
    shell.env.update(POETRY_VIRTUALENVS_IN_PROJECT="true", POETRY_CACHE_DIR=str(tmp_path / "poetry-cache"))
    project = tmp_path / "trainer"
    project.mkdir()
    version = sys.version_info
    (project / "pyproject.toml").write_text(
        POETRY_PROJECT.format(
            major_minor=f"{version.major}.{version.minor}",
            next_minor=f"{version.major}.{version.minor + 1}",
            pypi=shell.wheels.index("pypi"),
            cpu=shell.wheels.index("cpu"),
        )
    )
    shell.ok(f"poetry env use -q {sys.executable} && poetry install -q", project)
    python = project / ".venv" / "bin" / "python"
    commands, report = run_every_fix(gpu_box, shell, python, project)
    assert report["facts"]["python"]["environment"]["manager"] == "Poetry"
    assert commands[0].startswith(f"poetry -C {project} source add --priority=explicit pytorch-cu"), commands
    shell.ok("poetry install -q", project)  # the project's own next install keeps the fix
    assert not slugs(examine(gpu_box, python, project)) & INSTALL_FINDINGS


def test_externally_managed_system_python_gets_a_venv(gpu_box: Doctor, shell: Shell, tmp_path: Path) -> None:
    if not list(SYSTEM_PYTHON.parent.parent.glob("lib/python3*/EXTERNALLY-MANAGED")):
        pytest.skip(f"{SYSTEM_PYTHON} is not an externally managed (PEP 668) interpreter here")
    commands, report = run_every_fix(gpu_box, shell, SYSTEM_PYTHON, tmp_path)
    assert report["facts"]["python"]["environment"]["manager"] == "externally managed"
    assert commands[0].startswith(f"{SYSTEM_PYTHON} -m venv ~/.venvs/torch && ~/.venvs/torch/bin/python -m pip "), (
        commands
    )
    new = Path(shell.env["HOME"]) / ".venvs" / "torch" / "bin" / "python"
    assert not slugs(examine(gpu_box, new, tmp_path)) & INSTALL_FINDINGS


FAKE_CONDA = """\
#!{python}
# A stand-in for `conda remove -y -p PREFIX --force NAME...`: deletes each package's files and its record, as
# conda does from conda-meta/NAME-VERSION-BUILD.json ("files"); anything else is refused.
import json, os, pathlib, sys
args = sys.argv[1:]
assert args[:2] == ["remove", "-y"] and args[2] == "-p" and args[4] == "--force", args
prefix = pathlib.Path(args[3])
for name in args[5:]:
    records = [r for r in (prefix / "conda-meta").glob("*.json") if r.name[:-5].rsplit("-", 2)[0] == name]
    if not records:
        sys.exit("PackagesNotFoundError: " + name)
    for record in records:
        files = [prefix / f for f in json.loads(record.read_text())["files"]]
        for f in files:
            f.unlink(missing_ok=True)
        for folder in sorted({f.parent for f in files}, key=lambda p: -len(p.parts)):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        record.unlink()
"""


def conda_env(shell: Shell, prefix: Path) -> Path:
    """A conda-layout env: conda-meta/ records for pytorch (cpu) and cpuonly owning torch's files."""
    shell.ok(f"{sys.executable} -m venv {prefix}", prefix.parent)
    python = prefix / "bin" / "python"
    shell.ok(f"{python} -m pip install -q torch==2.13.0 --index-url {shell.wheels.index('cpu')}", prefix.parent)
    (info,) = prefix.glob("lib/python3*/site-packages/torch-*.dist-info")
    (info / "INSTALLER").write_text("conda\n")
    site = info.parent.relative_to(prefix)
    files = [str(site / line.split(",")[0]) for line in (info / "RECORD").read_text().splitlines() if line]
    meta = prefix / "conda-meta"
    meta.mkdir()
    (meta / "pytorch-2.13.0-py3.11_cpu_0.json").write_text(json.dumps({"name": "pytorch", "files": files}))
    (meta / "cpuonly-2.0-0.json").write_text(json.dumps({"name": "cpuonly", "files": []}))
    (meta / "history").write_text("")
    return python


def test_conda_env_removes_condas_torch_then_pip_installs(gpu_box: Doctor, shell: Shell, tmp_path: Path) -> None:
    bin_dir = tmp_path / "condabin"
    bin_dir.mkdir()
    (bin_dir / "conda").write_text(FAKE_CONDA.replace("{python}", sys.executable))
    (bin_dir / "conda").chmod(0o755)
    shell.env["PATH"] = f"{bin_dir}{os.pathsep}{shell.env['PATH']}"
    prefix = tmp_path / "envs" / "train"
    prefix.parent.mkdir()
    python = conda_env(shell, prefix)
    commands, report = run_every_fix(gpu_box, shell, python, tmp_path)
    environment = report["facts"]["python"]["environment"]
    assert environment["manager"] == "conda"
    assert {p["name"] for p in environment["conda_packages"]} == {"pytorch", "cpuonly"}
    assert commands[0].startswith(f"conda remove -y -p {prefix} --force cpuonly pytorch && {python} -m pip "), commands
    assert not list((prefix / "conda-meta").glob("pytorch-*.json"))
    assert not slugs(examine(gpu_box, python, tmp_path)) & INSTALL_FINDINGS
