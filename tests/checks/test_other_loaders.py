"""TD041-TD045: each fires on its failure and stays quiet on the healthy machine, from facts built in one line."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests import factories as f
from torchdoctor.checks.base import REGISTRY, run_checks
from torchdoctor.model import (
    CheckStatus,
    DllFacts,
    DllImports,
    Facts,
    ImportFailureKind,
    OtherLoaderFacts,
    RocmFacts,
    TegraFacts,
    TorchDevice,
    TorchImportFailure,
    Unavailable,
    WslFacts,
)

NA = Unavailable("loaders", "does not apply", "not_applicable")
WSL_LIB = "/usr/lib/wsl/lib"
LINUX_COPY = "/usr/lib/x86_64-linux-gnu/libcuda.so.1"


def loaders(**kw: Any) -> OtherLoaderFacts:
    return OtherLoaderFacts(**{"wsl": NA, "tegra": NA, "rocm": NA, "dlls": NA, **kw})


def outcome(code: str, facts: Facts) -> Any:
    return run_checks(facts, [REGISTRY[code]])[0]


def fired(code: str, facts: Facts) -> tuple[Any, ...]:
    out = outcome(code, facts)
    assert "internal error" not in out.reason, out.reason
    return out.findings


def with_loaders(facts: Facts | None = None, **kw: Any) -> Facts:
    return replace(facts or f.facts(), other_loaders=loaders(**kw))


def wsl(*libcuda: str, lib_dir: str = WSL_LIB) -> WslFacts:
    return WslFacts("wsl2", "5.15.153.1-microsoft-standard-WSL2", lib_dir, True, libcuda)


def test_td040_fires_when_a_linux_libcuda_comes_first() -> None:
    (finding,) = fired("TD041", with_loaders(wsl=wsl(LINUX_COPY, f"{WSL_LIB}/libcuda.so.1")))
    assert LINUX_COPY in finding.evidence[0].value and "Linux NVIDIA driver" in finding.fix


def test_td040_names_the_ld_library_path_entry_to_drop() -> None:
    facts = replace(f.facts(env=f.env(LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu:/opt/x")), other_loaders=None)
    (finding,) = fired("TD041", with_loaders(facts, wsl=wsl(LINUX_COPY, f"{WSL_LIB}/libcuda.so.1")))
    assert finding.fix_command == "export LD_LIBRARY_PATH=/opt/x"


def test_td040_quiet_when_the_windows_drivers_libcuda_comes_first() -> None:
    assert fired("TD041", with_loaders(wsl=wsl(f"{WSL_LIB}/libcuda.so.1", LINUX_COPY))) == ()


def test_td040_passes_off_wsl_and_is_skipped_when_not_recorded() -> None:
    assert outcome("TD041", with_loaders()).status is CheckStatus.PASSED
    old_report = replace(f.facts(), other_loaders=Unavailable("loaders", "an older report", "not_recorded"))
    assert outcome("TD041", old_report).status is CheckStatus.SKIPPED


def test_td041_fires_on_a_cpu_wheel_and_on_a_wheel_for_another_jetpack() -> None:
    tegra = TegraFacts("32.4.3", "NVIDIA Jetson Nano Developer Kit")
    (cpu,) = fired("TD042", with_loaders(f.facts(torch=f.cpu_runtime()), tegra=tegra))
    assert "developer.download.nvidia.com" in cpu.fix
    failure = TorchImportFailure(
        ImportFailureKind.MISSING_SHARED_LIBRARY, "ImportError", "libcudart.so.10.0: cannot open shared object file"
    )
    assert len(fired("TD042", with_loaders(f.facts(torch=failure), tegra=tegra))) == 1


def test_td041_quiet_with_a_cuda_build_on_the_jetson() -> None:
    assert fired("TD042", with_loaders(f.facts(torch=f.runtime()), tegra=TegraFacts("36.3.0", "Orin"))) == ()


def rocm_runtime(arch: str, arch_list: tuple[str, ...]) -> Any:
    device = TorchDevice(0, "AMD Radeon RX 6600", "10.3", 8 << 30, arch)
    return f.cpu_runtime(hip="6.2", arch_list=arch_list, cuda_available=True, device_count=1, devices=(device,))


def test_td042_gives_the_override_known_for_the_family() -> None:
    facts = f.facts(torch=rocm_runtime("gfx1032", ("gfx1030", "gfx1100")))
    (finding,) = fired("TD043", with_loaders(facts))
    assert finding.fix_command == "export HSA_OVERRIDE_GFX_VERSION=10.3.0"


def test_td042_no_override_where_it_is_known_not_to_work() -> None:
    (finding,) = fired("TD043", with_loaders(f.facts(torch=rocm_runtime("gfx1010", ("gfx1030",)))))
    assert finding.fix_command == "" and "from source" in finding.fix


def test_td042_reads_the_hip_runtimes_abort_with_the_kfd_target() -> None:
    died = TorchImportFailure(ImportFailureKind.CRASH, "SIGABRT", "hipErrorNoBinaryForGpu: Unable to find code object")
    (finding,) = fired("TD043", with_loaders(f.facts(torch=died), rocm=RocmFacts(("gfx1102",))))
    assert finding.fix_command == "export HSA_OVERRIDE_GFX_VERSION=11.0.0"


def test_td042_quiet_when_the_target_is_in_the_build() -> None:
    assert fired("TD043", with_loaders(f.facts(torch=rocm_runtime("gfx1030", ("gfx1030",))))) == ()


def kfd_runtime(arch_list: tuple[str, ...]) -> Any:
    """A ROCm torch whose devices carry no gfx name (an older torch): the target is the kernel's (KFD)."""
    device = TorchDevice(0, "AMD Radeon RX 5700 XT", "10.1", 8 << 30)
    return f.cpu_runtime(hip="6.2", arch_list=arch_list, cuda_available=True, device_count=1, devices=(device,))


