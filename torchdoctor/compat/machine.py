"""Describe this (or another) machine in the terms the tables use."""

from __future__ import annotations

import platform as _platform
import re

from torchdoctor.compat.recommend import Gpu, Machine
from torchdoctor.compat.tables import PLATFORMS, Tables, cc_int, cuda_of_variant, load_tables
from torchdoctor.derived import CAPABILITY, torch_version
from torchdoctor.model import Facts, HostFacts, PackagesFacts, PythonFacts, TorchRuntime
from torchdoctor.nvidia import driver_version_seen, gpus_seen
from torchdoctor.rules.versions import cuda_variant, local_tag


def platform_key(system: str, machine: str) -> str:
    """The tables' platform name for an OS and the *Python's* architecture."""
    arch = machine.lower()
    arch = {"amd64": "x86_64", "x64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(arch, arch)
    if system == "Darwin":
        return "macos-arm64" if arch in ("arm64", "aarch64") else "macos-x86_64"
    if system == "Windows":
        return "windows-x86_64" if arch == "x86_64" else f"windows-{arch}"
    return "linux-aarch64" if arch in ("arm64", "aarch64") else f"linux-{arch}"


def _cc(capability: str) -> bool:
    return bool(CAPABILITY.fullmatch(capability))


def machine_from_facts(facts: Facts) -> Machine:
    python = facts.python
    host = facts.host
    system = host.system if isinstance(host, HostFacts) else _platform.system()
    arch = python.machine if isinstance(python, PythonFacts) else _platform.machine()
    version = python.version if isinstance(python, PythonFacts) else _platform.python_version()
    free = python.free_threaded if isinstance(python, PythonFacts) else False
    seen = driver_version_seen(facts)
    driver = seen.version if seen else ""
    # a GPU whose capability is empty or odd is left out: nothing can be said of its architecture
    seen_gpus = [g for g in gpus_seen(facts) if _cc(g.compute_capability)]
    gpus = [Gpu(cc_int(g.compute_capability), f"GPU {g.index} {g.name}") for g in seen_gpus]
    if not gpus and isinstance(facts.torch, TorchRuntime):
        gpus = [Gpu(cc_int(d.capability), f"GPU {d.index} {d.name}") for d in facts.torch.devices if _cc(d.capability)]
    glibc = host.glibc if isinstance(host, HostFacts) and isinstance(host.glibc, str) else ""
    macos = host.macos_version if isinstance(host, HostFacts) and isinstance(host.macos_version, str) else ""
    return Machine(platform_key(system, arch), version, free, driver, tuple(gpus), glibc, macos)


def resolve_gpu(tables: Tables, query: str, index: int) -> Gpu:
    found = tables.gpu(query)
    if found is None:
        raise ValueError(f"unknown GPU {query!r}: give a name from compat/gpus.toml, sm_XY or X.Y")
    cc, name = found
    return Gpu(cc, name if index == 0 else f"{name} #{index}")


def check_platform(value: str) -> str:
    if value not in PLATFORMS:
        raise ValueError(f"unknown platform {value!r}: one of {', '.join(PLATFORMS)}")
    return value


def check_version(value: str, option: str) -> str:
    """A plain release number such as 13.6 or 14.0; anything else is a ValueError naming the option."""
    if not re.fullmatch(r"\d+(\.\d+){0,2}", value.strip()):
        raise ValueError(f"{option}: {value!r} is not a version such as 14.0")
    return value.strip()


PYTHON_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?)(t?)")


def parse_python(text: str, option: str = "--python-version") -> tuple[str, bool]:
    """ "3.13" / "3.13.1" / "3.14.0rc1" / "3.13t" -> (version, free-threaded); anything else is a ValueError."""
    match = PYTHON_VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{option} {text}: not a Python version (give one like 3.12 or 3.13t"
            + ("; to examine an interpreter, use --python PATH)" if "/" in text else ")")
        )
    return match.group(1), bool(match.group(2))


CUDA_RUNTIME_DISTS = ("cuda-toolkit", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime")


def installed_variant(facts: Facts) -> str:
    """Which build the installed torch is, without importing it: cu124, cpu, rocm6.2 ... or "" (cannot tell).

    A wheel from PyPI carries no +cuXYZ tag, but the CUDA it brings is installed beside it as
    dependencies (cuda-toolkit / nvidia-cuda-runtime-cuXY at the wheel's CUDA version); with none of
    them, it is the CPU build where PyPI's wheel for this platform is one (Windows, macOS).
    """
    if isinstance(facts.torch, TorchRuntime):
        t = facts.torch
        return cuda_variant(t.cuda) if t.cuda else (f"rocm{t.hip}" if t.hip else "cpu")
    version = torch_version(facts)
    tag = local_tag(version)
    if tag:
        return tag
    if not version or not isinstance(facts.packages, PackagesFacts):
        return ""
    for name in CUDA_RUNTIME_DISTS:
        found = facts.packages.version_of(name)
        if found:
            major, _, rest = found.partition(".")
            return f"cu{major}{rest.split('.')[0]}" if major.isdigit() and rest[:1].isdigit() else ""
    release = load_tables().release(version)
    platform = machine_from_facts(facts).platform
    if release is not None and release.pypi.get(platform, "cpu") == "cpu":
        return "cpu"
    return ""  # a CUDA wheel without its CUDA dependencies (--no-deps), or an unknown release


def torch_cuda(facts: Facts) -> str:
    """The CUDA torch was built with: torch.version.cuda, else the +cuXYZ tag or the CUDA wheels beside it."""
    variant = installed_variant(facts)
    if variant.startswith("cu"):
        try:
            return cuda_of_variant(variant)
        except ValueError:
            return ""
    return ""
