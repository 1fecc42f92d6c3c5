"""Findings from the smoke tests: each failed step is claimed by the check that names its cause."""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, Skip, check, ev
from torchdoctor.checks.fixes import install_torch_fix
from torchdoctor.derived import nvml_gpus, odd_capability
from torchdoctor.model import (
    DeviceSmoke,
    Evidence,
    Facts,
    HostFacts,
    Severity,
    SmokeFacts,
    SmokeStep,
    Source,
    StepStatus,
    TorchRuntime,
)
from torchdoctor.rules.index import pip
from torchdoctor.rules.shell import quote

CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "no-kernel-image",
        re.compile(
            r"no kernel image is available|invalid device function|"
            r"not compatible with the current PyTorch installation",
            re.I,
        ),
    ),
    ("out-of-memory", re.compile(r"out of memory|CUBLAS_STATUS_ALLOC_FAILED|MPS backend out of memory", re.I)),
    ("dataloader-shm", re.compile(r"Bus error|shared memory|/dev/shm|No space left on device", re.I)),
    ("cuda-fork", re.compile(r"Cannot re-initialize CUDA in forked subprocess", re.I)),
    ("weights-only", re.compile(r"Weights only load failed|UnpicklingError|weights_only", re.I)),
    ("nan-loss", re.compile(r"NaN|\bInf\b", re.I)),
)


def cause(step: SmokeStep) -> str:
    text = f"{step.error}\n{step.detail}"
    for key, pattern in CAUSES:
        if pattern.search(text):
            return key
    return "other"


def _failed_with(device: DeviceSmoke, key: str) -> list[SmokeStep]:
    return [
        s
        for s in device.steps
        if s.status == StepStatus.FAILED and cause(s) == key and not (device.died and s.error == device.died)
    ]


def failures(smoke: SmokeFacts, key: str) -> Iterator[tuple[DeviceSmoke, SmokeStep]]:
    """The first step per device that failed for this cause (one finding per device and cause)."""
    for device in smoke.devices:
        failed = _failed_with(device, key)
        if failed:
            yield device, failed[0]


def step_evidence(device: DeviceSmoke, step: SmokeStep) -> tuple[Evidence, ...]:
    label = f"{device.device} ({device.name})" if device.name else device.device
    evidence: tuple[Evidence, ...] = (
        ev(Source.SMOKE, f"{label} step '{step.name}'", step.error.splitlines()[0][:400] if step.error else "failed"),
    )
    others = [s.name for s in _failed_with(device, cause(step)) if s is not step]
    if others:
        evidence += (ev(Source.SMOKE, "also failed the same way", ", ".join(others)),)
    return evidence


WHY_SMOKE = "torchdoctor ran a small model through the everyday training path on each device; this step failed."


@check("TD201", "smoke-failed", "a smoke test step failed", Severity.ERROR, Area.SMOKE, WHY_SMOKE)
def smoke_failed(smoke: SmokeFacts) -> Iterator[Fire]:
    for device, step in failures(smoke, "other"):
        detail = step.detail.strip().splitlines()[-1] if step.detail.strip() else ""
        evidence = step_evidence(device, step)
        if detail and detail not in step.error:
            evidence += (ev(Source.SMOKE, "where", detail[:300]),)
        yield Fire(
            evidence,
            "Reproduce it with `torchdoctor smoke --device " + device.device + " -v`; if torch itself is at fault, "
            "reinstalling it usually helps. Include this report when you ask for help.",
            title=f"{device.device}: smoke step '{step.name}' failed",
        )


@check(
    "TD202",
    "smoke-no-kernel-image",
    "the GPU has no kernels in this torch",
    Severity.ERROR,
    Area.SMOKE,
    "torch.cuda.is_available() was True but the first kernel failed with 'no kernel image is available': the "
    "installed torch was not compiled for this GPU's architecture.",
)
def smoke_no_kernel_image(smoke: SmokeFacts, facts: Facts) -> Iterator[Fire]:
    for device, step in failures(smoke, "no-kernel-image"):
        odd = odd_capability(facts)
        if odd:  # which build has kernels for it cannot be told
            raise Skip(f"could not check: {odd}")
        evidence = step_evidence(device, step)
        torch = facts.torch
        if isinstance(torch, TorchRuntime):
            evidence += (ev(Source.TORCH, "torch is built for", " ".join(torch.arch_list) or "(unknown)"),)
            index = int(device.device.split(":")[1]) if device.device.startswith("cuda:") else 0
            dev = next((d for d in torch.devices if d.index == index), None)
            if dev is not None:
                evidence += (ev(Source.TORCH, f"{device.device} compute capability", dev.capability),)
        fix = install_torch_fix(facts, reinstall=True)
        yield Fire(evidence, fix.text, fix.command, title=f"{device.device}: no kernel image for this GPU")


@check(
    "TD203",
    "smoke-out-of-memory",
    "the device ran out of memory on a tiny model",
    Severity.ERROR,
    Area.SMOKE,
    "The smoke model needs a few megabytes: running out means other processes hold the device's memory.",
)
def smoke_out_of_memory(smoke: SmokeFacts, facts: Facts) -> Iterator[Fire]:
    for device, step in failures(smoke, "out-of-memory"):
        evidence = step_evidence(device, step)
        for gpu in nvml_gpus(facts):
            if isinstance(gpu.processes, tuple) and gpu.processes:
                pids = ", ".join(str(p.pid) for p in gpu.processes)
                evidence += (ev(Source.NVML, f"{gpu.label()} used by PID", pids),)
        yield Fire(
            evidence,
            "Free the device: stop the processes holding its memory (nvidia-smi lists them), or "
            "pick another GPU with CUDA_VISIBLE_DEVICES.",
            "nvidia-smi",
            title=f"{device.device}: out of memory on a tiny model",
        )


