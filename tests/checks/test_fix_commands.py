"""Every fix command the catalogue prints is really a command, in the installer of the environment it is for.

The fire case of every check (tests/checks/test_catalogue.py), once as it is and once in each kind of
environment (a uv venv without pip, the OS's PEP 668 python, a conda env that conda's torch lives in, a uv
project, a Poetry project): no placeholder, one line, nvidia-smi options its manual documents, `python -c`
for the examined interpreter, never pip where there is none, never pip past PEP 668.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

import pytest

from tests import factories as f
from tests.checks.test_catalogue import CASES, run_one
from torchdoctor.model import CondaPackage, EnvironmentFacts, Facts, Manager, PythonFacts

SMI_SECTIONS = {
    "MEMORY", "UTILIZATION", "ECC", "TEMPERATURE", "POWER", "CLOCK", "COMPUTE", "PIDS", "PERFORMANCE",
    "SUPPORTED_CLOCKS", "PAGE_RETIREMENT", "ACCOUNTING", "ENCODER_STATS", "SUPPORTED_GPU_TARGET_TEMP", "VOLTAGE",
    "FBC_STATS", "ROW_REMAPPER", "RESET_STATUS", "GSP_FIRMWARE_VERSION",
}  # fmt: skip
"""`nvidia-smi -q -d`'s sections, as nvidia-smi(1) lists them (R550's manual)."""

PLACEHOLDER = re.compile(r"\.\.\.|<[A-Za-z_ -]+>|\bIMAGE\b|\bCOMMAND\b")


def environment(manager: Manager, **kw: object) -> EnvironmentFacts:
    return EnvironmentFacts(manager, ("test",), pip=manager is not Manager.UV, ensurepip=True, **kw)  # type: ignore[arg-type]


CONDA_TORCH = (CondaPackage("pytorch", "2.5.1", "py3.11_cpu_0", "/env/conda-meta/pytorch-2.5.1-py3.11_cpu_0.json"),)
KINDS: dict[str, EnvironmentFacts | None] = {
    "as-is": None,
    "uv-venv": environment(Manager.UV),
    "pep668": environment(Manager.EXTERNALLY_MANAGED),
    "conda": environment(Manager.CONDA, conda_packages=CONDA_TORCH),
    "uv-project": environment(Manager.UV_PROJECT, project="/home/ada/project"),
    "poetry": environment(Manager.POETRY, project="/home/ada/project"),
    "pipenv": environment(Manager.PIPENV, project="/home/ada/project"),
    "pdm": environment(Manager.PDM, project="/home/ada/project"),
}


def in_kind(facts: Facts, kind: str) -> Facts:
    env = KINDS[kind]
    if env is None or not isinstance(facts.python, PythonFacts):
        return facts
    python = facts.python
    if env.manager is Manager.EXTERNALLY_MANAGED:
        python = replace(python, executable="/usr/bin/python3", prefix="/usr", base_prefix="/usr", venv=False)
    return replace(facts, python=replace(python, environment=env))


def commands(slug: str, kind: str) -> tuple[Facts, list[str]]:
    facts = in_kind(CASES[slug][0], kind)
    outcome = run_one(slug, facts)
    return facts, [x.fix_command for x in outcome.findings if x.fix_command]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("slug", sorted(CASES))
def test_fix_commands_are_commands(slug: str, kind: str) -> None:
    facts, printed = commands(slug, kind)
    python = facts.python.executable if isinstance(facts.python, PythonFacts) else "python"
    for command in printed:
        assert "\n" not in command, command
        assert not PLACEHOLDER.search(command), f"a placeholder belongs in the prose: {command}"
        for sections in re.findall(r"nvidia-smi\b[^&|;]*?\s-d\s+(\S+)", command):
            assert set(sections.split(",")) <= SMI_SECTIONS, command
        words = shlex.split(command, comments=True)
        for at, word in enumerate(words):
            if word == "-c" and at and words[at - 1].endswith("python"):
                assert words[at - 1] == python, f"`-c` for another interpreter than {python}: {command}"
        assert "--break-system-packages" not in command and "sudo pip" not in command, command
        if kind == "uv-venv":
            assert " -m pip " not in command, f"no pip in a uv venv: {command}"
        if kind == "pep668" and "pip install" in command:
            assert command.startswith("/usr/bin/python3 -m venv ~/.venvs/torch && ~/.venvs/torch/bin/python"), command
        if kind in ("uv-project", "poetry", "pipenv", "pdm"):
            assert " -m pip " not in command, f"a project's lock file would undo pip: {command}"


def test_the_uv_venv_cpu_torch_gets_uv_pip() -> None:
    """The issue's first case: a GPU box's CPU-only torch in a venv made by `uv venv`."""
    _, printed = commands("torch-cpu-only-build", "uv-venv")
    assert printed and printed[0].startswith("uv pip install --python /home/ada/venv/bin/python --reinstall torch=="), (
        printed
    )


def test_conda_fight_is_named_and_ended() -> None:
    facts = in_kind(CASES["torch-cpu-only-build"][0], "conda")
    (finding,) = run_one("torch-cpu-only-build", facts).findings
    assert finding.fix_command.startswith("conda remove -y -p /home/ada/venv --force pytorch && ")
    assert "pytorch 2.5.1 (py3.11_cpu_0)" in finding.fix


def test_uv_project_prints_the_toml_with_an_explicit_index() -> None:
    facts = in_kind(CASES["torch-cpu-only-build"][0], "uv-project")
    (finding,) = run_one("torch-cpu-only-build", facts).findings
    assert (
        "[[tool.uv.index]]" in finding.fix and "explicit = true" in finding.fix and "[tool.uv.sources]" in finding.fix
    )
    assert "uv sync" in finding.fix


def test_poetry_adds_an_explicit_source() -> None:
    _, printed = commands("torch-cpu-only-build", "poetry")
    assert printed[0].startswith("poetry -C /home/ada/project source add --priority=explicit pytorch-cu"), printed
    assert " && poetry -C /home/ada/project add --source pytorch-cu" in printed[0]


def test_a_quick_python_facts_without_environment_still_speaks_pip() -> None:
    facts = CASES["torch-cpu-only-build"][0]
    assert isinstance(facts.python, PythonFacts)
    _, printed = commands("torch-cpu-only-build", "as-is")
    assert printed[0].startswith(f"{facts.python.executable} -m pip install --force-reinstall torch=="), printed
    assert f.python().environment.__class__.__name__ == "Unavailable"


@pytest.mark.parametrize("given", ["3.12", "/nonexistent/bin/python"])
def test_recommend_checks_its_python_as_check_does(given: str) -> None:
    """`recommend --python 3.12` used to answer for another interpreter and exit 0."""
    from typer.testing import CliRunner

    from torchdoctor.cli import app

    result = CliRunner().invoke(app, ["recommend", "--python", given])
    assert result.exit_code == 2, result.output
    assert "no such interpreter" in result.output


def test_two_torch_dist_infos_in_one_folder_are_named_and_left_as_one() -> None:
    two = f.packages(
        f.dist("torch", "2.5.1", metadata_dir=f"{f.SITE}/torch-2.5.1.dist-info"),
        f.dist("torch", "2.4.0", metadata_dir=f"{f.SITE}/torch-2.4.0.dist-info"),
    )
    (finding,) = run_one("two-installers-one-package", f.facts(packages=two)).findings
    assert [e.value for e in finding.evidence][:2] == [
        f"{f.SITE}/torch-2.5.1.dist-info",
        f"{f.SITE}/torch-2.4.0.dist-info",
    ]
    python = "/home/ada/venv/bin/python"
    assert finding.fix_command == (
        f"{python} -m pip uninstall -y torch && {python} -m pip uninstall -y torch && "
        f"{python} -m pip install --no-deps torch==2.5.1"
    )


HOSTILE = {"space": "/home/ada/my env", "semicolon": "/tmp/x;touch pwned"}
"""Venvs whose paths a shell would split (a space) or run a second command from (``;``)."""


def at_prefix(facts: Facts, prefix: str, kind: str) -> Facts:
    """``facts`` in ``kind``'s environment, its venv (and its project, if any) at ``prefix``."""
    if isinstance(facts.python, PythonFacts):
        facts = replace(facts, python=replace(facts.python, executable=f"{prefix}/bin/python", prefix=prefix))
    facts = in_kind(facts, kind)
    env = KINDS[kind]
    if env is not None and env.project and isinstance(facts.python, PythonFacts):
        facts = replace(facts, python=replace(facts.python, environment=replace(env, project=prefix)))
    return facts


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("where", sorted(HOSTILE))
def test_a_venv_path_is_one_shell_word(where: str, kind: str) -> None:
    """Each printed command, split as a shell splits it, keeps the venv's python, prefix and project whole."""
    prefix = HOSTILE[where]
    whole = 0
    for slug in sorted(CASES):
        for finding in run_one(slug, at_prefix(CASES[slug][0], prefix, kind)).findings:
            words = shlex.split(finding.fix_command, comments=True)
            assert not {"touch", "pwned", "my", "env/bin/python", "env"} & set(words), finding.fix_command
            for word in (w for w in words if prefix in w):
                assert word.startswith(prefix), (word, finding.fix_command)
                whole += 1
    assert whole or kind == "pep668"  # PEP 668's commands name /usr/bin/python3 and ~/.venvs/torch only


