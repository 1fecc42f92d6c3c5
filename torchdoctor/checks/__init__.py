"""The check catalogue. Importing this package registers every check."""

from __future__ import annotations

from collections.abc import Iterable

from torchdoctor.checks import compat, driver, gpu_health, packages, platform, smoke, torch_install, visibility
from torchdoctor.checks.base import REGISTRY, Check, match, run_checks

del compat, driver, gpu_health, packages, platform, smoke, torch_install, visibility


def all_checks() -> tuple[Check, ...]:
    return tuple(sorted(REGISTRY.values(), key=lambda c: c.code))


def find(token: str, checks: Iterable[Check] | None = None) -> Check | None:
    """The check a code (TD004) or slug (cuda-unavailable) names, among ``checks`` (default: the catalogue)."""
    return next((c for c in (REGISTRY.values() if checks is None else checks) if match(token, c)), None)


__all__ = ["Check", "all_checks", "find", "run_checks"]
