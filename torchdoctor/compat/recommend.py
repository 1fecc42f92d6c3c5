"""Which torch can a machine run? ``recommend`` picks one; ``rows`` lists every candidate.

Both answer from the tables alone: nothing is installed or downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.compat.tables import (
    CUDA_PLATFORMS,
    Companion,
    Release,
    Tables,
    cc_str,
    cuda_of_variant,
)
from torchdoctor.rules.index import PYPI
from torchdoctor.rules.index import index_url as pytorch_index_url
from torchdoctor.rules.installers import pip_install
from torchdoctor.rules.versions import base_version, driver_version_key, older


@dataclass(frozen=True)
class Gpu:
    cc: int
    label: str


@dataclass(frozen=True)
class Machine:
    platform: str
    python: str
    free_threaded: bool = False
    driver: str = ""
    """The NVIDIA driver version, "" when there is none (or it is unknown)."""
    gpus: tuple[Gpu, ...] = ()
    glibc: str = ""
    """The C library's version on Linux ("" when unknown or not glibc)."""
    macos: str = ""
    """The macOS version on a Mac ("" when unknown or not a Mac)."""

    @property
    def os_name(self) -> str:
        return self.platform.split("-")[0]


@dataclass(frozen=True)
class Recommendation:
    torch: str
    variant: str
    torchvision: str
    torchaudio: str
    index_url: str
    command: str
    reasons: tuple[str, ...]
    upgrades: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    """What ``command`` installs (``torch==2.13.0``, ...), for a fix in another installer."""


@dataclass(frozen=True)
class NoFit:
    reasons: tuple[str, ...]
    changes: tuple[str, ...] = field(default=())


def index_url(variant: str, platform: str) -> str:
    if platform.startswith("macos"):
        return PYPI
    return pytorch_index_url(variant)


def install_command(python: str, packages: list[str], url: str) -> str:
    """pip inside ``python``'s environment; a check's fix says it in that environment's installer."""
    return pip_install(python, packages, url, PYPI)


def _variant_order(release: Release, platform: str) -> list[str]:
    variants = list(release.cuda.get(platform, ()))
    return sorted(variants, key=lambda v: Version(cuda_of_variant(v)), reverse=True)


@dataclass(frozen=True)
class Problem:
    """One reason a build does not run on a machine, with the rule it breaks (for a finding's evidence)."""

    kind: str
    """platform, glibc, macos, python, gpu-driver, driver, arch; or driver-unknown / arch-unknown when the
    tables cannot say (not a problem of the machine: a check says "could not check")."""
    text: str
    rule: tuple[str, str] = ("", "")
    """(label, value) of the compat rule: ("torch 2.6.0 needs", "glibc 2.28+")."""
    gpus: tuple[Gpu, ...] = ()
    """The GPUs it concerns (arch: those without kernels; gpu-driver: the one the driver cannot drive)."""
    need: str = ""
    """The least version that would do: of the driver, glibc or macOS."""
    needed_by: str = ""
    """What sets ``need``: the GPU architecture (gpu-driver), the CUDA (driver) or the torch release."""

    @property
    def unknown(self) -> bool:
        return self.kind.endswith("-unknown")


def arch_problem(tables: Tables, version: str, variant: str, machine: Machine) -> Problem | None:
    """The machine's GPUs that build ``version`` ``variant`` has no kernels (nor PTX) for."""
    build = tables.build(version, variant, machine.platform)
    if build is None:
        return Problem("arch-unknown", f"the tables do not know the architectures of torch {version} {variant}")
    cuda = cuda_of_variant(variant) if variant.startswith("cu") else ""
    missing = tuple(g for g in machine.gpus if not tables.covers(build.sm, build.ptx, g.cc, cuda))
    if not missing:
        return None
    archs = " ".join(f"sm_{s}" for s in build.sm) + (" +PTX" if build.ptx else "")
    archs += " (unverified)" if build.confidence == "M" else ""
    text = ", ".join(f"{g.label} (sm_{g.cc})" for g in missing) + f" not covered by {variant}"
    return Problem("arch", text, ("torch is built for", archs), missing)


