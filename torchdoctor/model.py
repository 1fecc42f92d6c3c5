"""The facts torchdoctor gathers and the findings it draws from them.

Everything here is a frozen dataclass or an enum. "Could not tell" is an :class:`Unavailable`
carrying the source that was asked and the reason it did not answer; it is never ``None``, ``0``
or ``False``. The JSON document is made from these types by :mod:`torchdoctor.serde`.

Classes that appear as one member of a union of dataclasses carry a ``KIND`` tag so that a
report read back with ``--from`` rebuilds the same member.
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import ClassVar, Union

from torchdoctor.gpu_facts import GPUFacts as GPUFacts
from torchdoctor.gpu_facts import GPUProcess as GPUProcess
from torchdoctor.gpu_facts import NvmlFacts as NvmlFacts
from torchdoctor.gpu_facts import field_label as field_label
from torchdoctor.maybe import NOT_SUPPORTED as NOT_SUPPORTED
from torchdoctor.maybe import Maybe as Maybe
from torchdoctor.maybe import T as T
from torchdoctor.maybe import Unavailable as Unavailable
from torchdoctor.maybe import record


class Source(str, enum.Enum):
    """Where a fact came from. Shown next to every piece of evidence."""

    PLATFORM = "platform"
    PYTHON = "python"
    METADATA = "package metadata"
    NVML = "NVML"
    PROCFS = "/proc and /sys"
    DEVFS = "/dev"
    TORCH = "torch"
    NVCC = "nvcc"
    SMI = "nvidia-smi"
    ENV = "environment"
    SMOKE = "smoke test"
    COMPAT = "compat tables"
    REQUIREMENT = "requirement"
    DIST = "distributed run"
    BENCH = "bench"


# --------------------------------------------------------------------------- host


@record
class HostFacts:
    """The operating system and machine: kernel, architecture, glibc, CPU, RAM, Rosetta, WSL, container, /dev/shm."""

    system: str
    """``platform.system()``: Linux, Darwin, Windows."""
    release: str
    os_name: str
    """A readable OS name and version: "Ubuntu 22.04.4 LTS", "macOS 14.5", "Windows 10.0.19045"."""
    kernel: str
    machine: str
    """The hardware architecture as the OS reports it to the doctor's process."""
    apple_silicon: Maybe[bool]
    macos_version: Maybe[str]
    wsl: str
    """"", "wsl1" or "wsl2"."""
    container: str
    """"" when not in a container, else docker, podman, kubernetes, lxc or container."""
    container_evidence: tuple[str, ...]
    shm_bytes: Maybe[int]
    glibc: Maybe[str]
    cpu_model: Maybe[str]
    cpu_logical: Maybe[int]
    cpu_physical: Maybe[int]
    ram_bytes: Maybe[int]
    hostname: str = ""
    user: str = ""
    home: str = ""
    """Who and where: kept in the JSON, hidden from the shared formats (markdown, html)."""
    cpu_features: Maybe[tuple[str, ...]] = Unavailable("platform", "not recorded by this report's torchdoctor")
    """The SIMD features torch's CPU kernels choose between: avx2, avx512f, avx512_bf16, amx_tile, neon, sve..."""
    compilers: Maybe[tuple[str, ...]] = Unavailable("platform", "not recorded by this report's torchdoctor")
    """gcc / clang / cmake as found on PATH ("gcc 12.2.0", "cmake 3.25.1"): what builds CUDA/C++ extensions."""


# --------------------------------------------------------------------------- python


class Manager(str, enum.Enum):
    """Who installs packages into the examined environment: the installer its fix commands must speak."""

    PIP = "pip"
    """A virtual environment made by ``python -m venv``, or a plain interpreter pip may install into."""
    UV = "uv venv"
    """A virtual environment made by ``uv venv`` (``uv = `` in pyvenv.cfg): it has no pip unless asked."""
    UV_PROJECT = "uv project"
    POETRY = "Poetry"
    PIPENV = "Pipenv"
    PDM = "PDM"
    HATCH = "Hatch"
    CONDA = "conda"
    PIXI = "pixi"
    EXTERNALLY_MANAGED = "externally managed"
    """PEP 668: the OS owns this interpreter's packages; pip refuses to install into it."""


