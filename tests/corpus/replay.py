"""Replay the corpus of real cases (tests/corpus/cases/*.json) through the doctor, and score what it says.

Each case is a machine from a public thread whose cause the thread confirmed. The replay turns the facts
the thread shows into the doctor's own facts (the builders of tests/factories.py; what the thread does not
state stays "could not check" or the builders' healthy default), judges them with the real catalogue
(``torchdoctor.doctor.judge``) and compares the findings with the case's verdict:

- right: a finding names the confirmed cause and gives a fix of the confirmed kind, and no finding
  contradicts it (names a cause the verdict rules out, or fixes it by keeping the culprit);
- wrong cause: the doctor has an error, but it names another cause;
- wrong fix: the cause is named, but the fix is of another kind or keeps the culprit;
- silent: no error, and no warning that names the cause.

The judgement rules below are written once, per verdict key (``CAUSE_SIGNS``, ``FIX_SIGNS``), never from a
case's own strings. Run ``python -m tests.corpus.replay`` for the table by class.
"""

from __future__ import annotations

import ast
import enum
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests import factories as f
from tests.corpus.other_loaders import other_loader_facts
from torchdoctor.children import TORCH_CHILD
from torchdoctor.compat.machine import installed_variant
from torchdoctor.doctor import judge
from torchdoctor.model import (
    CheckStatus,
    CondaPackage,
    EnvironmentFacts,
    Facts,
    Finding,
    ImportFailureKind,
    LoadedLibrary,
    Manager,
    NvmlFacts,
    OwnerKind,
    Report,
    Severity,
    SymbolLookup,
    TorchDevice,
    TorchImportFailure,
    TorchRuntime,
    Unavailable,
    Via,
)
from torchdoctor.probes.loader import DEFAULT_DIRS, split_path
from torchdoctor.rules import dlerror

CASES_DIR = Path(__file__).resolve().parent / "cases"
NOT_STATED = "not stated in the thread"

CLASSES = (
    "libstdcxx",
    "glibc",
    "cuda-lib-shadowed",
    "mixed-cuda-wheels",
    "cudnn-version-mismatch",
    "missing-library",
    "windows-dll",
    "wsl",
    "rocm",
    "jetson",
    "numpy-abi",
    "driver-too-old",
    "gpu-arch-unsupported",
    "cpu-only-build",
    "rosetta",
    "mps",
    "visibility",
    "container",
    "fabric-manager",
    "compiler",
    "shm",
    "cuda-library-init",
)
"""The fixed list of classes (the symptom family a case belongs to); tests/corpus/README.md describes each."""

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "wsl1", "wsl2", "jetson")
INSTALLERS = ("pip", "conda", "uv", "poetry", "system", "unknown")
ROLES = ("culprit", "good-copy", "needed-by")

# ----------------------------------------------------------------------------- the judgement rules
# What a finding's title/why/fix must say to name a cause, and what its fix text/command must say to be of a
# fix kind. Evidence is left out: it quotes the case's own message, which names everything.

CAUSE_SIGNS: dict[str, str] = {
    "libstdcxx-too-old": r"libstdc\+\+|GLIBCXX|CXXABI",
    "glibc-too-old": r"\bglibc\b",
    "cuda-lib-shadowed": r"LD_LIBRARY_PATH|system CUDA|outside torch's wheels|from somewhere else",
    "mixed-cuda-wheels": r"nvidia-[a-z-]+-cu\d+|two (copies|versions|wheels)|different CUDA major",
    "missing-library": r"missing|cannot be found|is not installed",
    "vc-runtime-missing": r"Visual C\+\+|VC\+\+|vc_redist",
    "openmp-runtime-missing": r"OpenMP|libomp|vcomp",
    "torch-release-broken-here": r"(this|that) (torch )?release|known (bug|issue|regression)",
    "rocm-gfx-unsupported": r"gfx\d|HSA_OVERRIDE_GFX_VERSION",
    "jetson-wrong-wheel": r"Jetson|Tegra|L4T|JetPack",
    "numpy-abi": r"NumPy",
    "driver-too-old": r"driver[^.]*(too old|older|update)",
    "gpu-arch-unsupported": r"sm_\d+|compute capability|GPU architecture",
    "cpu-only-build": r"CPU-only|built without CUDA",
    "wsl1-no-gpu": r"WSL 1",
    "wsl-kernel-too-old": r"WSL[^.]*kernel[^.]*too old",
    "wsl-libcuda-not-found": r"libcuda(\.so[.\d]*)?[^.]*not on the loader's (search )?path",
    "rosetta-python": r"Rosetta|x86_64 Python on an Apple Silicon",
    "mps-macos-too-old": r"macOS[^.]*(too old|older than)|needs macOS",
    "cuda-visible-devices-hides": r"CUDA_VISIBLE_DEVICES",
    "container-without-gpu": r"container[^.]*without (a )?GPU|without GPU access",
    "fabric-manager-not-running": r"fabric ?manager|NVSwitch",
    "c-compiler-missing": r"\bC(\+\+)? compiler",
    "shm-too-small": r"/dev/shm|shared memory",
    "shm-not-writable": r"/dev/shm[^.]*(permission|not writable|read-only)|(permission|writable)[^.]*/dev/shm",
    "libcuda-so-not-found": r"libcuda\.so\b(?!\.\d)",
}
"""Verdict cause key -> what a finding must say to name it."""

