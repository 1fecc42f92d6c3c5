"""Is torch installed, does it import, is it the right build, can it use the GPU?"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace

from packaging.version import InvalidVersion, Version

from torchdoctor.checks import cuda_libraries, other_loaders
from torchdoctor.checks.base import Area, Fire, Skip, TorchSeen, check, ev
from torchdoctor.checks.fixes import install_torch_fix, machine_here
from torchdoctor.checks.loader import diagnose, missing_library, outside_wheels
from torchdoctor.compat.machine import installed_variant
from torchdoctor.compat.tables import load_tables
from torchdoctor.derived import (
    cuda_cause,
    driver_evidence,
    driver_version,
    nvidia_gpu_evidence,
    python_exe,
    torch_version,
)
from torchdoctor.model import (
    EnvFacts,
    Evidence,
    Facts,
    ImportFailureKind,
    KernelFacts,
    LoaderFacts,
    Manager,
    Nvcc,
    NvmlFacts,
    PackagesFacts,
    PythonFacts,
    Severity,
    Source,
    TorchImportFailure,
    TorchNotInstalled,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import gpus_seen
from torchdoctor.rules import cudaerrors, dlerror, installers, numpyabi
from torchdoctor.rules.index import pinned, pip
from torchdoctor.rules.shell import quote
from torchdoctor.rules.versions import local_tag, release


@check(
    "TD001",
    "torch-missing",
    "torch is not installed in this Python",
    Severity.ERROR,
    Area.TORCH,
    "Nothing PyTorch-based can run in this interpreter until torch is installed.",
)
def torch_missing(facts: Facts) -> Iterator[Fire]:
    torch, packages = facts.torch, facts.packages
    if isinstance(torch, TorchNotInstalled):
        evidence = (ev(Source.PYTHON, "interpreter", torch.python), ev(Source.PYTHON, "import torch", torch.reason))
    elif (  # --quick: no import, but the metadata and the import system already tell
        isinstance(torch, Unavailable)
        and isinstance(packages, PackagesFacts)
        and not packages.named("torch")
        and isinstance(packages.torch_origin, Unavailable)
        and packages.torch_origin.code == "not_found"
    ):
        evidence = (
            ev(Source.METADATA, "torch distribution", "none installed"),
            ev(Source.PYTHON, "import torch", packages.torch_origin.reason),
        )
    else:
        if isinstance(torch, Unavailable):
            raise Skip(f"needs torch facts: {torch.reason}")
        return
    fix = install_torch_fix(facts)
    yield Fire(evidence, fix.text, fix.command)


IMPORT_FIXES: dict[ImportFailureKind, str] = {
    ImportFailureKind.MISSING_SHARED_LIBRARY: (
        "A library torch links against is missing. For pip wheels, reinstall torch so that its nvidia-* "
        "dependencies come back at the pinned versions (never uninstall nvidia-* wheels by hand)."
    ),
    ImportFailureKind.UNDEFINED_SYMBOL: (
        "A library loaded ahead of torch's own lacks a symbol torch needs: usually an older copy on "
        "LD_LIBRARY_PATH. Look at the directory the library in the error came from and take it out."
    ),
    ImportFailureKind.GLIBC_TOO_OLD: (
        "This torch needs a newer glibc than the OS has. Use a newer OS or container image, or a torch "
        "release built for this glibc (torch <= 2.5 is built for glibc 2.17)."
    ),
    ImportFailureKind.VERSION_NOT_FOUND: (
        "The copy of a library that was loaded is older than torch needs (GLIBCXX_/CXXABI_ are libstdc++'s, "
        "not the OS's glibc). Look at which directory it came from: an LD_LIBRARY_PATH entry, a conda "
        "environment's lib, a module system. Take that directory out, or update what ships the library."
    ),
    ImportFailureKind.NUMPY_ABI: (
        "torch (or an extension) was compiled against NumPy 1.x and NumPy 2 is installed. Install "
        "NumPy 1, or upgrade torch and the extension to builds made for NumPy 2."
    ),
    ImportFailureKind.DLL_LOAD: (
        "Windows could not load one of torch's DLLs or its dependencies: install the latest Microsoft "
        "Visual C++ x64 Redistributable (https://aka.ms/vs/17/release/vc_redist.x64.exe), which most of torch's DLLs "
        "import, and open a new shell."
    ),
    ImportFailureKind.MISSING_MODULE: "A Python package torch imports is missing: install it.",
    ImportFailureKind.CRASH: (
        "The interpreter died inside `import torch`. Run it under faulthandler to see where, and "
        "reinstall torch; a crash here is usually a broken or mixed installation."
    ),
    ImportFailureKind.TIMEOUT: (
        "`import torch` did not finish in time: a slow network filesystem, a hung driver call or a "
        "deadlocked import. Time it with `{python} -X importtime -c 'import torch'`; raise --timeout if "
        "it is merely slow."
    ),
    ImportFailureKind.BROKEN: (
        "torch imports but is broken: a basic part of it is missing or fails (a partly overwritten or "
        "half-uninstalled package, or a stray `torch` module shadowing the real one). Reinstall it."
    ),
    ImportFailureKind.OTHER: "Read the error below; reinstalling torch fixes most broken installations.",
}


def shadowing_folder(facts: Facts) -> str:
    """The ./torch folder that `import torch` really loads instead of the package, or "".

    An empty folder (no __init__.py) does not shadow: Python keeps looking and imports the package.
    """
    packages = facts.packages
    if not isinstance(packages, PackagesFacts) or not packages.cwd_torch_dir:
        return ""
    origin = packages.torch_origin
    folder = packages.cwd_torch_dir.rstrip(os.sep) + os.sep
    return packages.cwd_torch_dir if isinstance(origin, str) and origin.startswith(folder) else ""


SHADOW_FIX = (
    "A `torch` folder in the working directory shadows the installed package for `python -c`, the REPL and "
    "notebooks. Run from another directory, or rename the folder."
)


def _ld_library_path(facts: Facts) -> str:
    return (facts.env.get("LD_LIBRARY_PATH") or "") if isinstance(facts.env, EnvFacts) else ""


def _import_fix_command(facts: Facts, failure: TorchImportFailure) -> str:
    kind = failure.kind
    spec = pinned("torch", torch_version(facts))
    if kind in (
        ImportFailureKind.MISSING_SHARED_LIBRARY,
        ImportFailureKind.CRASH,
        ImportFailureKind.OTHER,
        ImportFailureKind.BROKEN,
    ):
        if "libcuda.so" in failure.message:
            return ""  # the driver itself is missing: see the driver findings
        return pip(facts, f"install --force-reinstall {spec}")
    if kind == ImportFailureKind.UNDEFINED_SYMBOL:  # the fallback: only where a CUDA library is in the error
        if not _cuda_in_chain(failure.message) or not _ld_library_path(facts):
            return ""
        kept = [p for p in _ld_library_path(facts).split(os.pathsep) if p and "cuda" not in p.lower()]
        return f"export LD_LIBRARY_PATH={quote(os.pathsep.join(kept))}" if kept else "unset LD_LIBRARY_PATH"
    if kind == ImportFailureKind.NUMPY_ABI:
        return _numpy_fix(facts, failure)[1]
    if kind == ImportFailureKind.MISSING_MODULE:
        match = re.search(r"No module named '([\w.]+)'", failure.message)
        return pip(facts, f"install {match.group(1).split('.')[0]}") if match else ""
    return ""


CUDA_LIBRARY = re.compile(
    r"lib(cuda|cudart|cudnn\w*|cublas\w*|cusparse\w*|cufft\w*|curand|cusolver\w*|nccl|nvJitLink|nvrtc)\.so"
)
UNDEFINED_CUDA = (
    "torch loaded a CUDA library from somewhere else (usually a system CUDA on LD_LIBRARY_PATH) that "
    "is older than the one its wheel needs. Remove the system CUDA directories from LD_LIBRARY_PATH."
)


def _cuda_in_chain(message: str) -> bool:
    """The fallback's only evidence of CUDA: a CUDA library named in the loader's message."""
    return bool(CUDA_LIBRARY.search(message))


def fallback_kind(failure: TorchImportFailure) -> ImportFailureKind:
    """The child's kind, corrected where the loader's message says whose version is missing."""
    error = dlerror.parse(failure.message)
    if error is not None and error.version:
        family = dlerror.version_family(error.version)
        if family is dlerror.VersionFamily.GLIBC:
            return ImportFailureKind.GLIBC_TOO_OLD
        if error.kind is dlerror.LoaderErrorKind.MISSING_VERSION:
            return ImportFailureKind.VERSION_NOT_FOUND
    if failure.kind is ImportFailureKind.GLIBC_TOO_OLD:  # an older report's child read GLIBCXX as GLIBC
        return ImportFailureKind.VERSION_NOT_FOUND
    return failure.kind


def _numpy_fix(facts: Facts, failure: TorchImportFailure) -> tuple[str, str]:
    """The fix of a NumPy ABI failure, by which side NumPy's message says is older (text, command)."""
    found = numpyabi.mismatch(failure.message)
    if found is None or found.side is numpyabi.Side.NEWER:
        return IMPORT_FIXES[ImportFailureKind.NUMPY_ABI], pip(facts, 'install "numpy<2"')
    since = load_tables().numpy2_since
    version = torch_version(facts)
    try:  # NumPy 2 only for a torch built for it; an unknown torch keeps to NumPy 1's newest
        numpy2_ok = bool(version) and release(version) >= Version(since)
    except InvalidVersion:
        numpy2_ok = False
    spec = "numpy" if numpy2_ok else '"numpy<2"'
    text = (
        f"torch was built against a newer NumPy C {found.what} ({found.built}) than the NumPy installed has "
        f"({found.here}): this NumPy is older than the one torch needs. Upgrade NumPy"
        + ("." if numpy2_ok else f" within 1.x (NumPy 2 needs torch >= {since}).")
    )
    return text, pip(facts, f"install --upgrade {spec}")


