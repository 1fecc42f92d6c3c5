"""NVIDIA evidence from the kernel, independent of NVML: module, device nodes and the PCI bus.

This is what tells "there is an NVIDIA GPU but the driver is not loaded" apart from "there is
no NVIDIA GPU". Paths are read from ``root`` so tests can build a fake /proc and /sys.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

from torchdoctor.model import KernelFacts, Maybe, PciDevice, Unavailable

NVIDIA_VENDOR = "0x10de"
MODULE_VERSION = re.compile(r"Kernel Module(?: for [\w-]+)?\s+(\d+\.\d+(?:\.\d+)?)")


def module_version(root: Path) -> Maybe[str]:
    path = root / "proc/driver/nvidia/version"
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return Unavailable(
            "/proc", "/proc/driver/nvidia/version does not exist (nvidia module not loaded)", "not_found"
        )
    except OSError as exc:
        return Unavailable("/proc", f"cannot read {path}: {exc}")
    match = MODULE_VERSION.search(text)
    if match:
        return match.group(1)
    return Unavailable("/proc", "no version in /proc/driver/nvidia/version")


def dev_nodes(root: Path) -> Maybe[tuple[str, ...]]:
    dev = root / "dev"
    try:
        names = sorted(p.name for p in dev.iterdir() if p.name.startswith("nvidia"))
    except OSError as exc:
        return Unavailable("/dev", f"cannot list /dev: {exc}")
    return tuple(f"/dev/{n}" for n in names)


def loaded_modules(root: Path) -> Maybe[set[str]]:
    try:
        text = (root / "proc/modules").read_text()
    except OSError as exc:
        return Unavailable("/proc", f"cannot read /proc/modules: {exc}")
    return {line.split(" ", 1)[0] for line in text.splitlines() if line}


def pci_gpus(root: Path) -> Maybe[tuple[PciDevice, ...]]:
    devices = root / "sys/bus/pci/devices"
    if not devices.is_dir():
        return Unavailable("/sys", "no /sys/bus/pci/devices (a container without sysfs, or no PCI)", "not_found")
    found = []
    try:
        entries = sorted(devices.iterdir())
    except OSError as exc:
        return Unavailable("/sys", f"cannot list PCI devices: {exc}")
    for dev in entries:
        try:
            vendor = (dev / "vendor").read_text().strip()
            klass = (dev / "class").read_text().strip()
        except OSError:
            continue
        # 0x0300xx VGA, 0x0302xx 3D controller (datacenter GPUs).
        if vendor != NVIDIA_VENDOR or not klass.startswith(("0x0300", "0x0302")):
            continue
        try:
            device_id = (dev / "device").read_text().strip()
        except OSError:
            device_id = ""
        driver_link = dev / "driver"
        driver = driver_link.resolve().name if driver_link.exists() else ""
        found.append(PciDevice(dev.name, device_id, driver))
    return tuple(found)


def probe_kernel(root: Path = Path("/")) -> KernelFacts:
    if platform.system() != "Linux":
        why = Unavailable(
            "platform", f"kernel evidence is read on Linux only, not {platform.system()}", "not_applicable"
        )
        return KernelFacts(why, why, why, why, why)
    modules = loaded_modules(root)
    if isinstance(modules, Unavailable):
        nvidia_loaded: Maybe[bool] = modules
        nouveau_loaded: Maybe[bool] = modules
    else:
        nvidia_loaded = "nvidia" in modules
        nouveau_loaded = "nouveau" in modules
    return KernelFacts(
        module_version=module_version(root),
        dev_nodes=dev_nodes(root),
        nvidia_loaded=nvidia_loaded,
        nouveau_loaded=nouveau_loaded,
        pci_gpus=pci_gpus(root),
    )