FIX_SIGNS: dict[str, str] = {
    "remove-ld-library-path-entry": r"(export|unset) LD_LIBRARY_PATH",
    "provide-newer-libstdcxx": r"libstdcxx|libgcc|libstdc\+\+",
    "newer-os-or-older-torch": r"newer (OS|distribution|glibc)|container image|older torch",
    "uninstall-stray-wheel": r"uninstall[^|;]*nvidia-",
    "remove-conda-package": r"conda (remove|uninstall)",
    "install-matching-library": (
        r"install[^|;]*(cudatoolkit|cudnn|cuda-runtime|cuda-nvrtc|cusparselt|cublas|cufft|curand|cusolver|nvjitlink|nccl)"
    ),
    "install-vc-redist": r"vc_redist|Visual C\+\+[^.]*Redistributable",
    "install-openmp-runtime": r"libomp140|OpenMP runtime",
    "upgrade-torch": r"(--upgrade|-U)\b[^|;]*torch|torch>=|upgrade torch|newer torch",
    "install-other-torch-version": r"install[^|;]*torch(==|[^|;]*(--index-url|--extra-index-url|/whl/))",
    "install-jetson-wheel": r"Jetson|JetPack|developer\.download\.nvidia\.com",
    "set-hsa-override": r"HSA_OVERRIDE_GFX_VERSION",
    "build-from-source": r"from source",
    "downgrade-numpy": r"numpy<2|numpy==1",
    "upgrade-numpy": r"(--upgrade|-U)\b[^|;]*numpy|numpy>=",
    "update-driver": r"\b(update|upgrade|install)\b[^.]*driver",
    "convert-to-wsl2": r"wsl(\.exe)? --set-(default-)?version\b[^|;]*\b2\b",
    "update-wsl": r"wsl(\.exe)? --update",
    "add-wsl-lib-dir": r"LD_LIBRARY_PATH=\S*/lib/wsl/lib",
    "install-arm64-python": r"arm64",
    "update-macos": r"(update|upgrade)[^.]*macOS",
    "fix-cuda-visible-devices": r"(unset|export) CUDA_VISIBLE_DEVICES",
    "run-with-gpus": r"--gpus|--runtime=nvidia|nvidia-docker|NVIDIA Container Toolkit",
    "fix-fabric-manager": r"nvidia-fabricmanager|fabric ?manager",
    "install-c-compiler": r"install[^|;]*\b(gcc|g\+\+|build-essential|clang)\b",
    "raise-shm": r"--shm-size|--ipc[= ]host|remount,size",
    "fix-shm-permissions": r"chmod[^|;]*/dev/shm",
    "register-libcuda": r"ldconfig|TRITON_LIBCUDA_PATH|ln -s[^|;]*libcuda\.so\b",
}
"""Verdict fix kind -> what a finding's fix (text or command) must say to be of that kind."""

KEEPS_CULPRIT = r"--force-reinstall\S*\s+torch(==(?P<version>\S+))?|reinstall(ing)? torch(?! ?\d)"
"""A fix that puts the same torch back keeps whatever culprit the verdict names (unless a reinstall is the fix);
a reinstall that names another version or build is a different torch, not this one."""

BUILD_CAUSES = ("cpu-only-build", "gpu-arch-unsupported", "driver-too-old")
"""Causes whose culprit is the installed build, not the release: the same version's other build replaces it."""

