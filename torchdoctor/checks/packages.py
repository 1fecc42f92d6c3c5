"""Package-level collisions that break the tools around torch."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev, pip
from torchdoctor.model import Facts, PackagesFacts, Severity, Source


@check(
    "TD014",
    "pynvml-shadowed",
    "the deprecated pynvml package provides `import pynvml`",
    Severity.WARNING,
    Area.PACKAGES,
    "The unofficial `pynvml` distribution ships its own pynvml module, which shadows NVIDIA's nvidia-ml-py "
    "and breaks GPU monitoring (torch.cuda memory/utilization queries, gpustat, nvitop) with errors like "
    "'has no attribute _nvmlGetFunctionPointer'.",
    requires=("packages",),
)
def pynvml_shadowed(facts: Facts) -> Iterator[Fire]:
    packages = facts.packages
    assert isinstance(packages, PackagesFacts)
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
        pip(facts, "uninstall -y pynvml") + " && " + pip(facts, "install --force-reinstall nvidia-ml-py"),
    )
