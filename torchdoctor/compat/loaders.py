"""What compat/loaders.toml knows about the loaders besides Linux's ld.so: which ROCm gfx targets run with
``HSA_OVERRIDE_GFX_VERSION`` (and which do not), who provides the DLLs torch's Windows DLLs import, Windows
releases that miss one, Linux wheels that link a library they do not ship, and where NVIDIA's Jetson wheels are.
Data only; the rules are in ``torchdoctor/checks/other_loaders.py`` and ``torchdoctor/checks/loader.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.compat import schema
from torchdoctor.rules.versions import base_version


@dataclass(frozen=True)
class Override:
    value: str
    works: bool
    source: str


@dataclass(frozen=True)
class BrokenWindows:
    torch: str
    dll: str
    needed_by: str
    fixed_in: str
    source: str


@dataclass(frozen=True)
class BrokenLinux:
    torch: str
    library: str
    fixed_in: str
    """The first fixed release, or "" where the source names none (a rebuilt wheel)."""
    source: str


@dataclass(frozen=True)
class LoaderKnowledge:
    overrides: dict[str, Override]
    """gfx target -> the override a source confirms for it (works or not)."""
    providers: dict[str, str]
    """DLL name (lower case) -> who provides it: "vc-redist" or "vs-openmp"."""
    broken_windows: tuple[BrokenWindows, ...]
    jetson_index: str
    jetson_guide: str
    jetson_source: str
    broken_linux: tuple[BrokenLinux, ...] = ()

    def override(self, gfx: str) -> Override | None:
        return self.overrides.get(gfx.split(":")[0].lower())

    def provider(self, dll: str) -> str:
        return self.providers.get(dll.lower(), "")

    def broken_release(self, torch: str, dll: str) -> BrokenWindows | None:
        """The known-broken Windows release ``torch`` is, when it misses ``dll`` (None otherwise)."""
        return _broken(self.broken_windows, base_version(torch), lambda row: row.dll.lower() == dll.lower())

    def broken_linux_wheel(self, torch: str, library: str) -> BrokenLinux | None:
        """The known-broken Linux wheel ``torch`` is, when it links ``library`` without shipping it (None otherwise)."""
        return _broken(self.broken_linux, torch.split("+")[0], lambda row: row.library == library)  # .postN kept


Row = TypeVar("Row", BrokenWindows, BrokenLinux)


def _broken(rows: tuple[Row, ...], torch: str, names: Callable[[Row], bool]) -> Row | None:
    """The first row for this library whose torch range holds the version ``torch``."""
    try:
        version = Version(torch)
    except InvalidVersion:
        return None
    for row in rows:
        try:
            if names(row) and version in SpecifierSet(row.torch):
                return row
        except InvalidSpecifier:
            continue
    return None


def _data_dir() -> Path:
    from importlib import resources

    return Path(str(resources.files("torchdoctor.compat_data")))


def from_directory(directory: Path) -> LoaderKnowledge:
    raw = schema.load(directory, "loaders")
    overrides = {
        gfx: Override(row["value"], row["works"], row["source"]) for row in raw["hsa_override"] for gfx in row["gfx"]
    }
    providers = {dll.lower(): row["provider"] for row in raw["dll_provider"] for dll in row["dlls"]}
    broken = tuple(
        BrokenWindows(r["torch"], r["dll"], r["needed_by"], r["fixed_in"], r["source"]) for r in raw["broken_windows"]
    )
    linux = tuple(
        BrokenLinux(r["torch"], r["library"], r.get("fixed_in", ""), r["source"]) for r in raw.get("broken_linux", [])
    )
    jetson = raw["jetson"]
    return LoaderKnowledge(
        overrides, providers, broken, jetson["index"], jetson["guide"], jetson["source"], broken_linux=linux
    )


@functools.lru_cache(maxsize=1)
def knowledge() -> LoaderKnowledge:
    return from_directory(_data_dir())
