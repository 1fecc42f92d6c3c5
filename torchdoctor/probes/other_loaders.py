"""Facts for the loaders torch meets besides Linux's ld.so on a PCI GPU: WSL, Jetson (Tegra), ROCm (KFD), Windows.

Each group is read from files (under ``root`` so tests can point it at a fake tree) and is "could not check"
(``not_applicable``) on a machine where it does not apply. Nothing is loaded: WSL's libcuda copies are found
by the loader's search order, AMD GPUs by the kernel's KFD topology, a Windows DLL's needs by its PE import
table (probes/pe.py).
"""

from __future__ import annotations

import glob
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from torchdoctor.model import (
    DllFacts,
    DllImports,
    Maybe,
    OtherLoaderFacts,
    PackagesFacts,
    RocmFacts,
    TegraFacts,
    Unavailable,
    WslFacts,
)
from torchdoctor.probes import elf, pe
from torchdoctor.probes.host import detect_wsl, read_text
from torchdoctor.probes.loader import DEFAULT_DIRS, split_path, torch_folder

WSL_LIB = "usr/lib/wsl/lib"
LIBCUDA = "libcuda.so.1"
MAX_DLLS = 64


def _na(what: str) -> Unavailable:
    return Unavailable("loaders", what, "not_applicable")


def libcuda_order(root: Path, environ: Mapping[str, str], cache: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every libcuda.so.1 the loader could take, in its order: LD_LIBRARY_PATH, ld.so.cache, default dirs."""
    found: list[str] = []

    def add(path: str) -> None:
        if path not in found and (root / path.lstrip("/")).exists():
            found.append(path)

    for entry in split_path(environ.get("LD_LIBRARY_PATH", "")):
        add(os.path.join(entry, LIBCUDA))
    for path in cache.get(LIBCUDA, ()):
        add(path)
    for folder in DEFAULT_DIRS:
        add(os.path.join(folder, LIBCUDA))
    return tuple(found)


def probe_wsl(
    root: Path = Path("/"), environ: Mapping[str, str] | None = None, cache: Mapping[str, tuple[str, ...]] | None = None
) -> Maybe[WslFacts]:
    version = detect_wsl(root)
    if not version:
        return _na("not Windows Subsystem for Linux")
    environ = os.environ if environ is None else environ
    cache = elf.read_ld_cache(str(root / "etc/ld.so.cache")) if cache is None else cache
    kernel = (read_text(root / "proc/version") or "").split(" (")[0].strip()
    lib_dir = "/" + WSL_LIB if (root / WSL_LIB).is_dir() else ""
    driver = f"{lib_dir}/{LIBCUDA}" if lib_dir and (root / WSL_LIB / LIBCUDA).exists() else ""
    order = libcuda_order(root, environ, cache)
    return WslFacts(version, kernel, lib_dir, (root / "dev/dxg").exists(), order, driver_libcuda=driver)


L4T = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)")


def probe_tegra(root: Path = Path("/")) -> Maybe[TegraFacts]:
    """/etc/nv_tegra_release ("# R35 (release), REVISION: 4.1, ...") and the device tree's model."""
    release = read_text(root / "etc/nv_tegra_release")
    model = (read_text(root / "proc/device-tree/model") or "").strip("\0 \n")
    if release is None and "jetson" not in model.lower() and "tegra" not in model.lower():
        return _na("not an NVIDIA Jetson (no /etc/nv_tegra_release)")
    match = L4T.search(release or "")
    return TegraFacts(f"{match.group(1)}.{match.group(2)}" if match else "", model)


def gfx_name(version: int) -> str:
    """KFD's gfx_target_version (100302, 90010) as the gfx target it names (gfx1032, gfx90a)."""
    major, minor, step = version // 10000, version // 100 % 100, version % 100
    return f"gfx{major}{minor:x}{step:x}" if major < 10 else f"gfx{major}{minor}{step:x}"


def probe_rocm(root: Path = Path("/")) -> Maybe[RocmFacts]:
    nodes = sorted(glob.glob(str(root / "sys/class/kfd/kfd/topology/nodes/*/properties")))
    if not nodes:
        return _na("no AMD KFD topology (/sys/class/kfd): no amdgpu compute driver")
    found = []
    for props in nodes:
        for line in (read_text(Path(props)) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "gfx_target_version" and value.strip().isdigit() and int(value) > 0:  # 0: a CPU node
                found.append(gfx_name(int(value)))
    return RocmFacts(tuple(found)) if found else _na("the KFD topology lists no GPU")


def _dll_dirs(torch_lib: str, environ: Mapping[str, str]) -> list[str]:
    """Where torch's DLL loads find a DLL: torch/lib (torch adds it), the system directory, then PATH."""
    system = os.path.join(environ.get("SystemRoot", r"C:\Windows"), "System32")
    return [torch_lib, system, *[p for p in environ.get("PATH", "").split(os.pathsep) if p]]


def _listing(folder: str) -> set[str]:
    try:
        return {name.lower() for name in os.listdir(folder)}
    except OSError:
        return set()


def read_dlls(torch_lib: str, environ: Mapping[str, str]) -> DllFacts:
    listings = [_listing(d) for d in _dll_dirs(torch_lib, environ)]
    dlls = []
    for path in sorted(glob.glob(os.path.join(glob.escape(torch_lib), "*.dll")))[:MAX_DLLS]:
        try:
            names = pe.read_imports(path)
        except (OSError, pe.PEError):
            continue
        api_set = ("api-ms-", "ext-ms-")  # virtual names the loader maps itself
        missing = tuple(
            n for n in names if not n.lower().startswith(api_set) and not any(n.lower() in ls for ls in listings)
        )
        dlls.append(DllImports(path, names, missing))
    return DllFacts(torch_lib, tuple(dlls))


def probe_dlls(packages: Maybe[PackagesFacts], environ: Mapping[str, str] | None = None) -> Maybe[DllFacts]:
    if sys.platform != "win32":
        return _na("Windows DLLs are read on Windows only")
    folder = torch_folder(packages)
    if isinstance(folder, Unavailable):
        return folder
    return read_dlls(os.path.join(folder, "lib"), os.environ if environ is None else environ)


def probe_other_loaders(packages: Maybe[PackagesFacts], root: Path = Path("/")) -> OtherLoaderFacts:
    linux = sys.platform.startswith("linux")
    return OtherLoaderFacts(
        wsl=probe_wsl(root) if linux else _na("not Linux"),
        tegra=probe_tegra(root) if linux else _na("not Linux"),
        rocm=probe_rocm(root) if linux else _na("not Linux"),
        dlls=probe_dlls(packages),
    )