def _fallback_fix(facts: Facts, failure: TorchImportFailure) -> str:
    if failure.kind is ImportFailureKind.UNDEFINED_SYMBOL and _cuda_in_chain(failure.message):
        return UNDEFINED_CUDA
    if failure.kind is ImportFailureKind.NUMPY_ABI:
        return _numpy_fix(facts, failure)[0]
    return IMPORT_FIXES[failure.kind].replace("{python}", quote(python_exe(facts)))


@check(
    "TD002",
    "torch-import-failed",
    "`import torch` fails",
    Severity.ERROR,
    Area.TORCH,
    "torch is installed but cannot be imported, so nothing can use it; the error's kind names the cause.",
)
def torch_import_failed(torch: TorchSeen, facts: Facts) -> Iterator[Fire]:
    if not isinstance(torch, TorchImportFailure):
        return
    failure = replace(torch, kind=fallback_kind(torch))
    evidence = [
        ev(Source.TORCH, "failure", failure.kind.value),
        ev(Source.TORCH, failure.exc_type, failure.message),
    ]
    if failure.kind == ImportFailureKind.UNDEFINED_SYMBOL and _ld_library_path(facts):
        evidence.append(ev(Source.ENV, "LD_LIBRARY_PATH", _ld_library_path(facts)))
    if failure.detail:
        evidence.append(ev(Source.TORCH, "detail", failure.detail.strip().splitlines()[-1]))
    shadow = shadowing_folder(facts)
    if shadow:  # the torch that failed is a folder in the working directory, not the package
        evidence.append(ev(Source.PYTHON, "`import torch` loads", shadow))
        yield Fire(tuple(evidence), SHADOW_FIX, title="`import torch` fails: a ./torch folder shadows torch")
        return
    decided = other_loaders.explains_import_failure(facts) or cuda_libraries.explains_import_failure(facts)
    if decided is not None:  # the facts that make a specific check fire decide the cause: point there
        code, what = decided
        fix = f"See {code}: {what}, and its fix. Reinstalling the same torch would bring the failure back."
        yield Fire(tuple(evidence), fix, title=f"`import torch` fails: {what} (see {code})")
        return
    loader = facts.loader if isinstance(facts.loader, LoaderFacts) else None
    found = diagnose(failure.message, loader, facts) if loader is not None else None
    found = found or missing_library(failure.message, loader, facts)
    if found is not None:  # the loader's facts decide: the file, its directory, why it was taken, who put it
        yield Fire(
            (*found.evidence, *(e for e in evidence[2:] if e not in found.evidence)),
            found.fix,
            found.command,
            title=found.title,
        )
        return
    stray = outside_wheels(failure.message, loader, facts)
    if stray is not None:  # a library torch's wheels ship came from elsewhere: the loader's order decides
        more = tuple(e for e in evidence[2:] if e not in stray.evidence)
        yield Fire((*stray.evidence, *more), stray.fix, stray.command, title=f"`import torch` fails: {stray.title}")
        return
    yield Fire(
        tuple(evidence),
        _fallback_fix(facts, failure),
        _import_fix_command(facts, failure),
        title=f"`import torch` fails: {failure.kind.value}",
    )


