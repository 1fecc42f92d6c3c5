"""Facts in one line: a healthy Linux GPU machine by default, any part overridable.

These build the model's own dataclasses (fakes of what the probes would have seen), so a check's
test reads as "on a machine like this, it fires / stays quiet".
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from torchdoctor.model import (
    Candidate,
    DeviceSmoke,
    Distribution,
    EnvFacts,
    EnvVar,
    Facts,
    GPUFacts,
    GPUProcess,
    HostFacts,
    KernelFacts,
    LoadedLibrary,
    LoaderFacts,
    NvmlFacts,
    OtherLoaderFacts,
    Owner,
    OwnerKind,
    PackagesFacts,
    PciDevice,
    PythonFacts,
    Resolution,
    SharedObject,
    SmokeFacts,
    SmokeStep,
    StepStatus,
    SymbolLookup,
    TorchDevice,
    TorchRuntime,
    Unavailable,
    VersionNeed,
    Via,
)

SITE = "/home/ada/venv/lib/python3.11/site-packages"


def host(**kw: Any) -> HostFacts:
    base = HostFacts(
        system="Linux",
        release="6.8.0-45-generic",
        os_name="Ubuntu 24.04.1 LTS",
        kernel="#45-Ubuntu SMP",
        machine="x86_64",
        apple_silicon=False,
        macos_version=Unavailable("platform", "not macOS", "not_applicable"),
        wsl="",
        container="",
        container_evidence=(),
        shm_bytes=16 * 1024**3,
        glibc="2.39",
        cpu_model="AMD EPYC 7763",
        cpu_logical=32,
        cpu_physical=16,
        ram_bytes=256 * 1024**3,
    )
    return replace(base, **kw)


def mac(**kw: Any) -> HostFacts:
    values: dict[str, Any] = dict(
        system="Darwin",
        os_name="macOS 15.1",
        machine="arm64",
        apple_silicon=True,
        macos_version="15.1",
        shm_bytes=Unavailable("platform", "linux only", "not_applicable"),
        glibc=Unavailable("platform", "not glibc", "not_applicable"),
    )
    values.update(kw)
    return host(**values)


def python(**kw: Any) -> PythonFacts:
    base = PythonFacts(
        executable="/home/ada/venv/bin/python",
        version="3.11.9",
        implementation="CPython",
        bits=64,
        machine="x86_64",
        free_threaded=False,
        prefix="/home/ada/venv",
        base_prefix="/usr",
        venv=True,
        conda_prefix="",
        user_site="/home/ada/.local/lib/python3.11/site-packages",
        user_site_enabled=False,
        cwd="/home/ada/project",
    )
    return replace(base, **kw)


def dist(name: str, version: str, location: str = SITE, **kw: Any) -> Distribution:
    return Distribution(name, version, location, **kw)


def packages(*dists: Distribution, **kw: Any) -> PackagesFacts:
    if not dists:
        dists = (
            dist("torch", "2.5.1"),
            dist("numpy", "2.1.3"),
            dist("nvidia-cudnn-cu12", "9.1.0.70"),
            dist("nvidia-ml-py", "12.560.30", modules=("pynvml",)),
        )
    base = PackagesFacts(dists, f"{SITE}/torch/__init__.py", f"{SITE}/pynvml.py", "")
    return replace(base, **kw)


def gpu(index: int = 0, **kw: Any) -> GPUFacts:
    base = GPUFacts(
        index=index,
        name="NVIDIA A100-SXM4-80GB",
        uuid=f"GPU-1234567{index}-abcd-ef01-2345-6789abcdef01",
        pci_bus_id=f"00000000:0{index + 1}:00.0",
        compute_capability="8.0",
        memory_total=80 * 1024**3,
        memory_used=512 * 1024**2,
        temperature_c=34,
        power_draw_w=60.5,
        power_limit_w=400.0,
        sm_clock_mhz=210,
        sm_clock_max_mhz=1410,
        mem_clock_mhz=1593,
        utilization_pct=0,
        throttle_reasons=("gpu_idle",),
        pcie_gen=1,
        pcie_gen_max=4,
        pcie_width=16,
        pcie_width_max=16,
        ecc_enabled=True,
        ecc_uncorrected_volatile=0,
        remap_pending=False,
        remap_failed=False,
        persistence_mode=True,
        compute_mode="default",
        mig_enabled=False,
        mig_uuids=(),
        processes=(),
    )
    return replace(base, **kw)


def nvml(*gpus: GPUFacts, driver: str = "550.54.15", cuda: str = "12.4") -> NvmlFacts:
    gpus = gpus if gpus else (gpu(),)
    return NvmlFacts(driver, cuda, "12.550.54.15", gpus, len(gpus))


def lost_gpu(index: int) -> GPUFacts:
    """A GPU whose handle NVML would not give: GpuIsLost, as when it has fallen off the bus."""
    lost = Unavailable("NVML", "GpuIsLost: GPU is lost", "GpuIsLost")
    return GPUFacts(index, *([lost] * (len(fields(GPUFacts)) - 1)))


def kernel(**kw: Any) -> KernelFacts:
    base = KernelFacts(
        module_version="550.54.15",
        dev_nodes=("/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm"),
        nvidia_loaded=True,
        nouveau_loaded=False,
        pci_gpus=(PciDevice("0000:01:00.0", "0x20b2", "nvidia"),),
    )
    return replace(base, **kw)


def runtime(**kw: Any) -> TorchRuntime:
    base = TorchRuntime(
        version="2.5.1+cu124",
        file=f"{SITE}/torch/__init__.py",
        git_version="a8d6afb511a69687bbb2b7e88a3cf67917e1697e",
        debug=False,
        cuda="12.4",
        hip="",
        cudnn=90100,
        nccl="2.21.5",
        arch_list=("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"),
        cuda_available=True,
        device_count=1,
        devices=(TorchDevice(0, "NVIDIA A100-SXM4-80GB", "8.0", 80 * 1024**3),),
        cuda_error="",
        driver_cuda=12040,
        mps_built=False,
        mps_available=False,
        xpu_available=False,
        warnings=(),
        loaded_libraries=(LoadedLibrary("cudnn", f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"),),
        numpy="2.1.3",
    )
    return replace(base, **kw)


def cpu_runtime(**kw: Any) -> TorchRuntime:
    not_cuda = Unavailable("torch", "not a CUDA build", "not_applicable")
    values: dict[str, Any] = dict(
        version="2.13.0+cpu",
        cuda="",
        cudnn=not_cuda,
        nccl=not_cuda,
        arch_list=(),
        cuda_available=False,
        device_count=0,
        devices=(),
        loaded_libraries=(),
        driver_cuda=not_cuda,
    )
    values.update(kw)
    return runtime(**values)


def env(**variables: str) -> EnvFacts:
    return EnvFacts(
        tuple(EnvVar(k, v) for k, v in sorted(variables.items())),
        Unavailable("nvcc", "nvcc is not on PATH", "not_found"),
    )


def facts(**kw: Any) -> Facts:
    base = Facts(
        host=host(),
        python=python(),
        packages=packages(),
        nvml=nvml(),
        kernel=kernel(),
        torch=runtime(),
        env=env(),
        smoke=smoke(),
        other_loaders=plain_linux_loaders(),
    )
    return replace(base, **kw)


def plain_linux_loaders() -> OtherLoaderFacts:
    """A Linux machine with a PCI GPU: not WSL, not a Jetson, no AMD KFD, no Windows DLLs."""
    na = Unavailable("loaders", "does not apply here", "not_applicable")
    return OtherLoaderFacts(wsl=na, tegra=na, rocm=na, dlls=na)


def no_gpu(**kw: Any) -> Facts:
    """A CPU machine: no NVIDIA anything."""
    gone = Unavailable("NVML", "nvmlInit failed: LibraryNotFound: NVML Shared Library Not Found", "LibraryNotFound")
    base = facts(
        nvml=gone,
        kernel=kernel(
            module_version=Unavailable("/proc", "no module", "not_found"),
            dev_nodes=(),
            nvidia_loaded=False,
            pci_gpus=(),
        ),
        torch=cpu_runtime(),
        packages=packages(dist("torch", "2.13.0+cpu"), dist("numpy", "2.1.3")),
    )
    return replace(base, **kw)


def process(pid: int) -> GPUProcess:
    return GPUProcess(pid, 1024**3, "compute")


def step(name: str, status: str = "passed", error: str = "", detail: str = "") -> SmokeStep:
    return SmokeStep(name, StepStatus(status), 0.01, error, detail)


def smoke(*devices: DeviceSmoke) -> SmokeFacts:
    if not devices:
        devices = (device_smoke("cpu"), device_smoke("cuda:0", "NVIDIA A100-SXM4-80GB"))
    return SmokeFacts(devices)


STEP_NAMES = ("tensors", "autograd", "model", "train", "modes", "data", "save_load")


def device_smoke(device: str = "cpu", name: str = "CPU", *steps: SmokeStep, died: str = "") -> DeviceSmoke:
    return DeviceSmoke(device, name, steps or tuple(step(n) for n in STEP_NAMES), died, 0.3)


def smoke_failure(device: str, step_name: str, error: str, detail: str = "") -> SmokeFacts:
    steps = tuple(step(n, "failed", error, detail) if n == step_name else step(n) for n in STEP_NAMES)
    return smoke(device_smoke("cpu"), device_smoke(device, "NVIDIA A100-SXM4-80GB", *steps))


def cpu_container(**kw: Any) -> Facts:
    """A Docker container without a GPU, with PyPI's default Linux torch (a CUDA build): ordinary CI."""
    values: dict[str, Any] = dict(
        host=host(container="docker", container_evidence=("/.dockerenv exists",)),
        kernel=kernel(
            module_version=Unavailable("/proc", "no module", "not_found"),
            dev_nodes=(),
            nvidia_loaded=False,
            pci_gpus=(),
        ),
        nvml=Unavailable("NVML", "nvmlInit failed: LibraryNotFound: NVML Shared Library Not Found", "LibraryNotFound"),
        torch=runtime(version="2.13.0", cuda="13.0", cuda_available=False, device_count=0, devices=()),
        smoke=smoke(device_smoke("cpu")),
    )
    values.update(kw)
    return facts(**values)