def cuda_driver_problem(tables: Tables, variant: str, machine: Machine) -> Problem | None:
    """Whether the machine's driver runs the CUDA of ``variant`` (not checked when the driver is unknown)."""
    cuda = cuda_of_variant(variant)
    needed = tables.min_driver(cuda, machine.os_name)
    if not needed:
        return Problem("driver-unknown", f"no known driver requirement for CUDA {cuda}")
    if machine.driver and driver_version_key(machine.driver) < driver_version_key(needed):
        rule = (f"CUDA {cuda} needs", f"driver >= {needed}")
        return Problem("driver", f"{variant} needs driver >= {needed}", rule, need=needed)
    return None


def gpu_list(gpus: tuple[Gpu, ...]) -> str:
    """ "8 × NVIDIA H100 80GB HBM3 (sm_90)" for identical GPUs, each one named when they differ."""
    groups: dict[tuple[str, int], int] = {}
    for g in gpus:
        name = g.label.split(" ", 2)[2] if g.label.startswith("GPU ") and g.label.count(" ") >= 2 else g.label
        groups[(name, g.cc)] = groups.get((name, g.cc), 0) + 1
    return ", ".join(f"{n} × {name} (sm_{cc})" if n > 1 else f"{name} (sm_{cc})" for (name, cc), n in groups.items())


def gpu_driver_need_problem(tables: Tables, machine: Machine) -> Problem | None:
    """The first GPU the driver cannot drive at all (its branch predates the architecture): no build helps."""
    if not machine.driver or machine.platform not in CUDA_PLATFORMS:
        return None
    for gpu in machine.gpus:
        need = tables.gpu_driver_need(gpu.cc, machine.os_name)
        if need and driver_version_key(machine.driver) < driver_version_key(need.driver):
            return Problem(
                "gpu-driver",
                f"driver {machine.driver} cannot drive {gpu.label} ({need.architecture} needs a driver >= "
                f"{need.driver}, from CUDA {need.cuda}{need.unverified})",
                (f"{need.architecture} needs", f"driver >= {need.driver} (CUDA {need.cuda}){need.unverified}"),
                (gpu,),
                need.driver,
                need.architecture,
            )
    return None


def gpu_driver_problem(tables: Tables, machine: Machine) -> str:
    """ "" when the driver can drive every GPU, else why not (no CUDA build can help then)."""
    problem = gpu_driver_need_problem(tables, machine)
    return problem.text if problem else ""


def release_problems(tables: Tables, release: Release, machine: Machine, patch: str = "") -> list[Problem]:
    """Why no build of this release installs here: platform (alone), C library, macOS version, Python.

    ``patch``: the installed patch release, judged as itself (else: the release's latest, which a new install gets).
    """
    if not tables.platform_has_wheels(release, machine.platform):
        return [Problem("platform", f"torch {release.torch} has no {machine.platform} wheels")]
    out = []
    needs = f"torch {release.torch} needs"
    if machine.glibc and machine.platform.startswith("linux") and older(machine.glibc, release.glibc):
        text = f"{needs} glibc >= {release.glibc} (this system has {machine.glibc})"
        out.append(Problem("glibc", text, (needs, f"glibc {release.glibc}+"), need=release.glibc))
    macos = release.macos_arm64_min_for(machine.python)
    if machine.macos and machine.platform == "macos-arm64" and older(machine.macos, macos):
        text = f"{needs} macOS >= {macos} (this Mac has {machine.macos})"
        out.append(Problem("macos", text, (needs, f"macOS {macos}+"), need=macos))
    if not release.supports_python(machine.python, machine.free_threaded, machine.platform, patch):
        kind = "free-threaded " if machine.free_threaded else ""
        supports = release.python_range + (
            f"; free-threaded {', '.join(release.free_threaded)}" if release.free_threaded else ""
        )
        supports += "".join(f"; {m} only on {', '.join(on)}" for m, on in release.python_only_on)
        supports += "".join(f"; free-threaded {m} only in {', '.join(ps)}" for m, ps in release.free_threaded_patches)
        out.append(
            Problem(
                "python",
                f"torch {release.torch} has no {kind}Python {machine.python} wheels",
                (f"torch {release.torch} supports", supports),
            )
        )
    return out