def test_td042_reads_the_kfd_target_against_the_builds_list() -> None:
    built = ("gfx1030", "gfx1100", "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942")
    (finding,) = fired("TD043", with_loaders(f.facts(torch=kfd_runtime(built)), rocm=RocmFacts(("gfx1010",))))
    assert finding.fix_command == "" and "from source" in finding.fix and "PYTORCH_ROCM_ARCH=gfx1010" in finding.fix
    assert fired("TD043", with_loaders(f.facts(torch=kfd_runtime(built)), rocm=RocmFacts(("gfx1030",)))) == ()


def test_td042_claims_nothing_where_the_builds_list_is_not_known() -> None:
    """A ROCm torch that lists no targets gives nothing to compare the GPU's with: no finding, whatever the gfx."""
    assert fired("TD043", with_loaders(f.facts(torch=kfd_runtime(())), rocm=RocmFacts(("gfx1010",)))) == ()


def test_td043_fires_on_an_index_past_the_last_gpu_and_is_quiet_otherwise() -> None:
    hidden = with_loaders(f.facts(env=f.env(HIP_VISIBLE_DEVICES="1")), rocm=RocmFacts(("gfx1030",)))
    (finding,) = fired("TD044", hidden)
    assert finding.fix_command == "unset HIP_VISIBLE_DEVICES"
    shown = with_loaders(f.facts(env=f.env(HIP_VISIBLE_DEVICES="0")), rocm=RocmFacts(("gfx1030",)))
    assert fired("TD044", shown) == ()


def dlls(*missing: str) -> DllFacts:
    return DllFacts("C:\\torch\\lib", (DllImports("C:\\torch\\lib\\fbgemm.dll", ("c10.dll", *missing), missing),))


def test_td044_a_known_broken_release_is_upgraded() -> None:
    failed = TorchImportFailure(ImportFailureKind.DLL_LOAD, "OSError", "[WinError 126] Error loading fbgemm.dll")
    facts = f.facts(torch=failed, packages=f.packages(f.dist("torch", "2.4.0+cu121")))
    (finding,) = fired("TD045", with_loaders(facts, dlls=dlls("libomp140.x86_64.dll")))
    assert 'torch>=2.4.1"' in finding.fix_command


def test_td044_the_vc_runtime_and_openmp_are_told_apart() -> None:
    facts = f.facts(packages=f.packages(f.dist("torch", "2.5.1")))
    vc, omp = fired("TD045", with_loaders(facts, dlls=dlls("VCRUNTIME140_1.dll", "libomp140.x86_64.dll")))
    assert "vc_redist.x64.exe" in vc.fix and "Desktop development with C++" in omp.fix


def test_td044_quiet_when_every_import_is_found() -> None:
    assert fired("TD045", with_loaders(dlls=dlls())) == ()


