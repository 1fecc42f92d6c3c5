"""What a check is, the registry, and the runner.

A check is a pure function from facts to zero or more :class:`Fire`; the runner turns each
into a :class:`Finding` carrying the check's code, slug, severity and "why". The docstring-like
``why`` is the catalogue's text (``torchdoctor explain CODE``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torchdoctor.model import (
    CheckOutcome,
    CheckStatus,
    Evidence,
    Facts,
    Finding,
    GPUFacts,
    NvmlFacts,
    PackagesFacts,
    PythonFacts,
    Severity,
    SmiFacts,
    Source,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import driver_version_seen, gpu_names
from torchdoctor.words import plural


class Area(str, enum.Enum):
    TORCH = "PyTorch"
    DRIVER = "NVIDIA driver"
    GPU = "GPU health"
    VISIBILITY = "Device visibility"
    PLATFORM = "Platform"
    PACKAGES = "Packages"
    COMPAT = "Compatibility"
    SMOKE = "Smoke tests"
    REQUIREMENTS = "Requirements"
    DIST = "Distributed"
    BENCH = "Performance"


class Skip(Exception):
    """Raised by a check that cannot judge these facts; the message says why."""


@dataclass(frozen=True)
class Fire:
    """One problem a check found. Unset fields take the check's defaults."""

    evidence: tuple[Evidence, ...]
    fix: str
    command: str = ""
    why: str = ""
    severity: Severity | None = None
    title: str = ""


CheckFn = Callable[[Any], Iterable[Fire]]
"""Facts in, problems out. The catalogue's checks take :class:`Facts`; `dist` checks take ClusterFacts."""


@dataclass(frozen=True)
class Check:
    code: str
    slug: str
    title: str
    severity: Severity
    area: Area
    why: str
    requires: tuple[str, ...]
    fn: CheckFn

    def finding(self, fire: Fire) -> Finding:
        fix = fire.fix
        if fire.command and fire.command not in fix:
            fix = f"{fix}\n  {fire.command}" if fix else fire.command
        return Finding(
            code=self.code,
            slug=self.slug,
            severity=fire.severity or self.severity,
            title=fire.title or self.title,
            evidence=fire.evidence,
            why=fire.why or self.why,
            fix=fix,
            fix_command=fire.command,
        )


REGISTRY: dict[str, Check] = {}


def check(
    code: str,
    slug: str,
    title: str,
    severity: Severity,
    area: Area,
    why: str,
    requires: tuple[str, ...] = (),
    registry: dict[str, Check] = REGISTRY,
) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        if code in registry or any(c.slug == slug for c in registry.values()):
            raise ValueError(f"duplicate check {code} {slug}")
        registry[code] = Check(code, slug, title, severity, area, " ".join(why.split()), requires, fn)
        return fn

    return register


def ev(source: Source, label: str, value: object) -> Evidence:
    return Evidence(source, label, str(value))


# ----------------------------------------------------------------------------- requirements

RequirementGetter = Callable[[Facts], object]
REQUIREMENTS: dict[str, RequirementGetter] = {
    "host": lambda f: f.host,
    "python": lambda f: f.python,
    "packages": lambda f: f.packages,
    "nvml": lambda f: f.nvml,
    "kernel": lambda f: f.kernel,
    "env": lambda f: f.env,
    "smoke": lambda f: f.smoke,
    "torch": lambda f: f.torch,
    "torch_runtime": lambda f: f.torch if isinstance(f.torch, TorchRuntime) else _not_runtime(f),
    "nvml_gpus": lambda f: _counted_gpus(f),
    "bench": lambda f: f.bench,
}


REQUIREMENT_NAMES = {"nvml_gpus": "NVML's GPU", "torch_runtime": "torch's runtime"}


def _counted_gpus(facts: Facts) -> object:
    """NVML's facts, when it could also count the GPUs (checks of each GPU need the whole list)."""
    nvml = facts.nvml
    if (
        isinstance(nvml, NvmlFacts)
        and isinstance(nvml.gpu_count, Unavailable)
        and nvml.gpu_count.code != "not_recorded"
    ):
        return Unavailable("NVML", f"NVML could not count the GPUs: {nvml.gpu_count.reason}", nvml.gpu_count.code)
    return nvml


