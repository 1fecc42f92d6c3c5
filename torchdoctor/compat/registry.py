"""What the package registry states about a release, derived from the recorded snapshot in ``compat/registry/``.

The snapshot (written by ``scripts/compat_registry.py``) lists, per release of torch, torchvision and torchaudio,
every wheel's file name, its ``Requires-Python``, the ``Requires-Dist`` entries that pin CUDA, triton and torch,
and for torch the local version tag its ``torch/version.py`` states. ``derive_release`` and ``derive_companion``
turn that into every field of a table row the registry can state; ``disagreements`` lists where a typed row in
``compat/*.toml`` says otherwise (``tests/compat/test_registry_facts.py`` fails on any).

What the registry cannot state stays typed with its source: driver floors, architecture lists, MPS, and the
PyTorch index's variants (download.pytorch.org, which our build machines cannot reach: a row's
``pytorch_index_only`` names the Pythons it claims from there alone).

Rows stay typed rather than derived when the tables load: ``load_tables()`` is on every check's path and reads
five small TOML files (~68 ms); deriving every release from the snapshot (168 kB of JSON) would add ~86 ms for the
same answers, and a typed row carries its source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

PYPI_PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64")
MARKERS: Mapping[str, Mapping[str, str]] = {
    "linux-x86_64": {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "aarch64"},
    "windows-x86_64": {"platform_system": "Windows", "sys_platform": "win32", "platform_machine": "AMD64"},
    "macos-arm64": {"platform_system": "Darwin", "sys_platform": "darwin", "platform_machine": "arm64"},
    "macos-x86_64": {"platform_system": "Darwin", "sys_platform": "darwin", "platform_machine": "x86_64"},
}
CUDA_RUNTIME = ("cuda-toolkit", "nvidia-cuda-runtime", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime-cu12")
LEGACY_MANYLINUX = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}
"""What the legacy tags promise (PEP 513, 571, 599)."""
_PLATFORM_OF = (
    (re.compile(r"linux.*_x86_64$"), "linux-x86_64"),
    (re.compile(r"linux.*_aarch64$"), "linux-aarch64"),
    (re.compile(r"^win_amd64$"), "windows-x86_64"),
    (re.compile(r"^macosx_.*_(arm64|universal2)$"), "macos-arm64"),
    (re.compile(r"^macosx_.*_x86_64$"), "macos-x86_64"),
)


@dataclass(frozen=True)
class Wheel:
    python: str
    """The CPython minor ("3.13"), or "" for a pure-Python wheel (py3)."""
    free_threaded: bool
    platform: str
    """Our platform name, "any" for a pure-Python wheel, "other" for one we do not track (win32)."""
    tags: tuple[str, ...]
    """Its platform tags (a compressed tag set has several)."""
    requires_python: str
    requires_dist: tuple[str, ...]


def parse_wheel(name: str, requires_python: str = "", requires_dist: tuple[str, ...] = ()) -> Wheel:
    """A wheel from its snapshot name ("cp313-cp313t-manylinux_2_28_x86_64", "+cu130-cp312-...")."""
    py, abi, plats = name.split("-")[-3:]
    minor = re.fullmatch(r"cp(\d)(\d+)", py.split(".")[0])
    tags = tuple(plats.split("."))
    found = next((n for p, n in _PLATFORM_OF for t in tags if p.search(t)), "other")
    platform = "any" if tags == ("any",) else found
    return Wheel(
        f"{minor.group(1)}.{minor.group(2)}" if minor else "",
        abi.startswith("cp") and abi.endswith("t"),
        platform,
        tags,
        requires_python,
        requires_dist,
    )


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(x) for x in minor.split("."))


def glibc_of_tags(tags: tuple[str, ...]) -> str:
    """The glibc a manylinux wheel's tags promise to run on: the lowest of its compressed tag set."""
    found = []
    for tag in tags:
        m = re.match(r"manylinux_(\d+)_(\d+)_", tag)
        if m:
            found.append(f"{m.group(1)}.{m.group(2)}")
        legacy = re.match(r"(manylinux1|manylinux2010|manylinux2014)_", tag)
        if legacy:
            found.append(LEGACY_MANYLINUX[legacy.group(1)])
    return min(found, key=_minor_key) if found else ""


def macos_of_tags(tags: tuple[str, ...]) -> str:
    found = [f"{m.group(1)}.{m.group(2)}" for t in tags if (m := re.match(r"macosx_(\d+)_(\d+)_", t))]
    return min(found, key=_minor_key) if found else ""


