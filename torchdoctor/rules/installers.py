"""Every fix command in the installer of the environment it is printed for.

The checks say what to install or remove as pip arguments (``install --force-reinstall torch==2.13.0
--index-url URL``); this module says it the way the examined environment is managed:

- a ``python -m venv`` venv, a plain interpreter, a conda env: ``<its python> -m pip ...`` (pip inside the env);
- a ``uv venv`` without pip: ``uv pip install --python <its python> ...``
  (https://docs.astral.sh/uv/pip/environments/);
- a uv project: ``uv add --project DIR --index NAME=URL ...``, which writes ``[[tool.uv.index]]`` and
  ``[tool.uv.sources]`` so that the next ``uv sync`` keeps it (https://docs.astral.sh/uv/guides/integration/pytorch/);
- a Poetry project: ``poetry source add --priority=explicit`` then ``poetry add --source``
  (https://python-poetry.org/docs/repositories/#package-source-constraint);
- an externally managed interpreter (PEP 668, https://peps.python.org/pep-0668/): a venv of its own, never
  ``--break-system-packages``, never ``sudo pip``;
- a conda env whose conda installed torch: the ``conda remove`` that ends the fight, then pip inside the env.

One rule per installer lives here; the checks never spell an installer themselves.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from torchdoctor.model import EnvironmentFacts, Facts, Manager, PythonFacts
from torchdoctor.rules.shell import quote

VENV_HOME = "~/.venvs/torch"
"""Where the PEP 668 recipe makes the environment torch goes into."""

CONDA_FIGHTERS = ("pytorch", "torch", "torchvision", "torchaudio", "cpuonly", "pytorch-cuda", "cudatoolkit")
"""conda's packages that own the files a pip torch writes (pytorch-mutex goes with cpuonly / pytorch-cuda)."""

TORCH_FAMILY = {"torch", "torchvision", "torchaudio"}

LOCKED = {Manager.PIPENV: "pipenv sync", Manager.PDM: "pdm sync", Manager.PIXI: "pixi install"}
"""Project tools whose next sync puts the lock file's packages back: pip inside the env, and this said.
(Hatch keeps no lock file: pip inside its env lasts while the project's requirement allows the version.)"""


@dataclass(frozen=True)
class Install:
    """A command for one environment, and what to say beside it ("" when nothing)."""

    command: str
    note: str = ""


def environment(facts: Facts) -> EnvironmentFacts | None:
    python = facts.python
    if isinstance(python, PythonFacts) and isinstance(python.environment, EnvironmentFacts):
        return python.environment
    return None


def _python(facts: Facts) -> str:
    return facts.python.executable if isinstance(facts.python, PythonFacts) else "python"


def _prefix(facts: Facts) -> str:
    return facts.python.prefix if isinstance(facts.python, PythonFacts) else ""


def pip_line(python: str, args: str) -> str:
    """``<python> -m pip <args>``: pip inside the environment of that interpreter (``args`` already shell words)."""
    return f"{quote(python)} -m pip {args}"


def pip_install(python: str, packages: list[str], url: str, default_index: str) -> str:
    """The plain pip install line for ``packages`` from ``url`` (no ``--index-url`` when it is the default)."""
    tail = "" if not url or url == default_index else f" --index-url {quote(url)}"
    return pip_line(python, f"install {' '.join(quote(p) for p in packages)}{tail}")


@dataclass(frozen=True)
class PipArgs:
    """A pip command line taken apart: the verb, the requirements, the index and the other options."""

    verb: str
    requirements: tuple[str, ...]
    index_url: str
    options: tuple[str, ...]

    @classmethod
    def parse(cls, args: str) -> PipArgs:
        words = shlex.split(args)
        verb, rest = (words[0], words[1:]) if words else ("", [])
        requirements, options, url = [], [], ""
        it = iter(rest)
        for word in it:
            if word in ("--index-url", "-i"):
                url = next(it, "")
            elif word.startswith("-"):
                options.append(word)
            else:
                requirements.append(word)
        return cls(verb, tuple(requirements), url, tuple(options))

    def names(self) -> set[str]:
        return {_name(r) for r in self.requirements}

    def quoted(self) -> str:
        return " ".join(quote(r) for r in self.requirements)


def _name(requirement: str) -> str:
    for stop in "=<>!~;[ ":
        requirement = requirement.split(stop)[0]
    return requirement.lower().replace("_", "-")


