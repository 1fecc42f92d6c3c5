"""The loaders torch meets besides Linux's ld.so on a PCI GPU: WSL 2's libcuda, Jetson's wheels, ROCm's gfx code
objects and visible devices, Windows DLL imports. Facts in (torchdoctor.probes.other_loaders), findings out; what is
known about overrides, DLL providers and broken releases is data (compat/loaders.toml).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from torchdoctor.checks.base import REQUIREMENTS, Area, Fire, check, ev
from torchdoctor.compat.loaders import LoaderKnowledge, knowledge
from torchdoctor.derived import torch_version
from torchdoctor.model import (
    DllFacts,
    DllImports,
    EnvFacts,
    Evidence,
    Facts,
    ImportFailureKind,
    RocmFacts,
    Severity,
    SmokeFacts,
    Source,
    TegraFacts,
    TorchImportFailure,
    TorchRuntime,
    Unavailable,
    WslFacts,
)
from torchdoctor.rules import dlerror
from torchdoctor.rules.index import pip
from torchdoctor.rules.shell import quote

HIP_NO_BINARY = "hipErrorNoBinaryForGpu"
"""The HIP runtime's own error name for "no code object for this GPU" (hip_code_object.cpp), not a user's words."""
CUDA_LIBRARY = re.compile(r"^lib(cudart|cufft|curand|cublas\w*|cudnn\w*|cusparse|cusolver|nvToolsExt)\.so")


# ----------------------------------------------------------------------------- WSL 2


@check(
    "TD041",
    "wsl-libcuda-shadowed",
    "WSL 2: the loader takes a libcuda that is not the Windows driver's",
    Severity.ERROR,
    Area.PLATFORM,
    "Under WSL 2 the GPU is reached through the Windows NVIDIA driver, whose libcuda.so.1 WSL mounts in "
    "/usr/lib/wsl/lib. A Linux NVIDIA driver installed inside the distribution puts its own libcuda.so.1 where the "
    "loader looks first, and that one cannot talk to /dev/dxg: CUDA then finds no device.",
)
def wsl_libcuda_shadowed(wsl: WslFacts | None, facts: Facts) -> Iterator[Fire]:
    if wsl is None or wsl.version != "wsl2":
        return
    if not wsl.lib_dir:
        yield Fire(
            (
                ev(Source.PROCFS, "WSL", f"{wsl.version}, kernel {wsl.kernel}"),
                ev(Source.ENV, "/usr/lib/wsl/lib", "absent"),
            ),
            "The Windows driver's libraries are not mounted in this distribution: install the NVIDIA driver on "
            "Windows (never a Linux driver inside WSL), then update WSL and restart it (in PowerShell).",
            "wsl --update",
            title="WSL 2: the Windows NVIDIA driver's libraries (/usr/lib/wsl/lib) are missing",
            severity=Severity.WARNING,
        )
        return
    if not wsl.libcuda and wsl.driver_libcuda:
        yield _libcuda_not_found(facts, wsl)
        return
    if not wsl.libcuda:
        return
    if os.path.dirname(wsl.libcuda[0]) == wsl.lib_dir:
        unopened = _libcuda_unopened(facts)
        if unopened is not None:  # the driver's libcuda.so.1 is reached, yet something asked for a name the cache lacks
            yield _libcuda_not_found(facts, wsl, unopened)
        return
    first = wsl.libcuda[0]
    good = next((p for p in wsl.libcuda if os.path.dirname(p) == wsl.lib_dir), "")
    evidence = [
        ev(Source.ENV, "loader takes", first),
        ev(Source.ENV, "libcuda.so.1 in search order", ", ".join(wsl.libcuda)),
    ]
    if good:
        evidence.append(ev(Source.ENV, "shadowed: the Windows driver's", good))
    env = facts.env if isinstance(facts.env, EnvFacts) else None
    ld_path = tuple(p for p in ((env.get("LD_LIBRARY_PATH") or "") if env else "").split(os.pathsep) if p)
    folder = os.path.dirname(first)
    if folder in ld_path:
        kept = [p for p in ld_path if p != folder]
        command = f"export LD_LIBRARY_PATH={quote(os.pathsep.join(kept))}" if kept else "unset LD_LIBRARY_PATH"
        fix = f"The LD_LIBRARY_PATH entry {folder} puts a Linux libcuda.so.1 ahead of WSL's. Take that entry out."
        yield Fire(tuple(evidence), fix, command)
        return
    yield Fire(
        tuple(evidence),
        f"{first} belongs to a Linux NVIDIA driver installed inside WSL; under WSL 2 only the Windows driver works. "
        "Uninstall the Linux driver packages from this distribution (keep a CUDA toolkit if you need nvcc), then "
        "run `sudo ldconfig` so the cache points at /usr/lib/wsl/lib again.",
    )


def _libcuda_not_found(facts: Facts, wsl: WslFacts, unopened: tuple[str, str] | None = None) -> Fire:
    """The Windows driver's libcuda is in lib_dir, but nowhere the loader looks by the name asked for: libcuda.so.1
    has no ld.so.cache entry, or (``unopened``) a library opened another name of it, which the cache does not list."""
    env = facts.env if isinstance(facts.env, EnvFacts) else None
    entries = [p for p in ((env.get("LD_LIBRARY_PATH") or "") if env else "").split(os.pathsep) if p]
    command = f"export LD_LIBRARY_PATH={quote(os.pathsep.join([wsl.lib_dir, *entries]))}"
    if unopened is not None:
        name, line = unopened
        return Fire(
            (
                ev(Source.ENV, "libcuda.so.1 in the loader's order", ", ".join(wsl.libcuda)),
                ev(Source.TORCH, "the loader could not open", line[:300]),
            ),
            f"torch reaches the Windows driver's libcuda.so.1 in {wsl.lib_dir}, but a library asked the loader for "
            f"{name}: ld.so.cache lists the driver's libraries by their soname (libcuda.so.1) only, so that name is "
            f"found only by searching {wsl.lib_dir} itself. Put {wsl.lib_dir} on LD_LIBRARY_PATH (for good, in your "
            "shell's profile).",
            command,
            title=f"WSL 2: the Windows driver's {name} is not on the loader's search path ({wsl.lib_dir})",
        )
    return Fire(
        (
            ev(Source.ENV, "the Windows driver's libcuda", wsl.driver_libcuda),
            ev(Source.ENV, "libcuda.so.1 in the loader's order", "none (LD_LIBRARY_PATH, ld.so.cache, default dirs)"),
        ),
        f"WSL mounts the Windows driver's libcuda.so.1 in {wsl.lib_dir}, but the loader's search path does not "
        f"reach it (ld.so.cache has no entry for it), so CUDA finds no driver. Put {wsl.lib_dir} on LD_LIBRARY_PATH "
        "for this shell; for good, make sure /etc/ld.so.conf.d/ld.wsl.conf lists it and run `sudo ldconfig`.",
        command,
        title=f"WSL 2: the Windows driver's libcuda.so.1 is not on the loader's search path ({wsl.lib_dir})",
    )


LIBCUDA_NAME = re.compile(r"^libcuda\.so(\.\d+)*$")


def _libcuda_unopened(facts: Facts) -> tuple[str, str] | None:
    """(the libcuda name, the line saying so) of the loader's own "cannot open" message for a libcuda name, in what
    torch and the smoke test met, or None."""
    torch = facts.torch
    said: list[str] = []
    if isinstance(torch, TorchImportFailure):
        said.append(torch.message)
    if isinstance(torch, TorchRuntime):
        said += [*torch.warnings, torch.cuda_error]
        if isinstance(torch.cudnn, Unavailable):
            said.append(torch.cudnn.reason)
    smoke = facts.smoke
    if isinstance(smoke, SmokeFacts):
        said += [text for device in smoke.devices for step in device.steps for text in (step.error, step.detail)]
    for text in said:
        for found in dlerror.CANNOT_OPEN.finditer(text or ""):
            name = os.path.basename(found["library"])
            if LIBCUDA_NAME.match(name):
                line = next((ln for ln in text.splitlines() if found.group(0) in ln), found.group(0))
                return name, line.strip()
    return None


WSL_GPU_KERNEL = (5, 10, 43, 3)
"""The oldest WSL 2 kernel with GPU (CUDA) support: Microsoft, "you need a kernel version of 5.10.43.3 or higher"
(https://learn.microsoft.com/en-us/windows/ai/directml/gpu-cuda-in-wsl; quoted in vllm-project/vllm#6184)."""


def kernel_version(release: str) -> tuple[int, ...]:
    """The leading dotted number of a kernel release ("5.10.16.3-microsoft-standard-WSL2" -> (5, 10, 16, 3))."""
    match = re.search(r"\d+(?:\.\d+)+", release)
    return tuple(int(n) for n in match.group(0).split(".")) if match else ()


@check(
    "TD046",
    "wsl-kernel-too-old",
    "WSL 2's kernel is older than GPU support needs",
    Severity.ERROR,
    Area.PLATFORM,
    "Under WSL 2, CUDA reaches the GPU through the kernel's dxgkrnl driver (/dev/dxg); Microsoft names 5.10.43.3 as "
    "the oldest kernel with GPU compute support, and under an older one torch finds no NVIDIA driver. `wsl --update` "
    "installs the current kernel.",
)
def wsl_kernel_too_old(wsl: WslFacts | None) -> Iterator[Fire]:
    if wsl is None or wsl.version != "wsl2":
        return
    version = kernel_version(wsl.kernel)
    if not version or version >= WSL_GPU_KERNEL:
        return
    needed = ".".join(map(str, WSL_GPU_KERNEL))
    yield Fire(
        (ev(Source.PROCFS, "WSL 2 kernel", wsl.kernel), ev(Source.PROCFS, "GPU support needs", f">= {needed}")),
        f"This WSL kernel is too old for the GPU (it needs {needed} or newer). Update WSL from Windows (in "
        "PowerShell), then restart it with `wsl --shutdown`.",
        "wsl --update",
        title=f"WSL 2's kernel {'.'.join(map(str, version))} is too old for the GPU (needs {needed})",
    )


# ----------------------------------------------------------------------------- Jetson


def _missing_cuda_library(torch: TorchImportFailure) -> str:
    """The CUDA library the loader could not find for `import torch` (``libcudart.so.10.0``), or ""."""
    error = dlerror.parse(torch.message)
    missing = os.path.basename(error.library) if error and error.kind is dlerror.LoaderErrorKind.MISSING_LIBRARY else ""
    return missing if CUDA_LIBRARY.match(missing) else ""


def _jetson_fix(tegra: TegraFacts, data: LoaderKnowledge) -> str:
    where = f" L4T {tegra.l4t}" if tegra.l4t else ""
    return (
        f"This is a Jetson ({tegra.model or 'Tegra'}{where}): its GPU is on the SoC, and PyPI's aarch64 torch is "
        f"not built for it. Install the torch NVIDIA builds for this JetPack release ({data.jetson_guide}; wheels "
        f"under {data.jetson_index})."
    )


@check(
    "TD042",
    "jetson-wrong-torch",
    "a torch that is not built for this Jetson",
    Severity.ERROR,
    Area.TORCH,
    "A Jetson's GPU is part of the Tegra SoC: no PCI device, no NVML. Only a torch built for its JetPack (L4T) "
    "release uses it; a generic aarch64 wheel is CPU-only, and a Jetson wheel for another JetPack needs CUDA "
    "libraries of another version.",
)
def jetson_wrong_torch(tegra: TegraFacts | None, facts: Facts) -> Iterator[Fire]:
    if tegra is None:
        return
    torch = facts.torch
    evidence = [ev(Source.PROCFS, "Jetson", f"{tegra.model or 'Tegra'}, L4T {tegra.l4t or 'unknown'}")]
    if isinstance(torch, TorchRuntime):
        if not torch.is_cpu_build:
            return
        evidence.append(ev(Source.TORCH, "torch", f"{torch.version} (CPU-only)"))
    elif isinstance(torch, TorchImportFailure):
        missing = _missing_cuda_library(torch)
        if not missing:
            return
        evidence.append(ev(Source.TORCH, "`import torch` needs", f"{missing}, which this JetPack does not have"))
    else:
        return
    yield Fire(tuple(evidence), _jetson_fix(tegra, knowledge()), title="torch here is not a build for this Jetson")


# ----------------------------------------------------------------------------- ROCm


def _gfx_seen(facts: Facts) -> tuple[str, ...]:
    torch = facts.torch
    if isinstance(torch, TorchRuntime) and torch.hip and any(d.arch for d in torch.devices):
        return tuple(d.arch for d in torch.devices if d.arch)
    rocm = _present(facts, "rocm")
    return rocm.gfx if isinstance(rocm, RocmFacts) else ()


def _hip_no_binary(torch: TorchImportFailure) -> bool:
    return HIP_NO_BINARY in f"{torch.message}\n{torch.detail}"


def _rocm_fix(gfx: tuple[str, ...], data: LoaderKnowledge) -> tuple[str, str]:
    known = [(g, data.override(g)) for g in gfx]
    working = {o.value for _, o in known if o is not None and o.works}
    if gfx and len(working) == 1 and all(o is not None and o.works for _, o in known):
        value = working.pop()
        return (
            f"No code object for {', '.join(gfx)} is in this build; its ISA matches what the build has for "
            f"HSA_OVERRIDE_GFX_VERSION={value}, which is known to work for this family. Set it for the program.",
            f"export HSA_OVERRIDE_GFX_VERSION={quote(value)}",
        )
    listed = "; ".join(sorted({f"{v.value} for {g}" for g, v in data.overrides.items() if v.works}))
    if gfx:
        return (
            f"No code object for {', '.join(gfx)} is in this build, and no HSA_OVERRIDE_GFX_VERSION is known to work "
            f"for it. Build torch from source for it (PYTORCH_ROCM_ARCH={';'.join(gfx)}), or use a ROCm release "
            "whose wheels list it.",
            "",
        )
    return (
        "The ROCm runtime found no code object for this GPU in torch's build. Find its gfx target "
        f"(`rocminfo | grep gfx`); HSA_OVERRIDE_GFX_VERSION is known to work only for: {listed}. Otherwise build "
        "torch from source for it (PYTORCH_ROCM_ARCH).",
        "",
    )


@check(
    "TD043",
    "rocm-gfx-not-in-build",
    "the AMD GPU's gfx target is not in this ROCm build",
    Severity.ERROR,
    Area.COMPAT,
    "A ROCm build of torch carries code objects for a list of gfx targets (torch.cuda.get_arch_list()); a GPU whose "
    "target is not among them aborts with hipErrorNoBinaryForGpu or fails each kernel with 'invalid device "
    "function'. HSA_OVERRIDE_GFX_VERSION makes the runtime treat it as another target, which works only where the "
    "ISA is the same.",
)
def rocm_gfx_not_in_build(facts: Facts) -> Iterator[Fire]:
    torch = facts.torch
    gfx = _gfx_seen(facts)
    evidence: tuple[Evidence, ...]
    if isinstance(torch, TorchRuntime):
        if not torch.hip or not torch.arch_list or not gfx:
            return
        outside = tuple(g for g in gfx if g not in torch.arch_list)
        if not outside:
            return
        evidence = (
            ev(Source.TORCH, "GPU gfx", ", ".join(gfx)),
            ev(Source.TORCH, "build's gfx list", " ".join(torch.arch_list)),
        )
    elif isinstance(torch, TorchImportFailure) and _hip_no_binary(torch):
        outside = gfx
        evidence = (ev(Source.TORCH, "the HIP runtime says", HIP_NO_BINARY),) + (
            (ev(Source.PROCFS, "GPU gfx (KFD)", ", ".join(gfx)),) if gfx else ()
        )
    else:
        return
    fix, command = _rocm_fix(outside, knowledge())
    yield Fire(evidence, fix, command)


VISIBLE = ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


@check(
    "TD044",
    "rocm-visible-devices-hide",
    "HIP_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES hide the AMD GPUs",
    Severity.WARNING,
    Area.VISIBILITY,
    "ROCm shows a process only the GPUs these variables list (by index or UUID, ROCR first, then HIP); an empty "
    "value, -1 or an index past the last GPU leaves torch with fewer devices, or none.",
)
def rocm_visible_devices_hide(env: EnvFacts, rocm: RocmFacts | None) -> Iterator[Fire]:
    if rocm is None:
        return
    for name in VISIBLE:
        value = env.get(name)
        if value is None:
            continue
        items = [v.strip() for v in value.split(",")]
        bad = [v for v in items if v == "" or v == "-1" or (v.isdigit() and int(v) >= len(rocm.gfx))]
        if bad:
            yield Fire(
                (
                    ev(Source.ENV, name, value),
                    ev(Source.PROCFS, "AMD GPUs (KFD)", f"{len(rocm.gfx)}: {', '.join(rocm.gfx)}"),
                ),
                f"{name}={value!r} names no GPU for {', '.join(bad) or 'an empty entry'}. Unset it, or list indexes "
                f"below {len(rocm.gfx)}.",
                f"unset {name}",
            )


# ----------------------------------------------------------------------------- Windows DLLs


def _dll_fix(facts: Facts, dll: str, needed_by: str, data: LoaderKnowledge) -> tuple[str, str]:
    provider = data.provider(dll)
    broken = data.broken_release(torch_version(facts), dll)
    if broken is not None:
        return (
            f"torch {torch_version(facts)}'s Windows wheels ship {needed_by} without {dll} (a known regression of "
            f"that release, fixed in {broken.fixed_in}). Upgrade torch.",
            pip(facts, f'install --upgrade "torch>={broken.fixed_in}"'),
        )
    if provider == "vc-redist":
        return (
            f"{dll} is the Microsoft Visual C++ runtime. Install the latest Visual C++ Redistributable (x64): "
            "https://aka.ms/vs/17/release/vc_redist.x64.exe",
            "",
        )
    if provider == "vs-openmp":
        return (
            f"{dll} is LLVM's OpenMP runtime for MSVC; the VC++ Redistributable does not ship it. Install Visual "
            "Studio's 'Desktop development with C++' workload (or its Build Tools), which provides it.",
            "",
        )
    return f"Nothing on this machine provides {dll}, which {needed_by} imports. Install what ships it.", ""


@check(
    "TD045",
    "windows-dll-import-missing",
    "a DLL torch's DLLs import is nowhere Windows looks",
    Severity.ERROR,
    Area.TORCH,
    "Windows loads a DLL only when every DLL in its import table is found (torch's lib folder, System32, PATH); one "
    "missing gives 'WinError 126 ... Error loading \"...\\fbgemm.dll\" or one of its dependencies'.",
)
def windows_dll_import_missing(dlls: DllFacts | None, facts: Facts) -> Iterator[Fire]:
    if dlls is None:
        return
    for dll, name in _missing_dlls(dlls):
        fix, command = _dll_fix(facts, name, os.path.basename(dll.path.replace("\\", "/")), knowledge())
        evidence = (ev(Source.ENV, "DLL", dll.path), ev(Source.ENV, "imports, not found", name))
        yield Fire(evidence, fix, command, title=f"`import torch` fails on Windows: {name} is missing")


def _missing_dlls(dlls: DllFacts) -> list[tuple[DllImports, str]]:
    """Each DLL an import table names that Windows does not find, once, with the first DLL that imports it."""
    seen: dict[str, tuple[DllImports, str]] = {}
    for dll in dlls.dlls:
        for name in dll.missing:
            seen.setdefault(name.lower(), (dll, name))
    return list(seen.values())


def import_failed_on_dll(facts: Facts) -> bool:
    """torch's import failed with a Windows DLL error (what TD045's facts explain)."""
    return isinstance(facts.torch, TorchImportFailure) and facts.torch.kind is ImportFailureKind.DLL_LOAD


def _present(facts: Facts, name: str) -> object | None:
    """A fact group that applies and was read, or None (TD002 and TD043 then decide from torch alone)."""
    value = REQUIREMENTS[name](facts)
    return None if isinstance(value, Unavailable) else value


def explains_import_failure(facts: Facts) -> tuple[str, str] | None:
    """(the check, what it found) when the other loaders' facts decide why `import torch` failed, else None.

    The same facts that make that check fire: a DLL torch's DLLs import that Windows does not find (TD045), a CUDA
    library missing on a Jetson (TD042), the HIP runtime's "no code object for this GPU" (TD043).
    """
    torch = facts.torch
    if not isinstance(torch, TorchImportFailure):
        return None
    dlls = _present(facts, "dlls")
    missing = _missing_dlls(dlls) if isinstance(dlls, DllFacts) else []
    if missing:
        return "TD045", f"{', '.join(name for _, name in missing)} missing on Windows"
    if isinstance(_present(facts, "tegra"), TegraFacts) and _missing_cuda_library(torch):
        return "TD042", "this torch is not a build for this Jetson"
    if _hip_no_binary(torch):
        return "TD043", "no code object for this AMD GPU in the ROCm build"
    return None
