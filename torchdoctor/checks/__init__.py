"""The check catalogue. Importing this package registers every check."""

from __future__ import annotations

from collections.abc import Iterable

from torchdoctor.checks import (
    compat,
    cuda_libraries,
    driver,
    gpu_health,
    other_loaders,
    packages,
    platform,
    smoke,
    torch_install,
    unexamined,
    visibility,
)
from torchdoctor.checks.base import REGISTRY, Check, match, run_checks

del (
    compat,
    cuda_libraries,
    driver,
    gpu_health,
    other_loaders,
    packages,
    platform,
    smoke,
    torch_install,
    unexamined,
    visibility,
)


def all_checks() -> tuple[Check, ...]:
    return tuple(sorted(REGISTRY.values(), key=lambda c: c.code))


def every_check() -> list[Check]:
    """Every check with a fixed code: `check`'s catalogue, the requirements, then `bench`'s and `dist`'s."""
    from torchdoctor.bench.checks import all_bench_checks
    from torchdoctor.checks.requirements import catalogue as requirements
    from torchdoctor.distributed.checks import all_dist_checks

    return [*all_checks(), *requirements(), *all_bench_checks(), *all_dist_checks()]


def unknown_codes(tokens: Iterable[str]) -> list[str]:
    """The tokens (codes or slugs, as --ignore takes them) that name no check, each with a near name if any."""
    import difflib

    checks = every_check()
    names = [n.lower() for c in checks for n in (c.slug, c.code)]
    out = []
    for token in tokens:
        if find(token, checks) is None:
            near = difflib.get_close_matches(token.strip().lower(), names, n=1, cutoff=0.6)
            out.append(f"{token} (did you mean {near[0]}?)" if near else token)
    return out


def find(token: str, checks: Iterable[Check] | None = None) -> Check | None:
    """The check a code (TD004) or slug (cuda-unavailable) names, among ``checks`` (default: the catalogue)."""
    return next((c for c in (REGISTRY.values() if checks is None else checks) if match(token, c)), None)


__all__ = ["Check", "all_checks", "every_check", "find", "run_checks", "unknown_codes"]
