"""What every shareable format shows first: the verdict and the key facts."""

from __future__ import annotations

from torchdoctor.model import (
    BenchFacts,
    EnvFacts,
    HostFacts,
    Nvcc,
    NvmlFacts,
    PythonFacts,
    Report,
    SmokeFacts,
    StepStatus,
    TorchImportFailure,
    TorchNotInstalled,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import driver_line
from torchdoctor.words import counts, gpu_indices


def python_kind(python: PythonFacts) -> str:
    """venv, conda, pyenv or system: how the interpreter was installed, as a person would say it."""
    if python.venv:
        return "venv"
    if python.conda_prefix:
        return "conda"
    if "/.pyenv/versions/" in python.executable or "/.pyenv/versions/" in python.prefix:
        return "pyenv"
    return "system"


def verdict(report: Report) -> str:
    c = report.summary()
    head = "Broken" if c["errors"] else ("Works, with warnings" if c["warnings"] else "Healthy")
    return f"{head}: {counts(c)}"


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
        env = python_kind(python)
        ft = ", free-threaded" if python.free_threaded else ""
        rows.append(("Python", f"{python.version} {python.bits}-bit {python.machine} ({env}{ft})"))
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        build = torch.build
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
    rows.append(("NVIDIA driver", driver_line(facts)))
    nvml = facts.nvml
    if isinstance(nvml, NvmlFacts):
        same: dict[str, list[int]] = {}  # identical GPUs are one row: "GPUs 0-7"
        for gpu in nvml.gpus:
            mem = f", {gpu.memory_total / 1024**3:.0f} GiB" if isinstance(gpu.memory_total, int) else ""
            same.setdefault(f"{_maybe(gpu.name)} (sm {_maybe(gpu.compute_capability)}{mem})", []).append(gpu.index)
        rows += [(gpu_indices(indices), what) for what, indices in same.items()]
    nvcc = facts.env.nvcc if isinstance(facts.env, EnvFacts) else None
    if isinstance(nvcc, Nvcc):
        rows.append(
            (
                "nvcc (builds extensions only)",
                f"{nvcc.version} at {nvcc.path}; torch's wheels bring their own CUDA runtime",
            )
        )
    if isinstance(facts.bench, BenchFacts):
        from torchdoctor.render.bench import device_summary

        for measured in facts.bench.devices:
            rows.append((f"Bench {measured.device}", device_summary(measured).split(": ", 1)[1]))
    smoke = facts.smoke
    if isinstance(smoke, SmokeFacts):
        for device in smoke.devices:
            failed = [s.name for s in device.steps if s.status == StepStatus.FAILED]
            state = device.died or (f"failed: {', '.join(failed)}" if failed else "passed")
            rows.append((f"Smoke {device.device}", state))
    return rows
