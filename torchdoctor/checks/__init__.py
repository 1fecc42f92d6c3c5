"""The check catalogue. Importing this package registers every check."""

from __future__ import annotations

from torchdoctor.checks import compat, driver, gpu_health, packages, platform, smoke, torch_install, visibility
from torchdoctor.checks.base import REGISTRY, Check, run_checks

del compat, driver, gpu_health, packages, platform, smoke, torch_install, visibility


def all_checks() -> tuple[Check, ...]:
    return tuple(sorted(REGISTRY.values(), key=lambda c: c.code))


def find(token: str) -> Check | None:
    token = token.strip().lower()
    return next((c for c in REGISTRY.values() if token in (c.code.lower(), c.slug)), None)


__all__ = ["Check", "all_checks", "find", "run_checks"]