@dataclass(frozen=True)
class ReleaseFacts:
    """What the registry states about one release series (its latest patch, which a new install gets)."""

    torch: str
    latest: str
    """The patch read ("" when the registry has no wheel of any patch)."""
    pythons: dict[str, tuple[str, ...]]
    """Per platform: the CPython minors with a (GIL) wheel."""
    free_threaded: tuple[str, ...]
    """Minors with a free-threaded wheel in every patch on the registry."""
    free_threaded_patches: dict[str, tuple[str, ...]]
    """Minors with a free-threaded wheel in only some patches, and those patches."""
    python_only_on: dict[str, tuple[str, ...]]
    """A minor whose wheels exist on only some of the release's platforms."""
    glibc: str
    """The highest glibc a Linux wheel's tag asks for ("" when no Linux wheel)."""
    macos_arm64_min: dict[str, str]
    """Per minor: the macOS its Apple-silicon wheel is tagged for."""
    macos_x86_64: bool
    pypi: dict[str, str]
    """Per platform: the variant plain ``pip install torch`` gets (cu130, or cpu)."""
    cudnn: str
    nccl: str
    """The pins of PyPI's Linux x86_64 wheel ("" when it pins none)."""
    absent: tuple[str, ...] = ()
    """Patches the tables name that have no wheel on the registry."""
    notes: tuple[str, ...] = field(default=())


def load_snapshot(directory: Path, project: str) -> dict[str, Any]:
    return dict(json.loads((directory / "registry" / f"{project}.json").read_text(encoding="utf-8")))


def _wheels(release: dict[str, Any]) -> list[Wheel]:
    yanked = release.get("yanked", {})
    return [
        parse_wheel(name, g["requires_python"], tuple(g["requires_dist"]))
        for g in release["groups"]
        for name in g["wheels"]
        if name not in yanked
    ]


def _variant(requires: tuple[str, ...], platform: str, python: str) -> str:
    """The CUDA variant a wheel's Requires-Dist brings on a platform: cu132 for cuda-toolkit==13.2.2, else cpu."""
    env = {**MARKERS[platform], "python_version": python, "python_full_version": python + ".0"}
    for text in requires:
        pin = _pin(text, env, CUDA_RUNTIME)
        if pin:
            major, minor = pin.split(".")[:2]
            return f"cu{major}{minor}"
    return "cpu"


def _pin(text: str, env: dict[str, str], names: tuple[str, ...]) -> str:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return ""
    if req.name not in names or (req.marker is not None and not req.marker.evaluate(env)):
        return ""
    return next((s.version for s in req.specifier if s.operator == "=="), "")


def _library_pin(requires: tuple[str, ...], stem: str, platform: str, python: str) -> str:
    env = {**MARKERS[platform], "python_version": python, "python_full_version": python + ".0"}
    names = tuple(f"{stem}{suffix}" for suffix in ("-cu11", "-cu12", "-cu13", ""))
    return next((p for text in requires if (p := _pin(text, env, names))), "")