@check(
    "TD003",
    "torch-cpu-only-build",
    "a CPU-only torch on a machine with an NVIDIA GPU",
    Severity.ERROR,
    Area.TORCH,
    "This torch was built without CUDA, so it can never use the GPU; torch.cuda.is_available() is False "
    "however the driver is set up. Plain `pip install torch` gives CPU wheels on Windows and some indexes.",
)
def torch_cpu_only_build(facts: Facts) -> Iterator[Fire]:
    torch = facts.torch
    gpu = nvidia_gpu_evidence(facts)
    if isinstance(torch, TorchRuntime):
        if not torch.is_cpu_build or not gpu:
            return
        evidence = (ev(Source.TORCH, "torch", torch.version), ev(Source.TORCH, "torch.version.cuda", "None"), *gpu)
    else:  # torch did not import (or --quick): the wheel's +cpu tag, or the CUDA wheels beside it, say what it is
        version = torch_version(facts)
        if not version and isinstance(torch, Unavailable):
            raise Skip(f"needs torch facts: {torch.reason}")
        if installed_variant(facts) != "cpu" or not gpu:
            return
        evidence = (ev(Source.METADATA, "installed torch", version), *gpu)
        if "+" not in version:
            evidence += (ev(Source.METADATA, "CUDA wheels beside it", "none: PyPI's wheel here is the CPU build"),)
    evidence += driver_evidence(facts)
    if not gpus_seen(facts) and not driver_version(facts):
        # The GPU is on the bus but nothing can say what it is or what driver will run it yet.
        yield Fire(
            evidence,
            "No CUDA build can be chosen before the NVIDIA driver works (see the NVIDIA driver findings): "
            "fix that first, then run torchdoctor again; it will name the CUDA build of torch that runs on "
            "this driver and GPU.",
        )
        return
    fix = install_torch_fix(facts, reinstall=True)
    if fix.variant == "cpu" and not machine_here(facts, load_tables()).gpus:
        # The GPU is seen (on the PCI bus, or by a name the tables do not know) but not what architecture it is:
        # the tables would pick the CPU build for a machine they count no GPU on, the very build this is about.
        yield Fire(
            evidence,
            "No CUDA build can be chosen for this GPU yet: nothing here says its architecture (the NVIDIA driver "
            "gives no compute capability for it). Make the driver answer for it (`nvidia-smi` must list it; in a "
            "container, start it with GPU access), then run torchdoctor again; it will name the CUDA build of torch "
            "for this GPU and driver.",
        )
        return
    yield Fire(evidence, fix.text, fix.command)