INDEX_BUILD = re.compile(r"download\.pytorch\.org/whl/(?:nightly/|test/)?(?P<build>cpu|cu\d+|rocm[\d.]+)\b")
"""The build a fix installs, named by the PyTorch index it installs from (``.../whl/cu115``: cu115)."""

CONTRADICTS: dict[str, tuple[str, ...]] = {
    "libstdcxx-too-old": ("glibc-too-old",),
    "glibc-too-old": ("libstdcxx-too-old",),
}
"""Causes that rule each other out: an error naming one when the verdict is the other is a wrong cause."""


class Score(str, enum.Enum):
    RIGHT = "right"
    WRONG_CAUSE = "wrong cause"
    WRONG_FIX = "wrong fix"
    SILENT = "silent"


@dataclass(frozen=True)
class Case:
    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def klass(self) -> str:
        return str(self.data["class"])

    @property
    def verdict(self) -> dict[str, Any]:
        return dict(self.data["verdict"])


@dataclass(frozen=True)
class Outcome:
    case: Case
    score: Score
    reason: str
    findings: tuple[Finding, ...]
    internal_errors: tuple[str, ...]


def load_cases(folder: Path = CASES_DIR) -> list[Case]:
    return [Case(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob("*.json"))]


# ----------------------------------------------------------------------------- today's classifier


def _child_classifier() -> Any:
    """``classify`` from the torch child, read from its source: the child itself cannot be imported here."""
    tree = ast.parse(TORCH_CHILD.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "classify")
    namespace: dict[str, Any] = {"re": re}  # what classify uses of the child's module-level imports
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(TORCH_CHILD), "exec"), namespace)
    return namespace["classify"]


_CLASSIFY = _child_classifier()


def import_kind(exc_type: str, message: str) -> ImportFailureKind:
    """The kind the doctor's torch child gives this exception today."""
    return ImportFailureKind(_CLASSIFY(exc_type, message))


# ----------------------------------------------------------------------------- case -> facts


def _cuda_of(torch: str, stated: str) -> str:
    tag = torch.partition("+")[2]
    match = re.fullmatch(r"cu(\d+)(\d)", tag)
    return f"{match.group(1)}.{match.group(2)}" if match else stated


def _is_rocm(case: Case) -> bool:
    machine = case.data["machine"]
    return "rocm" in machine.get("torch", "") or case.klass == "rocm"


def _host(machine: dict[str, Any]) -> Any:
    platform = machine["platform"]
    glibc = machine.get("glibc", Unavailable("platform", NOT_STATED, "not_stated"))
    os_name = machine.get("os", NOT_STATED)
    if platform == "windows-x86_64":
        none = Unavailable("platform", "not Linux", "not_applicable")
        return f.host(system="Windows", release="10", os_name=os_name, machine="AMD64", shm_bytes=none, glibc=none)
    if platform == "macos-arm64":
        macos = re.match(r"macOS (\d+(?:\.\d+)*)", os_name)
        version = macos.group(1) if macos else Unavailable("platform", NOT_STATED, "not_stated")
        return f.mac(os_name=os_name, macos_version=version)
    values: dict[str, Any] = {"os_name": os_name, "glibc": glibc}
    container = machine.get("container") or machine.get("container_gpu")
    if container:  # what the probe reads inside a Docker container (with or without the GPU)
        values.update(container=container, container_evidence=("/.dockerenv",))
    if "shm_mb" in machine:  # the size of /dev/shm, where the thread states it
        values["shm_bytes"] = int(machine["shm_mb"]) * 1024**2
    elif container:  # a container's /dev/shm is its own tmpfs: not the builders' healthy default
        values["shm_bytes"] = Unavailable("platform", NOT_STATED, "not_stated")
    if platform in ("linux-aarch64", "jetson"):
        values["machine"] = "aarch64"
    if platform == "jetson":
        values["release"] = machine.get("kernel", "5.10.120-tegra")
    if platform == "wsl2":
        values.update(wsl="wsl2", release=machine.get("kernel", "5.15.153.1-microsoft-standard-WSL2"))
    if platform == "wsl1":
        values.update(wsl="wsl1", release=machine.get("kernel", "4.4.0-19041-Microsoft"))
    return f.host(**values)


