"""Package-level collisions that break the tools around torch."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.model import Facts, PackagesFacts, Severity, Source
from torchdoctor.rules.index import pinned, pip
from torchdoctor.rules.installers import chain


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