def test_the_pip_fix_for_a_venv_with_a_space_is_its_python_quoted() -> None:
    facts = at_prefix(CASES["torch-cpu-only-build"][0], "/home/ada/my env", "as-is")
    (finding,) = run_one("torch-cpu-only-build", facts).findings
    assert finding.fix_command.startswith("'/home/ada/my env/bin/python' -m pip install --force-reinstall torch=="), (
        finding.fix_command
    )
    assert shlex.split(finding.fix_command)[:4] == ["/home/ada/my env/bin/python", "-m", "pip", "install"]


USER_SITE = "/home/ada/.local/lib/python3.11/site-packages"
CONDA_ENV = "/home/ada/miniconda3/envs/train"


def _user_and_env(**python: object) -> Facts:
    """torch 2.3.0 in the user site, torch 2.5.1 in the env; the user site is first on sys.path and imports."""
    site = f"{CONDA_ENV}/lib/python3.11/site-packages"
    packages = f.packages(
        f.dist("torch", "2.3.0", USER_SITE),
        f.dist("torch", "2.5.1", site),
        torch_origin=f"{USER_SITE}/torch/__init__.py",
    )
    kw = {"executable": f"{CONDA_ENV}/bin/python", "prefix": CONDA_ENV, "venv": False, "user_site": USER_SITE}
    python_facts = f.python(**{**kw, "user_site_enabled": True, **python})
    return f.facts(packages=packages, python=python_facts, torch=f.runtime(file=f"{USER_SITE}/torch/__init__.py"))