def release_problem(tables: Tables, release: Release, machine: Machine) -> str:
    """The first reason no build of this release installs here ("" when one does)."""
    problems = release_problems(tables, release, machine)
    return problems[0].text if problems else ""


def build_problems(tables: Tables, release: Release, variant: str, machine: Machine) -> list[Problem]:
    """Does this build run here? Every reason it does not, answered in one place for `recommend` and the checks.

    First what ``release_problems`` asks; then, for a CUDA build, whether the driver knows every GPU, whether
    it runs the build's CUDA, and whether the build has kernels for every GPU.
    """
    problems = release_problems(tables, release, machine)
    if problems or not variant.startswith("cu"):
        return problems
    found = (
        gpu_driver_need_problem(tables, machine),
        cuda_driver_problem(tables, variant, machine),
        arch_problem(tables, release.latest, variant, machine),
    )
    return [p for p in found if p is not None]


def build_problem(tables: Tables, release: Release, variant: str, machine: Machine) -> str:
    """``build_problems`` as one line ("" when the build runs here)."""
    return "; ".join(p.text for p in build_problems(tables, release, variant, machine))


def candidates(tables: Tables, machine: Machine) -> list[tuple[Release, str, str]]:
    """(release, variant, why-not) for every release and variant on this platform, newest first."""
    out = []
    for release in sorted(tables.releases, key=lambda r: Version(r.torch), reverse=True):
        problem = release_problem(tables, release, machine)
        if problem:
            out.append((release, "", problem))
        elif machine.gpus and machine.platform in CUDA_PLATFORMS:
            out.extend(
                (release, v, build_problem(tables, release, v, machine))
                for v in _variant_order(release, machine.platform)
            )
        else:
            out.append((release, "" if machine.platform.startswith("macos") else "cpu", ""))
    return out


def group_reasons(reasons: list[tuple[Release, str]]) -> tuple[str, ...]:
    """ "torch 2.9 has no X", "torch 2.8 has no X" -> "torch 2.8 to 2.9 have no X"."""
    groups: dict[str, list[str]] = {}
    for release, reason in reasons:
        prefix = f"torch {release.torch} "
        rest = reason[len(prefix) :] if reason.startswith(prefix) else reason
        groups.setdefault(rest, []).append(release.torch)
    out = []
    for rest, versions in groups.items():
        if len(versions) == 1:
            out.append(f"torch {versions[0]} {rest}")
        else:
            ordered = sorted(versions, key=Version)
            verb = rest.replace("has no", "have no", 1)
            out.append(f"torch {ordered[0]} to {ordered[-1]} {verb}")
    return tuple(out)


def _companions(tables: Tables, release: Release, version: str = "", python: str = "") -> tuple[str, str]:
    tv = tables.companion_for("torchvision", version or release.latest, python)
    ta = tables.companion_for("torchaudio", version or release.latest, python)
    return (tv.version if tv else "", ta.version if ta else "")


def _kept(tables: Tables, rows: list[tuple[Release, str, str]], keep: str) -> tuple[Release, str] | None:
    """The installed release with a build that runs here (the smallest change), if it has one."""
    if not keep or not tables.known_patch(keep):
        return None
    release = tables.release(keep)
    return next(((r, v) for r, v, problem in rows if r is release and not problem), None)


COMPANIONS = ("torchvision", "torchaudio")


