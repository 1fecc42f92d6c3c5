"""WSL, Tegra and KFD facts read from a fake filesystem tree; Windows DLL facts from tiny PE files."""

from __future__ import annotations

from pathlib import Path

from tests.probes.test_pe import tiny_pe
from torchdoctor.model import RocmFacts, TegraFacts, Unavailable, WslFacts
from torchdoctor.probes.other_loaders import probe_rocm, probe_tegra, probe_wsl, read_dlls

WSL2 = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@1) (gcc) #1 SMP"


def put(root: Path, rel: str, text: str = "") -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return "/" + rel


def test_wsl2_lists_libcuda_copies_in_the_loaders_order(tmp_path: Path) -> None:
    put(tmp_path, "proc/version", WSL2)
    wsl_copy = put(tmp_path, "usr/lib/wsl/lib/libcuda.so.1")
    linux_copy = put(tmp_path, "usr/lib/x86_64-linux-gnu/libcuda.so.1")
    facts = probe_wsl(tmp_path, {}, {"libcuda.so.1": (linux_copy, wsl_copy)})
    assert isinstance(facts, WslFacts)
    assert (facts.version, facts.lib_dir, facts.libcuda) == ("wsl2", "/usr/lib/wsl/lib", (linux_copy, wsl_copy))


def test_ld_library_path_comes_first(tmp_path: Path) -> None:
    put(tmp_path, "proc/version", WSL2)
    wsl_copy = put(tmp_path, "usr/lib/wsl/lib/libcuda.so.1")
    facts = probe_wsl(tmp_path, {"LD_LIBRARY_PATH": "/usr/lib/wsl/lib"}, {})
    assert isinstance(facts, WslFacts) and facts.libcuda == (wsl_copy,)


def test_the_windows_libcuda_is_recorded_when_the_loader_cannot_reach_it(tmp_path: Path) -> None:
    put(tmp_path, "proc/version", WSL2)
    wsl_copy = put(tmp_path, "usr/lib/wsl/lib/libcuda.so.1")
    facts = probe_wsl(tmp_path, {}, {})
    assert isinstance(facts, WslFacts) and (facts.libcuda, facts.driver_libcuda) == ((), wsl_copy)


def test_not_wsl_is_not_applicable(tmp_path: Path) -> None:
    put(tmp_path, "proc/version", "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)")
    assert isinstance(probe_wsl(tmp_path, {}, {}), Unavailable)


def test_tegra_release_and_model(tmp_path: Path) -> None:
    put(tmp_path, "etc/nv_tegra_release", "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref\n")
    put(tmp_path, "proc/device-tree/model", "NVIDIA Jetson AGX Orin Developer Kit\0")
    assert probe_tegra(tmp_path) == TegraFacts("35.4.1", "NVIDIA Jetson AGX Orin Developer Kit")
    assert isinstance(probe_tegra(tmp_path / "elsewhere"), Unavailable)


def test_kfd_gfx_targets_skip_cpu_nodes(tmp_path: Path) -> None:
    put(tmp_path, "sys/class/kfd/kfd/topology/nodes/0/properties", "cpu_cores_count 16\ngfx_target_version 0\n")
    put(tmp_path, "sys/class/kfd/kfd/topology/nodes/1/properties", "simd_count 56\ngfx_target_version 100302\n")
    assert probe_rocm(tmp_path) == RocmFacts(("gfx1032",))
    assert isinstance(probe_rocm(tmp_path / "none"), Unavailable)


def test_dll_imports_found_nowhere_are_missing(tmp_path: Path) -> None:
    lib = tmp_path / "torch" / "lib"
    lib.mkdir(parents=True)
    (lib / "fbgemm.dll").write_bytes(tiny_pe(["c10.dll", "api-ms-win-crt-heap-l1-1-0.dll"], ["libomp140.x86_64.dll"]))
    (lib / "c10.dll").write_bytes(tiny_pe(["MSVCP140.dll"], []))
    system = tmp_path / "Windows" / "System32"
    system.mkdir(parents=True)
    (system / "msvcp140.dll").write_bytes(b"")
    facts = read_dlls(str(lib), {"SystemRoot": str(tmp_path / "Windows"), "PATH": ""})
    missing = {Path(d.path).name: d.missing for d in facts.dlls}
    assert missing == {"c10.dll": (), "fbgemm.dll": ("libomp140.x86_64.dll",)}