def index_name(url: str) -> str:
    """``https://download.pytorch.org/whl/cu126`` -> ``pytorch-cu126``: the name a project gives that index."""
    return "pytorch-" + url.rstrip("/").rsplit("/", 1)[-1]


def command(facts: Facts, args: str) -> Install:
    """``args`` (pip's words: ``install ...``, ``uninstall -y ...``) for the examined environment's installer."""
    env = environment(facts)
    python = _python(facts)
    manager = env.manager if env else Manager.PIP
    parsed = PipArgs.parse(args)
    if manager is Manager.EXTERNALLY_MANAGED and env is not None:
        return _externally_managed(python, args, parsed, env)
    if manager is Manager.UV and env is not None and not env.pip:
        return Install(_uv_pip(python, parsed), "")
    if manager is Manager.UV_PROJECT and env is not None and env.project:
        return _uv_project(env.project, parsed)
    if manager is Manager.POETRY and env is not None and env.project:
        return _poetry(env.project, parsed)
    if manager is Manager.PIPENV and env is not None and env.project:
        return _pipenv(env.project, parsed)
    if manager is Manager.PDM and env is not None and env.project:
        return _pdm(env.project, parsed)
    plain = pip_line(python, args)
    if manager is Manager.CONDA and env is not None:
        return _conda(_prefix(facts), plain, parsed, env)
    if manager in LOCKED and env is not None:
        where = f" in {env.project}" if env.project else ""
        return Install(
            plain,
            f"This environment is {manager.value}'s{where}: the next `{LOCKED[manager]}` puts its lock file's "
            f"versions back; change the requirement there too.",
        )
    return Install(plain, _notebook_note(env, python))


def _uv_pip(python: str, parsed: PipArgs) -> str:
    """uv's pip interface: no prompts (no ``-y``), ``--reinstall`` for pip's force/ignore-installed."""
    options: list[str] = []
    for option in parsed.options:
        if option in ("-y", "--yes"):
            continue
        mapped = "--reinstall" if option in ("--force-reinstall", "--ignore-installed", "-I") else option
        if mapped not in options:
            options.append(mapped)
    index = f" --index-url {quote(parsed.index_url)}" if parsed.index_url else ""
    words = " ".join([*map(quote, options), parsed.quoted()]).strip()
    return f"uv pip {quote(parsed.verb)} --python {quote(python)} {words}{index}"


def _uv_project(project: str, parsed: PipArgs) -> Install:
    where = quote(project)
    if parsed.verb == "uninstall":
        return Install(f"uv remove --project {where} {_names(parsed)}")
    if not parsed.index_url:
        return Install(f"uv add --project {where} {parsed.quoted()}")
    name = index_name(parsed.index_url)
    packages = sorted(parsed.names() & TORCH_FAMILY) or sorted(parsed.names())
    toml = (
        f'[[tool.uv.index]]\nname = "{name}"\nurl = "{parsed.index_url}"\nexplicit = true\n\n[tool.uv.sources]\n'
        + "\n".join(f'{p} = [{{ index = "{name}" }}]' for p in packages)
    )
    return Install(  # uv add keeps a source the project already names (pytorch-cpu): remove it with the requirement
        f"uv remove --project {where} --frozen {_names(parsed)} && "
        f"uv add --project {where} --index {quote(f'{name}={parsed.index_url}')} {_without_local(parsed)}",
        f"This is a uv project ({project}): the command replaces the requirement and records the index in its "
        "pyproject.toml ([[tool.uv.index]] and [tool.uv.sources]), so `uv sync` keeps this build. "
        "By hand, the same is:\n"
        f"{toml}\nthen `uv sync`; `explicit = true` keeps every other package on its usual index.",
    )


def _poetry(project: str, parsed: PipArgs) -> Install:
    where = quote(project)
    if parsed.verb == "uninstall":
        return Install(f"poetry -C {where} remove {_names(parsed)}")
    if not parsed.index_url:
        return Install(f"poetry -C {where} add {parsed.quoted()}")
    name = index_name(parsed.index_url)
    return Install(
        f"poetry -C {where} source add --priority=explicit {quote(name)} {quote(parsed.index_url)} && "
        f"poetry -C {where} add --source {quote(name)} {_without_local(parsed)}",
        f"This is a Poetry project ({project}): the index goes into its pyproject.toml as an explicit source, so "
        "`poetry install` keeps this build.",
    )