def _left_out(tables: Tables, version: str, python: str, wanted: tuple[str, ...], chosen: dict[str, str]) -> list[str]:
    """Why a companion is not in the command: its own Requires-Python excludes this Python (torchvision's
    ``!=3.14.1``), and the nearest Python that it runs on."""
    out = []
    for package in wanted:
        row = tables.companion_for(package, version)
        if chosen.get(package) or row is None or not python or row.runs_on(python):
            continue
        instead = _nearest_python(row, python)
        out.append(
            f"{package} is left out: {package} {row.version} (the release for torch {version}) requires Python "
            f"{row.python}, which excludes {python}" + (f"; use Python {instead} to install it" if instead else "")
        )
    return out


def _nearest_python(row: Companion, python: str) -> str:
    """The Python nearest ``python`` that ``row`` runs on: a later patch of the same minor, an earlier one, then
    the minor below."""
    try:
        v = Version(python.rstrip("t"))
    except InvalidVersion:
        return ""
    major, minor, patch = (*v.release, 0, 0)[:3]
    same = [f"{major}.{minor}.{p}" for p in [*range(patch + 1, patch + 20), *range(patch - 1, -1, -1)]]
    below = [f"{major}.{m}" for m in range(minor - 1, max(minor - 4, -1), -1)]
    return next((c for c in [*same, *below] if row.runs_on(c)), "")


def recommend(
    tables: Tables,
    machine: Machine,
    python: str = "python",
    keep: str = "",
    companions: tuple[str, ...] = COMPANIONS,
) -> Recommendation | NoFit:
    """The torch to install here, and the pip command.

    ``keep``: the installed torch version. When that release has a build that runs here, the answer
    keeps it and changes only the build (projects pin torch: a fix must not upgrade it behind their
    back); a newer torch is then offered as an upgrade, with its reason. ``companions``: the
    companion packages to pin beside it (the installed ones, for a fix).
    """
    too_old = gpu_driver_problem(tables, machine)
    if too_old:
        return NoFit((too_old,), tuple(_changes(tables, machine, [])))
    rows = candidates(tables, machine)
    fit = next(((r, v) for r, v, problem in rows if not problem), None)
    if fit is None:
        return NoFit(group_reasons([(r, p) for r, _, p in rows if p]), tuple(_changes(tables, machine, rows)))
    newest = fit
    kept = _kept(tables, rows, keep)
    release, variant = kept or fit
    version = base_version(keep) if kept else release.latest
    tv, ta = _companions(tables, release, version, machine.python)
    packages = [f"torch=={version}"]
    if tv and "torchvision" in companions:
        packages.append(f"torchvision=={tv}")
    if ta and "torchaudio" in companions:
        packages.append(f"torchaudio=={ta}")
    url = index_url(variant or "cpu", machine.platform)
    reasons = []
    if kept:
        reasons.append(f"keeps torch {version} and changes only its build")
    if release.confidence == "M":
        reasons.append(f"torch {release.torch}'s row in the tables is NOT verified ({release.source})")
    if machine.free_threaded:
        reasons.append(
            f"free-threaded Python {machine.python} has wheels of torch {release.torch} "
            f"(free-threaded: {', '.join(release.free_threaded)}; experimental, as every free-threaded build)"
        )
    elif release.python_support(machine.python, machine.free_threaded, machine.platform) == "experimental":
        reasons.append(
            f"Python {machine.python} has only experimental wheels of torch {release.torch} (no Triton for it: "
            "torch.compile will not work; a supported Python is safer)"
        )
    else:
        reasons.append(f"Python {machine.python} is supported by torch {release.torch} ({release.python_range})")
    if variant.startswith("cu"):
        cuda = cuda_of_variant(variant)
        needed = tables.min_driver(cuda, machine.os_name)
        if machine.driver:
            reasons.append(f"driver {machine.driver} runs CUDA {cuda} wheels (needs >= {needed})")
        else:
            reasons.append(f"CUDA {cuda} wheels need driver >= {needed} (no driver version known: not checked)")
        build = tables.build(release.latest, variant, machine.platform)
        if build is not None and machine.gpus:
            archs = " ".join(f"sm_{s}" for s in build.sm) + (" +PTX" if build.ptx else "")
            labels = gpu_list(machine.gpus)
            reasons.append(f"{variant} kernels ({archs}) cover {labels}")
            if build.confidence == "M":
                reasons.append(
                    f"the {variant} architecture list for {machine.platform} is NOT verified ({build.source})"
                )
        pypi = release.pypi.get(machine.platform, "")
        if pypi and pypi != variant:
            reasons.append(f"plain `pip install torch` would give {pypi} here, hence the index URL")
    elif machine.platform.startswith("macos"):
        reasons.append("macOS wheels come from PyPI; Apple GPUs are used through MPS")
    else:
        reasons.append("no NVIDIA GPU: the CPU build from its own index avoids downloading CUDA libraries")
    reasons += _left_out(tables, version, machine.python, companions, {"torchvision": tv, "torchaudio": ta})
    upgrades = _upgrades(tables, machine, rows, release, variant)
    if kept and (newest[0] is not release or newest[1] != variant):
        upgrades.insert(0, f"upgrading instead would give torch {newest[0].latest} ({newest[1] or 'cpu'})")
    return Recommendation(
        version,
        variant or "cpu",
        tv,
        ta,
        url,
        install_command(python, packages, url),
        tuple(reasons),
        tuple(upgrades),
        tuple(packages),
    )


