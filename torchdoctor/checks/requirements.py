"""CI requirements (`--require`): each one not met is an error finding of its own, with the reason.

cuda          torch can use at least one CUDA device
mps           torch can use Apple's MPS
gpus>=N       torch sees at least N CUDA devices (also ==, >, <=, <)
torch>=X      the torch version satisfies a PEP 440 specifier (local tags like +cu124 are ignored)
smoke         every smoke step on every tested device passed
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.checks.base import Area, Check, Fire, ev
from torchdoctor.derived import torch_version
from torchdoctor.model import (
    Facts,
    Severity,
    SmokeFacts,
    Source,
    StepStatus,
    TorchImportFailure,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.rules.devices import Device, DeviceError, Kind, parse_device

OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "==": operator.eq,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
GPUS = re.compile(r"gpus\s*(>=|==|<=|>|<)\s*(\d+)$")


class RequirementError(ValueError):
    """A --require value that is not one of the forms above."""


def _torch_text(facts: Facts) -> str:
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        return f"torch {torch.version}: CUDA {torch.cuda or 'none'}, is_available()={torch.cuda_available}"
    if isinstance(torch, Unavailable):
        return f"torch: {torch.reason}"
    if isinstance(torch, TorchImportFailure):
        return f"import torch failed ({torch.kind.value}): {torch.exc_type}"
    return f"torch is not installed in {torch.python}"


def _cuda(facts: Facts) -> Iterator[Fire]:
    torch = facts.torch
    if isinstance(torch, TorchRuntime) and torch.cuda_available and torch.device_count > 0:
        return
    yield Fire(
        (ev(Source.REQUIREMENT, "required", "cuda"), ev(Source.TORCH, "found", _torch_text(facts))),
        "See the other findings for why torch cannot use CUDA here.",
    )


def _mps(facts: Facts) -> Iterator[Fire]:
    torch = facts.torch
    if isinstance(torch, TorchRuntime) and torch.mps_available:
        return
    yield Fire(
        (
            ev(Source.REQUIREMENT, "required", "mps"),
            ev(Source.TORCH, "MPS available", torch.mps_available if isinstance(torch, TorchRuntime) else "unknown"),
        ),
        "MPS needs an Apple Silicon Mac, a native arm64 Python and a recent macOS; see the other findings.",
    )


def _gpus(op: str, n: int) -> Callable[[Facts], Iterator[Fire]]:
    def fn(facts: Facts) -> Iterator[Fire]:
        torch = facts.torch
        if isinstance(torch, TorchRuntime) and OPS[op](torch.device_count, n):
            return
        seen = (
            ev(Source.TORCH, "torch.cuda.device_count()", torch.device_count)
            if isinstance(torch, TorchRuntime)
            else ev(Source.TORCH, "found", _torch_text(facts))  # never called: no count to show
        )
        yield Fire(
            (ev(Source.REQUIREMENT, "required", f"gpus{op}{n}"), seen),
            "Run on a machine (or with a CUDA_VISIBLE_DEVICES) with the GPUs this job needs.",
        )

    return fn


def _torch_version(spec: SpecifierSet, text: str) -> Callable[[Facts], Iterator[Fire]]:
    def fn(facts: Facts) -> Iterator[Fire]:
        version = torch_version(facts)
        try:
            # As pip compares: the local part (+cu124) matters only to a spec that names one, a pre-release or
            # source build (2.6.0a0+git...) is not 2.6.0, and an installed pre-release may satisfy a range.
            ok = bool(version) and spec.contains(Version(version), prereleases=True)
        except InvalidVersion:
            ok = False
        if ok:
            return
        yield Fire(
            (ev(Source.REQUIREMENT, "required", text), ev(Source.TORCH, "torch", version or "not installed")),
            f"Install a torch that satisfies {spec} (`torchdoctor recommend` gives the command).",
        )

    return fn


def _smoke(facts: Facts) -> Iterator[Fire]:
    smoke = facts.smoke
    if isinstance(smoke, SmokeFacts) and smoke.devices and all(d.passed for d in smoke.devices):
        return
    if isinstance(smoke, SmokeFacts):
        bad = [
            f"{d.device}: {d.died or ', '.join(s.name for s in d.steps if s.status == StepStatus.FAILED)}"
            for d in smoke.devices
            if not d.passed
        ]
        saw = "; ".join(bad) or "no device was tested"
    else:
        saw = smoke.reason
    yield Fire(
        (ev(Source.REQUIREMENT, "required", "smoke"), ev(Source.SMOKE, "found", saw)),
        "Every smoke step must pass; the smoke findings say which failed and why.",
    )


BENCH = re.compile(r"bench>=(0?\.\d+|1(?:\.0*)?)")


def _bench(least: float) -> Callable[[Facts], Iterator[Fire]]:
    """Every GPU measured by `bench` reaches ``least`` of its datasheet, in matmul and in memory bandwidth."""

    def fn(facts: Facts) -> Iterator[Fire]:
        from torchdoctor.bench.checks import gpus, matmul_ratio, memory_ratio

        measured = list(gpus(facts))
        short = []
        for device, peak in measured:
            if peak is None:
                short.append(f"{device.device} {device.name}: no datasheet figure to compare with")
                continue
            for ratio in (matmul_ratio(device, peak), memory_ratio(device, peak)):
                if ratio is None:
                    short.append(f"{device.device}: not measured against the datasheet")
                elif ratio.value < least:
                    short.append(f"{device.device} {ratio.label} at {ratio.value:.0%}")
        if measured and not short:
            return
        why = "; ".join(short) or "no GPU was measured (run `torchdoctor bench` on a machine with a GPU)"
        yield Fire(
            (ev(Source.REQUIREMENT, "required", f"bench>={least:g}"), ev(Source.BENCH, "found", why)),
            "See the Performance findings for the cause.",
        )

    return fn


def _device(text: str) -> Device | None:
    """``text`` as a device name (rules/devices.py's grammar); of those, cuda and mps are requirements."""
    try:
        return parse_device(text, allow_all=False)
    except DeviceError:
        return None


def parse(spec: str) -> Check:
    text = spec.strip().lower().replace(" ", "")
    why = "Required by --require or [tool.torchdoctor] require: this job must not run on a machine without it."
    device = _device(text)
    if device == Device(Kind.CUDA):
        return Check("TD301", "require-cuda", "required: CUDA", Severity.ERROR, Area.REQUIREMENTS, why, (), _cuda)
    if device == Device(Kind.MPS):
        return Check("TD302", "require-mps", "required: MPS", Severity.ERROR, Area.REQUIREMENTS, why, (), _mps)
    match = GPUS.match(text)
    if match:
        op, n = match.group(1), int(match.group(2))
        return Check(
            "TD303", "require-gpus", f"required: gpus{op}{n}", Severity.ERROR, Area.REQUIREMENTS, why, (), _gpus(op, n)
        )
    if text.startswith("torch"):
        try:
            specifier = SpecifierSet(text[len("torch") :])
        except InvalidSpecifier:
            raise RequirementError(f"--require {spec}: not a PEP 440 specifier after 'torch'") from None
        if not str(specifier):
            raise RequirementError(f"--require {spec}: give a version range, e.g. torch>=2.4")
        return Check(
            "TD304",
            "require-torch",
            f"required: {text}",
            Severity.ERROR,
            Area.REQUIREMENTS,
            why,
            (),
            _torch_version(specifier, text),
        )
    if text == "smoke":
        return Check(
            "TD305", "require-smoke", "required: smoke tests pass", Severity.ERROR, Area.REQUIREMENTS, why, (), _smoke
        )
    bench = BENCH.fullmatch(text)
    if bench:
        least = float(bench.group(1))
        return Check(
            "TD306",
            "require-bench",
            f"required: bench>={least:g}",
            Severity.ERROR,
            Area.REQUIREMENTS,
            why,
            (),
            _bench(least),
        )
    raise RequirementError(f"--require {spec}: use cuda, mps, gpus>=N, torch>=X, smoke or bench>=R")


EXAMPLES = ("cuda", "mps", "gpus>=2", "torch>=2.4", "smoke", "bench>=0.8")


def catalogue() -> tuple[Check, ...]:
    """One example of each requirement check (TD301-TD305), for `check --list` and `explain`."""
    return tuple(parse(example) for example in EXAMPLES)