def derive_release(snapshot: dict[str, Any], series: str, patches: list[str]) -> ReleaseFacts:
    """Every field of a releases.toml row that the registry states, from the torch snapshot."""
    releases = snapshot["releases"]
    present = [p for p in patches if p in releases]
    absent = tuple(p for p in patches if p not in releases)
    if not present:
        return ReleaseFacts(series, "", {}, (), {}, {}, "", {}, False, {}, "", "", absent)
    latest = max(present, key=Version)
    wheels = _wheels(releases[latest])
    platforms = sorted({w.platform for w in wheels if w.platform in PYPI_PLATFORMS})
    pythons = {p: tuple(sorted({w.python for w in wheels if w.platform == p and not w.free_threaded}, key=_minor_key))
               for p in platforms}  # fmt: skip
    every = sorted({m for ms in pythons.values() for m in ms}, key=_minor_key)
    only_on = {m: tuple(p for p in platforms if m in pythons[p]) for m in every}
    only_on = {m: on for m, on in only_on.items() if len(on) < len(platforms)}
    ft_by_patch = {p: {w.python for w in _wheels(releases[p]) if w.free_threaded} for p in present}
    ft_all = set.intersection(*ft_by_patch.values())
    ft_some = {m for s in ft_by_patch.values() for m in s} - ft_all
    linux = [w for w in wheels if w.platform.startswith("linux")]
    glibc = max((glibc_of_tags(w.tags) for w in linux), key=_minor_key, default="")
    macos = {w.python: macos_of_tags(w.tags) for w in wheels if w.platform == "macos-arm64" and not w.free_threaded}
    for w in wheels:  # a free-threaded wheel's macOS counts where its minor has no GIL wheel
        if w.platform == "macos-arm64" and w.free_threaded:
            macos.setdefault(w.python, macos_of_tags(w.tags))
    version_py = releases[latest].get("version_py", {})
    pypi = {}
    for p in ("linux-x86_64", "linux-aarch64", "windows-x86_64"):
        on = [w for w in wheels if w.platform == p and not w.free_threaded]
        if not on:
            continue
        local = version_py.get(p, "")  # the wheel's own word; without a local tag, its CUDA pins say
        pypi[p] = local[1:] if local.startswith("+") else _variant(on[-1].requires_dist, p, on[-1].python)
    x86 = [w for w in wheels if w.platform == "linux-x86_64" and not w.free_threaded]
    cudnn = _library_pin(x86[-1].requires_dist, "nvidia-cudnn", "linux-x86_64", x86[-1].python) if x86 else ""
    nccl = _library_pin(x86[-1].requires_dist, "nvidia-nccl", "linux-x86_64", x86[-1].python) if x86 else ""
    notes = tuple(
        f"{p}: free-threaded {sorted(ft_by_patch[p] - ft_all)} only in this patch" for p in present if ft_by_patch[p]
    )
    return ReleaseFacts(
        torch=series,
        latest=latest,
        pythons=pythons,
        free_threaded=tuple(sorted(ft_all, key=_minor_key)),
        free_threaded_patches={
            m: tuple(p for p in present if m in ft_by_patch[p]) for m in sorted(ft_some, key=_minor_key)
        },
        python_only_on=only_on,
        glibc=glibc,
        macos_arm64_min=dict(sorted(macos.items(), key=lambda kv: _minor_key(kv[0]))),
        macos_x86_64=any(w.platform == "macos-x86_64" for w in wheels),
        pypi=pypi,
        cudnn=cudnn,
        nccl=nccl,
        absent=absent,
        notes=notes,
    )


@dataclass(frozen=True)
class CompanionFacts:
    package: str
    version: str
    on_registry: bool
    requires_python: str
    torch: str
    """The torch specifier its wheels require ("" when they name no torch pin)."""
    pythons: tuple[str, ...]
    """CPython minors with a wheel ("any" for a pure-Python wheel)."""


def derive_companion(snapshot: dict[str, Any], package: str, version: str) -> CompanionFacts:
    release = snapshot["releases"].get(version)
    if release is None:
        return CompanionFacts(package, version, False, "", "", ())
    wheels = _wheels(release)
    torch = ""
    for w in wheels:
        for text in w.requires_dist:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.name == "torch" and req.marker is None:
                torch = str(req.specifier)
    rp = {w.requires_python for w in wheels}
    pythons = {w.python or "any" for w in wheels}
    return CompanionFacts(package, version, True, "|".join(sorted(rp)), torch, tuple(sorted(pythons)))


# ---------------------------------------------------------------------- comparing with the typed rows


def _minors_in(spec: str) -> list[str]:
    s = SpecifierSet(spec)
    return [f"3.{m}" for m in range(0, 20) if Version(f"3.{m}") in s]


def _same_spec(a: str, b: str) -> bool:
    """Whether two specifiers say the same ("==2.5.1" and "==2.5.1.0"; ">=2.14" and ">=2.14.0")."""
    try:

        def norm(s: str) -> set[tuple[str, Version]]:
            return {(x.operator, Version(x.version.rstrip(".*"))) for x in SpecifierSet(s)}

        return norm(a) == norm(b)
    except (InvalidSpecifier, InvalidVersion):
        return a == b


def _by_variant(text: str) -> dict[str, str]:
    """ "cu126: 9.10.2.21; cu128/cu130: 9.17.1.4" -> {"cu126": ..., "cu128": ..., "cu130": ...}; a bare
    version is every variant's ("*")."""
    out = {}
    for part in text.split(";"):
        part = re.sub(r"\(.*?\)", "", part).strip()
        if not part:
            continue
        variants, _, version = part.rpartition(":")
        for v in variants.split("/") if variants else ["*"]:
            out[v.strip()] = version.strip()
    return out