def _python(machine: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    if "python" in machine:
        values["version"] = machine["python"]
    if machine.get("installer") == "conda":
        env = "/home/ada/miniconda3/envs/work"
        values.update(executable=f"{env}/bin/python", prefix=env, conda_prefix=env, venv=False)
        if "conda" in machine:  # what the thread's `conda list` shows conda installed: name -> "version build"
            listed = {name: [*entry.split(), ""][:2] for name, entry in machine["conda"].items()}
            records = tuple(
                CondaPackage(name, version, build, f"{env}/conda-meta/{name}-{version}-{build}.json")
                for name, (version, build) in listed.items()
            )
            meta = (f"{env}/conda-meta",)
            values["environment"] = EnvironmentFacts(Manager.CONDA, meta, True, True, conda_packages=records)
    if machine["platform"] == "windows-x86_64":
        values.update(executable="C:\\Users\\ada\\venv\\Scripts\\python.exe", machine="AMD64")
    elif machine["platform"] in ("linux-aarch64", "jetson"):
        values["machine"] = "aarch64"
    elif machine["platform"] == "macos-arm64":
        values["machine"] = "arm64"
    if "python_arch" in machine:  # the interpreter's own architecture (x86_64 under Rosetta on an arm64 Mac)
        values["machine"] = machine["python_arch"]
    return f.python(**values)


REGISTRY = Path(__file__).resolve().parents[2] / "compat" / "registry" / "torch.json"


def _requires(machine: dict[str, Any]) -> tuple[str, ...]:
    """The Requires-Dist of the torch the thread names, as its METADATA states it: PyPI's wheel for the machine's
    platform (compat/registry), for a release PyPI has and an installer that takes PyPI's wheel; else none known."""
    version, platform = machine.get("torch", ""), machine["platform"]
    if not version or "+" in version or machine.get("installer") not in ("pip", "uv", "poetry"):
        return ()
    tag = {"linux-x86_64": "manylinux", "linux-aarch64": "aarch64", "windows-x86_64": "win_amd64"}.get(platform)
    release = json.loads(REGISTRY.read_text(encoding="utf-8"))["releases"].get(version)
    for group in release["groups"] if release and tag else ():
        if any(tag in w and (platform != "linux-x86_64" or "x86_64" in w) for w in group["wheels"]):
            return tuple(group["requires_dist"])
    return ()


def _packages(machine: dict[str, Any]) -> Any:
    dists = [f.dist(name, version) for name, version in machine.get("packages", {}).items()]
    if machine.get("torch"):
        dists.insert(0, f.dist("torch", machine["torch"], requires=_requires(machine)))
    return f.packages(*dists) if dists else f.packages(f.dist("torch", ""))


def _gpus(case: Case) -> tuple[Any, Any]:
    """(NVML facts, kernel facts): the NVIDIA GPUs the thread names; none on a ROCm, Jetson or Mac machine, or where
    the thread says there is none (``"gpus": []``).

    Where a CUDA machine's thread names no GPU, the builders' healthy NVIDIA GPU stands in: the case is about
    something else, and "NVML could not tell" would raise a driver error the thread never had.
    """
    machine = case.data["machine"]
    no_gpu = machine.get("gpus") == []  # the thread states the machine has no NVIDIA GPU
    if no_gpu or _is_rocm(case) or machine["platform"] in ("jetson", "macos-arm64", "wsl1"):  # WSL 1: no GPU in Linux
        gone = Unavailable("NVML", "NVML Shared Library Not Found", "LibraryNotFound")
        none = Unavailable("/proc", "no NVIDIA kernel module", "not_found")
        return gone, f.kernel(module_version=none, dev_nodes=(), nvidia_loaded=False, pci_gpus=())
    if machine.get("container"):  # a container started without the GPU: no /dev/nvidia*, no driver library in it
        gone = Unavailable("NVML", "NVML Shared Library Not Found", "LibraryNotFound")
        return gone, f.kernel(dev_nodes=())
    stated = machine.get("gpus", [])
    gpus = [f.gpu(i, name=_gpu_name(g), compute_capability=_gpu_cc(g)) for i, g in enumerate(stated)] or [f.gpu()]
    driver = machine.get("driver", Unavailable("NVML", NOT_STATED, "not_stated"))
    cuda = machine.get("driver_cuda", Unavailable("NVML", NOT_STATED, "not_stated"))
    if not stated and "driver" not in machine and "driver_cuda" not in machine:
        return f.nvml(*gpus), f.kernel()
    module = driver if isinstance(driver, str) else Unavailable("/proc", NOT_STATED, "not_stated")
    return NvmlFacts(driver, cuda, "", tuple(gpus), len(gpus)), f.kernel(module_version=module)


def _gpu_name(entry: Any) -> str:
    return str(entry["name"] if isinstance(entry, dict) else entry)


def _gpu_cc(entry: Any) -> Any:
    if isinstance(entry, dict) and "capability" in entry:
        return entry["capability"]
    return Unavailable("NVML", NOT_STATED, "not_stated")


def _runtime(case: Case) -> TorchRuntime:
    machine, state = case.data["machine"], case.data["runtime"]
    version = machine.get("torch", "")
    cuda = "" if _is_rocm(case) else _cuda_of(version, state.get("cuda", ""))
    # a CPU build has none of these: a CUDA or cuDNN error, or a warning from a CUDA runtime call (cudaGetDeviceCount)
    cuda_call = "cudaGetDeviceCount" in state.get("warning", "")
    did_cuda = state.get("cuda_available") or "cudnn_error" in state or "cuda_error" in state or cuda_call
    if not cuda and not _is_rocm(case) and did_cuda:
        cuda = f.runtime().cuda  # a CUDA build, by what it did; its CUDA version is not stated
    available = bool(state.get("cuda_available", False))
    gpus = machine.get("gpus", [])
    devices = tuple(  # a device torch lists always has a capability: only those the thread states it for
        TorchDevice(i, _gpu_name(g), g["capability"], 8 * 1024**3)
        for i, g in enumerate(gpus)
        if isinstance(g, dict) and "capability" in g
    )
    devices = devices if available else ()
    # the build's targets the thread does not state: a CUDA build's are the builders' default; a ROCm build's stay
    # not stated (none, as a torch that lists none), never the default's sm_* list, which no ROCm build has
    unstated_arch = () if _is_rocm(case) else f.runtime().arch_list
    loaded = tuple(
        LoadedLibrary(_lib_name(e["soname"]), e["path"])
        for e in case.data.get("loader", [])
        if e.get("role") == "culprit" and e.get("path") and _lib_name(e.get("soname", ""))
    )
    values: dict[str, Any] = dict(
        version=version,
        cuda=cuda,
        hip=state.get("hip", "6.2" if _is_rocm(case) else ""),
        cuda_available=available,
        device_count=len(devices),
        devices=devices,
        warnings=tuple(w for w in (state.get("warning"),) if w),
        cuda_error=state.get("cuda_error", ""),
        loaded_libraries=loaded,
        arch_list=tuple(state.get("arch_list", unstated_arch)),
        numpy=machine.get("packages", {}).get("numpy", ""),
    )
    values.update({k: bool(state[k]) for k in ("mps_built", "mps_available") if k in state})
    if "cudnn_error" in state:
        values["cudnn"] = Unavailable("torch", state["cudnn_error"])
    values["mapped"] = tuple(  # what the thread shows was loaded: the process's maps would list it
        _file(e) for e in case.data.get("loader", []) if e.get("role") == "culprit" and _file(e)
    )
    return f.runtime(**values) if cuda else f.cpu_runtime(**values)


LIB_NAMES = {
    "libcudart": "cudart",
    "libcudnn": "cudnn",
    "libcublasLt": "cublasLt",
    "libcublas": "cublas",
    "libnvJitLink": "nvjitlink",
    "libcusparse": "cusparse",
    "libnccl": "nccl",
    "libnvrtc": "nvrtc",
}
"""Soname stem -> the name the torch child gives a loaded library (its own LIBS table)."""


def _lib_name(soname: str) -> str:
    stem = re.sub(r"(_\w+)?\.so.*$", "", soname)
    return LIB_NAMES.get(stem, "")


# ----------------------------------------------------------------------------- case -> loader facts
# A case's ``loader`` list is what the thread shows of the loader: the copy it took ("culprit"), a copy that
# has what was missing ("good-copy"), the object that asked ("needed-by"), each with who installed it. These
# become the facts probes/loader.py records. How the loader reached a copy is a fact only where the thread
# shows it: its directory is an LD_LIBRARY_PATH entry, a default directory, or the loader's message names
# it through torch's own $ORIGIN-relative search path; a copy reached otherwise is an object, not a candidate.

CONDA_PROVIDERS: dict[str, tuple[str, ...]] = {
    "libstdc++": ("libstdcxx-ng", "libstdcxx"),
    "libgcc_s": ("libgcc-ng", "libgcc"),
    "libcublas": ("cudatoolkit", "libcublas"),
    "libcublasLt": ("cudatoolkit", "libcublas"),
    "libcudart": ("cudatoolkit", "cuda-cudart"),
    "libcudnn": ("cudnn", "cudatoolkit"),
    "libnccl": ("nccl",),
    "libnvJitLink": ("cudatoolkit", "libnvjitlink"),
    "libcusparse": ("cudatoolkit", "libcusparse"),
}
"""A library's stem -> the conda packages that ship it (conda-forge and defaults): the case's listed one owns it."""

ORIGIN_PATH = re.compile(r"^(?P<origin>.*/torch/lib)/(?P<rest>(?:\.\.?/)+)[^/]+$")
EXE_RPATH = re.compile(r"^(?P<bin>.*/bin)/(?P<rest>(?:\.\./)+lib)/[^/]+$")
"""A path the loader printed as built from the executable's $ORIGIN-relative RPATH (conda's python: ``bin/../lib``)."""
"""A path the loader printed as built from torch/lib's $ORIGIN-relative RUNPATH (``torch/lib/../../../../libX``)."""


def _stem(soname: str) -> str:
    return re.sub(r"\.so.*$", "", soname)


def _file(entry: dict[str, Any]) -> str:
    """The entry's file; a case that gives the directory only names the file by its soname."""
    path, soname = entry.get("path") or "", entry.get("soname") or ""
    if path and soname and not os.path.basename(path).startswith(_stem(soname)):
        return os.path.join(path, soname)
    return path


def _conda_prefix(path: str) -> str:
    head, sep, _ = os.path.normpath(path).rpartition("/lib/")
    return head if sep else os.path.dirname(path)


def _owner(entry: dict[str, Any], machine: dict[str, Any]) -> Any:
    kind, path, listed = entry.get("installed_by"), _file(entry), machine.get("packages", {})
    stem = _stem(entry.get("soname") or os.path.basename(path))
    if kind == "conda":
        prefix = _conda_prefix(path)
        package = next((p for p in CONDA_PROVIDERS.get(stem, ()) if p in listed), "")
        record = f"{prefix}/conda-meta/{package}-{listed[package]}.json" if package else f"{prefix}/conda-meta/"
        return f.owner("conda", package, listed.get(package, ""), record)
    if kind == "pip":
        folder = re.search(r"/nvidia/([^/]+)/lib/", path)
        wheel = next((d for d in listed if folder and d.startswith(f"nvidia-{folder.group(1)}")), "")
        return f.owner("pip", wheel, listed.get(wheel, ""))
    if kind == "system":
        return f.owner(OwnerKind.SYSTEM)
    if kind == "none":
        return f.owner(OwnerKind.NOBODY)
    return Unavailable("provenance", NOT_STATED, "not_stated")


def _via(path: str, said: str, ld_library_path: tuple[str, ...]) -> tuple[Via, str] | None:
    """How the loader reached ``path`` (``said``: the path as its message prints it), where the thread shows it."""
    folder = os.path.normpath(os.path.dirname(path))
    entry = next((e for e in ld_library_path if e and os.path.normpath(e) == folder), None)
    if entry is not None:
        return Via.LD_LIBRARY_PATH, entry
    origin = ORIGIN_PATH.match(said)
    if origin:
        return Via.RUNPATH, "$ORIGIN/" + origin["rest"]
    exe = EXE_RPATH.match(said)
    if exe:
        return Via.RPATH, "$ORIGIN/" + exe["rest"]
    if folder in DEFAULT_DIRS:
        return Via.DEFAULT, folder
    return None


def _loader_message(case: Case) -> str:
    error, state = case.data.get("import_error") or {}, case.data.get("runtime") or {}
    return error.get("message") or state.get("warning") or state.get("cudnn_error") or ""


def loader_for(case: Case) -> Any:
    """The loader facts the thread shows (``Unavailable`` when it shows none)."""
    machine = case.data["machine"]
    entries = [e for e in case.data.get("loader") or [] if e.get("soname") and _file(e)]
    if not entries:
        return Unavailable("loader", NOT_STATED, "not_stated")
    error = dlerror.parse(_loader_message(case))
    ld_library_path = split_path(machine.get("env", {}).get("LD_LIBRARY_PATH", ""))
    version = error.version if error else ""
    objects: dict[str, Any] = {}
    requester = next((_file(e) for e in entries if e["role"] == "needed-by"), "")
    requester = (error.requester if error else "") or requester
    culprits = [e for e in entries if e["role"] == "culprit"]
    goods = [e for e in entries if e["role"] == "good-copy"]
    needed = version if ".so" in version else next((e["soname"] for e in culprits + goods), "")
    candidates, lookups = [], []
    for entry in culprits + goods:
        path, good = _file(entry), entry["role"] == "good-copy"
        said = error.library if error and error.kind is dlerror.LoaderErrorKind.MISSING_VERSION and not good else path
        if requester and os.path.normpath(path) == os.path.normpath(requester):
            continue  # the culprit is the object that asked (its own version needs are not met)
        how = _via(path, said, ld_library_path) if os.path.basename(said) == needed else None
        at = said if how is not None and how[0] in (Via.RUNPATH, Via.RPATH) else path
        defines = (version,) if good and version and ".so" not in version else ()
        objects[at] = f.shared_object(at, entry["soname"], defines=defines, owned_by=_owner(entry, machine))
        if how is not None:
            candidates.append(f.candidate(at, *how))
        if error and error.kind is dlerror.LoaderErrorKind.UNDEFINED_SYMBOL and version:
            lookups.append(SymbolLookup(error.symbol, version, at, good))
    if requester:
        culprit_asks = next((e for e in culprits if os.path.normpath(_file(e)) == os.path.normpath(requester)), None)
        owned = _owner(culprit_asks, machine) if culprit_asks else f.owner("pip")
        requires = {needed: (version,)} if needed and version else {}
        objects[requester] = f.shared_object(requester, requires=requires, needed=(needed,), owned_by=owned)
    resolutions = (f.resolved(requester, needed, *candidates),) if requester and needed else ()
    return f.loader(
        *objects.values(),
        resolutions=resolutions,
        ld_library_path=machine.get("env", {}).get("LD_LIBRARY_PATH", ""),
        lookups=tuple(lookups),
    )


GPU_CLASSES = (
    "cpu-only-build",
    "driver-too-old",
    "gpu-arch-unsupported",
    "visibility",
    "container",
    "shm",
    "cuda-library-init",
)
"""Classes whose symptom is a GPU torch cannot (or can no longer) use: their machine has one whether or not the thread
names it (shm, cuda-library-init: training fails on a GPU torch sees)."""


def facts_for(case: Case) -> Facts:
    """The doctor's facts for the machine the thread describes."""
    machine = case.data["machine"]
    nvml, kernel = _gpus(case)
    error = case.data.get("import_error")
    smoke: Any = Unavailable("smoke", "not replayed", "skipped")
    if error and error["exc_type"].startswith("SIG"):  # the process died: what probes/torch.py makes of it
        signal, message = error["exc_type"], error["message"]
        died = f"the Python process was killed by {signal} during `import torch`"
        torch: Any = TorchImportFailure(ImportFailureKind.CRASH, signal, died, message)
    elif error:
        kind = import_kind(error["exc_type"], error["message"])
        torch = TorchImportFailure(kind, error["exc_type"], error["message"])
    else:
        torch = _runtime(case)
        if case.data["runtime"].get("op_error"):  # what the smoke tests would have met on the GPU
            smoke = f.smoke_failure("cuda:0", "tensors", case.data["runtime"]["op_error"])
    facts = replace(
        f.facts(),
        host=_host(machine),
        python=_python(machine),
        packages=_packages(machine),
        nvml=nvml,
        kernel=kernel,
        torch=torch,
        env=f.env(**machine.get("env", {})),
        smoke=smoke,
        loader=loader_for(case),
        other_loaders=other_loader_facts(case),
    )
    gpu_named = machine.get("gpus") or "driver" in machine or case.klass in GPU_CLASSES
    if not gpu_named and installed_variant(facts) == "cpu":
        # nothing in the thread says the machine has a GPU, and its torch is a CPU build by the doctor's own reading:
        # no NVIDIA GPU stands in (it would only make the doctor ask for a CUDA build the thread never needed)
        gone = Unavailable("NVML", "NVML Shared Library Not Found", "LibraryNotFound")
        none = Unavailable("/proc", "no NVIDIA kernel module", "not_found")
        no_gpu = f.kernel(module_version=none, dev_nodes=(), nvidia_loaded=False, pci_gpus=())
        facts = replace(facts, nvml=gone, kernel=no_gpu)
    return facts


# ----------------------------------------------------------------------------- findings -> score


def _said(finding: Finding) -> str:
    return f"{finding.title}\n{finding.why}\n{finding.fix}\n{finding.fix_command}"


def _fix_ok(finding: Finding, verdict: dict[str, Any]) -> bool:
    fix = f"{finding.fix}\n{finding.fix_command}"
    if not re.search(FIX_SIGNS[verdict["fix_kind"]], fix, re.I):
        return False
    culprit_dir = verdict.get("culprit_dir")
    if verdict["fix_kind"] == "remove-ld-library-path-entry" and culprit_dir:
        kept = re.search(r"export LD_LIBRARY_PATH=(\S*)", finding.fix_command)
        if kept and culprit_dir.rstrip("/") in [p.rstrip("/") for p in kept.group(1).split(":")]:
            return False  # the "fix" keeps the very directory that shadows
    return True


def _keeps_culprit(finding: Finding, verdict: dict[str, Any], installed: str, build: str = "") -> bool:
    """Whether the fix puts the same torch back: the installed version (or no version) of the installed ``build``."""
    if verdict["fix_kind"] == "reinstall-torch":
        return False
    text = f"{finding.fix}\n{finding.fix_command}"
    match = re.search(KEEPS_CULPRIT, text, re.I)
    version = match.group("version") if match else None
    if not match or (version is not None and version != installed and "+" in version):
        return False  # no reinstall, or another local tag: another build
    if version not in (None, installed.partition("+")[0], installed):
        return False  # another release
    named = INDEX_BUILD.search(text)
    other_build = bool(build) and named is not None and named["build"] != build
    return not (other_build and verdict["cause"] in BUILD_CAUSES)


def score(report: Report, verdict: dict[str, Any], installed: str = "", build: str = "") -> tuple[Score, str]:
    """Right / wrong cause / wrong fix / silent, and why, from the findings and the verdict's keys (``installed``:
    the torch version; ``build``: its build, cu124, cpu ..., "" when it cannot be told)."""
    cause = verdict["cause"]
    names = re.compile(CAUSE_SIGNS[cause], re.I)
    errors = [x for x in report.findings if x.severity is Severity.ERROR]
    warnings = [x for x in report.findings if x.severity is Severity.WARNING]
    naming = [x for x in errors + warnings if names.search(_said(x))]
    if not naming:
        if not errors:
            return Score.SILENT, "no error, and no warning names the cause"
        return Score.WRONG_CAUSE, f"{errors[0].code} says: {errors[0].title}"
    for other in CONTRADICTS.get(cause, ()):
        wrong = [x for x in errors if re.search(CAUSE_SIGNS[other], _said(x), re.I) and not names.search(_said(x))]
        if wrong:
            return Score.WRONG_CAUSE, f"{wrong[0].code} says {other}: {wrong[0].title}"
    good = [x for x in naming if _fix_ok(x, verdict)]
    if not good:
        return Score.WRONG_FIX, f"{naming[0].code} names it, but its fix is not {verdict['fix_kind']}"
    keeping = [x for x in errors + warnings if _keeps_culprit(x, verdict, installed, build)]
    if keeping:
        return Score.WRONG_FIX, f"{keeping[0].code} fixes it by a reinstall that keeps the culprit"
    return Score.RIGHT, f"{good[0].code}: {good[0].title}"


def replay(case: Case) -> Outcome:
    facts = facts_for(case)
    report = judge(facts)
    skipped = [c for c in report.checks if c.status is CheckStatus.SKIPPED]
    internal = tuple(f"{c.code}: {c.reason}" for c in skipped if "internal error" in c.reason)
    installed = case.data["machine"].get("torch", "")
    result, reason = score(report, case.verdict, installed, installed_variant(facts))
    return Outcome(case, result, reason, report.findings, internal)


def table(outcomes: Sequence[Outcome]) -> str:
    """A markdown table: cases by class and score, with totals."""
    counts = Counter((o.case.klass, o.score) for o in outcomes)
    head = "| class | cases | " + " | ".join(s.value for s in Score) + " |"
    lines = [head, "|" + "---|" * (len(Score) + 2)]
    for klass in CLASSES:
        total = sum(counts[(klass, s)] for s in Score)
        if total:
            lines.append(f"| {klass} | {total} | " + " | ".join(str(counts[(klass, s)]) for s in Score) + " |")
    totals = Counter(o.score for o in outcomes)
    lines.append(f"| **all** | {len(outcomes)} | " + " | ".join(str(totals[s]) for s in Score) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] = ()) -> int:
    outcomes = [replay(c) for c in load_cases()]
    print(table(outcomes))
    if "-v" in argv:
        for o in outcomes:
            print(f"{o.case.name}: {o.score.value} ({o.reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