def _upgrades(
    tables: Tables, machine: Machine, rows: list[tuple[Release, str, str]], chosen: Release, variant: str
) -> list[str]:
    """What would allow a newer torch (or a newer CUDA variant) than the one chosen."""
    out = []

    def newer_cuda(v: str) -> bool:
        both = v.startswith("cu") and variant.startswith("cu")
        return both and Version(cuda_of_variant(v)) > Version(cuda_of_variant(variant))

    newer = [
        (r, v, p) for r, v, p in rows if Version(r.torch) > Version(chosen.torch) or (r is chosen and newer_cuda(v))
    ]
    # Only the driver stands in the way: say what the smallest and the largest driver step would give.
    by_driver: dict[str, tuple[Release, str]] = {}
    for release, v, problem in newer:
        if "needs driver" in problem and "not covered" not in problem and v.startswith("cu"):
            by_driver.setdefault(tables.min_driver(cuda_of_variant(v), machine.os_name), (release, v))
    drivers = sorted(by_driver, key=driver_version_key)
    for needed in dict.fromkeys([drivers[0], drivers[-1]] if drivers else []):
        release, v = by_driver[needed]
        out.append(f"a driver >= {needed} would allow torch {release.latest} {v}")
    gpu_blocked = [r for r, v, p in newer if "not covered" in p and Version(r.torch) > Version(chosen.torch)]
    if gpu_blocked and all("not covered" in p for r, v, p in newer if r is gpu_blocked[-1] and v):
        first = gpu_blocked[-1]
        out.append(f"torch {first.torch} and later have no kernels for this GPU: newer torch needs a newer GPU")
    system_blocked = [p for r, v, p in newer if "needs macOS" in p or "needs glibc" in p]
    if system_blocked:  # newest first: "torch 2.15 needs macOS >= 14.0 (this Mac has 13.6)"
        out.append(system_blocked[0])
    py_blocked = [r for r, v, p in newer if "Python" in p]
    if py_blocked:
        newest = py_blocked[0]
        if machine.free_threaded:
            builds = ", ".join(newest.free_threaded) or "none"
            out.append(f"torch {newest.torch} has no free-threaded Python {machine.python} wheels (it has: {builds})")
        else:
            out.append(f"torch {newest.torch} needs Python {newest.python_range}")
    return out


