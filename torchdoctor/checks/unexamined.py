"""Facts the doctor failed to gather for a reason of its own: the machine was not examined, say so."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.model import EnvFacts, Facts, Severity, Source, Unavailable
from torchdoctor.rules import limits

SOURCES = {
    "torch": Source.TORCH,
    "python": Source.PYTHON,
    "packages": Source.METADATA,
    "nvml": Source.NVML,
    "smi": Source.SMI,
    "host": Source.PLATFORM,
    "kernel": Source.PROCFS,
    "env": Source.ENV,
    "loader": Source.PLATFORM,
    "smoke": Source.SMOKE,
}
"""The facts of a report, each with where it would have come from."""


def own_failures(facts: Facts) -> list[tuple[str, Unavailable]]:
    """Each fact the doctor could not gather for a reason of its own (a limit it hit, a probe that raised)."""
    found = [(name, getattr(facts, name)) for name in SOURCES if limits.own_failure(getattr(facts, name))]
    if isinstance(facts.env, EnvFacts) and limits.own_failure(facts.env.nvcc):
        found.append(("nvcc", facts.env.nvcc))
    return found


@check(
    "TD035",
    "could-not-examine",
    "torchdoctor could not examine part of this machine",
    Severity.ERROR,
    Area.PLATFORM,
    "A probe failed for a reason of the doctor's own, not of this environment: it ran out of processes or "
    "threads (ulimit -u), file descriptors (ulimit -n) or memory, or a probe raised. Those facts are missing, so "
    "the checks that need them could not judge, and a report with no findings would be a false all-clear.",
)
def could_not_examine(facts: Facts) -> Iterator[Fire]:
    failed = own_failures(facts)
    if not failed:
        return
    evidence = tuple(ev(SOURCES.get(name, Source.ENV), f"{name} (not examined)", why.reason) for name, why in failed)
    hit_limit = any(why.code == limits.LIMIT for _, why in failed)
    yield Fire(
        evidence,
        "Run torchdoctor again where it can start its processes and open its files (raise `ulimit -n` and "
        "`ulimit -u`, or run it outside the limited job)."
        if hit_limit
        else "This is a bug in torchdoctor or an environment it did not foresee: please report it with this "
        "report (`torchdoctor check -f json`), and run it again.",
    )
