"""The command line merged over ``[tool.torchdoctor]`` merged over the defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.policy import FailOn
from torchdoctor.rules import timeouts

if TYPE_CHECKING:
    from torchdoctor.checks.base import Check


@dataclass(frozen=True)
class Settings:
    """The options every report command shares, after merging."""

    fail_on: FailOn
    ignore: tuple[str, ...]
    required: tuple[Check, ...]
    timeout: float
    smoke_timeout: float
    device: str
    smoke: bool
    redact: bool
    nvml_timeout: float = timeouts.NVML


def split_codes(values: list[str] | None) -> list[str]:
    """``--ignore a,b --ignore c`` → [a, b, c]."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def settings(
    fail_on: FailOn | None = None,
    ignore: list[str] | None = None,
    require: list[str] | None = None,
    timeout: float | None = None,
    smoke_timeout: float | None = None,
    device: str | None = None,
    smoke: bool | None = None,
    redact: bool | None = None,
    nvml_timeout: float | None = None,
) -> Settings:
    """Each option from the command line, else pyproject.toml's ``[tool.torchdoctor]``, else its default."""
    from torchdoctor.config import ConfigError, load

    try:
        config = load()
    except ConfigError as exc:
        raise Stop(str(exc), ExitCode.USAGE) from None

    def pick(cli: Any, key: str, default: Any) -> Any:
        return cli if cli is not None else config.get(key, default)

    try:
        fail = FailOn(pick(fail_on, "fail-on", "error"))
    except ValueError:
        raise Stop(f"{config.path}: fail-on must be error, warning or never", ExitCode.USAGE) from None
    ignored = tuple(split_codes(pick(ignore, "ignore", [])))
    unknown = unknown_ignored(ignored)
    if unknown:
        where = "--ignore" if ignore is not None else f"{config.path}: ignore"
        raise Stop(
            f"{where}: no check named {', '.join(unknown)}; `torchdoctor check --list` lists them", ExitCode.USAGE
        )
    required = requirements_of(split_codes(pick(require, "require", [])))
    runs_smoke = bool(pick(smoke, "smoke", True))
    if not runs_smoke and any(c.slug == "require-smoke" for c in required):
        raise Stop(
            "--require smoke needs the smoke tests, and this run has none (--no-smoke, smoke = false in "
            "pyproject.toml, or `bench`, which never runs them): use `torchdoctor check` or `torchdoctor smoke`",
            ExitCode.USAGE,
        )
    return Settings(
        fail_on=fail,
        ignore=ignored,
        required=required,
        timeout=float(pick(timeout, "timeout", timeouts.IMPORT_TORCH)),
        smoke_timeout=float(pick(smoke_timeout, "smoke-timeout", timeouts.SMOKE_PER_DEVICE)),
        device=str(pick(device, "device", "all")),
        smoke=runs_smoke,
        redact=bool(pick(redact, "redact", True)),
        nvml_timeout=float(pick(nvml_timeout, "nvml-timeout", timeouts.NVML)),
    )


def unknown_ignored(codes: tuple[str, ...]) -> list[str]:
    """The codes and slugs that name no check (the catalogue is only read when there are some to look up)."""
    if not codes:
        return []
    from torchdoctor.checks import unknown_codes

    return unknown_codes(codes)


def requirements_of(texts: list[str]) -> tuple[Check, ...]:
    """``--require`` as checks; a requirement that cannot be read is a usage error."""
    if not texts:
        return ()
    from torchdoctor.checks.requirements import RequirementError, parse

    try:
        return tuple(parse(r) for r in texts)
    except RequirementError as exc:
        raise Stop(str(exc), ExitCode.USAGE) from None
