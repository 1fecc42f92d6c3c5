"""Every check, firing on a machine built to show its problem and quiet on one next to it.

The last test keeps this table complete: a new check without both cases fails the suite.
"""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.checks.test_other_loaders import catalogue_cases
from torchdoctor.checks import all_checks, find
from torchdoctor.checks.base import run_checks
from torchdoctor.model import (
    CheckStatus,
    CondaPackage,
    EnvFacts,
    EnvironmentFacts,
    Facts,
    ImportFailureKind,
    LoadedLibrary,
    Manager,
    Nvcc,
    PciDevice,
    Severity,
    TorchImportFailure,
    TorchNotInstalled,
    Unavailable,
)

NO_NVML = Unavailable("NVML", "nvmlInit failed: DriverNotLoaded: Driver Not Loaded", "DriverNotLoaded")
MISMATCH = Unavailable("NVML", "nvmlInit failed: LibRmVersionMismatch", "LibRmVersionMismatch")
HUNG_NVML = Unavailable("NVML", "NVML did not answer within 20 s (a hung GPU or driver)", "timeout")
NO_PERMISSION = Unavailable("NVML", "nvmlInit failed: NoPermission: Insufficient Permissions", "NoPermission")
CUDNN_MISSING = TorchImportFailure(
    ImportFailureKind.MISSING_SHARED_LIBRARY, "OSError", "libcudnn.so.9: cannot open shared object file"
)
OLD_DRIVER_WARNING = (
    "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). "
    "Please update your GPU driver"
)
H100 = f.gpu(name="NVIDIA H100 80GB HBM3", compute_capability="9.0")
RTX5090 = f.gpu(name="NVIDIA GeForce RTX 5090", compute_capability="12.0")


def env_with_nvcc(version: str, **variables: str) -> EnvFacts:
    return EnvFacts(f.env(**variables).variables, Nvcc("/usr/local/cuda/bin/nvcc", version))


CONDA_ENV = EnvironmentFacts(
    Manager.CONDA,
    ("/home/ada/venv/conda-meta",),
    pip=True,
    ensurepip=True,
    conda_packages=(CondaPackage("pytorch", "2.5.1", "py3.11_cpu_0", "/home/ada/venv/conda-meta/pytorch.json"),),
)

CUDNN_TOO_OLD = Unavailable(
    "torch",
    "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (9, 1, 0) but found runtime "
    "version (8, 9, 2). PyTorch already comes bundled with cuDNN.",
)

