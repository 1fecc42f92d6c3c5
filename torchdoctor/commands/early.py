"""What a live diagnosis starts before its options are read (see :mod:`torchdoctor.probes.early`).

Imported as the program starts (``torchdoctor.__main__``), before typer: this module and the one below stay
light, and everything the probes need is imported in the starting thread.
"""

from __future__ import annotations

from typing import Any

from torchdoctor.probes.early import EarlyProbes, start_early

LIVE_COMMANDS = frozenset({"check", "report", "smoke", "bench", "recommend"})
"""The commands that gather this machine's facts (``dist`` gathers them in each rank, under its launcher)."""
TOP_LEVEL = frozenset({"--version", "--help", "-h"})
"""The options of the program itself; any other option before a command is check's."""


def default_to_check(argv: list[str]) -> list[str]:
    """``torchdoctor -v`` is ``torchdoctor check -v``: options before any command belong to check."""
    if not argv or argv[0] in TOP_LEVEL or not argv[0].startswith("-"):
        return argv
    return ["check", *argv]


EARLY_DESCRIPTORS = 64
"""Below this many file descriptors (``ulimit -n``) nothing starts early: the probes' pipes and files would take
the descriptors the command line's own imports need. They run after the imports, as each command starts them,
and say what the limit cost them."""


def start_for(argv: list[str]) -> EarlyProbes | None:
    """The early probes when ``argv`` (as the command line routes it) names a live command, or none (bare
    ``torchdoctor`` is ``check``); typer, which reads the rest, parses nothing before this."""
    routed = default_to_check(argv)
    live = not routed or routed[0] in LIVE_COMMANDS
    return start_live_probes() if live and room_for_early() else None


def room_for_early() -> bool:
    """Whether this process may open enough descriptors for the early probes beside its own imports."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return True
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft == resource.RLIM_INFINITY or soft >= EARLY_DESCRIPTORS


def picked(early: EarlyProbes | None, python: str | None) -> Any:
    """The active environment's interpreter as the early probes picked it, unless ``--python`` names another
    (``interpreter.resolve_python`` takes it, so the environment is not asked twice)."""
    return early.active_python() if early is not None and not python else None


def start_live_probes() -> EarlyProbes:
    """The standalone probes: the interpreter's for the active environment, NVML's with pyproject.toml's timeout."""
    return start_early(_start)


def _start(early: EarlyProbes) -> None:
    from torchdoctor.interpreter import active_python
    from torchdoctor.probes import standalone_probes
    from torchdoctor.rules import timeouts
    from torchdoctor.settings import settings

    choice = active_python()
    early.choice = choice
    alone = standalone_probes(choice.path, timeouts.FAST_PROBE, timeouts.NVML)
    for name in ("interpreter", "host", "kernel", "env"):
        early.start(name, *alone[name])
    nvml_timeout = settings().nvml_timeout  # pyproject.toml's, else the default (a broken file is said later)
    early.start("nvml", *standalone_probes(choice.path, timeouts.FAST_PROBE, nvml_timeout)["nvml"])