@record
class CondaPackage:
    """A package conda (mamba, micromamba) installed, from its record in ``conda-meta/``."""

    name: str
    version: str
    build: str
    record: str
    """The ``conda-meta/*.json`` file that says so."""


@record
class EnvironmentFacts:
    """Who manages the examined environment, with the files that say so (read by the interpreter itself)."""

    manager: Manager
    evidence: tuple[str, ...]
    """What decided ``manager``: "/p/.venv/pyvenv.cfg: uv = 0.5.1", "/p/uv.lock", "/env/conda-meta"."""
    pip: bool
    """pip can be imported by the examined interpreter."""
    ensurepip: bool
    """``python -m venv`` can put pip in a new environment (Debian's python3 lacks it without python3-venv)."""
    project: str = ""
    """The project folder whose lock file manages this environment, or ""."""
    conda_packages: tuple[CondaPackage, ...] = ()
    """The torch family (and cpuonly, pytorch-cuda, cudatoolkit, pytorch-mutex) as conda installed it."""
    notebook: str = ""
    """Evidence the doctor runs from a Jupyter kernel (JPY_PARENT_PID ...), or ""."""
    hosted: str = ""
    """"colab" or "kaggle" when the environment says it is one of those images, else ""."""
    path_python: str = ""
    """The ``python3`` on PATH, resolved; "" when there is none."""


@record
class PythonFacts:
    """The target interpreter, as it reports itself from a child process."""

    executable: str
    version: str
    implementation: str
    bits: int
    machine: str
    """``platform.machine()`` inside the target interpreter: x86_64 under Rosetta on an M-series Mac."""
    free_threaded: bool
    prefix: str
    base_prefix: str
    venv: bool
    conda_prefix: str
    user_site: str
    user_site_enabled: bool
    cwd: str
    environment: Maybe[EnvironmentFacts] = Unavailable("python", "not recorded by this report's torchdoctor")
    """Who manages this environment (pip, uv, a project's lock file, conda, the OS)."""


@record
class Distribution:
    """One installed distribution of the torch family, as its metadata (and its installer) says."""

    name: str
    version: str
    location: str
    requires: tuple[str, ...] = ()
    """Requires-Dist, kept for the torch family only (torchvision pins its torch)."""
    modules: tuple[str, ...] = ()
    """Top-level modules the distribution ships; read only for the NVML bindings."""
    problem: str = ""
    """What is wrong with its installation record (METADATA unreadable or empty, RECORD missing), or ""."""
    metadata_dir: str = ""
    """The .dist-info folder, given when there is a problem and for the torch family."""
    installer: str = ""
    """What its .dist-info INSTALLER file names (pip, uv, conda, ...), "" when it has none."""


@record
class PackagesFacts:
    """The examined interpreter's torch-family distributions, and where `import torch`/`pynvml` would come from."""

    distributions: tuple[Distribution, ...]
    """Torch-family, NumPy, NVML and nvidia-*/cuda-* distributions; duplicates are kept."""
    torch_origin: Maybe[str]
    """Where ``import torch`` would load from (``find_spec``, without importing it)."""
    pynvml_origin: Maybe[str]
    cwd_torch_dir: str
    """A ``torch`` folder in the working directory that would shadow the package, or ""."""

    def named(self, name: str) -> tuple[Distribution, ...]:
        key = normalize(name)
        return tuple(d for d in self.distributions if normalize(d.name) == key)

    def version_of(self, name: str) -> str:
        found = self.named(name)
        return found[0].version if found else ""


def normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


# --------------------------------------------------------------------------- NVIDIA


@record
class SmiGpu:
    """One GPU as `nvidia-smi` lists it (asked only when NVML could not tell the driver)."""

    index: int
    name: str
    uuid: str
    pci_bus_id: str
    compute_capability: Maybe[str]
    memory_total: Maybe[int]


@record
class SmiFacts:
    """What ``nvidia-smi --query-gpu`` says: asked only when NVML could not tell."""

    path: str
    driver_version: str
    gpus: tuple[SmiGpu, ...]


@record
class PciDevice:
    """A PCI display or 3D device from /sys: its bus id, vendor:device id and the kernel driver bound to it."""

    bus_id: str
    device_id: str
    driver: str
    """The kernel driver bound to it ("nvidia", "nouveau", "vfio-pci") or ""."""