def _cuda_fix(facts: Facts, key: str) -> tuple[str, str]:
    if key == "driver":
        fix = install_torch_fix(facts, reinstall=True)
        return (
            "Update the NVIDIA driver, or install a torch built for a CUDA this driver runs. " + fix.text,
            fix.command,
        )
    if key == "uvm":
        return (
            "Reload the nvidia_uvm module (or reboot); in a container, make sure /dev/nvidia-uvm is passed in.",
            "sudo modprobe -r nvidia_uvm && sudo modprobe nvidia_uvm",
        )
    if key == "mismatch":
        return "Reboot so that the kernel module matches the installed driver.", "sudo reboot"
    if key == "nodevice":
        return (
            "Check CUDA_VISIBLE_DEVICES (see its finding), and in a container start it with GPU access "
            "(`docker run --gpus all`, the NVIDIA Container Toolkit).",
            "",
        )
    if key == "busy":
        return (
            "Use a free GPU, stop the process holding it, or (admin) reset the compute mode.",
            "nvidia-smi -c 0",
        )
    if key == "nodriver":
        return "Install or load the NVIDIA driver (see the driver findings).", ""
    return (
        "Read torch's message below; run the command to see the full error.",
        f'{quote(python_exe(facts))} -c "import torch; torch.cuda.init()"',
    )