def _not_runtime(facts: Facts) -> Unavailable:
    if isinstance(facts.torch, Unavailable):
        return facts.torch
    return Unavailable("torch", "torch did not import, so its runtime view is unknown", "no_runtime")


def missing_requirement(chk: Check, facts: Facts) -> str:
    for name in chk.requires:
        value = REQUIREMENTS[name](facts)
        if isinstance(value, Unavailable):
            return f"needs {REQUIREMENT_NAMES.get(name, name)} facts: {value.reason}"
    return ""


def match(token: str, chk: Check) -> bool:
    token = token.strip().lower()
    return token in (chk.code.lower(), chk.slug)


def run_checks(facts: Any, checks: Iterable[Check], ignore: Iterable[str] = ()) -> tuple[CheckOutcome, ...]:
    ignored = [t for t in ignore if t]
    outcomes = []
    for chk in checks:
        if any(match(token, chk) for token in ignored):
            outcomes.append(CheckOutcome(chk.code, chk.slug, chk.area.value, CheckStatus.IGNORED, "--ignore"))
            continue
        missing = missing_requirement(chk, facts)
        if missing:
            outcomes.append(CheckOutcome(chk.code, chk.slug, chk.area.value, CheckStatus.SKIPPED, missing))
            continue
        try:
            findings = tuple(chk.finding(fire) for fire in chk.fn(facts))
        except Skip as skip:
            outcomes.append(CheckOutcome(chk.code, chk.slug, chk.area.value, CheckStatus.SKIPPED, str(skip)))
            continue
        except Exception as exc:  # a bug in one check must not hide the others
            reason = f"internal error in this check ({type(exc).__name__}: {exc}); please report it"
            outcomes.append(CheckOutcome(chk.code, chk.slug, chk.area.value, CheckStatus.SKIPPED, reason))
            continue
        status = CheckStatus.FIRED if findings else CheckStatus.PASSED
        outcomes.append(CheckOutcome(chk.code, chk.slug, chk.area.value, status, "", findings))
    return tuple(outcomes)


# ----------------------------------------------------------------------------- shared fact helpers


def nvml_gpus(facts: Facts) -> tuple[GPUFacts, ...]:
    return facts.nvml.gpus if isinstance(facts.nvml, NvmlFacts) else ()


def nvidia_gpu_evidence(facts: Facts) -> tuple[Evidence, ...]:
    """Evidence that an NVIDIA GPU is in this machine: from NVML, else nvidia-smi, else the PCI bus."""
    gpus = nvml_gpus(facts)
    if gpus:
        return (ev(Source.NVML, "GPUs", f"{plural(len(gpus), 'GPU')}: {gpu_names(gpus)}"),)
    smi = facts.smi
    if isinstance(smi, SmiFacts) and smi.gpus:
        return (ev(Source.SMI, "GPUs", f"{plural(len(smi.gpus), 'GPU')}: {', '.join(g.name for g in smi.gpus)}"),)
    kernel = facts.kernel
    pci = getattr(kernel, "pci_gpus", None)
    if isinstance(pci, tuple) and pci:
        return (ev(Source.PROCFS, "NVIDIA GPUs on the PCI bus", ", ".join(d.bus_id for d in pci)),)
    return ()


def python_exe(facts: Facts) -> str:
    return facts.python.executable if isinstance(facts.python, PythonFacts) else "python"


def torch_version(facts: Facts) -> str:
    """torch's version with its local tag: from the runtime, else from the installed metadata ("" if none)."""
    if isinstance(facts.torch, TorchRuntime):
        return facts.torch.version
    if isinstance(facts.packages, PackagesFacts):
        return facts.packages.version_of("torch")
    return ""


def driver_version(facts: Facts) -> str:
    """The driver's version from any source (NVML, nvidia-smi, /proc), or ""."""
    seen = driver_version_seen(facts)
    return seen.version if seen else ""


def driver_evidence(facts: Facts) -> tuple[Evidence, ...]:
    """The driver's version as evidence, labelled with the source that gave it."""
    seen = driver_version_seen(facts)
    return (ev(seen.source, "driver", seen.version),) if seen else ()
