"""The README opens with the two commands and CI runs them as written; every recipe installs something that
exists (a wheel built from this checkout, until torchdoctor is on PyPI), and that wheel installs and runs."""

from __future__ import annotations

import json
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def between(text: str, start: str, end: str = "# --- end ---") -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def opening_commands() -> tuple[str, str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    install_and_check, install_and_test = (block.strip() for block in blocks[:2])
    return install_and_check, install_and_test


def test_ci_runs_the_readmes_test_command_as_written() -> None:
    _, install_and_test = opening_commands()
    assert install_and_test in between(CI, "# --- the README's test command").splitlines()
    assert "pytest" in install_and_test and "torch==" not in install_and_test  # pins live in pyproject's [test]


def test_the_first_command_needs_only_python3_and_ci_runs_it() -> None:
    install_and_check, _ = opening_commands()
    assert install_and_check.startswith("python3 -m venv ") and install_and_check.endswith("torchdoctor check")
    assert "pipx" not in install_and_check and "uv " not in install_and_check
    assert install_and_check in between(CI, "# --- the README's first command")
    assert "pipx ensurepath" in README and "uv tool update-shell" in README, "the alternatives say their extra step"


def test_no_recipe_installs_torchdoctor_from_an_index_it_is_not_on() -> None:
    for text in (README, CI):
        assert not re.search(r"(pipx|uv tool|pip) install (-\S+ )*torchdoctor\b(?![-\w])", text)
    assert README.count("./wheels/torchdoctor-*-py3-none-any.whl") == 2  # GitHub Actions and GitLab
    assert "/reports/wheels/torchdoctor-*-py3-none-any.whl" in README  # Kubernetes


def test_the_slurm_recipe_survives_a_broken_node() -> None:
    (srun,) = [line for line in README.splitlines() if "srun --ntasks-per-node=1 torchdoctor check" in line]
    assert "--fail-on never" in srun


def test_publishing_is_one_step() -> None:
    publishing = between(CI, "# --- publishing")
    assert "-m build" in publishing and "twine check --strict" in publishing
    assert 'torchdoctor" --version' in publishing.replace("/bin/torchdoctor", "torchdoctor")
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "id-token: write" in release and "pypa/gh-action-pypi-publish@release/v1" in release
    assert "python -m build" in release and "twine check --strict" in release
    test_extra = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]", 1)[1]
    assert '"build' in test_extra and '"twine' in test_extra


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once from a copy of this checkout (the source tree gets no build/ or egg-info)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src)
    for name in ("torchdoctor", "compat"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)]
    proc = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = out.glob("torchdoctor-*-py3-none-any.whl")
    return built


def test_the_wheel_passes_twine_check(wheel: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_wheel_installs_into_a_fresh_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    """The recipes' install line: the wheel into a fresh venv (its dependencies from this one, offline), then run."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True, timeout=300)
    (own,) = [
        Path(p)
        for p in subprocess.check_output(
            [str(python), "-c", "import site; print(site.getsitepackages()[0])"], text=True
        ).split()
    ]
    (own / "deps-from-the-test-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    where = subprocess.check_output(
        [str(python), "-c", "import torchdoctor; print(torchdoctor.__file__)"], text=True, cwd=tmp_path
    )
    assert Path(where.strip()).is_relative_to(own), "torchdoctor comes from the wheel, not this checkout"
    version = subprocess.run(
        [str(venv / "bin" / "torchdoctor"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and "0." in version.stdout, version.stderr
    check = [str(venv / "bin" / "torchdoctor"), "check", "--quick", "-f", "json", "--fail-on", "never"]
    proc = subprocess.run(check, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["kind"] == "check"


def test_the_wheel_holds_every_package_of_the_source(wheel: Path) -> None:
    """pyproject lists the packages by hand: a new one missing there is missing from every install."""
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for init in sorted((ROOT / "torchdoctor").rglob("__init__.py")):
        assert init.relative_to(ROOT).as_posix() in names, f"{init.parent.name} is not in the wheel"
    assert "torchdoctor/compat_data/releases.toml" in names and "torchdoctor/render/dist.schema.json" in names


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
