"""Load the compatibility tables in ``compat/*.toml`` and answer questions from them.

The tables are data (with a source on every row); this module holds the rules that read them:
PEP 440 ranges, CUDA minor-version compatibility, and SASS/PTX binary compatibility.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.rules.versions import base_version, series

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64")
CUDA_PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64")
FILES = ("releases", "drivers", "arches", "companions", "gpus")


class CompatDataError(ValueError):
    """A table that breaks its schema."""


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

    def gpu(self, query: str) -> tuple[int, str] | None:
        """Capability and display name from "RTX 5090", "sm_120", "12.0" or "120"."""
        q = query.strip()
        sm = re.fullmatch(r"(?:sm_?|compute_?)?(\d{2,3})", q, re.I)
        if sm:
            return int(sm.group(1)), f"sm_{sm.group(1)}"
        dotted = re.fullmatch(r"(\d{1,2})\.(\d)", q)
        if dotted:
            return int(dotted.group(1)) * 10 + int(dotted.group(2)), f"compute capability {q}"
        wanted = normalize_gpu(q)
        best: tuple[int, GpuModel, str] | None = None
        for model in self.gpus:
            for name in model.names:
                n = normalize_gpu(name)
                hit = n and (n == wanted or re.search(rf"(^|\s){re.escape(n)}($|\s)", wanted))
                if hit and (best is None or len(n) > best[0]):
                    best = (len(n), model, name)
        if best is None:
            return None
        return cc_int(best[1].capability), best[2]


def normalize_gpu(name: str) -> str:
    n = name.lower().replace("nvidia", " ").replace("geforce", " ").replace("tesla", " ")
    n = re.sub(r"[^a-z0-9.]+", " ", n)
    return " ".join(n.split())


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


def _by_minor(value: Any, where: str, key: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A table of Python minor -> list of strings ({ "3.11" = ["linux-x86_64"] })."""
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()
    ):
        raise CompatDataError(f"{where}: {key} must map a Python minor to a list of strings")
    return tuple((str(k), tuple(v)) for k, v in sorted(value.items()))


def _need(row: dict[str, Any], key: str, where: str) -> Any:
    if key not in row:
        raise CompatDataError(f"{where}: missing '{key}'")
    return row[key]


def load_raw(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    directory = directory or data_dir()
    out = {}
    for name in FILES:
        path = directory / f"{name}.toml"
        try:
            out[name] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CompatDataError(f"{path}: {exc}") from exc
    return out


def parse(raw: dict[str, dict[str, Any]]) -> Tables:
    rel = raw["releases"]
    releases = []
    for i, row in enumerate(rel.get("release", [])):
        where = f"releases.toml release[{i}]"
        releases.append(
            Release(
                torch=str(_need(row, "torch", where)),
                patches=tuple(_need(row, "patches", where)),
                date=str(_need(row, "date", where)),
                python=_spec(_need(row, "python", where), where),
                python_range=str(row["python"]),
                python_experimental=tuple(row.get("python_experimental", ())),
                free_threaded=tuple(row.get("free_threaded", ())),
                cuda={k: tuple(v) for k, v in _need(row, "cuda", where).items()},
                rocm=tuple(row.get("rocm", ())),
                pypi=dict(_need(row, "pypi", where)),
                glibc=str(_need(row, "glibc", where)),
                macos_x86_64=bool(_need(row, "macos_x86_64", where)),
                mps_min_macos=str(row.get("mps_min_macos", "")),
                macos_arm64_min=str(row.get("macos_arm64_min", "")),
                python_only_on=_by_minor(row.get("python_only_on", {}), where, "python_only_on"),
                free_threaded_patches=_by_minor(row.get("free_threaded_patches", {}), where, "free_threaded_patches"),
                cudnn=str(row.get("cudnn", "")),
                nccl=str(row.get("nccl", "")),
                source=str(_need(row, "source", where)),
                confidence=str(_need(row, "confidence", where)),
            )
        )
    builds = []
    for i, row in enumerate(raw["arches"].get("build", [])):
        where = f"arches.toml build[{i}]"
        builds.append(
            Build(
                torch=_spec(_need(row, "torch", where), where),
                variants=tuple(_need(row, "variants", where)),
                platforms=tuple(_need(row, "platforms", where)),
                sm=tuple(int(x) for x in _need(row, "sm", where)),
                ptx=bool(_need(row, "ptx", where)),
                source=str(_need(row, "source", where)),
                confidence=str(_need(row, "confidence", where)),
            )
        )
    sass = tuple(
        SassRule(
            int(r["code"]),
            tuple(r.get("exclude", ())),
            tuple(r.get("only", ())),
            str(r.get("exclude_below_cuda", "")),
        )
        for r in raw["arches"].get("sass", [])
    )
    drv = raw["drivers"]
    floors = tuple(
        DriverFloor(str(r["cuda"]), bool(r["mvc"]), str(r["linux"]), str(r["windows"]), str(r["source"]))
        for r in drv.get("major", [])
    )
    toolkits = tuple(
        Toolkit(str(r["cuda"]), str(r["linux"]), str(r["windows"]), str(r["source"])) for r in drv.get("toolkit", [])
    )
    companions = []
    for package in ("torchvision", "torchaudio"):
        for i, row in enumerate(raw["companions"].get(package, [])):
            where = f"companions.toml {package}[{i}]"
            companions.append(
                Companion(
                    package,
                    str(_need(row, "version", where)),
                    _spec(_need(row, "torch", where), where),
                    str(_need(row, "source", where)),
                    str(_need(row, "confidence", where)),
                    str(row.get("released_with", "")),
                    _spec(row["python"], where) if "python" in row else None,
                )
            )
    gpus = tuple(
        GpuModel(
            str(r["capability"]),
            str(r["architecture"]),
            tuple(r["names"]),
            str(r["source"]),
            str(r.get("min_cuda", "")),
            str(r.get("min_cuda_confidence", "")),
        )
        for r in raw["gpus"].get("gpu", [])
    )
    return Tables(
        as_of=str(_need(rel, "as_of", "releases.toml")),
        releases=tuple(sorted(releases, key=lambda r: Version(r.torch))),
        builds=tuple(builds),
        sass=sass,
        floors=floors,
        toolkits=toolkits,
        companions=tuple(companions),
        gpus=gpus,
        numpy2_since=str(_need(rel, "numpy2_since", "releases.toml")),
        macos_arm64_since=str(_need(rel, "macos_arm64_since", "releases.toml")),
    )


@functools.cache
def load_tables() -> Tables:
    return parse(load_raw())
