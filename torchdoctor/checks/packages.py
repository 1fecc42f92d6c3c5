"""Package-level collisions that break the tools around torch."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.model import CondaPackage, Distribution, Facts, PackagesFacts, PythonFacts, Severity, Source
from torchdoctor.rules import installers
from torchdoctor.rules.index import pinned, pip
from torchdoctor.rules.installers import chain
from torchdoctor.rules.shell import quote


@check(
    "TD014",
    "pynvml-shadowed",
    "the deprecated pynvml package provides `import pynvml`",
    Severity.WARNING,
    Area.PACKAGES,
    "The unofficial `pynvml` distribution ships its own pynvml module, which shadows NVIDIA's nvidia-ml-py "
    "and breaks GPU monitoring (torch.cuda memory/utilization queries, gpustat, nvitop) with errors like "
    "'has no attribute _nvmlGetFunctionPointer'.",
)
def pynvml_shadowed(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    old = [d for d in packages.named("pynvml") if "pynvml" in d.modules]
    if not old:
        return
    evidence = [ev(Source.METADATA, f"pynvml {d.version}", d.location) for d in old]
    official = packages.named("nvidia-ml-py")
    if official:
        evidence.append(
            ev(
                Source.METADATA,
                f"nvidia-ml-py {official[0].version}",
                "also installed: the two overwrite each other's pynvml module",
            )
        )
    if isinstance(packages.pynvml_origin, str):
        evidence.append(ev(Source.PYTHON, "import pynvml loads", packages.pynvml_origin))
    yield Fire(
        tuple(evidence),
        "Remove the unofficial package and reinstall NVIDIA's bindings.",
        chain(pip(facts, "uninstall -y pynvml"), pip(facts, "install --force-reinstall nvidia-ml-py")),
    )


@check(
    "TD031",
    "broken-metadata",
    "a torch-family package has a broken installation record",
    Severity.ERROR,
    Area.PACKAGES,
    "pip and every tool that asks what is installed read a package's METADATA and RECORD. When they are "
    "empty, unreadable or missing, the package looks absent or at another version, and pip cannot uninstall "
    'or upgrade it ("Cannot uninstall torch: no RECORD file was found").',
)
def broken_metadata(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    for dist in packages.distributions:
        if not dist.problem:
            continue
        yield Fire(
            (
                ev(Source.METADATA, f"{dist.name} {dist.version}".strip(), dist.problem),
                ev(Source.METADATA, "installation record", dist.metadata_dir or dist.location),
            ),
            "Reinstall it over itself without asking pip to uninstall the broken copy first (that is what "
            "fails); pip then writes a new record.",
            pip(facts, f"install --ignore-installed --no-deps {pinned(dist.name, dist.version)}"),
            title=f"{dist.name}'s installation record is broken",
        )


CONDA_NAMES = {"pytorch": "torch", "torch": "torch", "torchvision": "torchvision", "torchaudio": "torchaudio"}
"""conda's package name -> the Python distribution it installs."""


def _copies(packages: PackagesFacts, name: str) -> tuple[Distribution, ...]:
    """The copies of ``name`` that share one folder (two .dist-info where pip expects one)."""
    dists = packages.named(name)
    return dists if len(dists) > 1 and len({d.location for d in dists}) == 1 else ()


def _conda_fights(facts: Facts, packages: PackagesFacts) -> list[tuple[CondaPackage, Distribution]]:
    """(conda's record, the distribution another installer wrote over it) for the torch family."""
    env = installers.environment(facts)
    fights = []
    for record in env.conda_packages if env else ():
        for dist in packages.named(CONDA_NAMES.get(record.name, "")):
            if dist.installer and dist.installer != "conda":
                fights.append((record, dist))
    return fights


@check(
    "TD040",
    "two-installers-one-package",
    "two installers (or two installs) own one torch-family package",
    Severity.WARNING,
    Area.PACKAGES,
    "When conda and pip both installed torch into one env, or two torch .dist-info folders sit in one "
    "site-packages, each installer believes it owns the same files: an upgrade or uninstall by one leaves the "
    "other's files half-removed, and what Python imports is whichever wrote last.",
)
def two_installers_one_package(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    imported = ev(Source.PYTHON, "import torch loads", str(packages.torch_origin))
    for record, dist in _conda_fights(facts, packages):
        yield Fire(
            (
                ev(Source.METADATA, f"conda's {record.name} {record.version} ({record.build})", record.record),
                ev(Source.METADATA, f"{dist.name} {dist.version}, INSTALLER {dist.installer}", dist.location),
                imported,
            ),
            f"Keep {dist.installer}'s {dist.name}: remove conda's record of it (and the files it lists), then "
            f"reinstall {dist.name} {dist.version} once, so that exactly one installer owns it.",
            chain(
                f"conda remove -y -p {_prefix(facts)} --force {quote(record.name)}",
                pip(facts, f"install --force-reinstall --no-deps {pinned(dist.name, dist.version)}"),
            ),
            title=f"conda and {dist.installer} both installed {dist.name}",
        )
    for name in ("torch", "torchvision", "torchaudio"):
        copies = _copies(packages, name)
        if not copies:
            continue
        keep = copies[0].version
        yield Fire(
            (*(ev(Source.METADATA, f"{d.name} {d.version}", d.metadata_dir or d.location) for d in copies), imported),
            f"Two {name} installs share {copies[0].location}. Uninstall both, then install {name} {keep} once.",
            chain(
                *[pip(facts, f"uninstall -y {name}")] * len(copies),
                pip(facts, f"install --no-deps {pinned(name, keep)}"),
            ),
            title=f"{len(copies)} {name} installs in one site-packages",
        )


def _prefix(facts: Facts) -> str:
    return quote(facts.python.prefix) if isinstance(facts.python, PythonFacts) else '"$CONDA_PREFIX"'
