"""What every shareable format shows first: the verdict and the key facts."""

from __future__ import annotations

from torchdoctor.model import (
    CheckStatus,
    HostFacts,
    NvmlFacts,
    PythonFacts,
    Report,
    Severity,
    SmokeFacts,
    StepStatus,
    TorchImportFailure,
    TorchNotInstalled,
    TorchRuntime,
    Unavailable,
)


def counts(report: Report) -> dict[str, int]:
    out = {s.value: 0 for s in Severity}
    for f in report.findings:
        out[f.severity.value] += 1
    out["passed"] = sum(1 for c in report.checks if c.status == CheckStatus.PASSED)
    out["skipped"] = sum(1 for c in report.checks if c.status == CheckStatus.SKIPPED)
    return out


def verdict(report: Report) -> str:
    c = counts(report)
    if c["error"]:
        head = "Broken"
    elif c["warning"]:
        head = "Works, with warnings"
    else:
        head = "Healthy"
    return (
        f"{head}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s); "
        f"{c['passed']} checks passed, {c['skipped']} could not run"
    )


def _maybe(value: object) -> str:
    return str(value) if not isinstance(value, Unavailable) else f"unknown ({value.reason})"


def key_facts(report: Report) -> list[tuple[str, str]]:
    facts = report.facts
    rows: list[tuple[str, str]] = []
    host = facts.host
    if isinstance(host, HostFacts):
        where = host.os_name + f" ({host.machine})"
        if host.container:
            where += f", {host.container} container"
        if host.wsl:
            where += f", {host.wsl.upper()}"
        rows.append(("OS", where))
    python = facts.python
    if isinstance(python, PythonFacts):
        env = "venv" if python.venv else ("conda" if python.conda_prefix else "system")
        ft = ", free-threaded" if python.free_threaded else ""
        rows.append(("Python", f"{python.version} {python.bits}-bit {python.machine} ({env}{ft})"))
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        build = f"CUDA {torch.cuda}" if torch.cuda else (f"ROCm {torch.hip}" if torch.hip else "CPU-only")
        rows.append(("torch", f"{torch.version} ({build})"))
        if torch.cuda:
            rows.append(("torch.cuda.is_available()", f"{torch.cuda_available} ({torch.device_count} device(s))"))
            rows.append(("cuDNN / NCCL", f"{_maybe(torch.cudnn)} / {_maybe(torch.nccl)}"))
            rows.append(("Compiled for", " ".join(torch.arch_list) or "(none)"))
        if torch.mps_built:
            rows.append(("MPS", "available" if torch.mps_available else "built, not available"))
    elif isinstance(torch, TorchNotInstalled):
        rows.append(("torch", "not installed"))
    elif isinstance(torch, TorchImportFailure):
        rows.append(("torch", f"import failed ({torch.kind.value}): {torch.message.splitlines()[0][:160]}"))
    else:
        rows.append(("torch", _maybe(torch)))
    nvml = facts.nvml
    if isinstance(nvml, NvmlFacts):
        rows.append(
            ("NVIDIA driver", f"{_maybe(nvml.driver_version)} (supports CUDA {_maybe(nvml.cuda_driver_version)})")
        )
        for gpu in nvml.gpus:
            mem = f", {gpu.memory_total / 1024**3:.0f} GiB" if isinstance(gpu.memory_total, int) else ""
            rows.append((f"GPU {gpu.index}", f"{_maybe(gpu.name)} (sm {_maybe(gpu.compute_capability)}{mem})"))
    else:
        rows.append(("NVIDIA driver", _maybe(nvml)))
    smoke = facts.smoke
    if isinstance(smoke, SmokeFacts):
        for device in smoke.devices:
            failed = [s.name for s in device.steps if s.status == StepStatus.FAILED]
            state = device.died or (f"failed: {', '.join(failed)}" if failed else "passed")
            rows.append((f"Smoke {device.device}", state))
    return rows
