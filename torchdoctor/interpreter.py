"""Which interpreter to examine: ``--python`` (checked to be one), else the active environment's."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.rules import timeouts


class PythonChoice:
    """The interpreter to examine, and why that one (said when the obvious one could not be used)."""

    def __init__(self, path: str, note: str = "") -> None:
        self.path = path
        self.note = note


def active_python() -> PythonChoice:
    """The active environment's interpreter (VIRTUAL_ENV, CONDA_PREFIX), else the running one."""
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = os.environ.get(var)
        if not prefix:
            continue
        candidates = (
            [Path(prefix, "Scripts", "python.exe"), Path(prefix, "python.exe")]
            if os.name == "nt"
            else [Path(prefix, "bin", "python")]
        )
        for candidate in candidates:
            if candidate.exists():
                return _checked(var, prefix, str(candidate))
        return PythonChoice(
            sys.executable,
            f"{var}={prefix} has no Python interpreter (a deleted environment?); examining {sys.executable} "
            "instead. Deactivate it, or pass --python.",
        )
    if doctor_only_environment():
        # The doctor's own environment (pipx, `uv tool`, the README's ~/.torchdoctor) is never where the user's
        # torch is: examining it would say "torch is not installed" and offer to install torch into it.
        found = python_on_path(sys.prefix)
        if found:
            return PythonChoice(
                found,
                f"examining {found}, the Python on PATH (torchdoctor runs in an environment of its own, "
                f"{sys.prefix}, which has no torch); activate the environment you train in, or pass --python PATH",
            )
    return PythonChoice(sys.executable)


def doctor_only_environment() -> bool:
    """Is the running interpreter an environment made for torchdoctor alone (not one a user would train in)?

    pipx's and uv's by their folder; any other virtual environment by its contents: torchdoctor without torch.
    """
    if own_tool_environment(sys.prefix):
        return True
    return sys.prefix != sys.base_prefix and importlib.util.find_spec("torch") is None


def python_on_path(outside: str) -> str | None:
    """The first python3 (else python) on PATH that is not inside the folder ``outside``."""
    own = Path(outside).resolve()
    for name in ("python3", "python"):
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            found = shutil.which(name, path=folder) if folder else None
            if found and not Path(found).absolute().parent.resolve().is_relative_to(own):
                return found
    return None


def _checked(var: str, prefix: str, candidate: str) -> PythonChoice:
    """The environment's interpreter if it runs like one; else the running one, saying why (not torch's fault)."""
    why = not_python(candidate, timeouts.INTERPRETER_CHECK)
    if not why:
        return PythonChoice(candidate)
    return PythonChoice(
        sys.executable,
        f"{var}={prefix}: its {candidate} {why}; examining {sys.executable} instead. Deactivate it, or pass --python.",
    )


def own_tool_environment(prefix: str) -> bool:
    """Is this pipx's or uv's private environment for torchdoctor (not one a user would train in)?"""
    path = prefix.replace("\\", "/").rstrip("/")
    return path.endswith(("/venvs/torchdoctor", "/tools/torchdoctor"))


def default_python() -> str:
    return active_python().path


def interpreter_problem(python: str, seconds: float = timeouts.INTERPRETER_CHECK) -> tuple[str, str]:
    """Why ``--python`` cannot be examined: ("" , resolved path) when it can."""
    path = Path(python)
    if not path.exists():
        found = shutil.which(python)
        if found is None:
            return f"--python {python}: no such interpreter", ""
        path = Path(found)
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe", path / "python.exe"):
            if candidate.is_file():
                return "", str(candidate)
        return f"--python {python} is a folder, not an interpreter (for a virtual environment, give its bin/python)", ""
    if not os.access(path, os.X_OK):
        return f"--python {python}: not executable", ""
    return answers_as_python(python, str(path), seconds), str(path)


def answers_as_python(given: str, path: str, seconds: float) -> str:
    """ "" if ``path`` runs ``-c`` like a Python interpreter, else why not (it is pasted by a person)."""
    why = not_python(path, seconds)
    if why.startswith("cannot run it"):
        return f"--python {given}: {why}"
    return f"--python {given} {why}" if why else ""


def not_python(path: str, seconds: float) -> str:
    """ "" if ``path`` runs ``-c`` like a Python interpreter, else why not, as a phrase after its name."""
    from torchdoctor.probes.subproc import run_command

    said = "torchdoctor-python-ok"
    result = run_command([path, "-c", f"print('{said}')"], seconds)
    if result.start_error:
        return f"cannot run it ({result.start_error})"
    if result.timed_out:
        return f"did not answer within {seconds:g} s (is it a Python interpreter?)"
    if said not in result.stdout:
        return "is not a Python interpreter (it did not run `-c`)"
    return ""


def resolve_python(python: str | None, timeout: float, active: PythonChoice | None = None) -> str:
    """The interpreter to examine: --python (checked), else the active environment's (said when it is not).

    ``active``: the active environment's interpreter, when it was already picked (by the early probes).
    """
    if python:
        problem, target = interpreter_problem(python, min(timeouts.INTERPRETER_CHECK, timeout))
        if problem:
            raise Stop(problem, ExitCode.USAGE)
        return target
    choice = active or active_python()
    if choice.note:
        from torchdoctor.output import say

        say(f"torchdoctor: {choice.note}")
    return choice.path