@check(
    "TD004",
    "cuda-unavailable",
    "torch is a CUDA build but cannot use the GPU",
    Severity.ERROR,
    Area.TORCH,
    "A CUDA torch and an NVIDIA GPU are both present, yet torch.cuda.is_available() is False: training "
    "would silently run on the CPU.",
)
def cuda_unavailable(torch_runtime: TorchRuntime, facts: Facts) -> Iterator[Fire]:
    torch = torch_runtime
    gpu = nvidia_gpu_evidence(facts)
    if not torch.is_cuda_build or torch.cuda_available or not gpu:
        return
    cause, key, text = cuda_cause(torch)
    evidence = [
        ev(Source.TORCH, "torch", torch.version),
        ev(Source.TORCH, "torch.cuda.is_available()", False),
        *gpu,
    ]
    if text:
        evidence.append(ev(Source.TORCH, "torch says", text.strip().splitlines()[0][:300]))
    if key == "driver":
        evidence += driver_evidence(facts)
    fix, command = _cuda_fix(facts, key)
    if key == "mismatch":
        cause, fix, command, seen = _driver_does_not_fit(facts, torch, text, cause)
        evidence += seen
    elif not key and cudaerrors.code(text) == cudaerrors.SYSTEM_NOT_READY:
        cause, fix, command = _system_not_ready(facts)
    title = f"torch cannot use the GPU: {cause}" if cause else ""
    yield Fire(tuple(evidence), fix, command, title=title)


def _system_not_ready(facts: Facts) -> tuple[str, str, str]:
    """CUDA error 802 (cudaErrorSystemNotReady): the driver answers, but the system is not ready for CUDA work. On
    NVSwitch systems (HGX/DGX A100, H100, H200, B200) CUDA waits for the NVIDIA fabric manager, which must run at
    the driver's exact version (cause, fix, command)."""
    nvml = facts.nvml
    driver = nvml.driver_version if isinstance(nvml, NvmlFacts) and isinstance(nvml.driver_version, str) else ""
    version = f" {driver}" if driver else ""
    return (
        "the system is not ready for CUDA (error 802): on an NVSwitch system, the NVIDIA fabric manager is not "
        "running, or not at the driver's version",
        f"Install nvidia-fabricmanager of the driver's exact version{version} (the same branch and release as the "
        "driver, from the same repository) and start it; `systemctl status nvidia-fabricmanager` and its journal "
        "say why it stopped. On a GPU without NVSwitch this error means the driver is still initialising.",
        "sudo systemctl enable --now nvidia-fabricmanager",
    )