def _changes(tables: Tables, machine: Machine, rows: list[tuple[Release, str, str]]) -> list[str]:
    too_old = gpu_driver_problem(tables, machine)
    if too_old:  # nothing else matters until the driver knows the GPU
        need = next(
            n for g in machine.gpus if (n := tables.gpu_driver_need(g.cc, machine.os_name)) and n.driver in too_old
        )
        return [f"update the NVIDIA driver to >= {need.driver} (the {need.architecture} GPU needs it for anything)"]
    changes = []
    if machine.platform == "macos-x86_64":
        changes.append(
            "use an Apple Silicon Mac with a native arm64 Python, or Linux/Windows: "
            "Intel-Mac wheels stopped at torch 2.2.2"
        )
    platform_ok = [r for r, _, p in rows if "wheels" not in p or "Python" in p]
    if platform_ok and all("Python" in p for r, _, p in rows if r in platform_ok):
        best = max(platform_ok, key=lambda r: Version(r.torch))
        changes.append(f"use Python {best.python_range} to get torch {best.latest}")
    if any("needs driver" in p for _, _, p in rows):
        blocked = next(((r, v) for r, v, p in rows if "needs driver" in p), None)
        if blocked:
            needed = tables.min_driver(cuda_of_variant(blocked[1]), machine.os_name)
            changes.append(f"update the NVIDIA driver to >= {needed} for torch {blocked[0].latest} {blocked[1]}")
    if any("not covered" in p for _, _, p in rows):
        changes.append(
            "this GPU is not covered by any published wheel that fits; build torch from source with "
            "TORCH_CUDA_ARCH_LIST including it, or use the CPU build"
        )
    return changes


# ---------------------------------------------------------------------- the compat query


@dataclass(frozen=True)
class Row:
    torch: str
    platform: str
    variant: str
    python: str
    min_driver: str
    archs: str
    torchvision: str
    torchaudio: str
    source: str


def parse_torch_filter(value: str) -> SpecifierSet:
    """ "2.5.1" or "2.5" -> that release series; ">=2.4,<2.6" is taken as given."""
    value = value.strip()
    if value and value[0].isdigit():
        try:
            v = Version(value)
        except InvalidVersion as exc:
            raise ValueError(f"not a version: {value}") from exc
        return SpecifierSet(f"=={v.major}.{v.minor}.*")
    try:
        return SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise ValueError(f"not a version or range: {value}") from exc


def rows(
    tables: Tables,
    platforms: tuple[str, ...],
    torch: SpecifierSet | None = None,
    python: str = "",
    driver: str = "",
    cuda: str = "",
    gpus: tuple[Gpu, ...] = (),
) -> list[Row]:
    out = []
    for release in sorted(tables.releases, key=lambda r: Version(r.torch), reverse=True):
        if torch is not None and not any(Version(p) in torch for p in release.patches):
            continue
        tv, ta = _companions(tables, release)
        for platform in platforms:
            if not tables.platform_has_wheels(release, platform):
                continue
            if python and not release.supports_python(python, platform=platform):
                continue
            variants = list(_variant_order(release, platform)) if platform in CUDA_PLATFORMS else []
            if not gpus and not cuda:
                variants.append("cpu" if platform in CUDA_PLATFORMS else "")
            for variant in variants:
                if cuda and (not variant.startswith("cu") or cuda_of_variant(variant) != cuda):
                    continue
                needed = (
                    tables.min_driver(cuda_of_variant(variant), platform.split("-")[0])
                    if variant.startswith("cu")
                    else ""
                )
                if (
                    driver
                    and variant.startswith("cu")
                    and (not needed or driver_version_key(driver) < driver_version_key(needed))
                ):
                    continue
                build = tables.build(release.latest, variant, platform) if variant.startswith("cu") else None
                cuda_v = cuda_of_variant(variant) if variant.startswith("cu") else ""
                if gpus and (build is None or not all(tables.covers(build.sm, build.ptx, g.cc, cuda_v) for g in gpus)):
                    continue
                archs = ""
                if build is not None:
                    archs = " ".join(cc_str(s) for s in build.sm) + (" +PTX" if build.ptx else "")
                out.append(
                    Row(
                        torch=release.latest,
                        platform=platform,
                        variant=variant or "default",
                        python=release.python_range,
                        min_driver=needed,
                        archs=archs,
                        torchvision=tv,
                        torchaudio=ta,
                        source=release.source,
                    )
                )
    return out
