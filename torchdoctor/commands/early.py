"""What a live diagnosis starts before its options are read (see :mod:`torchdoctor.probes.early`).

Imported by the command line as soon as it knows the command: this module and the one below stay light, and
everything they need is imported in the starting thread.
"""

from __future__ import annotations

from torchdoctor.probes.early import EarlyProbes, start_early

LIVE_COMMANDS = frozenset({"check", "report", "smoke"})
"""The commands that probe this machine at once (``bench`` and ``dist`` start their own children first)."""


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