@record
class KernelFacts:
    """What the kernel says about NVIDIA hardware, without NVML."""

    module_version: Maybe[str]
    """From /proc/driver/nvidia/version: the loaded kernel module's version."""
    dev_nodes: Maybe[tuple[str, ...]]
    nvidia_loaded: Maybe[bool]
    nouveau_loaded: Maybe[bool]
    pci_gpus: Maybe[tuple[PciDevice, ...]]
    """NVIDIA display/3D controllers on the PCI bus."""


# --------------------------------------------------------------------------- torch


class ImportFailureKind(str, enum.Enum):
    MISSING_SHARED_LIBRARY = "missing shared library"
    UNDEFINED_SYMBOL = "undefined symbol"
    GLIBC_TOO_OLD = "GLIBC too old"
    VERSION_NOT_FOUND = "a library lacks a symbol version"
    """GLIBCXX_/CXXABI_/a library's own version node missing from the copy that was loaded."""
    NUMPY_ABI = "NumPy ABI"
    DLL_LOAD = "DLL load failed"
    MISSING_MODULE = "missing Python module"
    CRASH = "crash by signal"
    TIMEOUT = "timeout"
    BROKEN = "imports, but broken"
    """``import torch`` works but a basic call (torch.version, torch.cuda.is_available()) fails."""
    OTHER = "other"


@record
class TorchNotInstalled:
    """The examined interpreter has no torch to import."""

    KIND: ClassVar[str] = "not_installed"
    python: str
    reason: str


@record
class TorchImportFailure:
    """`import torch` failed: the exception (or signal) and its message, and what kind of failure it is."""

    KIND: ClassVar[str] = "import_failed"
    kind: ImportFailureKind
    exc_type: str
    message: str
    detail: str = ""
    """The traceback's tail, or the signal name, or how long we waited."""


@record
class TorchDevice:
    """One device as torch sees it: name, compute capability, memory and arch."""

    index: int
    name: str
    capability: str
    total_memory: int
    arch: str = ""
    """ROCm: the gfx target torch sees (``gcnArchName`` without its feature flags, "gfx1030"); "" on CUDA."""


@record
class LoadedLibrary:
    """A shared library the torch child had mapped after `import torch` (from /proc/self/maps)."""

    name: str
    """cudart, cudnn, cublas, nvjitlink, nccl, ..."""
    path: str


@record
class TorchRuntime:
    """torch imported: its version, build (CUDA, HIP, cuDNN, NCCL, arch list) and what it sees at run time."""

    KIND: ClassVar[str] = "runtime"
    version: str
    file: str
    git_version: str
    debug: bool
    cuda: str
    """``torch.version.cuda``; "" for a CPU or ROCm build."""
    hip: str
    cudnn: Maybe[int]
    nccl: Maybe[str]
    arch_list: tuple[str, ...]
    cuda_available: bool
    device_count: int
    devices: tuple[TorchDevice, ...]
    cuda_error: str
    """What CUDA initialisation raised, or ""."""
    driver_cuda: Maybe[int]
    """``cudaDriverGetVersion`` as torch sees it (12040 = 12.4)."""
    mps_built: bool
    mps_available: bool
    xpu_available: bool
    warnings: tuple[str, ...]
    loaded_libraries: tuple[LoadedLibrary, ...]
    numpy: str
    """The NumPy version torch sees, or ""."""
    mapped: tuple[str, ...] = ()
    """The shared objects really mapped into the process after ``import torch`` (/proc/self/maps)."""

    @property
    def is_cuda_build(self) -> bool:
        return bool(self.cuda)

    @property
    def is_cpu_build(self) -> bool:
        return not self.cuda and not self.hip

    @property
    def build(self) -> str:
        """ "CUDA 12.4", "ROCm 6.2" or "CPU-only"."""
        return f"CUDA {self.cuda}" if self.cuda else (f"ROCm {self.hip}" if self.hip else "CPU-only")


TorchState = Union[TorchRuntime, TorchImportFailure, TorchNotInstalled, Unavailable]  # noqa: UP007


# --------------------------------------------------------------------------- dynamic loader


