"""Load the compatibility tables in ``compat/*.toml`` and answer questions from them.

The tables are data (with a source on every row); this module holds the rules that read them:
PEP 440 ranges, CUDA minor-version compatibility, and SASS/PTX binary compatibility.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.compat import schema
from torchdoctor.compat.schema import CompatDataError as CompatDataError  # raised here, defined with the schema
from torchdoctor.rules.gpus import identify
from torchdoctor.rules.versions import base_version, series

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64")
CUDA_PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64")
FILES = ("releases", "drivers", "arches", "companions", "gpus")


@dataclass(frozen=True)
class Release:
    torch: str
    patches: tuple[str, ...]
    date: str
    python: SpecifierSet
    python_range: str
    """The range as written in the table (SpecifierSet reorders it)."""
    python_experimental: tuple[str, ...]
    free_threaded: tuple[str, ...]
    cuda: dict[str, tuple[str, ...]]
    rocm: tuple[str, ...]
    pypi: dict[str, str]
    glibc: str
    macos_x86_64: bool
    mps_min_macos: str
    cudnn: str
    nccl: str
    source: str
    confidence: str
    macos_arm64_min: str = ""
    """The macOS the Apple-silicon wheels install on ("" when there are none, or it is not recorded)."""
    python_only_on: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(minor, platforms): a Python inside ``python`` whose wheels exist on these platforms only (1.13: 3.11 on
    linux-x86_64)."""
    free_threaded_patches: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(minor, patches): free-threaded wheels that only these patches have (2.12: 3.13t in 2.12.0, not 2.12.1)."""
    macos_arm64_min_by_python: tuple[tuple[str, str], ...] = ()
    """(minor, macOS): a Python whose Apple-silicon wheel is tagged for another macOS than ``macos_arm64_min``
    (2.10: cp314 is macosx_14_0, cp310-cp313 11.0)."""

    def macos_arm64_min_for(self, python: str = "") -> str:
        """The macOS the Apple-silicon wheel for this Python installs on ("" Python: the release's lowest)."""
        minor = ".".join(python.rstrip("t").split(".")[:2])
        return dict(self.macos_arm64_min_by_python).get(minor, self.macos_arm64_min)

    @property
    def latest(self) -> str:
        return max(self.patches, key=Version)

    def python_support(self, python: str, free_threaded: bool = False, platform: str = "", patch: str = "") -> str:
        """How torch of this series supports a Python: "supported", "experimental" or "" (no wheels)."""
        if not self.supports_python(python, free_threaded, platform, patch):
            return ""
        minor = ".".join(python.rstrip("t").split(".")[:2])
        return "experimental" if minor in self.python_experimental else "supported"

    def supports_python(self, python: str, free_threaded: bool = False, platform: str = "", patch: str = "") -> bool:
        """Whether a wheel of this series exists for the Python: on ``platform`` ("" = any) and in ``patch``
        ("" = every patch, as a new install of the series' latest gets)."""
        if python.endswith("t"):  # "3.13t": the free-threaded build
            python, free_threaded = python[:-1], True
        minor = ".".join(python.split(".")[:2])
        if free_threaded:
            if minor in self.free_threaded:
                return True
            only_in = dict(self.free_threaded_patches).get(minor, ())
            return bool(patch) and base_version(patch) in only_in
        try:
            inside = Version(python) in self.python or Version(minor) in self.python
        except InvalidVersion:
            return False
        only_on = dict(self.python_only_on).get(minor)
        return inside and not (platform and only_on is not None and platform not in only_on)


@dataclass(frozen=True)
class Build:
    torch: SpecifierSet
    variants: tuple[str, ...]
    platforms: tuple[str, ...]
    sm: tuple[int, ...]
    ptx: bool
    source: str
    confidence: str


@dataclass(frozen=True)
class SassRule:
    code: int
    exclude: tuple[int, ...]
    only: tuple[int, ...]
    exclude_below_cuda: str = ""
    """The exclusion holds only for builds with a CUDA older than this (Jetson runs SBSA code from 13.2)."""


@dataclass(frozen=True)
class DriverFloor:
    cuda_major: str
    mvc: bool
    linux: str
    windows: str
    source: str


@dataclass(frozen=True)
class Toolkit:
    cuda: str
    linux: str
    windows: str
    source: str


@dataclass(frozen=True)
class Companion:
    package: str
    version: str
    torch: SpecifierSet
    source: str
    confidence: str
    released_with: str = ""
    """For a stable-ABI companion: the torch release it came out with."""
    python: SpecifierSet | None = None
    """Its own Requires-Python, where it excludes more than its torch does (None: not recorded)."""

    def runs_on(self, python: str) -> bool:
        if self.python is None or not python:
            return True
        try:
            return self.python.contains(python.rstrip("t"), prereleases=True)
        except InvalidVersion:
            return True


@dataclass(frozen=True)
class GpuModel:
    capability: str
    architecture: str
    names: tuple[str, ...]
    source: str
    min_cuda: str = ""
    """The first CUDA toolkit that supports the architecture ("" when not recorded)."""
    min_cuda_confidence: str = ""
    pci_device_ids: tuple[str, ...] = ()
    """PCI vendor:device IDs of this family's parts, where cited ("10de:2335")."""


@dataclass(frozen=True)
class GpuDriverNeed:
    """The oldest driver that can drive a GPU at all: the one its first CUDA toolkit shipped with."""

    architecture: str
    cuda: str
    driver: str
    confidence: str

    @property
    def unverified(self) -> str:
        return " (unverified)" if self.confidence == "M" else ""


def cuda_of_variant(variant: str) -> str:
    """ "cu126" -> "12.6", "cu118" -> "11.8", "cu102" -> "10.2"."""
    match = re.fullmatch(r"cu(\d+)(\d)", variant)
    if not match:
        raise ValueError(f"not a CUDA variant: {variant}")
    return f"{match.group(1)}.{match.group(2)}"


def cc_int(capability: str) -> int:
    major, minor = capability.split(".")[:2]
    return int(major) * 10 + int(minor)


def cc_str(cc: int) -> str:
    return f"{cc // 10}.{cc % 10}"


@dataclass(frozen=True)
class Tables:
    as_of: str
    releases: tuple[Release, ...]
    builds: tuple[Build, ...]
    sass: tuple[SassRule, ...]
    floors: tuple[DriverFloor, ...]
    toolkits: tuple[Toolkit, ...]
    companions: tuple[Companion, ...]
    gpus: tuple[GpuModel, ...]
    numpy2_since: str
    macos_arm64_since: str

    # ------------------------------------------------------------------ releases

    def release(self, version: str) -> Release | None:
        key = series(version)
        return next((r for r in self.releases if r.torch == key), None)

    def known_patch(self, version: str) -> bool:
        """Is this exact published release (ignoring the local +cuXYZ tag) in the tables?"""
        release = self.release(version)
        if release is None:
            return False
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        if v.is_prerelease or v.is_devrelease or v.is_postrelease:
            return False
        return v.base_version in release.patches

    def newest(self) -> Release:
        return max(self.releases, key=lambda r: Version(r.torch))

    def mps_min_macos(self, version: str) -> str:
        release = self.release(version)
        return release.mps_min_macos if release else ""

    def platform_has_wheels(self, release: Release, platform: str) -> bool:
        if platform == "macos-x86_64":
            return release.macos_x86_64
        if platform == "macos-arm64":
            return Version(release.torch) >= Version(self.macos_arm64_since)
        return True

    # ------------------------------------------------------------------ drivers

    def floor(self, cuda: str) -> DriverFloor | None:
        major = cuda.split(".")[0]
        return next((f for f in self.floors if f.cuda_major == major), None)

    def toolkit(self, cuda: str) -> Toolkit | None:
        key = ".".join(cuda.split(".")[:2])
        return next((t for t in self.toolkits if t.cuda == key), None)

    def min_driver(self, cuda: str, os_name: str) -> str:
        """The oldest driver that runs a wheel built with this CUDA ("" if unknown)."""
        floor = self.floor(cuda)
        if floor is None:
            return ""
        if floor.mvc:
            return floor.windows if os_name == "windows" else floor.linux
        tk = self.toolkit(cuda)
        return (tk.windows if os_name == "windows" else tk.linux) if tk else ""

    # ------------------------------------------------------------------ architectures

    def build(self, version: str, variant: str, platform: str) -> Build | None:
        key = series(version)
        if not key:
            return None
        for b in self.builds:
            if variant in b.variants and platform in b.platforms and Version(key) in b.torch:
                return b
        return None

    def sass_runs(self, code: int, device: int, cuda: str = "") -> bool:
        """Does SASS for sm_``code`` run on a ``device``, in a build with this ``cuda`` ("" = unknown: strict)?"""
        rule = next((r for r in self.sass if r.code == code), None)
        if rule is not None and rule.only:
            return device in rule.only
        if rule is not None and device in rule.exclude:
            lifted = bool(cuda and rule.exclude_below_cuda) and Version(cuda) >= Version(rule.exclude_below_cuda)
            if not lifted:
                return False
        return device // 10 == code // 10 and device % 10 >= code % 10

    def covers(self, sm: tuple[int, ...], ptx: bool, device: int, cuda: str = "") -> bool:
        if any(self.sass_runs(code, device, cuda) for code in sm):
            return True
        return ptx and bool(sm) and device >= max(sm)

    # ------------------------------------------------------------------ companions

    def companion(self, package: str, version: str) -> Companion | None:
        base = base_version(version)
        return next((c for c in self.companions if c.package == package and c.version == base), None)

    def companion_for(self, package: str, torch_version: str, python: str = "") -> Companion | None:
        """The companion to install beside this torch: the newest that runs with it (and this Python) and had
        been released by then (a later stable-ABI release may run with it too, but the torch's own index may
        not carry it)."""
        v = Version(base_version(torch_version))
        fits = [c for c in self.companions if c.package == package and v in c.torch and c.runs_on(python)]
        released = [c for c in fits if not c.released_with or Version(c.released_with) <= v]
        pool = released or fits
        return max(pool, key=lambda c: Version(c.version)) if pool else None

    # ------------------------------------------------------------------ GPUs

    def gpu_driver_need(self, cc: int, os_name: str) -> GpuDriverNeed | None:
        """The driver a GPU of this compute capability needs before anything can run on it."""
        model = next((g for g in self.gpus if cc_int(g.capability) == cc and g.min_cuda), None)
        if model is None:
            return None
        tk = self.toolkit(model.min_cuda)
        driver = (tk.windows if os_name == "windows" else tk.linux) if tk else ""
        if not driver:
            return None
        return GpuDriverNeed(model.architecture, model.min_cuda, driver, model.min_cuda_confidence)

    def gpu(self, query: str, pci_device_id: str = "") -> tuple[int, str] | None:
        """Capability and display name from "RTX 5090", "sm_120", "12.0" or "120" (and NVML's PCI ID)."""
        q = query.strip()
        sm = re.fullmatch(r"(?:sm_?|compute_?)?(\d{2,3})", q, re.I)
        if sm:
            return int(sm.group(1)), f"sm_{sm.group(1)}"
        dotted = re.fullmatch(r"(\d{1,2})\.(\d)", q)
        if dotted:
            return int(dotted.group(1)) * 10 + int(dotted.group(2)), f"compute capability {q}"
        entries = ((model, model.names, model.pci_device_ids) for model in self.gpus)
        found = identify(q, entries, family=True, pci_device_id=pci_device_id)
        if found is None:
            return None
        model, name = found
        return cc_int(model.capability), name


# ---------------------------------------------------------------------- loading


def data_dir() -> Path:
    """compat/ inside the installed wheel, or the source tree's compat/ when run from a checkout."""
    try:
        from importlib.resources import files

        root = files("torchdoctor.compat_data")
        path = Path(str(root))
        if (path / "releases.toml").is_file():
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "compat"


def _spec(value: Any, where: str) -> SpecifierSet:
    try:
        return SpecifierSet(str(value))
    except InvalidSpecifier as exc:
        raise CompatDataError(f"{where}: bad version range {value!r}") from exc


def _by_minor(value: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A table of Python minor -> list of strings ({ "3.11" = ["linux-x86_64"] })."""
    return tuple((str(k), tuple(v)) for k, v in sorted(value.items()))


def load_raw(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every table as parsed TOML, not yet checked against the schema (``parse`` does that)."""
    directory = directory or data_dir()
    return {name: schema.read(directory, name) for name in FILES}


def parse(raw: dict[str, dict[str, Any]], directory: Path | None = None) -> Tables:
    """The tables, once each file fits its schema (compat/schema.py); errors name the file (under
    ``directory`` when given), the row and the key."""
    label = {name: str(directory / f"{name}.toml") if directory else f"{name}.toml" for name in FILES}
    for name in FILES:
        schema.check(name, raw[name], label[name])
    rel = raw["releases"]
    releases = []
    for i, row in enumerate(rel.get("release", [])):
        where = f"{label['releases']} release[{i}]"
        releases.append(
            Release(
                torch=row["torch"],
                patches=tuple(row["patches"]),
                date=row["date"],
                python=_spec(row["python"], where),
                python_range=row["python"],
                python_experimental=tuple(row.get("python_experimental", ())),
                free_threaded=tuple(row.get("free_threaded", ())),
                cuda={k: tuple(v) for k, v in row["cuda"].items()},
                rocm=tuple(row.get("rocm", ())),
                pypi=dict(row["pypi"]),
                glibc=row["glibc"],
                macos_x86_64=row["macos_x86_64"],
                mps_min_macos=row.get("mps_min_macos", ""),
                macos_arm64_min=row.get("macos_arm64_min", ""),
                python_only_on=_by_minor(row.get("python_only_on", {})),
                free_threaded_patches=_by_minor(row.get("free_threaded_patches", {})),
                macos_arm64_min_by_python=tuple(sorted(row.get("macos_arm64_min_by_python", {}).items())),
                cudnn=row.get("cudnn", ""),
                nccl=row.get("nccl", ""),
                source=row["source"],
                confidence=row["confidence"],
            )
        )
    builds = []
    for i, row in enumerate(raw["arches"].get("build", [])):
        builds.append(
            Build(
                torch=_spec(row["torch"], f"{label['arches']} build[{i}]"),
                variants=tuple(row["variants"]),
                platforms=tuple(row["platforms"]),
                sm=tuple(row["sm"]),
                ptx=row["ptx"],
                source=row["source"],
                confidence=row["confidence"],
            )
        )
    sass = tuple(
        SassRule(r["code"], tuple(r.get("exclude", ())), tuple(r.get("only", ())), r.get("exclude_below_cuda", ""))
        for r in raw["arches"].get("sass", [])
    )
    drv = raw["drivers"]
    floors = tuple(
        DriverFloor(r["cuda"], r["mvc"], r["linux"], r["windows"], r["source"]) for r in drv.get("major", [])
    )
    toolkits = tuple(Toolkit(r["cuda"], r["linux"], r["windows"], r["source"]) for r in drv.get("toolkit", []))
    companions = []
    for package in ("torchvision", "torchaudio"):
        for i, row in enumerate(raw["companions"].get(package, [])):
            where = f"{label['companions']} {package}[{i}]"
            companions.append(
                Companion(
                    package,
                    row["version"],
                    _spec(row["torch"], where),
                    row["source"],
                    row["confidence"],
                    row.get("released_with", ""),
                    _spec(row["python"], where) if "python" in row else None,
                )
            )
    gpus = tuple(
        GpuModel(
            r["capability"],
            r["architecture"],
            tuple(r["names"]),
            r["source"],
            r.get("min_cuda", ""),
            r.get("min_cuda_confidence", ""),
            tuple(r.get("pci_device_ids", ())),
        )
        for r in raw["gpus"].get("gpu", [])
    )
    return Tables(
        as_of=rel["as_of"],
        releases=tuple(sorted(releases, key=lambda r: Version(r.torch))),
        builds=tuple(builds),
        sass=sass,
        floors=floors,
        toolkits=toolkits,
        companions=tuple(companions),
        gpus=gpus,
        numpy2_since=rel["numpy2_since"],
        macos_arm64_since=rel["macos_arm64_since"],
    )


def load_tables_from(directory: Path) -> Tables:
    """The tables in ``directory`` (a copy of compat/), checked against the schema."""
    return parse(load_raw(directory), directory)


@functools.cache
def load_tables() -> Tables:
    return load_tables_from(data_dir())