def _pipenv(project: str, parsed: PipArgs) -> Install:
    """``pipenv install --index URL``: pipenv adds the URL to the Pipfile's [[source]] and pins the package to it
    (``index = "..."``), so ``pipenv sync`` keeps it. pipenv has no ``-C``: it works in the project's folder."""
    where = f"cd {quote(project)} && "
    if parsed.verb == "uninstall":
        return Install(f"{where}pipenv uninstall {_names(parsed)}")
    index = f" --index {quote(parsed.index_url)}" if parsed.index_url else ""
    return Install(
        f"{where}pipenv install{index} {_without_local(parsed) if index else parsed.quoted()}",
        f"This is a Pipenv project ({project}): the command records the requirement"
        + (" and its index in the Pipfile ([[source]], index = ...)" if index else " in the Pipfile")
        + ", so `pipenv sync` keeps it.",
    )


def _pdm(project: str, parsed: PipArgs) -> Install:
    """``pdm add -p DIR``; PDM has no command that adds a source: the note gives the [[tool.pdm.source]] table
    (``include_packages``: pdm/_types.py RepositoryConfig, PDM 2.29)."""
    where = quote(project)
    if parsed.verb == "uninstall":
        return Install(f"pdm remove -p {where} {_names(parsed)}")
    if not parsed.index_url:
        return Install(f"pdm add -p {where} {parsed.quoted()}")
    name = index_name(parsed.index_url)
    packages = ", ".join(f'"{p}"' for p in sorted(parsed.names() & TORCH_FAMILY) or sorted(parsed.names()))
    return Install(
        f"pdm add -p {where} {_without_local(parsed)}",
        f"This is a PDM project ({project}): first add the index to its pyproject.toml, so that `pdm add` and "
        f'`pdm sync` take these packages from it:\n[[tool.pdm.source]]\nname = "{name}"\n'
        f'url = "{parsed.index_url}"\ninclude_packages = [{packages}]\n'
        f"then run the command; without the table PDM resolves {packages} from PyPI.",
    )


def _names(parsed: PipArgs) -> str:
    return " ".join(quote(n) for n in sorted(parsed.names()))


def _without_local(parsed: PipArgs) -> str:
    """The requirements without a local tag (``torch==2.13.0``): the index a project names picks the build."""
    return " ".join(quote(r.split("+")[0]) for r in parsed.requirements)


def _externally_managed(python: str, args: str, parsed: PipArgs, env: EnvironmentFacts) -> Install:
    marker = env.evidence[0] if env.evidence else "EXTERNALLY-MANAGED"
    why = (
        f"{python} is managed by the operating system ({marker}, PEP 668): pip refuses to change it, and "
        "forcing pip past that marker (or running it as root) can break the OS's own tools."
    )
    if parsed.verb != "install":
        return Install("", why + " Leave its packages to the OS package manager; install torch into a venv.")
    venv = f"{quote(python)} -m venv {VENV_HOME}"
    if not env.ensurepip:  # Debian and Ubuntu split ensurepip out: `python3 -m venv` says which package to add
        why += " This Python lacks ensurepip: install your OS's python3-venv package first."
    return Install(
        f"{venv} && {VENV_HOME}/bin/python -m pip {args}",
        why + f" Install into a virtual environment of its own ({VENV_HOME}) and run {VENV_HOME}/bin/python.",
    )


def _conda(prefix: str, plain: str, parsed: PipArgs, env: EnvironmentFacts) -> Install:
    fighters = sorted({p.name for p in env.conda_packages if p.name in CONDA_FIGHTERS})
    if parsed.verb != "install" or not parsed.names() & TORCH_FAMILY or not fighters:
        return Install(plain)
    records = ", ".join(f"{p.name} {p.version} ({p.build})" for p in env.conda_packages if p.name in fighters)
    return Install(
        f"conda remove -y -p {quote(prefix)} --force {' '.join(map(quote, fighters))} && {plain}",
        f"conda installed {records} in this env: conda and pip would each think they own torch's files, so "
        "the command removes conda's copy first (mamba/micromamba: the same `remove` arguments), then installs "
        "with pip inside the env.",
    )


def _notebook_note(env: EnvironmentFacts | None, python: str) -> str:
    if env is None or not env.notebook or not env.path_python or env.path_python == python:
        return ""
    return (
        f"From a notebook, `!pip` runs the pip of {env.path_python} (the python3 on PATH), not this kernel's "
        f"{python}: run the command as printed, or `%pip install` in a cell."
    )


def chain(*commands: str) -> str:
    """Commands joined with ``&&``, leaving out the empty ones."""
    return " && ".join(c for c in commands if c)