class Via(str, enum.Enum):
    """Which step of the dynamic loader's search found a file (ld.so(8), in its order)."""

    PRELOAD = "LD_PRELOAD"
    RPATH = "RPATH"
    LD_LIBRARY_PATH = "LD_LIBRARY_PATH"
    RUNPATH = "RUNPATH"
    CACHE = "ld.so.cache"
    DEFAULT = "default directories"


class OwnerKind(str, enum.Enum):
    PIP = "pip"
    CONDA = "conda"
    SYSTEM = "system package"
    SYSTEM_UNIDENTIFIED = "system, not identified"
    NOBODY = "nobody"
    """No installer records the file: copied by hand, a module system, a tarball."""


@record
class Owner:
    """Who installed a file."""

    kind: OwnerKind
    package: str = ""
    version: str = ""
    record: str = ""
    """The file that says so: a RECORD, a conda-meta/*.json, a dpkg .list; or the prefix for a conda env."""

    def __str__(self) -> str:
        if self.kind in (OwnerKind.PIP, OwnerKind.CONDA, OwnerKind.SYSTEM) and self.package:
            return f"{self.kind.value}: {self.package} {self.version}".rstrip()
        return self.kind.value


@record
class VersionNeed:
    """The symbol versions an object needs from one library (its DT_VERNEED entries)."""

    library: str
    """The needed library's name as the requester's version section gives it (libstdc++.so.6)."""
    versions: tuple[str, ...]


@record
class SharedObject:
    """One ELF shared object, read without loading it."""

    path: str
    soname: str
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    requires: tuple[VersionNeed, ...]
    defines: tuple[str, ...]
    """The symbol versions it defines (GLIBCXX_3.4.30, CUDNN_9, ...)."""
    size: int
    mtime: float
    owner: Maybe[Owner]
    problem: str = ""
    """Why it could not be read ("" when it was): its other fields are empty then."""


@record
class Candidate:
    """A copy of a library on the loader's way, and by which step of its order it is found."""

    path: str
    via: Via
    entry: str
    """The search directory as written (an LD_LIBRARY_PATH entry, a RUNPATH entry with $ORIGIN)."""


@record
class Resolution:
    """Where the loader finds one needed library of one object: every copy, in the loader's order."""

    requester: str
    needed: str
    candidates: tuple[Candidate, ...]
    """The first is the one the loader takes; the others are what it shadows. Empty: not found."""


@record
class SymbolLookup:
    """Whether one copy of a library defines a symbol (asked only for the symbol an import failed on)."""

    symbol: str
    version: str
    path: str
    defined: Maybe[bool]


@record
class LoaderFacts:
    """torch's shared objects, what they need, and where this machine's dynamic loader finds it."""

    torch_dir: str
    ld_library_path: tuple[str, ...]
    ld_preload: tuple[str, ...]
    objects: tuple[SharedObject, ...]
    resolutions: tuple[Resolution, ...]
    lookups: tuple[SymbolLookup, ...] = ()
    truncated: str = ""
    """What a bound left out ("" when nothing was)."""

    def object_at(self, path: str) -> SharedObject | None:
        return next((o for o in self.objects if o.path == path), None)

    def resolution(self, requester: str, needed: str) -> Resolution | None:
        return next((r for r in self.resolutions if r.requester == requester and r.needed == needed), None)


# --------------------------------------------------------------------------- other loaders: WSL, Tegra, ROCm, Windows


@record
class WslFacts:
    """WSL: which one, and which libcuda the loader takes (WSL 2's comes from the Windows driver, in lib_dir)."""

    version: str
    """"wsl1" (no GPU at all) or "wsl2"."""
    kernel: str
    lib_dir: str
    """/usr/lib/wsl/lib when the Windows driver's libraries are mounted there, else ""."""
    dxg: bool
    """/dev/dxg exists: the paravirtual GPU device WSL 2's CUDA talks to."""
    libcuda: tuple[str, ...]
    """Every libcuda.so.1 the loader could take, in its order (LD_LIBRARY_PATH, ld.so.cache, default dirs)."""
    owners: tuple[str, ...] = ()
    """Who installed each entry of ``libcuda`` ("" when nobody is known), in the same order."""
    driver_libcuda: str = ""
    """lib_dir's own libcuda.so.1 (the Windows driver's) when the file is there, else ""."""