# slug: (facts where it fires, facts where it stays quiet)
CASES: dict[str, tuple[Facts, Facts]] = {
    "mixed-cuda-major-wheels": (
        f.facts(
            packages=f.packages(
                f.dist("torch", "2.9.0", requires=("nvidia-nccl-cu12==2.27.5",)),
                f.dist("nvidia-nccl-cu12", "2.27.5"),
                f.dist("nvidia-nccl-cu13", "2.28.3"),
            )
        ),
        f.facts(
            packages=f.packages(
                f.dist("torch", "2.9.0"), f.dist("nvidia-nccl-cu12", "2.27.5"), f.dist("nvidia-cudnn-cu12", "9.10.2.21")
            )
        ),
    ),
    "cudnn-version-mismatch": (f.facts(torch=f.runtime(cudnn=CUDNN_TOO_OLD)), f.facts()),
    "two-installers-one-package": (
        f.facts(
            python=f.python(environment=CONDA_ENV),
            packages=f.packages(f.dist("torch", "2.5.1", installer="pip"), f.dist("numpy", "2.1.3")),
        ),
        f.facts(
            python=f.python(environment=CONDA_ENV),
            packages=f.packages(f.dist("torch", "2.5.1", installer="conda"), f.dist("numpy", "2.1.3")),
        ),
    ),
    "torch-missing": (f.facts(torch=TorchNotInstalled("/usr/bin/python3", "no module named torch")), f.facts()),
    "torch-import-failed": (f.facts(torch=CUDNN_MISSING), f.facts()),
    "torch-cpu-only-build": (
        f.facts(torch=f.cpu_runtime()),
        f.no_gpu(),
    ),
    "torch-wrong-accelerator": (
        f.facts(torch=f.runtime(version="2.5.1+rocm6.2", cuda="", hip="6.2.41133", arch_list=("gfx90a",))),
        f.no_gpu(torch=f.runtime(version="2.5.1+rocm6.2", cuda="", hip="6.2.41133", arch_list=("gfx90a",))),
    ),
    "cuda-unavailable": (
        f.facts(torch=f.runtime(cuda_available=False, device_count=0, devices=(), warnings=(OLD_DRIVER_WARNING,))),
        f.facts(),
    ),
    "nvidia-driver-not-loaded": (
        f.facts(nvml=NO_NVML, kernel=f.kernel(nvidia_loaded=False, module_version=Unavailable("/proc", "x"))),
        f.no_gpu(),
    ),
    "nvml-driver-mismatch": (f.facts(nvml=MISMATCH), f.facts()),
    "nvml-unresponsive": (f.facts(nvml=HUNG_NVML), f.facts()),
    "nvml-unusable": (f.facts(nvml=NO_PERMISSION), f.no_gpu()),
    "gpu-lost": (f.facts(nvml=f.nvml(f.gpu(0), f.lost_gpu(1))), f.facts()),
    "gpu-unresponsive": (
        f.facts(
            nvml=f.nvml(f.gpu(0, temperature_c=Unavailable("NVML", "temperature did not return within 5 s", "timeout")))
        ),
        f.facts(),
    ),
    "nouveau-loaded": (
        f.facts(kernel=f.kernel(nouveau_loaded=True, pci_gpus=(PciDevice("0000:01:00.0", "0x2684", "nouveau"),))),
        f.facts(),
    ),
    "rosetta-python": (
        f.facts(host=f.mac(), python=f.python(machine="x86_64")),
        f.facts(host=f.mac(), python=f.python(machine="arm64")),
    ),
    "python-32bit": (f.facts(python=f.python(bits=32)), f.facts()),
    "cwd-deleted": (f.facts(python=f.python(cwd="")), f.facts()),
    "wsl1": (f.facts(host=f.host(wsl="wsl1")), f.facts(host=f.host(wsl="wsl2"))),
    "container-without-gpu": (
        f.cpu_container(env=f.env(NVIDIA_VISIBLE_DEVICES="all")),
        f.no_gpu(host=f.host(container="docker", container_evidence=("/.dockerenv exists",))),
    ),
    "small-shm": (f.facts(host=f.host(shm_bytes=64 * 1024**2, container="docker")), f.facts()),
    "duplicate-torch": (
        f.facts(packages=f.packages(f.dist("torch", "2.5.1"), f.dist("torch", "2.3.0", "/home/ada/.local/lib/py"))),
        f.facts(),
    ),
    "pynvml-shadowed": (
        f.facts(packages=f.packages(f.dist("torch", "2.5.1"), f.dist("pynvml", "11.4.1", modules=("pynvml",)))),
        f.facts(packages=f.packages(f.dist("torch", "2.5.1"), f.dist("pynvml", "12.0.0", modules=("pynvml_utils",)))),
    ),
    "cuda-visible-devices": (
        f.facts(env=f.env(CUDA_VISIBLE_DEVICES="")),
        f.facts(env=f.env(CUDA_VISIBLE_DEVICES="0")),
    ),
    "cuda-device-order": (
        f.facts(nvml=f.nvml(f.gpu(0), f.gpu(1, name="NVIDIA GeForce RTX 4090", compute_capability="8.9"))),
        f.facts(
            nvml=f.nvml(f.gpu(0), f.gpu(1, name="NVIDIA GeForce RTX 4090", compute_capability="8.9")),
            env=f.env(CUDA_DEVICE_ORDER="PCI_BUS_ID"),
        ),
    ),
    "gpu-ecc-errors": (f.facts(nvml=f.nvml(f.gpu(remap_pending=True))), f.facts()),
    "gpu-pcie-degraded": (
        f.facts(nvml=f.nvml(f.gpu(pcie_width=8))),
        f.facts(nvml=f.nvml(f.gpu(pcie_gen=1, utilization_pct=0))),  # idle GPUs drop their link generation
    ),
    "gpu-throttled": (
        f.facts(nvml=f.nvml(f.gpu(throttle_reasons=("hw_thermal_slowdown",), temperature_c=91))),
        f.facts(nvml=f.nvml(f.gpu(throttle_reasons=("gpu_idle", "sw_power_cap")))),
    ),
    "gpu-compute-mode": (
        f.facts(nvml=f.nvml(f.gpu(compute_mode="prohibited"))),
        f.facts(nvml=f.nvml(f.gpu(compute_mode="exclusive_process", processes=()))),
    ),
    "mig-enabled": (f.facts(nvml=f.nvml(f.gpu(mig_enabled=True))), f.facts()),
    "mps-unavailable": (
        f.facts(
            host=f.mac(),
            python=f.python(machine="arm64"),
            torch=f.cpu_runtime(mps_built=True, mps_available=False),
            nvml=NO_NVML,
        ),
        f.facts(
            host=f.mac(),
            python=f.python(machine="arm64"),
            torch=f.cpu_runtime(mps_built=True, mps_available=True),
            nvml=NO_NVML,
        ),
    ),
    "foreign-cuda-libs": (
        f.facts(
            torch=f.runtime(loaded_libraries=(LoadedLibrary("cudnn", "/usr/local/cuda-12.1/lib64/libcudnn.so.9"),)),
            env=f.env(LD_LIBRARY_PATH="/usr/local/cuda-12.1/lib64:/opt/other"),
        ),
        f.facts(),
    ),
    "broken-metadata": (
        f.facts(packages=f.packages(f.dist("torch", "2.5.1", problem="its METADATA is empty or has no Name"))),
        f.facts(),
    ),
    "numpy-missing": (f.facts(packages=f.packages(f.dist("torch", "2.5.1"))), f.facts()),
    "nvcc-mismatch": (
        f.facts(env=env_with_nvcc("11.8")),
        f.facts(env=env_with_nvcc("12.6")),
    ),
    # compat tables
    "driver-too-old": (
        f.facts(nvml=f.nvml(driver="470.82.01", cuda="11.4")),
        f.facts(nvml=f.nvml(driver="525.60.13", cuda="12.0")),  # 12.x minor-version compatibility floor
    ),
    "gpu-arch-unsupported": (
        f.facts(nvml=f.nvml(RTX5090)),
        f.facts(nvml=f.nvml(H100)),
    ),
    "python-unsupported": (
        f.facts(python=f.python(version="3.14.0")),  # torch 2.5 wheels stop at 3.13
        f.facts(python=f.python(version="3.12.7")),
    ),
    "companion-mismatch": (
        f.facts(packages=f.packages(f.dist("torch", "2.5.1"), f.dist("torchvision", "0.19.1"), f.dist("numpy", "2"))),
        f.facts(packages=f.packages(f.dist("torch", "2.5.1"), f.dist("torchvision", "0.20.1"), f.dist("numpy", "2"))),
    ),
    "numpy-abi": (
        f.facts(
            packages=f.packages(f.dist("torch", "2.1.2"), f.dist("numpy", "2.0.1")),
            torch=f.runtime(version="2.1.2+cu121", cuda="12.1"),
        ),
        f.facts(
            packages=f.packages(f.dist("torch", "2.1.2"), f.dist("numpy", "1.26.4")),
            torch=f.runtime(version="2.1.2+cu121", cuda="12.1"),
        ),
    ),
    "mps-macos-too-old": (
        f.facts(host=f.mac(macos_version="13.6"), torch=f.cpu_runtime(version="2.11.0", mps_built=True)),
        f.facts(host=f.mac(macos_version="14.2"), torch=f.cpu_runtime(version="2.11.0", mps_built=True)),
    ),
    "glibc-too-old": (
        f.facts(host=f.host(glibc="2.27"), torch=f.runtime(version="2.6.0+cu124")),
        f.facts(host=f.host(glibc="2.27"), torch=f.runtime(version="2.5.1+cu124")),
    ),
    # smoke tests
    "smoke-failed": (f.facts(smoke=f.smoke_failure("cuda:0", "modes", "two eval-mode forwards differ")), f.facts()),
    "smoke-no-kernel-image": (
        f.facts(
            smoke=f.smoke_failure(
                "cuda:0",
                "tensors",
                "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            )
        ),
        f.facts(),
    ),
    "smoke-out-of-memory": (
        f.facts(
            smoke=f.smoke_failure("cuda:0", "train", "OutOfMemoryError: CUDA out of memory. Tried to allocate"),
            nvml=f.nvml(f.gpu(processes=(f.process(31337),))),
        ),
        f.facts(),
    ),
    "smoke-dataloader-shm": (
        f.facts(
            smoke=f.smoke_failure(
                "cuda:0",
                "data",
                "RuntimeError: DataLoader worker (pid 77) is killed by "
                "signal: Bus error. It is possible that dataloader's workers are out of shared "
                "memory.",
            ),
            host=f.host(container="docker", shm_bytes=64 * 1024**2),
        ),
        f.facts(),
    ),
    "smoke-cuda-fork": (
        f.facts(
            smoke=f.smoke_failure(
                "cuda:0",
                "data",
                "RuntimeError: Cannot re-initialize CUDA in forked "
                "subprocess. To use CUDA with multiprocessing, you must use the 'spawn' start",
            )
        ),
        f.facts(),
    ),
    "smoke-weights-only": (
        f.facts(smoke=f.smoke_failure("cuda:0", "save_load", "UnpicklingError: Weights only load failed.")),
        f.facts(),
    ),
    "smoke-nan-loss": (
        f.facts(smoke=f.smoke_failure("cuda:0", "train", "loss became NaN/Inf with SGD: [nan, nan]")),
        f.facts(),
    ),
    "smoke-device-unusable": (
        f.facts(
            smoke=f.smoke(
                f.device_smoke("cpu"), f.device_smoke("cuda:0", "GPU", f.step("tensors"), died="SIGSEGV during model")
            )
        ),
        f.facts(),
    ),
    "could-not-examine": (
        f.facts(torch=Unavailable("torch", "the doctor could not run its torch child: [Errno 24] Too many", "limit")),
        f.facts(torch=Unavailable("torch", "could not start the target interpreter: No such file", "start")),
    ),
    "torch-unknown-version": (
        f.facts(torch=f.runtime(version="2.6.0a0+ecf3bae40a.nv25.01")),
        f.facts(),
    ),
    **catalogue_cases(),  # TD041-TD045, the other loaders
}


def run_one(slug: str, facts: Facts):
    chk = find(slug)
    assert chk is not None, slug
    (outcome,) = run_checks(facts, [chk])
    return outcome


@pytest.mark.parametrize("slug", sorted(CASES))
def test_fires(slug: str) -> None:
    outcome = run_one(slug, CASES[slug][0])
    assert outcome.status is CheckStatus.FIRED, outcome.reason
    for finding in outcome.findings:
        assert finding.slug == slug
        assert finding.evidence, "a finding must say what it saw"
        assert finding.fix.strip(), "a finding must say how to fix it"
        assert all(e.value for e in finding.evidence)


@pytest.mark.parametrize("slug", sorted(CASES))
def test_stays_quiet(slug: str) -> None:
    outcome = run_one(slug, CASES[slug][1])
    assert outcome.status is CheckStatus.PASSED, (outcome.reason, outcome.findings)


def test_every_check_has_both_cases() -> None:
    assert sorted(CASES) == sorted(c.slug for c in all_checks())


def test_healthy_gpu_machine_has_no_findings() -> None:
    outcomes = run_checks(f.facts(), all_checks())
    assert [o.slug for o in outcomes if o.status is not CheckStatus.PASSED] == []


def test_codes_and_slugs_are_unique_and_stable() -> None:
    checks = all_checks()
    assert len({c.code for c in checks}) == len({c.slug for c in checks}) == len(checks)
    assert all(c.code.startswith("TD") and c.code[2:].isdigit() for c in checks)
    assert find("TD004") is not None and find("TD004").slug == "cuda-unavailable"  # type: ignore[union-attr]


def test_a_check_that_needs_a_missing_fact_is_skipped_with_the_reason() -> None:
    gone = Unavailable("NVML", "the NVML bindings (nvidia-ml-py) cannot be imported", "NoBindings")
    outcome = run_one("gpu-ecc-errors", f.facts(nvml=gone))
    assert outcome.status is CheckStatus.SKIPPED
    assert "nvidia-ml-py" in outcome.reason


def test_ignore_by_code_or_slug() -> None:
    facts = f.facts(python=f.python(bits=32))
    outcomes = run_checks(facts, all_checks(), ignore=["TD009"])
    by_slug = {o.slug: o for o in outcomes}
    assert by_slug["python-32bit"].status is CheckStatus.IGNORED
    assert by_slug["python-32bit"].findings == ()


def test_severity_defaults_and_overrides() -> None:
    outcome = run_one("cuda-visible-devices", f.facts(env=f.env(CUDA_VISIBLE_DEVICES="0,7")))
    (finding,) = outcome.findings
    assert finding.severity is Severity.WARNING
    assert "invalid entry" in finding.title


@pytest.mark.parametrize("slug", sorted(s for s in CASES if s.startswith("smoke-")))
def test_each_smoke_failure_is_claimed_by_exactly_one_check(slug: str) -> None:
    outcomes = run_checks(CASES[slug][0], [c for c in all_checks() if c.slug.startswith("smoke-")])
    assert [o.slug for o in outcomes if o.findings] == [slug]
    assert sum(len(o.findings) for o in outcomes) == 1


def test_smoke_checks_skip_when_smoke_did_not_run() -> None:
    outcome = run_one("smoke-failed", f.facts(smoke=Unavailable("smoke", "not run (--no-smoke)", "skipped")))
    assert outcome.status is CheckStatus.SKIPPED and "--no-smoke" in outcome.reason


def test_one_finding_per_device_and_cause() -> None:
    no_kernel = "RuntimeError: CUDA error: no kernel image is available for execution on the device"
    steps = tuple(
        f.step(n, "failed", no_kernel) if n in ("tensors", "data") else f.step(n, "skipped") for n in f.STEP_NAMES
    )
    facts = f.facts(smoke=f.smoke(f.device_smoke("cuda:0", "GPU", *steps)))
    (finding,) = run_one("smoke-no-kernel-image", facts).findings
    assert ("also failed the same way", "data") in [(e.label, e.value) for e in finding.evidence]


def test_torch_missing_is_known_without_importing_it() -> None:
    """--quick never imports torch, but the metadata and find_spec already say it is not there."""
    quick = Unavailable("torch", "skipped: --quick", "skipped")
    nothing = f.packages(
        f.dist("numpy", "2.1.3"), torch_origin=Unavailable("python", "no module named torch", "not_found")
    )
    (finding,) = run_one("torch-missing", f.facts(torch=quick, packages=nothing)).findings
    assert finding.evidence[0].value == "none installed" and "pip install torch==" in finding.fix_command
    installed = run_one("torch-missing", f.facts(torch=quick))
    assert installed.status is CheckStatus.SKIPPED and "--quick" in installed.reason


def test_a_cpu_wheel_is_recognised_from_its_metadata_without_importing_it() -> None:
    quick = Unavailable("torch", "skipped: --quick", "skipped")
    cpu_wheel = f.packages(f.dist("torch", "2.13.0+cpu"), f.dist("numpy", "2.1.3"))
    (finding,) = run_one("torch-cpu-only-build", f.facts(torch=quick, packages=cpu_wheel)).findings
    assert finding.evidence[0].value == "2.13.0+cpu" and finding.evidence[0].source.value == "package metadata"
    assert run_one("torch-cpu-only-build", f.facts(torch=quick)).findings == ()  # a CUDA wheel: quiet


def test_gpu_arch_is_judged_from_the_tables_without_a_runtime() -> None:
    quick = Unavailable("torch", "skipped: --quick", "skipped")
    cu124 = f.packages(f.dist("torch", "2.5.1+cu124"), f.dist("numpy", "2.1.3"))
    blackwell = f.nvml(f.gpu(name="NVIDIA GeForce RTX 5090", compute_capability="12.0"))
    (finding,) = run_one("gpu-arch-unsupported", f.facts(torch=quick, packages=cu124, nvml=blackwell)).findings
    assert finding.evidence[0].source.value == "compat tables"
    assert "sm_90" in finding.evidence[0].value and "sm_120" in finding.evidence[1].value
    assert run_one("gpu-arch-unsupported", f.facts(torch=quick, packages=cu124)).findings == ()  # an A100: covered
