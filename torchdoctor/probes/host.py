"""The machine: OS, architecture, Rosetta, WSL, containers, /dev/shm, glibc, CPU and memory.

Each strategy is a small function that catches the errors it expects and says what it could
not tell. Files are read from ``root`` so tests can point the probe at a fake filesystem.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import threading
from pathlib import Path

from torchdoctor.model import HostFacts, Maybe, Unavailable
from torchdoctor.probes.subproc import run_command
from torchdoctor.rules import limits, timeouts


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def os_name(root: Path) -> str:
    system = platform.system()
    if system == "Linux":
        text = read_text(root / "etc/os-release") or ""
        for line in text.splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
        return "Linux"
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}"
    if system == "Windows":
        return f"Windows {platform.version()}"
    return system


def detect_wsl(root: Path) -> str:
    version = (read_text(root / "proc/version") or "").lower()
    if "microsoft" not in version and "wsl" not in version:
        return ""
    # WSL2 runs a real Linux kernel ("microsoft-standard-WSL2"); WSL1 reports "Microsoft" with no
    # /run/WSL interop folder of a VM and no /proc/sys/fs/binfmt_misc/WSLInterop-late.
    if "wsl2" in version or (root / "run/WSL").is_dir():
        return "wsl2"
    return "wsl1"


def detect_container(root: Path, environ: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    evidence = []
    kind = ""
    if (root / ".dockerenv").exists():
        evidence.append("/.dockerenv exists")
        kind = "docker"
    if (root / "run/.containerenv").exists():
        evidence.append("/run/.containerenv exists")
        kind = kind or "podman"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        evidence.append("KUBERNETES_SERVICE_HOST is set")
        kind = kind or "kubernetes"
    container_var = environ.get("container", "")
    if container_var:
        evidence.append(f"container={container_var}")
        kind = kind or container_var
    cgroup = read_text(root / "proc/1/cgroup") or ""
    for marker in ("docker", "kubepods", "containerd", "lxc", "libpod"):
        if marker in cgroup:
            evidence.append(f"/proc/1/cgroup mentions {marker}")
            kind = kind or {"kubepods": "kubernetes", "libpod": "podman"}.get(marker, marker)
            break
    return kind, tuple(evidence)


def shm_size(root: Path) -> Maybe[int]:
    shm = root / "dev/shm"
    if platform.system() != "Linux":
        return Unavailable("platform", "/dev/shm is a Linux shared-memory mount", "not_applicable")
    try:
        st = os.statvfs(shm)
    except (OSError, AttributeError) as exc:
        return Unavailable("platform", f"statvfs(/dev/shm) failed: {exc}")
    return st.f_frsize * st.f_blocks


def glibc_version() -> Maybe[str]:
    if platform.system() != "Linux":
        return Unavailable("platform", "not a glibc system", "not_applicable")
    try:
        confstr = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        confstr = None
    if confstr and confstr.startswith("glibc "):
        return confstr.split(" ", 1)[1]
    libc, version = platform.libc_ver()
    if libc == "glibc" and version:
        return version
    return Unavailable("platform", "no glibc found (musl or another libc)", "not_found")


def cpu_model(root: Path) -> Maybe[str]:
    text = read_text(root / "proc/cpuinfo")
    if text:
        for line in text.splitlines():
            if line.startswith(("model name", "Hardware", "Processor")):
                return line.split(":", 1)[1].strip()
    if platform.system() == "Darwin":
        value = sysctl("machdep.cpu.brand_string")
        if value:
            return value
    return platform.processor() or Unavailable("platform", "no CPU model reported")


def sysctl(name: str) -> str:
    out = run_command(["sysctl", "-n", name], 5.0)
    return out.stdout.strip() if out.returncode == 0 and not out.timed_out else ""


def apple_silicon() -> Maybe[bool]:
    if platform.system() != "Darwin":
        return False
    value = sysctl("hw.optional.arm64")
    if value in ("0", "1"):
        return value == "1"
    return Unavailable("platform", "sysctl hw.optional.arm64 gave no answer")


def macos_version() -> Maybe[str]:
    if platform.system() != "Darwin":
        return Unavailable("platform", "not macOS", "not_applicable")
    # An x86_64 Python built against an old SDK reports 10.16; sw_vers tells the truth.
    out = run_command(["sw_vers", "-productVersion"], 5.0)
    if out.returncode == 0 and not out.timed_out and out.stdout.strip():
        return out.stdout.strip()
    return platform.mac_ver()[0] or Unavailable("platform", "macOS version unknown")


PROCFS = "/proc and /sys"


def linux_cores_and_ram(root: Path) -> tuple[Maybe[int], Maybe[int]]:
    """Physical cores and RAM read where psutil reads them on Linux, without importing it (0.02 s of each run):
    the distinct ``core_cpus_list`` of the CPUs (``thread_siblings_list`` on older kernels), else the cores per
    package in /proc/cpuinfo; ``MemTotal`` in /proc/meminfo."""
    cpus = root / "sys/devices/system/cpu"
    cores: set[str] = set()
    for name in ("core_cpus_list", "thread_siblings_list"):
        cores = {text.strip() for text in map(read_text, sorted(cpus.glob(f"cpu[0-9]*/topology/{name}"))) if text}
        if cores:
            break
    physical: Maybe[int] = len(cores) or cores_in_cpuinfo(read_text(root / "proc/cpuinfo") or "")
    meminfo = re.search(r"^MemTotal:\s+(\d+) kB", read_text(root / "proc/meminfo") or "", re.M)
    ram: Maybe[int] = int(meminfo.group(1)) * 1024 if meminfo else Unavailable(PROCFS, "no MemTotal in /proc/meminfo")
    return physical, ram


def cores_in_cpuinfo(text: str) -> Maybe[int]:
    """The sum of ``cpu cores`` over the distinct ``physical id`` of /proc/cpuinfo (psutil's second way)."""
    packages: dict[str, int] = {}
    for block in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
        if "physical id" in fields and fields.get("cpu cores", "").isdigit():
            packages[fields["physical id"]] = int(fields["cpu cores"])
    return sum(packages.values()) or Unavailable(PROCFS, "no CPU topology in /sys or /proc/cpuinfo")


def psutil_cores_and_ram() -> tuple[Maybe[int], Maybe[int]]:
    """Physical cores and RAM from psutil (macOS, Windows, a Linux without /proc)."""
    try:
        import psutil
    except ImportError:
        missing = Unavailable("psutil", "psutil is not installed", "missing")
        return missing, missing
    physical: Maybe[int]
    ram: Maybe[int]
    try:
        physical = psutil.cpu_count(logical=False) or Unavailable("psutil", "no physical count")
    except Exception as exc:  # psutil raises its own errors on odd platforms
        physical = Unavailable("psutil", f"{type(exc).__name__}: {exc}")
    try:
        ram = int(psutil.virtual_memory().total)
    except Exception as exc:  # psutil raises its own errors on odd platforms
        ram = Unavailable("psutil", str(exc))
    return physical, ram


def ask_cores_and_ram(root: Path, timeout: float = timeouts.PSUTIL) -> tuple[Maybe[int], Maybe[int]]:
    """Physical cores and RAM (from /proc and /sys on Linux, else psutil), in a thread bounded by ``timeout``:
    a hung filesystem (or a broken psutil) must cost these two facts, not every host fact."""
    answer: list[tuple[Maybe[int], Maybe[int]]] = []
    linux = platform.system() == "Linux" and (root / "proc/meminfo").exists()
    source = PROCFS if linux else "psutil"

    def ask() -> None:
        try:
            answer.append(linux_cores_and_ram(root) if linux else psutil_cores_and_ram())
        except Exception as exc:  # no descriptor left (ulimit -n), /sys unreadable: these two facts, and why
            own = limits.LIMIT if limits.is_limit(exc) else "" if isinstance(exc, OSError) else limits.BUG
            lost = Unavailable(source, f"could not read: {exc}", own)
            answer.append((lost, lost))

    worker = threading.Thread(target=ask, daemon=True, name="probe-cores-and-ram")
    try:
        worker.start()
    except RuntimeError:  # no thread left (ulimit -u): ask here
        ask()
    else:
        worker.join(timeout)
    if answer:
        return answer[0]
    lost = Unavailable(source, f"{source} did not answer within {timeout:g} s", "timeout")
    return lost, lost


def identity() -> dict[str, str]:
    from torchdoctor.redact import Redactor

    me = Redactor.for_this_machine()
    return {"hostname": me.host, "user": me.user, "home": me.home}


CPU_FEATURES = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "asimddp", "sve", "sve2", "bf16", "i8mm",
)  # fmt: skip
"""What `collect_env` and torch's CPU capability dispatch (ATen's CPU_CAPABILITY) look at."""


