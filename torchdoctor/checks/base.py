"""What a check is, the registry, and the runner.

A check is a pure function from facts to zero or more :class:`Fire`. Its parameters say which facts
it needs (``def nouveau_loaded(kernel: KernelFacts)``): :class:`Inputs` resolves them by name and skips
the check, saying why, when one is unavailable. The runner turns each Fire into a :class:`Finding` carrying the check's
code, slug, severity and "why". The docstring-like ``why`` is the catalogue's text (``torchdoctor explain CODE``).
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from torchdoctor.model import (
    CheckOutcome,
    CheckStatus,
    Evidence,
    Facts,
    Finding,
    NvmlFacts,
    OtherLoaderFacts,
    Severity,
    Source,
    TorchImportFailure,
    TorchNotInstalled,
    TorchRuntime,
    Unavailable,
)


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
"""Facts in, problems out: how the runner calls a check (the catalogue's take Facts, `dist`'s ClusterFacts)."""
DeclaredFn = TypeVar("DeclaredFn", bound=Callable[..., Iterable[Fire]])
"""A check as written: its parameters name the facts it needs (``kernel: KernelFacts, facts: Facts``)."""
Getter = Callable[[Any], object]


@dataclass(frozen=True)
class Inputs:
    """What one family of checks may ask for by parameter name, and how each is read from its facts.

    A parameter named ``whole`` gets the whole facts object; any other must name a getter. A getter that
    returns :class:`Unavailable` skips the check, and ``labels`` says how the reason names the fact.
    """

    getters: Mapping[str, Getter]
    whole: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def requires(self, code: str, fn: Callable[..., object]) -> tuple[str, ...]:
        """The facts ``fn`` asks for, in the order of its parameters; a name no getter knows is an error."""
        asked = []
        for param in inspect.signature(fn).parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise TypeError(f"check {code} ({fn.__name__}): *{param.name} cannot name a fact")
            if param.name == self.whole:
                continue
            if param.name not in self.getters:
                known = ", ".join([*self.getters, self.whole])
                raise TypeError(
                    f"check {code} ({fn.__name__}): parameter {param.name!r} names no fact; use one of: {known}"
                )
            asked.append(param.name)
        return tuple(asked)

    def missing(self, requires: Iterable[str], facts: Any) -> str:
        """Why a check that needs ``requires`` cannot run on ``facts`` ("" when it can)."""
        for name in requires:
            value = self.getters[name](facts)
            if isinstance(value, Unavailable):
                return f"needs {self.labels.get(name, name)} facts: {value.reason}"
        return ""

    def bind(self, fn: Callable[..., Iterable[Fire]]) -> CheckFn:
        """``fn`` as the runner calls it: facts in, each parameter resolved from them by name."""
        names = tuple(inspect.signature(fn).parameters)

        def call(facts: Any) -> Iterable[Fire]:
            return fn(**{name: facts if name == self.whole else self.getters[name](facts) for name in names})

        call.__name__ = call.__qualname__ = fn.__name__
        return call


def _counted_gpus(facts: Facts) -> object:
    """NVML's GPUs, when it could also count them (checks of each GPU need the whole list)."""
    nvml = facts.nvml
    if not isinstance(nvml, NvmlFacts):
        return nvml
    if isinstance(nvml.gpu_count, Unavailable) and nvml.gpu_count.code != "not_recorded":
        return Unavailable("NVML", f"NVML could not count the GPUs: {nvml.gpu_count.reason}", nvml.gpu_count.code)
    return nvml.gpus


def _not_runtime(facts: Facts) -> Unavailable:
    if isinstance(facts.torch, Unavailable):
        return facts.torch
    return Unavailable("torch", "torch did not import, so its runtime view is unknown", "no_runtime")


def _loader_group(name: str) -> Getter:
    """One group of ``facts.other_loaders`` (``wsl``, ``tegra``, ``rocm``, ``dlls``).

    Where the probe could not run (or an older report did not record it), its Unavailable, so the check is skipped
    with the probe's reason; where the group could not be read, the group's Unavailable; where it does not apply to
    this machine (not WSL, not a Jetson), None: there is nothing there to judge, and the check passes.
    """

    def get(facts: Facts) -> object:
        other = facts.other_loaders
        if not isinstance(other, OtherLoaderFacts):
            return other
        value = getattr(other, name)
        return None if isinstance(value, Unavailable) and value.code == "not_applicable" else value

    return get


REQUIREMENTS: dict[str, Getter] = {
    "host": lambda f: f.host,
    "python": lambda f: f.python,
    "packages": lambda f: f.packages,
    "nvml": lambda f: f.nvml,
    "kernel": lambda f: f.kernel,
    "env": lambda f: f.env,
    "smoke": lambda f: f.smoke,
    "torch": lambda f: f.torch,
    "torch_runtime": lambda f: f.torch if isinstance(f.torch, TorchRuntime) else _not_runtime(f),
    "nvml_gpus": _counted_gpus,
    "bench": lambda f: f.bench,
    "wsl": _loader_group("wsl"),
    "tegra": _loader_group("tegra"),
    "rocm": _loader_group("rocm"),
    "dlls": _loader_group("dlls"),
}
"""What a catalogue check may ask for: ``kernel`` is KernelFacts, ``nvml_gpus`` the tuple of GPUFacts NVML
counted, ``torch_runtime`` a torch that imported; ``wsl``, ``tegra``, ``rocm`` and ``dlls`` are the other loaders'
groups (None where the group does not apply to this machine); ``facts`` is the whole :class:`Facts`."""
TorchSeen = TorchRuntime | TorchImportFailure | TorchNotInstalled
"""What a check that asks for ``torch`` gets: torch imported, failed to import, or is not installed."""
REQUIREMENT_NAMES = {
    "nvml_gpus": "NVML's GPU",
    "torch_runtime": "torch's runtime",
    "wsl": "WSL",
    "tegra": "Jetson (Tegra)",
    "rocm": "ROCm (KFD)",
    "dlls": "Windows DLL",
}
FACTS = Inputs(REQUIREMENTS, "facts", REQUIREMENT_NAMES)


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
    inputs: Inputs = field(default=FACTS, compare=False, repr=False)

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
    registry: dict[str, Check] = REGISTRY,
    inputs: Inputs = FACTS,
) -> Callable[[DeclaredFn], DeclaredFn]:
    """Register a check; the facts it needs are its parameters' names (see :class:`Inputs`)."""

    def register(fn: DeclaredFn) -> DeclaredFn:
        if code in registry or any(c.slug == slug for c in registry.values()):
            raise ValueError(f"duplicate check {code} {slug}")
        requires = inputs.requires(code, fn)
        registry[code] = Check(
            code, slug, title, severity, area, " ".join(why.split()), requires, inputs.bind(fn), inputs
        )
        return fn

    return register


def ev(source: Source, label: str, value: object) -> Evidence:
    return Evidence(source, label, str(value))


def missing_requirement(chk: Check, facts: Any) -> str:
    return chk.inputs.missing(chk.requires, facts)


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


# ----------------------------------------------------------------------------- fact helpers for fixes
