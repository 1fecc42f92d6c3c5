"""Which GPUs a CUDA program sees: CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, MIG."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.derived import nvml_gpus
from torchdoctor.model import EnvFacts, Evidence, Facts, GPUFacts, NvmlFacts, Severity, Source, TorchRuntime
from torchdoctor.rules.shell import quote


@dataclass(frozen=True)
class VisibleDevices:
    """CUDA_VISIBLE_DEVICES as the CUDA runtime reads it: it stops at the first bad entry."""

    raw: str
    entries: tuple[str, ...]
    """The entries CUDA accepts (it ignores everything from the first invalid one)."""
    invalid: str
    """The first entry CUDA rejected, or ""."""


def parse_visible(raw: str, gpu_count: int | None, uuids: tuple[str, ...] | None = None) -> VisibleDevices:
    """``uuids``: every GPU and MIG UUID NVML knows (None when NVML could not tell)."""
    entries: list[str] = []
    invalid = ""
    for token in (t.strip() for t in raw.split(",")):
        if token.isdigit():
            if gpu_count is not None and int(token) >= gpu_count:
                invalid = token
                break
        elif not token.startswith(("GPU-", "MIG-")):
            invalid = token
            break
        elif uuids is not None and not any(u.startswith(token) for u in uuids):
            invalid = token  # CUDA matches a UUID by its prefix; this one matches nothing here
            break
        entries.append(token)
    return VisibleDevices(raw, tuple(entries), invalid)


def known_uuids(facts: Facts) -> tuple[str, ...] | None:
    if not isinstance(facts.nvml, NvmlFacts):
        return None
    found: list[str] = []
    for g in facts.nvml.gpus:
        if not isinstance(g.uuid, str):
            return None  # a GPU whose UUID is unknown might be the one named
        found.append(g.uuid)
        if isinstance(g.mig_uuids, tuple):
            found.extend(g.mig_uuids)
    return tuple(found)


@check(
    "TD015",
    "cuda-visible-devices",
    "CUDA_VISIBLE_DEVICES hides GPUs",
    Severity.ERROR,
    Area.VISIBILITY,
    "CUDA_VISIBLE_DEVICES decides which GPUs a process can see and in what order; an empty or invalid "
    "value silently hides GPUs (CUDA ignores everything from the first bad entry on).",
)
def cuda_visible_devices(env: EnvFacts, facts: Facts) -> Iterator[Fire]:
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return
    gpus = nvml_gpus(facts)
    count = len(gpus) if isinstance(facts.nvml, NvmlFacts) else None
    shown = ev(Source.ENV, "CUDA_VISIBLE_DEVICES", repr(raw))
    nvml_count = (ev(Source.NVML, "GPUs", count),) if count is not None else ()
    parsed = parse_visible(raw, count, known_uuids(facts))
    unknown_uuid = parsed.invalid.startswith(("GPU-", "MIG-"))
    invalid: tuple[Evidence, ...] = (ev(Source.ENV, "first invalid entry", parsed.invalid),) if parsed.invalid else ()
    if unknown_uuid:
        invalid += (ev(Source.NVML, "GPU UUIDs here", ", ".join(str(g.uuid) for g in gpus)),)
    if not parsed.entries and (count is None or count > 0):
        yield Fire(
            (shown, *nvml_count, *invalid),
            (
                "No GPU of this machine has that UUID (`nvidia-smi -L` lists them), so torch sees no GPU. "
                if unknown_uuid
                else "This value hides every GPU. "
            )
            + "Unset it, or list the GPUs to use (indices or GPU-/MIG- UUIDs).",
            "unset CUDA_VISIBLE_DEVICES",
            title="CUDA_VISIBLE_DEVICES names a GPU this machine does not have"
            if unknown_uuid
            else "CUDA_VISIBLE_DEVICES hides every GPU",
        )
        return
    if parsed.invalid:
        yield Fire(
            (shown, *nvml_count, *invalid),
            f"CUDA uses only {','.join(parsed.entries)}; fix or remove '{parsed.invalid}'.",
            f"export CUDA_VISIBLE_DEVICES={quote(','.join(parsed.entries))}",
            severity=Severity.WARNING,
            title="CUDA_VISIBLE_DEVICES names a GPU this machine does not have"
            if unknown_uuid
            else "CUDA_VISIBLE_DEVICES has an invalid entry",
        )
    mig = [g for g in gpus if g.mig_enabled is True]
    indices = [e for e in parsed.entries if e.isdigit()]
    if mig and indices:
        uuids = [u for g in mig if isinstance(g.mig_uuids, tuple) for u in g.mig_uuids]
        yield Fire(
            (shown, ev(Source.NVML, "MIG enabled on", ", ".join(g.label() for g in mig))),
            "With MIG, a process sees only MIG instances, and only one; select it by its MIG UUID "
            "(nvidia-smi -L lists them).",
            f"export CUDA_VISIBLE_DEVICES={quote(uuids[0])}" if uuids else "nvidia-smi -L",
            severity=Severity.WARNING,
            title="CUDA_VISIBLE_DEVICES uses an index on a MIG GPU",
        )


@check(
    "TD016",
    "cuda-device-order",
    "mixed GPUs without CUDA_DEVICE_ORDER=PCI_BUS_ID",
    Severity.WARNING,
    Area.VISIBILITY,
    "CUDA numbers GPUs fastest first, nvidia-smi by PCI bus: on a machine with different GPU models, "
    "cuda:0 may not be nvidia-smi's GPU 0, and CUDA_VISIBLE_DEVICES=1 may pick the wrong card.",
)
def cuda_device_order(nvml_gpus: tuple[GPUFacts, ...], env: EnvFacts) -> Iterator[Fire]:
    names = {g.name for g in nvml_gpus if isinstance(g.name, str)}  # an unreadable GPU is no model
    if len(names) < 2 or env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return
    yield Fire(
        (
            ev(Source.NVML, "GPU models", ", ".join(sorted(names))),
            ev(Source.ENV, "CUDA_DEVICE_ORDER", env.get("CUDA_DEVICE_ORDER") or "unset (FASTEST_FIRST)"),
        ),
        "Number GPUs the way nvidia-smi does, before the process starts.",
        "export CUDA_DEVICE_ORDER=PCI_BUS_ID",
    )


@check(
    "TD021",
    "mig-enabled",
    "MIG is enabled",
    Severity.INFO,
    Area.VISIBILITY,
    "A GPU in MIG mode is split into instances; CUDA enumerates only MIG instances, one per process, so "
    "device_count() is 0 or 1 and multi-instance DDP does not work.",
)
def mig_enabled(nvml_gpus: tuple[GPUFacts, ...], facts: Facts) -> Iterator[Fire]:
    mig = [g for g in nvml_gpus if g.mig_enabled is True]
    if not mig:
        return
    evidence = [ev(Source.NVML, "MIG enabled on", ", ".join(g.label() for g in mig))]
    severity = Severity.INFO
    torch = facts.torch
    if isinstance(torch, TorchRuntime) and torch.is_cuda_build and torch.device_count == 0:
        evidence.append(ev(Source.TORCH, "torch.cuda.device_count()", 0))
        severity = Severity.WARNING
    yield Fire(
        tuple(evidence),
        "Run one process per MIG instance and select it with CUDA_VISIBLE_DEVICES=MIG-<uuid> "
        "(nvidia-smi -L lists them); disable MIG (admin: nvidia-smi -mig 0) to use the whole GPU.",
        "nvidia-smi -L",
        severity=severity,
    )