def cpu_features(root: Path) -> Maybe[tuple[str, ...]]:
    if platform.system() == "Darwin":
        value = sysctl("machdep.cpu.features") + " " + sysctl("machdep.cpu.leaf7_features")
        found = {f.lower().replace(".", "_") for f in value.split()}
        if platform.machine() == "arm64":
            found |= {"asimd", "neon"}
        return tuple(f for f in CPU_FEATURES if f in found) or Unavailable("platform", "sysctl gave no CPU features")
    try:
        text = (root / "proc/cpuinfo").read_text(errors="replace")
    except OSError as exc:
        return Unavailable("/proc", f"cannot read /proc/cpuinfo: {exc}")
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            found = set(value.split())
            return tuple(f for f in CPU_FEATURES if f in found)
    return Unavailable("/proc", "no flags line in /proc/cpuinfo")


VERSION_LINE = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


def compilers() -> tuple[str, ...]:
    """gcc, clang and cmake on PATH with their versions (each asked with a short timeout)."""
    found = []
    for name in ("gcc", "clang", "cmake"):
        path = shutil.which(name)
        if path is None:
            continue
        out = run_command([path, "--version"], 5.0)
        first = out.stdout.splitlines()[0] if out.stdout and not out.timed_out else ""
        match = VERSION_LINE.search(first)
        found.append(f"{name} {match.group(1)}" if match else f"{name} (version unknown)")
    return tuple(found)


def probe_host(root: Path = Path("/"), environ: dict[str, str] | None = None) -> HostFacts:
    environ = dict(os.environ) if environ is None else environ
    uname = platform.uname()
    kind, evidence = detect_container(root, environ)
    logical: Maybe[int] = os.cpu_count() or Unavailable("platform", "os.cpu_count() gave nothing")
    physical, ram = ask_cores_and_ram(root)
    return HostFacts(
        system=uname.system,
        release=uname.release,
        os_name=os_name(root),
        kernel=uname.version,
        machine=uname.machine,
        apple_silicon=apple_silicon(),
        macos_version=macos_version(),
        wsl=detect_wsl(root) if uname.system == "Linux" else "",
        container=kind,
        container_evidence=evidence,
        shm_bytes=shm_size(root),
        glibc=glibc_version(),
        cpu_model=cpu_model(root),
        cpu_logical=logical,
        cpu_physical=physical,
        ram_bytes=ram,
        **identity(),
        cpu_features=cpu_features(root),
        compilers=compilers(),
    )
