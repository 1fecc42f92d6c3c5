"""TD002 defers to the specific diagnosis when the facts that make TD033/TD042/TD043/TD045 fire explain the failed
import: it says the import fails and points there, with no reinstall that keeps the culprit; without those facts it
decides alone."""

from __future__ import annotations

from dataclasses import replace

from tests import factories as f
from tests.checks.test_other_loaders import dlls, fired, with_loaders
from torchdoctor.model import Facts, ImportFailureKind, RocmFacts, TegraFacts, TorchImportFailure

DLL_FAILED = TorchImportFailure(
    ImportFailureKind.DLL_LOAD, "OSError", '[WinError 126] Error loading "C:\\torch\\lib\\fbgemm.dll"'
)
NO_CUDART = TorchImportFailure(
    ImportFailureKind.MISSING_SHARED_LIBRARY, "ImportError", "libcudart.so.10.0: cannot open shared object file"
)
NO_CODE_OBJECT = TorchImportFailure(ImportFailureKind.CRASH, "SIGABRT", "hipErrorNoBinaryForGpu: Unable to find code")
NCCL_SYMBOL = TorchImportFailure(
    ImportFailureKind.UNDEFINED_SYMBOL, "ImportError", "/x/torch/lib/libtorch_cuda.so: undefined symbol: ncclMemFree"
)


def td002(facts: Facts) -> tuple[str, str, str]:
    (finding,) = fired("TD002", facts)
    return finding.title, finding.fix, finding.fix_command


def assert_defers(facts: Facts, code: str) -> None:
    title, fix, command = td002(facts)
    assert f"(see {code})" in title and command == "" and "reinstall torch" not in fix.lower(), (title, fix)
    assert fired(code, facts), f"{code} must fire on the same facts"


def test_a_missing_dll_decides_and_the_same_import_without_it_does_not() -> None:
    facts = f.facts(torch=DLL_FAILED, packages=f.packages(f.dist("torch", "2.5.1")))
    assert_defers(with_loaders(facts, dlls=dlls("VCRUNTIME140_1.dll")), "TD045")
    title, _, _ = td002(with_loaders(facts, dlls=dlls()))
    assert "see TD0" not in title


def test_a_jetson_missing_its_cuda_library_decides() -> None:
    jetson = TegraFacts("32.4.3", "NVIDIA Jetson Nano Developer Kit")
    assert_defers(with_loaders(f.facts(torch=NO_CUDART), tegra=jetson), "TD042")
    title, _, _ = td002(with_loaders(f.facts(torch=NO_CUDART)))
    assert "see TD0" not in title


def test_the_hip_runtimes_no_code_object_decides() -> None:
    assert_defers(with_loaders(f.facts(torch=NO_CODE_OBJECT), rocm=RocmFacts(("gfx1102",))), "TD043")
    died = replace(NO_CODE_OBJECT, message="Segmentation fault")
    title, _, _ = td002(with_loaders(f.facts(torch=died), rocm=RocmFacts(("gfx1102",))))
    assert "see TD0" not in title


def test_two_cuda_majors_of_one_wheel_decide_an_undefined_symbol() -> None:
    two = f.packages(
        f.dist("torch", "2.8.0"), f.dist("nvidia-nccl-cu11", "2.14.3"), f.dist("nvidia-nccl-cu12", "2.27.3")
    )
    assert_defers(with_loaders(f.facts(torch=NCCL_SYMBOL, packages=two)), "TD033")
    one = f.packages(f.dist("torch", "2.8.0"), f.dist("nvidia-nccl-cu12", "2.27.3"))
    title, _, _ = td002(with_loaders(f.facts(torch=NCCL_SYMBOL, packages=one)))
    assert "see TD0" not in title