def release_disagreements(row: Mapping[str, Any], facts: ReleaseFacts) -> list[str]:
    """Where a releases.toml row says otherwise than the registry (empty: it agrees)."""
    if not facts.latest:
        return []
    where = f"torch {row['torch']} (registry: {facts.latest})"
    out = []
    index_only = row.get("pytorch_index_only", {})
    registry_minors = sorted({m for ms in facts.pythons.values() for m in ms}, key=_minor_key)
    typed = _minors_in(row["python"])
    claimed = sorted(set(registry_minors) | set(index_only.get("python", [])), key=_minor_key)
    if typed != claimed:
        out.append(f"{where}: python {row['python']} = {typed}; the registry has wheels for {registry_minors}")
    only_on = {m: sorted(p) for m, p in row.get("python_only_on", {}).items()}
    derived_only = {m: sorted(p) for m, p in facts.python_only_on.items()}
    if only_on != derived_only:
        out.append(f"{where}: python_only_on {only_on}; the registry: {derived_only}")
    ft = sorted(set(facts.free_threaded) | set(index_only.get("free_threaded", [])), key=_minor_key)
    if list(row.get("free_threaded", [])) != ft:
        out.append(f"{where}: free_threaded {row.get('free_threaded', [])}; the registry: {list(facts.free_threaded)}")
    ftp = {m: list(ps) for m, ps in facts.free_threaded_patches.items()}
    if dict(row.get("free_threaded_patches", {})) != ftp:
        out.append(f"{where}: free_threaded_patches {row.get('free_threaded_patches', {})}; the registry: {ftp}")
    if facts.glibc and _minor_key(row["glibc"]) < _minor_key(facts.glibc):
        out.append(f"{where}: glibc {row['glibc']}; a Linux wheel is tagged for glibc {facts.glibc}")
    out += _macos_disagreements(row, facts, where)
    if row["macos_x86_64"] != facts.macos_x86_64:
        out.append(f"{where}: macos_x86_64 {row['macos_x86_64']}; the registry: {facts.macos_x86_64}")
    for platform, variant in facts.pypi.items():
        if row["pypi"].get(platform) != variant:
            out.append(f"{where}: pypi.{platform} {row['pypi'].get(platform)}; the registry: {variant}")
    for key, pin in (("cudnn", facts.cudnn), ("nccl", facts.nccl)):
        typed_pins = _by_variant(row.get(key, ""))
        variant = facts.pypi.get("linux-x86_64", "")
        said = typed_pins.get(variant, typed_pins.get("*", ""))
        if pin and said and said != pin:
            out.append(f"{where}: {key} for PyPI's {variant} {said}; its wheel pins {pin}")
    return out


def _macos_disagreements(row: Mapping[str, Any], facts: ReleaseFacts, where: str) -> list[str]:
    base = row.get("macos_arm64_min", "")
    by_python = dict(row.get("macos_arm64_min_by_python", {}))
    typed = {m: by_python.get(m, base) for m in facts.macos_arm64_min}
    if typed != facts.macos_arm64_min:
        return [f"{where}: macOS arm64 minimum per Python {typed}; the wheels' tags: {facts.macos_arm64_min}"]
    if not facts.macos_arm64_min and base:
        return [f"{where}: macos_arm64_min {base}; the registry has no Apple-silicon wheel"]
    return []


def companion_disagreements(row: Mapping[str, Any], facts: CompanionFacts, torch_pythons: list[str]) -> list[str]:
    """Where a companions.toml row says otherwise than the registry. ``torch_pythons``: the Python versions
    its torch has wheels for (a companion refusing one of them must say so in ``python``)."""
    if not facts.on_registry:
        return []
    where = f"{facts.package} {facts.version}"
    out = []
    if facts.torch and not _same_spec(row["torch"], facts.torch):
        out.append(f"{where}: torch {row['torch']}; its wheels require torch{facts.torch}")
    rp = facts.requires_python
    if "|" in rp:
        return [*out, f"{where}: its wheels disagree on Requires-Python ({rp})"]
    excluded = [x.version for x in SpecifierSet(rp) if x.operator == "!="] if rp else []
    probes = [*torch_pythons, *(v for v in excluded if ".".join(v.split(".")[:2]) in torch_pythons)]
    refused = [v for v in probes if rp and not SpecifierSet(rp).contains(v, prereleases=True)]
    typed = row.get("python", "")
    if refused and not _same_spec(typed, rp):
        out.append(f"{where}: python {typed or '(absent)'}; Requires-Python {rp} refuses {', '.join(refused)}")
    if typed and rp and not _same_spec(typed, rp):
        out.append(f"{where}: python {typed}; its Requires-Python is {rp}")
    return out