def _driver_does_not_fit(
    facts: Facts, torch: TorchRuntime, text: str, cause: str
) -> tuple[str, str, str, list[Evidence]]:
    """CUDA error 803/804, read from the versions: a reboot helps only where the kernel module still runs an older
    driver than the user-space one installed (both read, and different); otherwise the user-space CUDA driver does
    not fit the running driver, and only a driver that runs this CUDA does (cause, fix, command, evidence)."""
    nvml, module = facts.nvml, facts.kernel.module_version if isinstance(facts.kernel, KernelFacts) else ""
    user = nvml.driver_version if isinstance(nvml, NvmlFacts) and isinstance(nvml.driver_version, str) else ""
    module = module if isinstance(module, str) else ""
    seen = [ev(Source.NVML, "user-space driver", user)] if user else []
    seen += [ev(Source.PROCFS, "kernel module", module)] if module else []
    if user and module and user != module:
        return cause, "Reboot so that the kernel module matches the installed driver.", "sudo reboot", seen
    number = cudaerrors.code(text)
    if number == cudaerrors.COMPAT_NOT_SUPPORTED:
        cause = (
            "CUDA attempted forward compatibility on a GPU that does not support it (error 804): the NVIDIA driver "
            "is older than the CUDA in use"
        )
    else:
        cause = (
            f"CUDA's user-space driver (libcuda) does not fit the running NVIDIA driver (error {number or 803}): a "
            "partial driver install or update, or a libcuda of another driver"
        )
    agree = (
        f"The user-space driver and the kernel module are both {user}"
        if user and user == module
        else ("Nothing here shows a newer driver installed but not yet loaded")
    )
    cuda = f" It must run CUDA {torch.cuda} (this torch's) or newer." if torch.cuda else ""
    fix = (
        f"{agree}, so a reboot alone does not help. Install a current NVIDIA driver for this GPU, its user-space "
        "libraries and kernel module from one package (for a container, on the host: the container's CUDA runs on "
        f"the host's driver), then reboot.{cuda}"
    )
    return cause, fix, "", seen


def _user_site_copy(packages: PackagesFacts, facts: Facts) -> Fire | None:
    """torch in the user site and in the environment: both named, the one Python imports (the user site comes
    first on sys.path, and the distributions are listed in sys.path order), and the uninstall that removes the
    user site's copy only."""
    python = facts.python
    dists = packages.named("torch")
    if not isinstance(python, PythonFacts) or not python.user_site or not python.user_site_enabled:
        return None
    user = [d for d in dists if os.path.normpath(d.location) == os.path.normpath(python.user_site)]
    env = [d for d in dists if d not in user]
    if not user or not env:
        return None
    origin = packages.torch_origin if isinstance(packages.torch_origin, str) else ""
    first = next((d for d in dists if origin.startswith(d.location)), dists[0])
    evidence = (
        *(ev(Source.METADATA, f"torch {d.version} (user site)", d.location) for d in user),
        *(ev(Source.METADATA, f"torch {d.version} (environment)", d.location) for d in env),
        ev(Source.PYTHON, "import torch loads", origin or f"{first.location} (first on sys.path)"),
    )
    where = "the user site" if first in user else "the environment"
    fix = (
        f"torch {user[0].version} in the user site ({python.user_site}) and torch {env[0].version} in "
        f"{python.prefix}: Python imports {where}'s (torch {first.version}), and the user site's copy leaks into "
        "every environment of this Python version. Remove the user site's copy; the environment's stays. "
    )
    manager = installers.environment(facts)
    if python.venv or (manager is not None and manager.manager is Manager.EXTERNALLY_MANAGED):
        return Fire(
            evidence,
            fix + "pip here refuses to touch the user site (outside this venv, or PEP 668): run "
            "`python -m pip uninstall -y torch` with the base interpreter that owns that user site, or delete "
            "its torch folders. PYTHONNOUSERSITE=1 hides the user site meanwhile.",
            title="torch in the user site and in the environment",
        )
    command = f"PYTHONPATH={quote(python.user_site)} {quote(python.executable)} -m pip uninstall -y torch"
    return Fire(
        evidence,
        fix + "With the user site first on PYTHONPATH, pip's uninstall finds that copy and removes only it.",
        command,
        title="torch in the user site and in the environment",
    )