def catalogue_cases() -> dict[str, tuple[Facts, Facts]]:
    """(fires, stays quiet) for each check here, as tests/checks/test_catalogue.py runs every check."""
    tegra = TegraFacts("32.4.3", "NVIDIA Jetson Nano Developer Kit")
    env = f.env(HIP_VISIBLE_DEVICES="1")
    return {
        "wsl-libcuda-shadowed": (
            with_loaders(wsl=wsl(LINUX_COPY, f"{WSL_LIB}/libcuda.so.1")),
            with_loaders(wsl=wsl(f"{WSL_LIB}/libcuda.so.1")),
        ),
        "jetson-wrong-torch": (
            with_loaders(f.facts(torch=f.cpu_runtime()), tegra=tegra),
            with_loaders(f.facts(torch=f.runtime()), tegra=tegra),
        ),
        "rocm-gfx-not-in-build": (
            with_loaders(f.facts(torch=rocm_runtime("gfx1032", ("gfx1030",)))),
            with_loaders(f.facts(torch=rocm_runtime("gfx1030", ("gfx1030",)))),
        ),
        "rocm-visible-devices-hide": (
            with_loaders(f.facts(env=env), rocm=RocmFacts(("gfx1030",))),
            with_loaders(f.facts(env=env), rocm=RocmFacts(("gfx1030", "gfx1030"))),
        ),
        "wsl-kernel-too-old": (
            with_loaders(wsl=replace(wsl(f"{WSL_LIB}/libcuda.so.1"), kernel="5.10.16.3-microsoft-standard-WSL2")),
            with_loaders(wsl=wsl(f"{WSL_LIB}/libcuda.so.1")),
        ),
        "windows-dll-import-missing": (
            with_loaders(dlls=dlls("VCRUNTIME140_1.dll")),
            with_loaders(dlls=dlls()),
        ),
    }


def test_td041_the_windows_libcuda_off_the_search_path_is_put_on_it() -> None:
    facts = f.facts(env=f.env(LD_LIBRARY_PATH="/opt/x"))
    lost = replace(wsl(), driver_libcuda=f"{WSL_LIB}/libcuda.so.1")
    (finding,) = fired("TD041", with_loaders(facts, wsl=lost))
    assert finding.fix_command == f"export LD_LIBRARY_PATH={WSL_LIB}:/opt/x"
    found = replace(wsl(f"{WSL_LIB}/libcuda.so.1"), driver_libcuda=f"{WSL_LIB}/libcuda.so.1")
    assert fired("TD041", with_loaders(facts, wsl=found)) == ()


def test_td046_reads_the_kernel_release_and_is_quiet_from_5_10_43_3() -> None:
    old = replace(wsl(), kernel="Linux version 5.10.16.3-microsoft-standard-WSL2")
    (finding,) = fired("TD046", with_loaders(wsl=old))
    assert finding.fix_command == "wsl --update" and "5.10.16.3" in finding.title
    enough = replace(wsl(), kernel="5.10.43.3-microsoft-standard-WSL2")
    assert fired("TD046", with_loaders(wsl=enough)) == ()


DECLARED = {"TD041": "wsl", "TD042": "tegra", "TD044": "rocm", "TD045": "dlls", "TD046": "wsl"}
"""The group of the other loaders' facts each check declares as an input (TD043 reads the ROCm group only as extra
evidence: torch's own view of the GPUs decides it)."""


def test_each_check_declares_its_group_and_is_skipped_with_the_probes_reason() -> None:
    timed_out = replace(f.facts(), other_loaders=Unavailable("loaders", "the probe timed out after 10 s", "timeout"))
    labels = {"wsl": "WSL", "tegra": "Jetson (Tegra)", "rocm": "ROCm (KFD)", "dlls": "Windows DLL"}
    for code, group in DECLARED.items():
        assert group in REGISTRY[code].requires, code
        out = outcome(code, timed_out)
        assert (out.status, out.reason) == (
            CheckStatus.SKIPPED,
            f"needs {labels[group]} facts: the probe timed out after 10 s",
        ), code


def test_a_group_that_could_not_be_read_skips_with_its_own_reason_and_one_that_does_not_apply_passes() -> None:
    unreadable = Unavailable("loaders", "/proc/version: permission denied", "unreadable")
    for code, group in DECLARED.items():
        out = outcome(code, with_loaders(**{group: unreadable}))
        assert out.reason.endswith("facts: /proc/version: permission denied"), code
        assert outcome(code, with_loaders()).status is CheckStatus.PASSED, code


def test_td043_still_judges_from_torch_when_the_loaders_were_not_recorded() -> None:
    facts = replace(f.facts(torch=rocm_runtime("gfx1032", ("gfx1030",))), other_loaders=Unavailable("loaders", "old"))
    assert outcome("TD043", facts).status is CheckStatus.FIRED
