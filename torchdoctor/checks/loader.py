"""Why a shared object failed to load, from the loader's facts: which file was taken, from where, why, by whom.

The chain an expert follows: the failing version or symbol (read from the loader's message as a fact) →
the library that must provide it (the requester's version needs) → the copy the loader took and the step of
its search that took it → the copies it shadows and whether they would do → who installed the culprit →
the fix that removes exactly that: one LD_LIBRARY_PATH entry, one LD_PRELOAD entry, or an update of the
package that owns it. Pure: facts in, a diagnosis out; no file is read here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from packaging.version import InvalidVersion, Version

from torchdoctor.checks.base import ev
from torchdoctor.checks.fixes import install_torch_fix
from torchdoctor.compat.loaders import knowledge
from torchdoctor.compat.tables import CompatDataError, load_tables
from torchdoctor.derived import torch_version
from torchdoctor.model import (
    Candidate,
    Distribution,
    EnvFacts,
    Evidence,
    Facts,
    LoaderFacts,
    OtherLoaderFacts,
    Owner,
    OwnerKind,
    PackagesFacts,
    PythonFacts,
    Resolution,
    SharedObject,
    Source,
    Unavailable,
    Via,
)
from torchdoctor.nvidia import no_nvidia_at_all
from torchdoctor.rules import cudalibs, dlerror
from torchdoctor.rules.dlerror import LoaderError, LoaderErrorKind, VersionFamily
from torchdoctor.rules.index import pip
from torchdoctor.rules.shell import quote

CONDA_PACKAGE = {VersionFamily.LIBSTDCXX: "libstdcxx-ng", VersionFamily.LIBGCC: "libgcc-ng"}
"""The conda-forge package of a GCC runtime library, when conda-meta names no owner (the -ng names are kept as
compatibility packages that pull the current `libstdcxx`/`libgcc`: conda-forge/ctng-compilers-feedstock)."""


@dataclass(frozen=True)
class Diagnosis:
    title: str
    evidence: tuple[Evidence, ...]
    fix: str
    command: str = ""


def _norm(path: str) -> str:
    return os.path.normpath(path)


def _find_object(loader: LoaderFacts, path: str) -> SharedObject | None:
    exact = [o for o in loader.objects if _norm(o.path) == _norm(path)]
    if exact:
        return exact[0]
    named = [o for o in loader.objects if os.path.basename(o.path) == os.path.basename(path)]
    return named[0] if len(named) == 1 else None


def _needed_for(obj: SharedObject, error: LoaderError) -> str:
    """The library the requester expects the version from (its version needs say which)."""
    for need in obj.requires:
        if error.version in need.versions:
            return need.library
    return os.path.basename(error.library) if error.library else ""


def _required(loader: LoaderFacts, needed: str) -> set[str]:
    """Every version any object here requires of ``needed``: what a good copy must define."""
    return {v for o in loader.objects for n in o.requires if n.library == needed for v in n.versions}


def _good(loader: LoaderFacts, cand: Candidate, needed: str, error: LoaderError) -> bool:
    if error.kind is LoaderErrorKind.UNDEFINED_SYMBOL:
        look = [lk for lk in loader.lookups if _norm(lk.path) == _norm(cand.path)]
        return bool(look) and look[0].defined is True
    obj = loader.object_at(cand.path)
    return obj is not None and not obj.problem and _required(loader, needed) <= set(obj.defines)


def _owner(loader: LoaderFacts, path: str) -> Owner | None:
    obj = loader.object_at(path)
    return obj.owner if obj is not None and isinstance(obj.owner, Owner) else None


def without(entries: tuple[str, ...], drop: str, name: str) -> str:
    """``export NAME=...`` with every entry equal to ``drop`` taken out, the others kept in order."""
    kept = [e for e in entries if e and _norm(e) != _norm(drop)]
    sep = " " if name == "LD_PRELOAD" else os.pathsep
    return f"export {name}={quote(sep.join(kept))}" if kept else f"unset {name}"


def _picked(res: Resolution, error: LoaderError) -> Candidate | None:
    if error.kind is LoaderErrorKind.MISSING_VERSION:  # the loader named the file it took
        named = [c for c in res.candidates if _norm(c.path) == _norm(error.library)]
        return named[0] if named else None
    return res.candidates[0] if res.candidates else None


def diagnose(message: str, loader: LoaderFacts, facts: Facts | None = None) -> Diagnosis | None:
    """The cause of a loader error in ``message``, when the loader facts decide it; None when they do not."""
    error = dlerror.parse(message)
    if error is None or error.kind is LoaderErrorKind.MISSING_LIBRARY or not error.version:
        return None
    requester = _find_object(loader, error.requester)
    if requester is None:
        return None
    needed = _needed_for(requester, error)
    res = loader.resolution(requester.path, needed)
    picked = _picked(res, error) if res is not None else None
    stray = _conda_cuda(loader, requester.path, facts) or (_conda_cuda(loader, picked.path, facts) if picked else None)
    if error.kind is LoaderErrorKind.UNDEFINED_SYMBOL and stray is not None and not _via_environment(picked):
        return _conda_cuda_remedy(message, error, requester.path, needed, stray)
    if picked is None or res is None:
        return None
    good = next((c for c in res.candidates if c is not picked and _good(loader, c, needed, error)), None)
    if good is None and facts is not None and not any(cudalibs.wheel_root(c.path) for c in res.candidates):
        bypass = outside_wheels(message, loader, facts)  # the copy that has it is a wheel's, on no search path here
        if bypass is not None:
            return replace(bypass, title=f"`import torch` fails: {bypass.title}")
    family = dlerror.version_family(error.version)
    lacks = f"{error.symbol}@{error.version}" if error.symbol else error.version
    evidence = [
        ev(Source.TORCH, "the loader says", message.strip().splitlines()[0][:400]),
        ev(Source.ENV, "needs", f"{requester.path} needs {needed} {error.version}"),
        ev(Source.ENV, "loaded", f"{picked.path} ({_via_text(picked)})"),
        ev(Source.ENV, "it lacks", lacks),
    ]
    owner = _owner(loader, picked.path)
    if owner is not None:
        evidence.append(ev(Source.METADATA, "installed by", str(owner)))
    if good is not None:
        evidence.append(ev(Source.ENV, "shadowed copy that has it", f"{good.path} ({_via_text(good)})"))
    return _remedy(loader, needed, picked, good, family, owner, tuple(evidence), lacks)


def _via_environment(picked: Candidate | None) -> bool:
    """The copy was put first by the environment (LD_LIBRARY_PATH, LD_PRELOAD): that entry is the culprit."""
    return picked is not None and picked.via in (Via.LD_LIBRARY_PATH, Via.PRELOAD)


def _torch_is_condas(facts: Facts | None) -> bool:
    if facts is None or not isinstance(facts.packages, PackagesFacts):
        return False
    return any(d.installer == "conda" for d in facts.packages.named("torch"))


def _conda_cuda(loader: LoaderFacts, path: str, facts: Facts | None) -> tuple[str, Owner] | None:
    """(the file, its conda owner) when ``path`` is a CUDA library a conda package ships beside a torch conda did
    not install (whose own CUDA libraries come from its wheels): the package is a second, older provider."""
    obj = loader.object_at(path)
    if obj is None or not isinstance(obj.owner, Owner) or obj.owner.kind is not OwnerKind.CONDA:
        return None
    if not cudalibs.is_cuda_library(obj.soname or path) or _torch_is_condas(facts):
        return None
    return path, obj.owner


def _conda_cuda_remedy(
    message: str, error: LoaderError, requester: str, needed: str, stray: tuple[str, Owner]
) -> Diagnosis:
    path, owner = stray
    prefix = os.path.dirname(os.path.dirname(owner.record)) if owner.record else ""
    package = owner.package or cudalibs.conda_package(os.path.basename(path))
    evidence = (
        ev(Source.TORCH, "the loader says", message.strip().splitlines()[0][:400]),
        ev(Source.ENV, "needs", f"{requester} needs {needed} {error.version}".rstrip()),
        ev(Source.ENV, "from a conda package", f"{path} ({owner})"),
    )
    title = (
        f"`import torch` fails: the conda package {package or 'in ' + prefix} ships an older {os.path.basename(path)}"
    )
    fix = (
        f"torch loaded {path} from outside torch's wheels: the conda package "
        f"{package or '(not named in conda-meta)'} in {prefix} ships it, and it lacks {error.symbol or error.version} "
        "that the rest of torch's CUDA libraries need. torch brings its own CUDA libraries: remove that conda "
        "package from the environment (if conda installed torch too, update them together instead)."
    )
    command = f"conda remove -p {quote(prefix)} {quote(package)}" if package and prefix else ""
    return Diagnosis(title, evidence, fix, command)


def _via_text(cand: Candidate) -> str:
    if cand.via in (Via.LD_LIBRARY_PATH, Via.RUNPATH, Via.RPATH):
        return f"{cand.via.value} entry {cand.entry}"
    return cand.via.value


def _remedy(
    loader: LoaderFacts,
    needed: str,
    picked: Candidate,
    good: Candidate | None,
    family: VersionFamily,
    owner: Owner | None,
    evidence: tuple[Evidence, ...],
    lacks: str,
) -> Diagnosis:
    folder = os.path.dirname(picked.path)
    if picked.via is Via.LD_LIBRARY_PATH:
        evidence += (ev(Source.ENV, "LD_LIBRARY_PATH", os.pathsep.join(loader.ld_library_path)),)
        title = f"`import torch` fails: LD_LIBRARY_PATH puts an older {needed} first ({picked.entry})"
        if good is not None:
            fix = (
                f"The LD_LIBRARY_PATH entry {picked.entry} holds a {needed} without {lacks}, and the loader takes it "
                f"before {good.path}, which has it. Take that one entry out of LD_LIBRARY_PATH (the others stay, "
                "in order); where a module system or shell profile sets it, change it there."
            )
            return Diagnosis(title, evidence, fix, without(loader.ld_library_path, picked.entry, "LD_LIBRARY_PATH"))
        fix = (
            f"The LD_LIBRARY_PATH entry {picked.entry} holds a {needed} without {lacks}, and no other copy on this "
            f"machine has it either. Take {picked.entry} out of LD_LIBRARY_PATH and provide a newer {needed}."
        )
        return Diagnosis(title, evidence, fix, without(loader.ld_library_path, picked.entry, "LD_LIBRARY_PATH"))
    if picked.via is Via.PRELOAD:
        title = f"`import torch` fails: LD_PRELOAD loads an older {needed} ({picked.path})"
        fix = f"LD_PRELOAD forces {picked.path}, which lacks {lacks}. Take it out of LD_PRELOAD."
        return Diagnosis(title, evidence, fix, without(loader.ld_preload, picked.entry, "LD_PRELOAD"))
    conda_env = owner is not None and owner.kind is OwnerKind.NOBODY and bool(owner.record)  # no package's file
    if owner is not None and (owner.kind is OwnerKind.CONDA or conda_env):
        return _conda_remedy(needed, picked, owner, family, evidence, lacks)
    if family is VersionFamily.GLIBC:
        title = f"`import torch` fails: the OS's glibc lacks {lacks}"
        return Diagnosis(title, evidence, _glibc_fix(lacks, folder))
    title = f"`import torch` fails: the {needed} in {folder} lacks {lacks}"
    shipped = f" ({owner})" if owner is not None else ""
    fix = (
        f"The {needed} the loader takes from {folder}{shipped} is older than this torch needs. Update what ships "
        f"it, or put a newer {needed} first for this program only."
    )
    return Diagnosis(title, evidence, fix)


def _glibc_fix(lacks: str, folder: str) -> str:
    """A newer OS, or the newest torch series whose wheels need a glibc older than the one the loader lacks (the
    release tables' floors); where no release the tables list is built for a glibc that old, building from source."""
    head = f"This torch needs {lacks} from the C library, and the OS's glibc ({folder}) is older. Use a newer OS "
    head += "or container image"
    try:
        releases = load_tables().releases
        lacking = Version(lacks.partition("_")[2])
        floors = [(Version(r.glibc), Version(r.torch), r) for r in releases]
    except (CompatDataError, InvalidVersion):
        return head + ", or an older torch built for this glibc."
    older = [(floor, series, r) for floor, series, r in floors if floor < lacking]
    if older:
        _, _, newest = max(older, key=lambda t: t[1])
        return head + f", or an older torch built for glibc {newest.glibc} (torch <= {newest.torch})."
    oldest = min(floors, key=lambda t: t[1])[2]
    lowest = min(floor for floor, _, _ in floors)
    return (
        head + f", or build torch from source on this machine: no release in torchdoctor's tables (torch "
        f"{oldest.torch} and later) has wheels for a glibc older than {lowest}."
    )


def _conda_remedy(
    needed: str, picked: Candidate, owner: Owner, family: VersionFamily, evidence: tuple[Evidence, ...], lacks: str
) -> Diagnosis:
    prefix = os.path.dirname(os.path.dirname(owner.record)) if owner.kind is OwnerKind.CONDA else owner.record
    package = (owner.package if owner.kind is OwnerKind.CONDA else "") or CONDA_PACKAGE.get(family, "")
    title = f"`import torch` fails: the conda environment's {needed} lacks {lacks}"
    fix = (
        f"The conda environment {prefix} ships {picked.path}, older than this torch needs, and the loader takes it "
        f"({_via_text(picked)}). Update that package in the environment."
    )
    command = f"conda install -p {quote(prefix)} -c conda-forge {quote(package)}" if package else ""
    return Diagnosis(title, evidence, fix, command)


# --------------------------------------------------------------------------- a library nothing provides


def _searched(loader: LoaderFacts | None, name: str) -> tuple[list[str], list[Evidence]]:
    """Who needs ``name`` and where the loader looked (its search for those objects), from the loader facts."""
    if loader is None:
        return [], []
    missing = [r for r in loader.resolutions if r.needed == name and not r.candidates]
    requesters = list(dict.fromkeys(r.requester for r in missing))
    evidence: list[Evidence] = []
    if requesters:
        evidence.append(ev(Source.ENV, "needed by", ", ".join(requesters[:3])))
        obj = loader.object_at(requesters[0])
        where = [*(f"LD_LIBRARY_PATH {e}" for e in loader.ld_library_path if e)]
        where += [f"RUNPATH {e}" for e in (obj.runpath if obj else ())]
        where += ["ld.so.cache", "the default directories"]
        evidence.append(ev(Source.ENV, "searched, in order", "; ".join(where)))
    return requesters, evidence


def _torch_pin(facts: Facts, base: str) -> str:
    """The requirement torch's Requires-Dist states for the wheel ``base`` (``nvidia-cudnn-cu12==9.1.0.70``)."""
    if not isinstance(facts.packages, PackagesFacts):
        return ""
    for dist in facts.packages.named("torch"):
        for req in dist.requires:
            name = re.split(r"[\s;<>=!~\[(]", req.strip(), maxsplit=1)[0]
            if name.lower().startswith(base + "-cu") or name.lower() == base:
                spec = re.match(r"[^;]*", req).group(0)  # type: ignore[union-attr]
                return re.sub(r"[\s()]+", "", spec)  # older METADATA writes ``name (==1.0)``: ``name==1.0``
    return ""


def _conda_prefix(facts: Facts) -> str:
    python = facts.python
    return python.conda_prefix if isinstance(python, PythonFacts) and python.conda_prefix else ""


def _known_broken_wheel(message: str, name: str, loader: LoaderFacts | None, facts: Facts) -> Diagnosis | None:
    """A library the installed torch's Linux wheel links without shipping it, as compat/loaders.toml records for that
    release with its source: the wheel is at fault, not this machine, so no copy of the library from elsewhere is the
    fix; a later torch is."""
    version = torch_version(facts)
    row = knowledge().broken_linux_wheel(version, name) if version else None
    if row is None:
        return None
    _, searched = _searched(loader, name)
    evidence = [
        ev(Source.TORCH, "the loader says", message.strip().splitlines()[0][:400]),
        ev(Source.METADATA, "installed torch", version),
        ev(Source.COMPAT, "known broken wheel", f"torch{row.torch} links {row.library} and does not ship it"),
        ev(Source.COMPAT, "source", row.source),
        *searched,
    ]
    later = f"torch>={row.fixed_in}" if row.fixed_in else f"torch>{version.split('+')[0]}"
    fixed = f"fixed in {row.fixed_in}" if row.fixed_in else "fixed by later wheels"
    fix = (
        f"torch {version}'s Linux wheel needs {name} and does not ship it: a known bug of that release's wheels "
        f"({fixed}), not something this machine lacks. Upgrade torch past it; a {name} put on the loader's path "
        "from elsewhere would only hide it."
    )
    title = f"`import torch` fails: torch {version}'s wheel links {name} without shipping it"
    return Diagnosis(title, tuple(evidence), fix, pip(facts, f"install --upgrade {quote(later)}"))


def _no_nvidia_gpu(facts: Facts) -> bool:
    """No NVIDIA GPU or driver anywhere the doctor looks (NVML, the PCI bus, /dev, /proc), on a machine that is no
    Jetson (whose GPU is on no PCI bus and has no NVML)."""
    tegra = facts.other_loaders.tegra if isinstance(facts.other_loaders, OtherLoaderFacts) else None
    not_jetson = isinstance(tegra, Unavailable) and tegra.code == "not_applicable"
    return not_jetson and no_nvidia_at_all(facts)


def _cuda_build_without_gpu(name: str, evidence: list[Evidence], facts: Facts) -> Diagnosis:
    """A CUDA library torch links is missing on a machine with no NVIDIA GPU: this torch is a CUDA build made for
    another machine, and installing CUDA's libraries would only let it import, never use a GPU."""
    evidence.append(ev(Source.NVML, "NVIDIA GPU or driver", "none (no NVML library, nothing on the PCI bus)"))
    fix = install_torch_fix(facts)
    text = (
        f"{name} is a CUDA library: this torch is a CUDA build (made for a machine with an NVIDIA GPU), and this "
        "machine has no NVIDIA GPU or driver, so no CUDA library would make it use one. Install the torch built for "
        f"this machine instead. {fix.text}"
    )
    title = f"`import torch` fails: {name} is missing, and this CUDA build of torch is on a machine with no NVIDIA GPU"
    return Diagnosis(title, tuple(evidence), text, fix.command)


def missing_library(message: str, loader: LoaderFacts | None, facts: Facts) -> Diagnosis | None:
    """A library nothing on the search path provides: which object needs it, where the loader looked, and the
    one installer that should ship it (the nvidia wheel torch's Requires-Dist pins, or the conda package)."""
    error = dlerror.parse(message)
    if error is None or error.kind is not LoaderErrorKind.MISSING_LIBRARY:
        return None
    name = os.path.basename(error.library)
    known = _known_broken_wheel(message, name, loader, facts)
    if known is not None:
        return known
    base = cudalibs.wheel_base(name)
    if not base:
        return None
    _, evidence = _searched(loader, name)
    evidence.insert(0, ev(Source.TORCH, "the loader says", message.strip().splitlines()[0][:400]))
    if _no_nvidia_gpu(facts):
        return _cuda_build_without_gpu(name, evidence, facts)
    title = f"`import torch` fails: {name} is missing (no copy on the loader's search path)"
    pin = _torch_pin(facts, base)
    if pin:
        wheel = re.split(r"[<>=!~]", pin, maxsplit=1)[0]
        installed = isinstance(facts.packages, PackagesFacts) and bool(facts.packages.named(wheel))
        evidence.append(ev(Source.METADATA, "torch requires", pin))
        evidence.append(
            ev(Source.METADATA, wheel, "installed, but without this file" if installed else "not installed")
        )
        verb = "install --force-reinstall --no-deps" if installed else "install"
        fix = (
            f"torch's metadata pins {pin}, the wheel that ships {name}, and "
            + ("its files are incomplete" if installed else "it is not installed")
            + ". Install exactly that pin (never a reinstall of torch, which keeps whatever removed it)."
        )
        return Diagnosis(title, tuple(evidence), fix, pip(facts, f"{verb} {quote(pin)}"))
    package, prefix = cudalibs.conda_package(name), _conda_prefix(facts)
    cuda = cudalibs.cuda_of_soname(name)
    if package and prefix:
        spec = f"{package}={cuda}" if package == "cudatoolkit" and cuda else package
        evidence.append(ev(Source.PYTHON, "conda environment", prefix))
        fix = (
            f"This torch was built to find {name} in its environment and nothing provides it: in a conda environment "
            f"it comes from the conda package {package}"
            + (f" for CUDA {cuda}" if cuda else "")
            + ". Install that package at the version this torch was built for."
        )
        return Diagnosis(title, tuple(evidence), fix, f"conda install -p {quote(prefix)} {quote(spec)}")
    fix = (
        f"Nothing on the loader's search path provides {name}, and torch's metadata names no wheel for it. Install "
        f"the {base} library of CUDA {cuda or 'the version this torch was built for'} where the loader looks."
    )
    return Diagnosis(title, tuple(evidence), fix)


# --------------------------------------------------------------------------- a CUDA library from outside the wheels


def _site_nvidia(path: str) -> str:
    """The ``<site-packages>/nvidia`` folder beside ``path``: a file of an nvidia-* wheel, or of torch/lib."""
    root = cudalibs.wheel_root(path)
    if root:
        return root
    folder = os.path.dirname(_norm(path)).replace("\\", "/")
    return f"{os.path.dirname(os.path.dirname(folder))}/nvidia" if folder.endswith("/torch/lib") else ""


def _wheels_of(facts: Facts, base: str) -> list[Distribution]:
    if not isinstance(facts.packages, PackagesFacts):
        return []
    return [d for d in facts.packages.distributions if (cudalibs.split_wheel(d.name) or ("",))[0] == base]


def _torch_location(facts: Facts) -> str:
    packages = facts.packages
    torch = packages.named("torch") if isinstance(packages, PackagesFacts) else ()
    return torch[0].location if torch else ""


@dataclass(frozen=True)
class WheelCopy:
    folder: str
    """The folder the wheel puts the library in."""
    known_by: str
    """What says so: the loader facts' copy, the installed wheel, or torch's pin."""


def _wheel_copy(loader: LoaderFacts | None, facts: Facts, soname: str, near: str) -> WheelCopy | None:
    """Where torch's nvidia-* wheel of ``soname`` puts it, when the facts say torch uses that wheel."""
    base = cudalibs.wheel_base(soname)
    pin, wheels = _torch_pin(facts, base), _wheels_of(facts, base)
    pinned = re.split(r"[<>=!~ (]", pin, maxsplit=1)[0]
    if pin and wheels and not any(d.name == pinned and d.version in pin for d in wheels):
        return None  # the wheel installed is not the one torch pins: its own copy may be the old one
    for obj in loader.objects if loader is not None else ():
        if os.path.basename(obj.path) == soname and cudalibs.wheel_root(obj.path):
            return WheelCopy(os.path.dirname(obj.path), f"its copy {obj.path}")
    wheel = wheels[0].name if wheels else pinned
    root = _site_nvidia(near) if os.path.isabs(near) else ""  # a message may print a relative path
    root = root or (f"{wheels[0].location}/nvidia" if wheels else "")
    root = root or (
        f"{_torch_location(facts)}/nvidia" if (pin or _site_nvidia(near)) and _torch_location(facts) else ""
    )
    if not root or not (wheel or _site_nvidia(near)):
        return None
    split = cudalibs.split_wheel(wheel) if wheel else None
    major = split[1] if split else (13 if "/nvidia/cu13/" in near.replace("\\", "/") else 0)
    how = f"{wheels[0].name} {wheels[0].version} is installed" if wheels else f"torch pins {pin}" if pin else ""
    return WheelCopy(cudalibs.wheel_lib_dir(root, soname, major), how or f"beside {near}")


def _lacking(loader: LoaderFacts | None, folder: str) -> bool:
    """The symbol lookups say the wheel's own copy lacks the symbol too (then it is not the loader's order)."""
    looks = loader.lookups if loader is not None else ()
    return any(_norm(os.path.dirname(lk.path)) == _norm(folder) and lk.defined is False for lk in looks)


def outside_wheels(message: str, loader: LoaderFacts | None, facts: Facts) -> Diagnosis | None:
    """A CUDA library of torch's nvidia-* wheels taken from outside them, read from the loader's message and facts.

    Either the object that asked is itself a copy from elsewhere (a system cuDNN's sub-library torch's cuDNN opened by
    soname), or a file of the wheels (torch/lib, nvidia/<lib>/lib) asked for a version the copy it was given lacks,
    a version the library torch pins defines. The loader searches LD_LIBRARY_PATH before an object's RUNPATH, and
    ld.so.cache before the default folders; a wheel's copy that is on no RUNPATH of the asking object is found only
    where one of those points at it. The fix puts the wheel's folder first (and drops the entry of the stray copy).
    """
    error = dlerror.parse(message)
    if error is None or error.kind is LoaderErrorKind.MISSING_LIBRARY or not error.version:
        return None
    if dlerror.version_family(error.version) is not VersionFamily.OTHER:
        return None
    asker = _norm(error.requester)
    needed = error.version if ".so" in error.version else ""
    obj = _find_object(loader, asker) if loader is not None else None
    needed = needed or (_needed_for(obj, error) if obj is not None else os.path.basename(error.library))
    if _site_nvidia(asker):  # a file of the wheels asked: the copy of ``needed`` it got is the stray
        res = loader.resolution(obj.path, needed) if loader is not None and obj is not None else None
        picked = _picked(res, error) if res is not None else None
        stray = error.library if error.kind is LoaderErrorKind.MISSING_VERSION else picked.path if picked else ""
        library, wheel = needed, _wheel_copy(loader, facts, needed, asker)
    else:  # the object that asked is a copy from outside the wheels of a library they ship
        stray, library = asker, os.path.basename(asker)
        wheel = _wheel_copy(loader, facts, library, "") if cudalibs.is_cuda_library(library) else None
    if wheel is None or not cudalibs.is_cuda_library(library) or _lacking(loader, wheel.folder):
        return None
    if stray and cudalibs.wheel_root(stray):
        return None  # the copy taken is a wheel's own: not a question of the loader's order
    return _wheel_first(message, error, asker, library, stray, wheel, loader, facts)


def _wheel_first(
    message: str,
    error: LoaderError,
    asker: str,
    library: str,
    stray: str,
    wheel: WheelCopy,
    loader: LoaderFacts | None,
    facts: Facts,
) -> Diagnosis:
    lacks = f"{error.symbol}@{error.version}" if error.symbol else error.version
    entries = loader.ld_library_path if loader is not None else _environ_path(facts)
    stray_dir = os.path.dirname(stray) if stray else ""
    evidence = [
        ev(Source.TORCH, "the loader says", message.strip().splitlines()[0][:400]),
        ev(Source.ENV, "needs", f"{asker} needs {lacks}"),
        ev(Source.ENV, "the copy taken", stray or "not the wheel's (the loader's message does not name the file)"),
        ev(Source.METADATA, "torch's wheel ships it in", f"{wheel.folder} ({wheel.known_by})"),
    ]
    owner = _owner(loader, stray) if loader is not None and stray else None
    if owner is not None:
        evidence.append(ev(Source.METADATA, "installed by", str(owner)))
    if entries:
        evidence.append(ev(Source.ENV, "LD_LIBRARY_PATH", os.pathsep.join(entries)))
    kept = [e for e in entries if e and _norm(e) not in {_norm(stray_dir or wheel.folder), _norm(wheel.folder)}]
    command = f"export LD_LIBRARY_PATH={quote(os.pathsep.join([wheel.folder, *kept]))}"
    where = f"from {stray_dir}" if stray_dir else "from somewhere else"
    held = f" the {library} in {stray_dir}{f' ({owner})' if owner else ''}" if stray_dir else f" another {library}"
    dropped = f", without {stray_dir}" if stray_dir and any(_norm(e) == _norm(stray_dir) for e in entries) else ""
    why = (
        f"which needs {lacks}, a version the wheels' copies do not define" if stray == asker else f"which lacks {lacks}"
    )
    fix = (
        f"torch's wheels ship {library} in {wheel.folder}, but the loader took{held}, {why}: it "
        "searches LD_LIBRARY_PATH and ld.so.cache (where a system CUDA or cuDNN registers itself) before the "
        f"wheel's folder, which is on no RUNPATH of {os.path.basename(asker)}. Put the wheel's folder first on "
        f"LD_LIBRARY_PATH{dropped} (where a module system or shell profile sets it, change it there)."
    )
    title = f"{library} was loaded {where}, outside torch's wheels ({wheel.folder})"
    return Diagnosis(title, tuple(evidence), fix, command)


def _environ_path(facts: Facts) -> tuple[str, ...]:
    env = facts.env
    value = env.get("LD_LIBRARY_PATH") if isinstance(env, EnvFacts) else None
    return tuple(value.replace(";", ":").split(":")) if value else ()  # as ld.so splits it
