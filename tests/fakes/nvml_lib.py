"""Build the fake ``libnvidia-ml.so.1`` (``libnvml/fake_nvml.c``) as a given driver branch exports it.

A branch is modelled by the NVML entry points it lacks: the library is linked with a version
script that makes those symbols local, so ``dlsym`` (and so the real bindings) cannot find them,
exactly as on a machine with that driver.

When each versioned entry point we call first appeared, from the history of ``nvml.h`` (NVIDIA's
header as vendored, one commit per CUDA release, in github.com/NVIDIA/go-nvml ``gen/nvml/nvml.h``):

- ``nvmlDeviceGetComputeRunningProcesses_v2``: absent in the CUDA 11.0 header (commit 56658d6),
  present from CUDA 11.1 (7dce688): driver R455.
- ``nvmlDeviceGetComputeRunningProcesses_v3`` and ``nvmlDeviceGetMemoryInfo_v2``: absent through
  CUDA 11.5 (297dc13), present from CUDA 11.6 (0ad3c2a): driver R510.
- ``nvmlDeviceGetCurrentClocksEventReasons``: absent through CUDA 12.1 (9fc23a0), present from
  CUDA 12.2 (075f45f): driver R535. Its predecessor ``...ClocksThrottleReasons`` is in every header.
- Every other entry point the probe calls (``nvmlInitWithFlags``, ``nvmlDeviceGetCount_v2``,
  ``nvmlDeviceGetHandleByIndex_v2``, ``nvmlDeviceGetPciInfo_v3``, ``nvmlSystemGetCudaDriverVersion_v2``,
  ``nvmlDeviceGetRemappedRows``, ``nvmlDeviceGetMigMode`` ...) is in the CUDA 11.0 header already.

CUDA release → driver branch: 11.0 R450, 11.4 R470, 12.2 R535, 12.4 R550, 13.0 R580 (the CUDA
toolkit release notes' driver table, also in compat/drivers.toml).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "libnvml" / "fake_nvml.c"

INTRODUCED = {
    "nvmlDeviceGetComputeRunningProcesses_v2": 455,
    "nvmlDeviceGetComputeRunningProcesses_v3": 510,
    "nvmlDeviceGetMemoryInfo_v2": 510,
    "nvmlDeviceGetCurrentClocksEventReasons": 535,
}
"""Versioned entry points → the first driver branch that exports them."""


@dataclass(frozen=True)
class Branch:
    name: str
    driver: str
    cuda: int
    """What nvmlSystemGetCudaDriverVersion reports (11040 = CUDA 11.4)."""

    @property
    def number(self) -> int:
        return int(self.name[1:])

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(sym for sym, first in INTRODUCED.items() if first > self.number)


BRANCHES = {
    b.name: b
    for b in (
        Branch("R450", "450.80.02", 11000),
        Branch("R470", "470.82.01", 11040),
        Branch("R535", "535.183.01", 12020),
        Branch("R550", "550.54.15", 12040),
        Branch("R580", "580.65.06", 13000),
    )
}


def compiler() -> str | None:
    return shutil.which("gcc") or shutil.which("cc")


def build(out_dir: Path, hidden: frozenset[str]) -> Path:
    """Compile the fake library without ``hidden``'s symbols; returns the folder holding it."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler (gcc or cc) on PATH")
    key = hashlib.sha256((SOURCE.read_text() + "|" + ",".join(sorted(hidden))).encode()).hexdigest()[:12]
    folder = out_dir / key
    lib = folder / "libnvidia-ml.so.1"
    if lib.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "exports.map"
    local = "".join(f" {sym};" for sym in sorted(hidden))
    script.write_text("{ global: *; local:" + local + " };\n" if hidden else "{ global: *; };\n")
    subprocess.run(
        [cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(SOURCE), f"-Wl,--version-script={script}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return folder


@dataclass
class Machine:
    """A scenario for the fake library: a driver branch and what each GPU says."""

    branch: str = "R550"
    gpus: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    system: dict[str, Any] = field(default_factory=dict)
    """Top-level keys: init_error, init_hang, count_error, driver, cuda, gpus."""
    hide: tuple[str, ...] = ()
    """Entry points to hide beyond what the branch lacks (a library older than any branch listed)."""

    def scenario(self) -> str:
        b = BRANCHES[self.branch]
        lines = {"driver": b.driver, "cuda": b.cuda, "gpus": len(self.gpus), **self.system}
        out = [f"{k} {v}" for k, v in lines.items()]
        for i, gpu in enumerate(self.gpus):
            for key, value in gpu.items():
                out.append(f"gpu.{i}.{key} {value}")
        return "\n".join(out) + "\n"


class FakeNvmlLibrary:
    """Builds libraries (once per branch) and gives the environment that makes a process use one."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def env(self, machine: Machine, where: Path) -> dict[str, str]:
        folder = build(self.cache, BRANCHES[machine.branch].hidden | set(machine.hide))
        scenario = where / f"nvml-{machine.branch}.scenario"
        scenario.write_text(machine.scenario())
        return {"LD_LIBRARY_PATH": str(folder), "FAKE_NVML_SCENARIO": str(scenario)}

    def exported(self, branch: str) -> set[str]:
        """The NVML symbols the library built for ``branch`` exports (read back with nm)."""
        folder = build(self.cache, BRANCHES[branch].hidden)
        out = subprocess.run(
            ["nm", "-D", "--defined-only", str(folder / "libnvidia-ml.so.1")], capture_output=True, text=True
        ).stdout
        return {line.split()[-1] for line in out.splitlines() if line.split() and line.split()[-1].startswith("nvml")}