# --------------------------------------------------------------------------- the dynamic loader's facts
# What probes/loader.py records (objects read with pyelftools, each needed library resolved in ld.so's order,
# the owner of each file), built by hand: "on a machine whose loader takes X from Y".


def owner(kind: str | OwnerKind = "pip", package: str = "", version: str = "", record: str = "") -> Owner:
    """Who installed a file: ``owner("conda", "cudatoolkit", "11.3.1", "/env/conda-meta/cudatoolkit.json")``."""
    return Owner(kind if isinstance(kind, OwnerKind) else OwnerKind(kind), package, version, record)


def shared_object(
    path: str,
    soname: str = "",
    needed: tuple[str, ...] = (),
    requires: dict[str, tuple[str, ...]] | None = None,
    defines: tuple[str, ...] = (),
    owned_by: Owner | Unavailable | None = None,
    **kw: Any,
) -> SharedObject:
    """One ELF object as the probe reads it; ``requires`` maps a needed library to the versions asked of it."""
    needs = tuple(VersionNeed(lib, versions) for lib, versions in (requires or {}).items())
    return SharedObject(
        path=path,
        soname=soname,
        needed=needed or tuple(n.library for n in needs),
        rpath=kw.pop("rpath", ()),
        runpath=kw.pop("runpath", ()),
        requires=needs,
        defines=defines,
        size=kw.pop("size", 1 << 20),
        mtime=kw.pop("mtime", 1.7e9),
        owner=owned_by if owned_by is not None else Owner(OwnerKind.NOBODY),
        **kw,
    )


def candidate(path: str, via: Via = Via.LD_LIBRARY_PATH, entry: str | None = None) -> Candidate:
    """A copy the loader finds; ``entry`` defaults to the file's directory (the search entry as written)."""
    return Candidate(path, via, entry if entry is not None else path.rsplit("/", 1)[0])


def loader(
    *objects: SharedObject,
    resolutions: tuple[Resolution, ...] = (),
    ld_library_path: str = "",
    ld_preload: str = "",
    lookups: tuple[SymbolLookup, ...] = (),
    torch_dir: str = f"{SITE}/torch",
) -> LoaderFacts:
    """Loader facts; ``ld_library_path`` as the variable is written (entries kept in order, empty ones too)."""
    return LoaderFacts(
        torch_dir=torch_dir,
        ld_library_path=tuple(ld_library_path.replace(";", ":").split(":")) if ld_library_path else (),
        ld_preload=tuple(ld_preload.split()),
        objects=objects,
        resolutions=resolutions,
        lookups=lookups,
    )


def resolved(requester: str, needed: str, *candidates: Candidate) -> Resolution:
    """Where the loader finds ``needed`` for ``requester``: the first candidate is the copy it takes."""
    return Resolution(requester, needed, candidates)
