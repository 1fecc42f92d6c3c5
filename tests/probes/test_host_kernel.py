"""Host and kernel probes read files under a root; a fake root is a fake machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from torchdoctor.model import KernelFacts, Unavailable
from torchdoctor.probes import host, kernel


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_wsl_versions(tmp_path: Path) -> None:
    write(tmp_path, "proc/version", "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)")
    assert host.detect_wsl(tmp_path) == "wsl1"
    write(tmp_path, "proc/version", "Linux version 5.15.153.1-microsoft-standard-WSL2")
    assert host.detect_wsl(tmp_path) == "wsl2"
    write(tmp_path, "proc/version", "Linux version 6.8.0-45-generic (buildd@lcy02)")
    assert host.detect_wsl(tmp_path) == ""


def test_container_markers(tmp_path: Path) -> None:
    assert host.detect_container(tmp_path, {}) == ("", ())
    write(tmp_path, ".dockerenv", "")
    kind, evidence = host.detect_container(tmp_path, {})
    assert kind == "docker" and evidence == ("/.dockerenv exists",)
    kind, _ = host.detect_container(tmp_path / "nothing", {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert kind == "kubernetes"


def test_os_name_from_os_release(tmp_path: Path) -> None:
    write(tmp_path, "etc/os-release", 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n')
    if host.platform.system() == "Linux":
        assert host.os_name(tmp_path) == "Ubuntu 22.04.4 LTS"


def test_probe_host_on_this_machine_never_raises() -> None:
    facts = host.probe_host()
    assert facts.system
    assert isinstance(facts.cpu_logical, int) and facts.cpu_logical >= 1
    if facts.system == "Linux":
        assert isinstance(facts.shm_bytes, int) and facts.shm_bytes > 0


def fake_gpu(root: Path, bus: str, vendor: str = "0x10de", klass: str = "0x030200", driver: str = "") -> None:
    dev = root / "sys/bus/pci/devices" / bus
    write(root, f"sys/bus/pci/devices/{bus}/vendor", vendor)
    write(root, f"sys/bus/pci/devices/{bus}/class", klass)
    write(root, f"sys/bus/pci/devices/{bus}/device", "0x2330")
    if driver:
        target = root / "sys/bus/pci/drivers" / driver
        target.mkdir(parents=True, exist_ok=True)
        os.symlink(target, dev / "driver")


@pytest.mark.skipif(kernel.platform.system() != "Linux", reason="kernel evidence is Linux-only")
def test_kernel_evidence_of_a_gpu_without_driver(tmp_path: Path) -> None:
    fake_gpu(tmp_path, "0000:17:00.0", driver="nouveau")
    fake_gpu(tmp_path, "0000:00:02.0", vendor="0x8086", klass="0x030000")  # an Intel iGPU: ignored
    write(tmp_path, "proc/modules", "nouveau 2400000 0 - Live 0x0\nsnd 1 0 - Live 0x0\n")
    (tmp_path / "dev").mkdir()
    facts = kernel.probe_kernel(tmp_path)
    assert isinstance(facts, KernelFacts)
    assert facts.pci_gpus and [d.bus_id for d in facts.pci_gpus] == ["0000:17:00.0"]  # type: ignore[union-attr]
    assert facts.pci_gpus[0].driver == "nouveau"  # type: ignore[index]
    assert facts.nouveau_loaded is True and facts.nvidia_loaded is False
    assert facts.dev_nodes == ()
    assert isinstance(facts.module_version, Unavailable) and facts.module_version.code == "not_found"


@pytest.mark.skipif(kernel.platform.system() != "Linux", reason="kernel evidence is Linux-only")
def test_kernel_module_version(tmp_path: Path) -> None:
    write(
        tmp_path,
        "proc/driver/nvidia/version",
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
        "GCC version:  gcc version 12.3.0\n",
    )
    write(tmp_path, "proc/modules", "nvidia_uvm 1 0 - Live 0x0\nnvidia 1 0 - Live 0x0\n")
    (tmp_path / "dev").mkdir()
    for name in ("nvidia0", "nvidiactl", "null"):
        (tmp_path / "dev" / name).write_text("")
    facts = kernel.probe_kernel(tmp_path)
    assert facts.module_version == "550.54.15"
    assert facts.dev_nodes == ("/dev/nvidia0", "/dev/nvidiactl")
    assert facts.nvidia_loaded is True
    assert isinstance(facts.pci_gpus, Unavailable)  # no /sys here: said, not guessed


# Physical cores and RAM: where psutil reads them on Linux, read without it.
HT_CORES = {0: "0-1", 1: "0-1", 2: "2-3", 3: "2-3"}  # four logical CPUs, two cores with two threads each


def topology(root: Path, name: str = "core_cpus_list") -> None:
    for cpu, siblings in HT_CORES.items():
        write(root, f"sys/devices/system/cpu/cpu{cpu}/topology/{name}", siblings + "\n")


def test_cores_and_ram_from_sys_and_proc(tmp_path: Path) -> None:
    topology(tmp_path)
    write(tmp_path, "proc/meminfo", "MemTotal:       16384000 kB\nMemFree:         1000 kB\n")
    assert host.linux_cores_and_ram(tmp_path) == (2, 16384000 * 1024)


def test_an_older_kernels_thread_siblings_then_cpuinfo(tmp_path: Path) -> None:
    topology(tmp_path, "thread_siblings_list")
    assert host.linux_cores_and_ram(tmp_path)[0] == 2
    bare = tmp_path / "bare"
    blocks = [f"processor\t: {i}\nphysical id\t: {i // 4}\ncpu cores\t: 2\n" for i in range(8)]  # 2 packages
    write(bare, "proc/cpuinfo", "\n".join(blocks))
    assert host.linux_cores_and_ram(bare)[0] == 4


def test_no_topology_and_no_meminfo_say_so(tmp_path: Path) -> None:
    physical, ram = host.linux_cores_and_ram(tmp_path)
    assert isinstance(physical, Unavailable) and physical.source == "/proc and /sys"
    assert isinstance(ram, Unavailable) and "MemTotal" in ram.reason


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="a Linux /proc to compare with")
def test_this_machine_agrees_with_psutil() -> None:
    assert host.linux_cores_and_ram(Path("/")) == host.psutil_cores_and_ram()


def test_a_hung_proc_costs_only_cores_and_ram(tmp_path: Path) -> None:
    """A /proc/meminfo that never answers (a FIFO nobody writes: open blocks, as on a hung filesystem)."""
    fifo = tmp_path / "proc" / "meminfo"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    try:
        physical, ram = host.ask_cores_and_ram(tmp_path, timeout=0.5)
    finally:
        with open(fifo, "w"):  # let the blocked reader go
            pass
    for fact in (physical, ram):
        assert isinstance(fact, Unavailable) and fact.code == "timeout"
        assert fact.reason == "/proc and /sys did not answer within 0.5 s"


def test_no_descriptor_left_costs_cores_and_ram_with_the_doctors_own_limit_said_and_no_traceback() -> None:
    """ulimit -n reached as the probe reads /sys (a real RLIMIT_NOFILE, set in a process of its own at the
    descriptors it already has): the two facts carry the limit (a could-not-examine finding), no thread's
    traceback reaches stderr, and the probe answers at once instead of after its timeout."""
    code = (
        "import os, resource, time\n"
        "from pathlib import Path\n"
        "from torchdoctor.probes import host\n"
        "used = len(os.listdir('/proc/self/fd'))\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (used - 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        "began = time.monotonic()\n"
        "physical, ram = host.ask_cores_and_ram(Path('/'), timeout=20)\n"
        "print(physical.code, ram.code, 'Too many open files' in physical.reason, time.monotonic() - began < 10)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.split() == ["limit", "limit", "True", "True"], out.stderr
    assert "Traceback" not in out.stderr, out.stderr
