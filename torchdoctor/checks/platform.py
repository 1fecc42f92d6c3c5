"""The machine and the interpreter: architecture, Rosetta, WSL, /dev/shm, MPS."""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.model import HostFacts, PythonFacts, Severity, Source, TorchRuntime
from torchdoctor.rules.versions import older

MiB = 1024**2
SHM_MINIMUM = 512 * MiB


@check(
    "TD008",
    "rosetta-python",
    "an x86_64 Python on an Apple Silicon Mac (Rosetta)",
    Severity.ERROR,
    Area.PLATFORM,
    "Under Rosetta pip picks macOS x86_64 wheels, which stop at torch 2.2.2, and MPS (the Apple GPU) is "
    "unavailable. PyTorch needs a native arm64 Python.",
)
def rosetta_python(host: HostFacts, python: PythonFacts) -> Iterator[Fire]:
    if host.apple_silicon is True and python.machine == "x86_64":
        yield Fire(
            (
                ev(Source.PLATFORM, "Mac", "Apple Silicon (hw.optional.arm64=1)"),
                ev(Source.PYTHON, "Python architecture", f"{python.machine} ({python.executable})"),
            ),
            "Install a native arm64 Python (python.org universal2 installer, Homebrew in /opt/homebrew, or "
            "Miniforge arm64), create a new environment with it and install torch there.",
            "arch -arm64 /usr/bin/python3 -m venv ~/venv-arm64",
        )


@check(
    "TD009",
    "python-32bit",
    "a 32-bit Python",
    Severity.ERROR,
    Area.PLATFORM,
    "PyTorch publishes 64-bit wheels only: pip says 'Could not find a version that satisfies the requirement torch'.",
)
def python_32bit(python: PythonFacts) -> Iterator[Fire]:
    if python.bits == 32:
        yield Fire(
            (ev(Source.PYTHON, "pointer size", "32-bit"), ev(Source.PYTHON, "executable", python.executable)),
            "Install a 64-bit Python (python.org's 'Windows installer (64-bit)') and use it for torch.",
        )


@check(
    "TD010",
    "wsl1",
    "WSL 1 has no GPU support",
    Severity.ERROR,
    Area.PLATFORM,
    "CUDA on Windows Subsystem for Linux needs WSL 2; under WSL 1 no GPU is ever visible.",
)
def wsl1(host: HostFacts) -> Iterator[Fire]:
    if host.wsl == "wsl1":
        yield Fire(
            (ev(Source.PROCFS, "/proc/version", host.kernel or host.release),),
            "Convert the distribution to WSL 2 (in PowerShell: `wsl --set-version DISTRO 2`, DISTRO being the "
            "name `wsl -l -v` lists for this one), and install only the Windows NVIDIA driver.",
        )


@check(
    "TD012",
    "small-shm",
    "/dev/shm is small",
    Severity.WARNING,
    Area.PLATFORM,
    "DataLoader workers pass batches through shared memory; a small /dev/shm (Docker's default is 64 MB) "
    "kills them with 'Bus error' or 'out of shared memory'.",
)
def small_shm(host: HostFacts) -> Iterator[Fire]:
    if not isinstance(host.shm_bytes, int) or host.shm_bytes >= SHM_MINIMUM:
        return
    evidence = (ev(Source.PLATFORM, "/dev/shm size", f"{host.shm_bytes / MiB:.0f} MiB"),)
    if host.container:
        yield Fire(
            (*evidence, ev(Source.PLATFORM, "container", host.container)),
            "Give the container more shared memory (or --ipc=host); on Kubernetes mount an emptyDir with "
            "medium: Memory at /dev/shm (`docker run --shm-size=8g IMAGE COMMAND`). Until then use "
            "DataLoader(num_workers=0).",
        )
    else:
        yield Fire(
            evidence,
            "Enlarge the tmpfs (as root), or use DataLoader(num_workers=0).",
            "sudo mount -o remount,size=8G /dev/shm",
        )


@check(
    "TD022",
    "mps-unavailable",
    "MPS (the Apple GPU) is built in but unavailable",
    Severity.WARNING,
    Area.TORCH,
    "On an Apple Silicon Mac torch uses the GPU through MPS; when it is unavailable training runs on the CPU.",
)
def mps_unavailable(torch_runtime: TorchRuntime, host: HostFacts, python: PythonFacts) -> Iterator[Fire]:
    torch = torch_runtime
    if host.system != "Darwin" or not torch.mps_built or torch.mps_available:
        return
    from torchdoctor.compat.tables import load_tables

    evidence = [
        ev(Source.TORCH, "torch.backends.mps.is_built()", True),
        ev(Source.TORCH, "torch.backends.mps.is_available()", False),
        ev(Source.PLATFORM, "macOS", host.macos_version),
    ]
    minimum = load_tables().mps_min_macos(torch.version)
    if python.machine != "arm64":
        evidence.append(ev(Source.PYTHON, "Python architecture", python.machine))
        fix = "MPS needs a native arm64 Python on an Apple Silicon Mac; install one and reinstall torch there."
    elif host.apple_silicon is False:
        fix = "This Mac has no Apple Silicon GPU; MPS is not available here."
    elif isinstance(host.macos_version, str) and minimum and older(host.macos_version, minimum):
        return  # mps-macos-too-old names this cause
    else:
        fix = (
            "Everything we can check is right, so this is likely an upstream issue with this macOS "
            "release: try the newest torch (or a nightly) and report it to pytorch/pytorch."
        )
    yield Fire(tuple(evidence), fix)


@check(
    "TD030",
    "cwd-deleted",
    "the working directory no longer exists",
    Severity.WARNING,
    Area.PLATFORM,
    "A shell left in a folder that was deleted (a removed checkout, a cleaned temp dir) runs Python with no "
    "working directory: relative paths, `python -c` imports and some native libraries (MKL loading torch's "
    "own libraries) fail in ways that look like a broken install.",
)
def cwd_deleted(python: PythonFacts) -> Iterator[Fire]:
    if python.cwd:
        return
    yield Fire(
        (ev(Source.PYTHON, "os.getcwd()", "fails: the folder was deleted"),),
        "Change to a folder that exists and run again; judge the other findings after that.",
        'cd "$HOME"',
    )
