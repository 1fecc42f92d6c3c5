"""Settings from ``[tool.torchdoctor]`` in pyproject.toml, found from the working directory upward.

    [tool.torchdoctor]
    fail-on = "warning"          # error (default), warning, never
    ignore = ["TD016"]           # codes or slugs
    require = ["cuda", "gpus>=2", "torch>=2.4", "smoke"]
    timeout = 120                # seconds for `import torch`
    smoke-timeout = 300          # seconds per device
    nvml-timeout = 20            # seconds for NVML (then nvidia-smi) to read the driver
    device = "all"               # what the smoke tests run on
    smoke = true                 # false = --no-smoke
    redact = true                # false = --no-redact

Command-line flags override these.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYS = {"fail-on", "ignore", "require", "timeout", "smoke-timeout", "nvml-timeout", "device", "smoke", "redact"}
SECONDS = ("timeout", "smoke-timeout", "nvml-timeout")
MAX_SECONDS = 86400.0


class ConfigError(ValueError):
    """A [tool.torchdoctor] table that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def find_pyproject(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load(start: Path | None = None) -> Config:
    if start is None:
        try:
            start = Path.cwd()
        except OSError:  # the working directory was deleted: there is no project to read
            return Config()
    try:
        path = find_pyproject(start.resolve())
    except OSError:
        return Config()
    if path is None:
        return Config()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML ({exc})") from None
    tools = doc.get("tool", {})
    if not isinstance(tools, dict):  # `tool = "x"`: not a table, so it holds no [tool.torchdoctor] (not ours to judge)
        return Config(path)
    table = tools.get("torchdoctor")
    if table is None:
        return Config(path)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.torchdoctor] must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [tool.torchdoctor]: {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})"
        )
    for key in ("ignore", "require"):
        if key in table and not (isinstance(table[key], list) and all(isinstance(v, str) for v in table[key])):
            raise ConfigError(f"{path}: [tool.torchdoctor] {key} must be a list of strings")
    for key in SECONDS:
        value = table.get(key)
        if key in table and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SECONDS
        ):
            raise ConfigError(
                f"{path}: [tool.torchdoctor] {key} must be a number of seconds above 0 and at most "
                f"{MAX_SECONDS:g}, not {value!r}"
            )
    for key in ("smoke", "redact"):
        if key in table and not isinstance(table[key], bool):
            raise ConfigError(f"{path}: [tool.torchdoctor] {key} must be true or false")
    for key in ("fail-on", "device"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{path}: [tool.torchdoctor] {key} must be a string")
    return Config(path, dict(table))