def test_torch_in_the_user_site_and_the_env_names_both_and_removes_the_user_copy() -> None:
    (finding,) = run_one("duplicate-torch", _user_and_env()).findings
    assert [(e.label, e.value) for e in finding.evidence] == [
        ("torch 2.3.0 (user site)", USER_SITE),
        ("torch 2.5.1 (environment)", f"{CONDA_ENV}/lib/python3.11/site-packages"),
        ("import torch loads", f"{USER_SITE}/torch/__init__.py"),
    ]
    assert "Python imports the user site's (torch 2.3.0)" in finding.fix
    assert shlex.split(finding.fix_command) == [
        f"PYTHONPATH={USER_SITE}", f"{CONDA_ENV}/bin/python", "-m", "pip", "uninstall", "-y", "torch"
    ]  # fmt: skip


def test_a_venv_that_sees_the_user_site_gets_prose_not_a_pip_that_refuses() -> None:
    """pip in a venv will not uninstall outside sys.prefix ("Not uninstalling ..., outside environment")."""
    (finding,) = run_one("duplicate-torch", _user_and_env(venv=True)).findings
    assert not finding.fix_command and "base interpreter" in finding.fix


def test_a_disabled_user_site_is_two_copies_as_before() -> None:
    (finding,) = run_one("duplicate-torch", _user_and_env(user_site_enabled=False)).findings
    assert "repeat until" in finding.fix_command


def test_pipenv_installs_from_the_index_into_the_pipfile() -> None:
    """`pipenv install --index URL` (pipenv install --help: "-i URL, --index URL") adds the URL as a [[source]]."""
    _, printed = commands("torch-cpu-only-build", "pipenv")
    words = shlex.split(printed[0])
    assert words[:6] == ["cd", "/home/ada/project", "&&", "pipenv", "install", "--index"], printed
    assert words[6].startswith("https://download.pytorch.org/whl/cu") and words[7].startswith("torch=="), printed


def test_pdm_adds_with_the_source_table_in_the_note() -> None:
    facts = in_kind(CASES["torch-cpu-only-build"][0], "pdm")
    (finding,) = run_one("torch-cpu-only-build", facts).findings
    assert finding.fix_command.startswith("pdm add -p /home/ada/project torch=="), finding.fix_command
    assert "[[tool.pdm.source]]" in finding.fix and 'include_packages = ["torch"]' in finding.fix