@check(
    "TD204",
    "smoke-dataloader-shm",
    "DataLoader workers died of too little shared memory",
    Severity.ERROR,
    Area.SMOKE,
    "DataLoader workers hand batches over through /dev/shm; when it is too small they die with 'Bus error' "
    "and training with num_workers > 0 fails.",
)
def smoke_dataloader_shm(smoke: SmokeFacts, facts: Facts) -> Iterator[Fire]:
    for device, step in failures(smoke, "dataloader-shm"):
        evidence = step_evidence(device, step)
        host = facts.host
        in_container = isinstance(host, HostFacts) and bool(host.container)
        if isinstance(host, HostFacts) and isinstance(host.shm_bytes, int):
            evidence += (ev(Source.PLATFORM, "/dev/shm size", f"{host.shm_bytes / 1024**2:.0f} MiB"),)
        yield Fire(
            evidence,
            "Give the process more shared memory"
            + (" (the container: `docker run --shm-size=8g IMAGE COMMAND` or --ipc=host)" if in_container else "")
            + ", or use num_workers=0.",
            "" if in_container else "sudo mount -o remount,size=8G /dev/shm",
            title=f"{device.device}: DataLoader workers died (shared memory)",
        )


@check(
    "TD205",
    "smoke-cuda-fork",
    "CUDA used in a forked DataLoader worker",
    Severity.ERROR,
    Area.SMOKE,
    "A process that initialised CUDA cannot fork workers that use CUDA: 'Cannot re-initialize CUDA in forked "
    "subprocess'.",
)
def smoke_cuda_fork(smoke: SmokeFacts) -> Iterator[Fire]:
    for device, step in failures(smoke, "cuda-fork"):
        yield Fire(
            step_evidence(device, step),
            "Use the spawn (or forkserver) start method: "
            "torch.multiprocessing.set_start_method('spawn') before creating workers, or "
            "DataLoader(multiprocessing_context='spawn'); keep CUDA out of Dataset.__getitem__.",
            title=f"{device.device}: CUDA re-initialised in a forked worker",
        )


@check(
    "TD206",
    "smoke-weights-only",
    "torch.load(weights_only=True) refused a checkpoint",
    Severity.ERROR,
    Area.SMOKE,
    "Since torch 2.6, torch.load defaults to weights_only=True and refuses pickled objects that are not on its "
    "allow-list; a plain state_dict must still load.",
)
def smoke_weights_only(smoke: SmokeFacts) -> Iterator[Fire]:
    for device, step in failures(smoke, "weights-only"):
        yield Fire(
            step_evidence(device, step),
            "For checkpoints you trust, allow their types with "
            "torch.serialization.add_safe_globals([...]) (or the safe_globals() context), or pass "
            "weights_only=False for that file only.",
            title=f"{device.device}: torch.load(weights_only=True) failed",
        )


@check(
    "TD207",
    "smoke-nan-loss",
    "training produced NaN or Inf",
    Severity.ERROR,
    Area.SMOKE,
    "A tiny model on a fixed batch must train to finite losses; NaN/Inf here points at broken kernels, "
    "bad hardware or a broken math library, not at the model.",
)
def smoke_nan_loss(smoke: SmokeFacts) -> Iterator[Fire]:
    for device, step in failures(smoke, "nan-loss"):
        yield Fire(
            step_evidence(device, step),
            "Run the smoke test again; if it repeats on one GPU only, check "
            "that GPU's health (ECC, clocks); on every device, reinstall torch.",
            f"torchdoctor smoke --device {quote(device.device)}",
            title=f"{device.device}: training produced NaN/Inf",
        )


@check(
    "TD208",
    "smoke-device-unusable",
    "a device's smoke tests crashed, hung or could not start",
    Severity.ERROR,
    Area.SMOKE,
    "The smoke child for this device died (a signal, a timeout) or the device was not usable at all: "
    "real training on it would fail the same way.",
)
def smoke_device_unusable(smoke: SmokeFacts, facts: Facts) -> Iterator[Fire]:
    for device in smoke.devices:
        if not device.died:
            continue
        evidence = (ev(Source.SMOKE, device.device, device.died),)
        if device.died.startswith(("not available", "not tested")):
            fix = install_torch_fix(facts, reinstall=True) if device.device.startswith("cuda") else None
            if fix is not None and not fix.variant.startswith("cu"):
                fix = None  # a build without CUDA cannot cure "torch cannot use CUDA"
            text = "See `torchdoctor check` for why torch cannot use this device."
            untested = device.died.startswith("not tested")
            yield Fire(
                evidence,
                f"{text} {fix.text}" if fix else text,
                fix.command if fix else "",
                title=f"{device.name or device.device} not tested: torch cannot use it"
                if untested
                else f"{device.device} was asked for but torch cannot use it",
            )
            continue
        yield Fire(
            evidence,
            "Run that device alone to see the full error: `torchdoctor smoke --device "
            f"{device.device} -v`; a crash inside torch usually means a broken install or driver "
            "(reinstall torch; check the driver findings).",
            pip(facts, "install --force-reinstall torch") if "SIG" in device.died else "",
            title=f"{device.device}: smoke tests {'timed out' if 'timeout' in device.died else 'crashed'}",
        )