@record
class TegraFacts:
    """An NVIDIA Jetson: an integrated GPU on the SoC, no PCI device and no NVML."""

    l4t: str
    """The L4T release from /etc/nv_tegra_release ("35.4.1"), or ""."""
    model: str
    """/proc/device-tree/model ("NVIDIA Jetson AGX Orin Developer Kit"), or ""."""


@record
class RocmFacts:
    """AMD GPUs as the kernel's KFD driver lists them (/sys/class/kfd/kfd/topology), without ROCm or torch."""

    gfx: tuple[str, ...]
    """Each GPU's gfx target ("gfx1032"), from its gfx_target_version."""


@record
class DllImports:
    """One of torch's DLLs and the DLLs its PE import table names that Windows' search does not find."""

    path: str
    imports: tuple[str, ...]
    missing: tuple[str, ...]


@record
class DllFacts:
    """On Windows, torch's lib folder and what each of its DLLs imports."""

    torch_lib: str
    dlls: tuple[DllImports, ...]


@record
class OtherLoaderFacts:
    """The loaders torch meets besides Linux's ld.so on a PCI GPU; a group is "could not check" where it does not
    apply."""

    wsl: Maybe[WslFacts]
    tegra: Maybe[TegraFacts]
    rocm: Maybe[RocmFacts]
    dlls: Maybe[DllFacts]


# --------------------------------------------------------------------------- environment


@record
class EnvVar:
    """An environment variable that changes how torch or CUDA loads or runs (its value withheld if secret)."""

    name: str
    value: str
    """The value when the doctor knows the variable and the value fits its grammar (``rules.envvars``), else ""."""
    withheld: bool = False
    """Set, but its value is not recorded: an unknown variable, or a value that does not fit its grammar."""


@record
class Nvcc:
    """The CUDA compiler on PATH and the version it reports."""

    path: str
    version: str


@record
class EnvFacts:
    """The environment variables that matter to torch, and nvcc."""

    variables: tuple[EnvVar, ...]
    nvcc: Maybe[Nvcc]

    def get(self, name: str) -> str | None:
        """The variable's value; None when it is unset or its value was withheld."""
        for var in self.variables:
            if var.name == name:
                return None if var.withheld else var.value
        return None


# --------------------------------------------------------------------------- smoke tests