@check(
    "TD013",
    "duplicate-torch",
    "more than one torch can be imported",
    Severity.WARNING,
    Area.PACKAGES,
    "Two installs (env and user site, conda and pip) or a local ./torch folder decide by path order which "
    "torch imports; pip upgrades one while Python loads the other.",
)
def duplicate_torch(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    dists = packages.named("torch")
    locations = sorted({d.location for d in dists})
    user = _user_site_copy(packages, facts)
    if user is not None:
        yield user
    elif len(locations) > 1:
        yield Fire(
            tuple(ev(Source.METADATA, f"torch {d.version}", d.location) for d in dists),
            "Uninstall until only one torch is left, then reinstall it once in this environment "
            "(PYTHONNOUSERSITE=1 hides the user site).",
            pip(facts, "uninstall -y torch") + "   # repeat until it says it is not installed",
        )
    if shadowing_folder(facts):
        yield Fire(
            (ev(Source.PYTHON, "folder in the working directory", packages.cwd_torch_dir),),
            SHADOW_FIX,
            title="a ./torch folder shadows the installed torch",
        )
    torch = facts.torch
    if isinstance(torch, TorchRuntime) and torch.file and locations and not shadowing_folder(facts):
        stray = not any(torch.file.startswith(location) for location in locations)
        if stray:
            yield Fire(
                (
                    ev(Source.TORCH, "torch.__file__", torch.file),
                    ev(Source.METADATA, "installed at", locations[0]),
                ),
                "The torch that imports is not the installed distribution (PYTHONPATH or a source tree "
                "ahead of site-packages). Remove that path or uninstall the stray copy.",
                title="the imported torch is not the installed one",
            )


@check(
    "TD024",
    "numpy-missing",
    "NumPy is not installed",
    Severity.WARNING,
    Area.PACKAGES,
    "torch works without NumPy, but tensor.numpy(), torch.from_numpy and most data pipelines fail "
    "(torch warns 'Failed to initialize NumPy').",
)
def numpy_missing(packages: PackagesFacts, torch_runtime: TorchRuntime, facts: Facts) -> Iterator[Fire]:
    if packages.named("numpy"):
        return
    evidence = [ev(Source.METADATA, "numpy", "not installed")]
    torch = torch_runtime
    if isinstance(torch, TorchRuntime):
        evidence += [ev(Source.TORCH, "warning", w) for w in torch.warnings if "Failed to initialize NumPy" in w][:1]
    yield Fire(tuple(evidence), "Install NumPy in the same environment.", pip(facts, "install numpy"))


WHEEL_OWNED = {
    "cudnn": "nvidia-cudnn",
    "nvjitlink": "nvidia-nvjitlink",
    "cublas": "nvidia-cublas",
    "cublasLt": "nvidia-cublas",
    "cudart": "nvidia-cuda-runtime",
    "cusparse": "nvidia-cusparse",
    "nccl": "nvidia-nccl",
    "nvrtc": "nvidia-cuda-nvrtc",
}


@check(
    "TD023",
    "foreign-cuda-libs",
    "CUDA libraries loaded from outside torch's wheels",
    Severity.WARNING,
    Area.TORCH,
    "The pip wheel ships its own cuDNN, cuBLAS and nvJitLink; one loaded from a system CUDA (via "
    "LD_LIBRARY_PATH) can be older and gives 'cuDNN version incompatibility' or 'undefined symbol "
    "__nvJitLink...' errors.",
)
def foreign_cuda_libs(torch_runtime: TorchRuntime, packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    torch = torch_runtime
    loader = facts.loader if isinstance(facts.loader, LoaderFacts) else None
    for text in (*torch.warnings, torch.cuda_error):  # a library torch opened at run time failed to load
        stray = outside_wheels(text, loader, facts) if dlerror.parse(text) else None
        if stray is not None:
            yield Fire(stray.evidence, stray.fix, stray.command, title=stray.title)
            return
    wheels = {d.name.lower() for d in packages.distributions}
    foreign = []
    for lib in torch.loaded_libraries:
        owner = WHEEL_OWNED.get(lib.name)
        if owner is None or not any(w.startswith(owner) or w == "cuda-toolkit" for w in wheels):
            continue
        if "site-packages" in lib.path or "dist-packages" in lib.path:
            continue
        foreign.append(lib)
    if not foreign:
        return
    ld = _ld_library_path(facts)
    dirs = {os.path.dirname(lib.path) for lib in foreign}
    kept = [p for p in ld.split(os.pathsep) if p and os.path.normpath(p) not in {os.path.normpath(d) for d in dirs}]
    evidence = tuple(ev(Source.TORCH, f"{lib.name} loaded from", lib.path) for lib in foreign)
    if ld:
        evidence += (ev(Source.ENV, "LD_LIBRARY_PATH", ld),)
    command = (
        (f"export LD_LIBRARY_PATH={quote(os.pathsep.join(kept))}" if kept else "unset LD_LIBRARY_PATH") if ld else ""
    )
    yield Fire(
        evidence,
        "Let torch load the libraries its wheel ships: remove the system CUDA from LD_LIBRARY_PATH.",
        command,
    )


@check(
    "TD025",
    "nvcc-mismatch",
    "nvcc's CUDA differs from torch's",
    Severity.INFO,
    Area.TORCH,
    "nvcc matters only for building CUDA extensions (torch.utils.cpp_extension, flash-attn, ...): "
    "torch's wheels bundle their own CUDA runtime. Building against a toolkit of another major version fails.",
)
def nvcc_mismatch(torch_runtime: TorchRuntime, env: EnvFacts) -> Iterator[Fire]:
    torch = torch_runtime
    if not isinstance(env.nvcc, Nvcc) or not torch.cuda:
        return
    if env.nvcc.version.split(".")[0] == torch.cuda.split(".")[0]:
        return
    yield Fire(
        (
            ev(Source.NVCC, "nvcc", f"{env.nvcc.version} at {env.nvcc.path}"),
            ev(Source.TORCH, "torch.version.cuda", torch.cuda),
        ),
        f"Only if you build CUDA extensions: install a CUDA {torch.cuda.split('.')[0]}.x toolkit and point "
        "CUDA_HOME at it. Running torch itself does not need nvcc.",
    )


OTHER_ACCELERATORS = {"rocm": ("ROCm", "an AMD GPU"), "xpu": ("XPU", "an Intel GPU")}
"""Local tag prefix → (the build's name, the device it is for)."""


def _other_accelerator(facts: Facts) -> tuple[str, Evidence] | None:
    """The build's accelerator when it is not CUDA: from torch itself, else the wheel's local tag."""
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        if torch.hip:
            return "rocm", ev(Source.TORCH, "torch.version.hip", torch.hip)
        tag = local_tag(torch.version)
    else:
        tag = local_tag(torch_version(facts))
    kind = next((k for k in OTHER_ACCELERATORS if tag.startswith(k)), None)
    return (kind, ev(Source.METADATA, "installed torch", torch_version(facts))) if kind else None


@check(
    "TD032",
    "torch-wrong-accelerator",
    "a ROCm or XPU build of torch on a machine with an NVIDIA GPU",
    Severity.ERROR,
    Area.TORCH,
    "A ROCm build talks to AMD GPUs and an XPU build to Intel GPUs; neither can use an NVIDIA GPU, so "
    "torch.cuda.is_available() stays False (or reports the other vendor's devices). It usually comes from a "
    "copied install command or a requirements file pinned to another machine's index.",
)
def torch_wrong_accelerator(facts: Facts) -> Iterator[Fire]:
    found = _other_accelerator(facts)
    gpu = nvidia_gpu_evidence(facts)
    if found is None or not gpu:
        return
    kind, evidence = found
    fix = install_torch_fix(facts, reinstall=True)
    yield Fire(
        (evidence, *gpu, *driver_evidence(facts)),
        f"If this machine also has {OTHER_ACCELERATORS[kind][1]} meant for torch, ignore this. Otherwise: " + fix.text,
        fix.command,
        title=f"a {OTHER_ACCELERATORS[kind][0]} build of torch on a machine with an NVIDIA GPU",
    )