class StepStatus(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@record
class SmokeStep:
    """One step of a device's smoke test (build, move, train, eval, DataLoader, save/load) and how it went."""

    name: str
    status: StepStatus
    seconds: float
    error: str = ""
    """What failed (the exception, or the wrong result)."""
    detail: str = ""
    """What passed, why it was skipped, or the traceback's tail of a failure."""


@record
class DeviceSmoke:
    """One device's smoke test: its steps, and whether the child died on it."""

    device: str
    """cpu, cuda:0, mps."""
    name: str
    steps: tuple[SmokeStep, ...]
    died: str = ""
    """How the device's child died, if it did: "SIGSEGV during train", "timeout (60 s) during data"."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.died and all(s.status != StepStatus.FAILED for s in self.steps)


@record
class SmokeFacts:
    """The smoke tests of every device tested."""

    devices: tuple[DeviceSmoke, ...]


# --------------------------------------------------------------------------- bench


@record
class BenchMetric:
    """One measured figure of `bench` (matmul, memory or copy bandwidth), or why it could not be measured."""

    metric: str
    """matmul, memory (device copy), h2d, d2h, launch."""
    dtype: str
    """fp32/tf32/bf16/fp16 for matmul; pinned/pageable for h2d/d2h; "" otherwise."""
    value: float
    unit: str
    """TFLOP/s, GB/s (decimal) or us."""
    detail: str = ""
    error: str = ""
    """What failed, when the measurement did not run ("" when it did)."""


@record
class LoadSample:
    """What NVML said about one GPU while the bench loaded it (sampled by the parent, not the measured child)."""

    sm_clock_mhz: Maybe[int]
    """The median SM clock while loaded."""
    sm_clock_max_mhz: Maybe[int]
    power_w: Maybe[float]
    """The highest power draw seen."""
    power_limit_w: Maybe[float]
    temperature_c: Maybe[int]
    """The highest temperature seen."""
    reasons: tuple[str, ...]
    """Every clock-event reason seen while loaded."""
    samples: int


@record
class DeviceBench:
    """One device's bench figures, with what NVML saw while they were measured."""

    device: str
    name: str
    capability: str
    metrics: tuple[BenchMetric, ...]
    died: str = ""
    """How the device's child died, if it did ("timeout (30 s)", "SIGSEGV")."""
    seconds: float = 0.0
    pci_bus: str = ""
    load: Maybe[LoadSample] = Unavailable("NVML", "not sampled", "not_sampled")
    window: tuple[float, ...] = ()
    """Wall-clock (start, end) of the loaded part of the run: the NVML samples that count."""

    def metric(self, name: str, dtype: str = "") -> BenchMetric | None:
        return next((m for m in self.metrics if m.metric == name and m.dtype == dtype and not m.error), None)


@record
class BenchFacts:
    """`bench`'s figures for every device measured."""

    devices: tuple[DeviceBench, ...]
    seconds: float
    """The --seconds each device was given."""
    selection: str = "all"
    """The --device it was asked to measure (all: every device torch can use)."""


# --------------------------------------------------------------------------- all facts


@record
class Facts:
    """Everything the probes gathered about one machine: what the checks judge and a report keeps."""

    host: Maybe[HostFacts]
    python: Maybe[PythonFacts]
    packages: Maybe[PackagesFacts]
    nvml: Maybe[NvmlFacts]
    kernel: Maybe[KernelFacts]
    torch: TorchState
    env: Maybe[EnvFacts]
    smoke: Maybe[SmokeFacts] = Unavailable("smoke", "--no-smoke", "skipped")
    smi: Maybe[SmiFacts] = Unavailable("nvidia-smi", "not asked: NVML answered", "not_needed")
    bench: Maybe[BenchFacts] = Unavailable("bench", "`torchdoctor bench` measures it", "skipped")
    loader: Maybe[LoaderFacts] = Unavailable("loader", "not recorded by this report's torchdoctor", "not_recorded")
    other_loaders: Maybe[OtherLoaderFacts] = Unavailable(
        "loaders", "not recorded by this report's torchdoctor", "not_recorded"
    )


# --------------------------------------------------------------------------- findings


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@record
class Evidence:
    """One fact a finding rests on, and the source it came from."""

    source: Source
    label: str
    value: str


@record
class Finding:
    """A verdict: code, severity, what was seen, why it matters and the exact fix."""

    code: str
    slug: str
    severity: Severity
    title: str
    evidence: tuple[Evidence, ...]
    why: str
    fix: str
    fix_command: str = ""
    """A command to run, where one exists (also part of ``fix``)."""


class CheckStatus(str, enum.Enum):
    PASSED = "passed"
    FIRED = "fired"
    SKIPPED = "skipped"
    IGNORED = "ignored"


@record
class CheckOutcome:
    """What one check concluded: passed, fired (with its findings) or could not check, and why."""

    code: str
    slug: str
    area: str
    status: CheckStatus
    reason: str = ""
    """Why it was skipped or ignored."""
    findings: tuple[Finding, ...] = ()


@record
class ProbeTiming:
    """How long one probe ran, and whether it finished."""

    name: str
    seconds: float
    ok: bool


@record
class ToolInfo:
    """The program that wrote a report, and its version."""

    name: str
    version: str


@record
class Report:
    """One machine's diagnosis: the facts, every check's outcome and the probes' timings."""

    schema_version: int
    tool: ToolInfo
    created: str
    origin: str
    """"probed" for this machine, or the file a ``--from`` report was read from."""
    facts: Facts
    checks: tuple[CheckOutcome, ...]
    timings: tuple[ProbeTiming, ...] = field(default=())
    kind: str = "check"
    """The command that made it: "check", "smoke" or "bench" (they share this shape)."""

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for c in self.checks for f in c.findings)

    def summary(self) -> dict[str, int]:
        """Counts of findings by severity and of checks by status (the JSON `summary`)."""
        counts = {"errors": 0, "warnings": 0, "info": 0}
        key = {Severity.ERROR: "errors", Severity.WARNING: "warnings", Severity.INFO: "info"}
        for f in self.findings:
            counts[key[f.severity]] += 1
        for status in CheckStatus:
            counts[f"checks_{status.value}"] = sum(1 for c in self.checks if c.status is status)
        return counts
