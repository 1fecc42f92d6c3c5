"""A CUDA library torch's nvidia-* wheels ship, taken from outside them (checks/loader.py ``outside_wheels``): the
loader's message names the object that asked and the version node of the library it needed, the facts say where
torch's wheel puts that library, and the fix puts the wheel's folder first. Facts are built in one line each."""

from __future__ import annotations

from dataclasses import replace

from tests import factories as f
from torchdoctor.checks import find
from torchdoctor.checks.base import run_checks
from torchdoctor.checks.loader import outside_wheels
from torchdoctor.model import (
    CheckStatus,
    Facts,
    Finding,
    ImportFailureKind,
    OwnerKind,
    TorchImportFailure,
    Unavailable,
    Via,
)
from torchdoctor.rules import cudalibs

CUSPARSE = f"{f.SITE}/nvidia/cusparse/lib/libcusparse.so.12"
WHEEL_JIT = f"{f.SITE}/nvidia/nvjitlink/lib/libnvJitLink.so.12"
SYSTEM_JIT = "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12"
JIT_ERROR = (
    f"{f.SITE}/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, "
    "version libnvJitLink.so.12"
)
TORCH_251 = f.dist("torch", "2.5.1", requires=('nvidia-nvjitlink-cu12==12.4.127; platform_system == "Linux"',))


def _findings(slug: str, facts: Facts) -> tuple[Finding, ...]:
    check = find(slug)
    assert check is not None
    (outcome,) = run_checks(facts, [check])
    assert outcome.status in (CheckStatus.FIRED, CheckStatus.PASSED), outcome.reason
    return outcome.findings


def _jit_facts(taken: str, via: Via, ld_library_path: str, *dists: object) -> Facts:
    """libcusparse (the wheel's) needs __nvJitLinkComplete_12_4 and the loader gives it ``taken``."""
    cusparse = f.shared_object(CUSPARSE, "libcusparse.so.12", requires={"libnvJitLink.so.12": ("libnvJitLink.so.12",)})
    wheel = f.shared_object(WHEEL_JIT, "libnvJitLink.so.12", owned_by=f.owner("pip", "nvidia-nvjitlink-cu12"))
    stray = f.shared_object(taken, "libnvJitLink.so.12", owned_by=f.owner(OwnerKind.SYSTEM))
    loader = f.loader(
        cusparse,
        wheel,
        stray,
        resolutions=(f.resolved(CUSPARSE, "libnvJitLink.so.12", f.candidate(taken, via)),),
        ld_library_path=ld_library_path,
    )
    return f.facts(
        torch=TorchImportFailure(ImportFailureKind.UNDEFINED_SYMBOL, "ImportError", JIT_ERROR),
        packages=f.packages(TORCH_251, *dists),  # type: ignore[arg-type]
        env=f.env(LD_LIBRARY_PATH=ld_library_path),
        loader=loader,
    )


def test_a_system_nvjitlink_before_the_wheels_puts_the_wheels_folder_first() -> None:
    facts = _jit_facts(SYSTEM_JIT, Via.LD_LIBRARY_PATH, "/usr/local/cuda-12.1/lib64:/opt/tools/lib")
    (finding,) = _findings("torch-import-failed", facts)
    assert "outside torch's wheels" in finding.title and "/usr/local/cuda-12.1/lib64" in finding.title
    assert finding.fix_command == f"export LD_LIBRARY_PATH={f.SITE}/nvidia/nvjitlink/lib:/opt/tools/lib"
    assert any(e.label == "the copy taken" and e.value == SYSTEM_JIT for e in finding.evidence)


def test_a_copy_from_ld_so_cache_gets_the_wheels_folder_on_an_empty_path() -> None:
    facts = _jit_facts("/usr/local/cuda-12.2/targets/x86_64-linux/lib/libnvJitLink.so.12", Via.CACHE, "")
    (finding,) = _findings("torch-import-failed", facts)
    assert finding.fix_command == f"export LD_LIBRARY_PATH={f.SITE}/nvidia/nvjitlink/lib"


def test_the_wheels_own_copy_taken_is_not_a_question_of_order() -> None:
    facts = _jit_facts(WHEEL_JIT, Via.RUNPATH, "/usr/local/cuda-12.1/lib64")
    (finding,) = _findings("torch-import-failed", facts)
    assert "outside torch's wheels" not in finding.title


def test_a_wheel_at_another_version_than_torchs_pin_is_not_called_bypassed() -> None:
    facts = _jit_facts(SYSTEM_JIT, Via.CACHE, "", f.dist("nvidia-nvjitlink-cu12", "12.1.105"))
    assert outside_wheels(JIT_ERROR, facts.loader, facts) is None  # type: ignore[arg-type]


def test_without_loader_facts_the_wheel_folder_comes_from_torchs_pin_and_location() -> None:
    relative = JIT_ERROR.replace(f"{f.SITE}/", "python3.11/site-packages/")
    facts = replace(_jit_facts(SYSTEM_JIT, Via.CACHE, ""), loader=Unavailable("loader", "not read"))
    found = outside_wheels(relative, None, facts)
    assert found is not None and found.command == f"export LD_LIBRARY_PATH={f.SITE}/nvidia/nvjitlink/lib"


def test_a_library_no_wheel_ships_is_left_to_the_other_rules() -> None:
    message = "/opt/app/libfoo.so.1: undefined symbol: foo2, version libbar.so.1"
    facts = _jit_facts(SYSTEM_JIT, Via.CACHE, "")
    assert outside_wheels(message, facts.loader, facts) is None  # type: ignore[arg-type]


CUDNN_WARNING = (
    "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda-12.3/lib64/libcudnn_cnn_train.so.8: "
    "undefined symbol: _ZN5cudnn3cnn34layerNormFwd_execute_internal_implERKNS_7backend11VariantPackE, "
    "version libcudnn_cnn_infer.so.8"
)
TORCH_220 = f.dist("torch", "2.2.0", requires=('nvidia-cudnn-cu12==8.9.2.26; platform_system == "Linux"',))


def _cudnn_runtime(warnings: tuple[str, ...]) -> Facts:
    return f.facts(
        torch=f.runtime(version="2.2.0", warnings=warnings),
        packages=f.packages(TORCH_220, f.dist("nvidia-cudnn-cu12", "8.9.2.26")),
        env=f.env(LD_LIBRARY_PATH="/usr/local/cuda-12.3/lib64:/opt/tools/lib"),
    )


def test_a_system_cudnn_sub_library_torch_opened_is_taken_off_the_path() -> None:
    (finding,) = _findings("foreign-cuda-libs", _cudnn_runtime((CUDNN_WARNING,)))
    assert "libcudnn_cnn_train.so.8 was loaded from /usr/local/cuda-12.3/lib64" in finding.title
    assert finding.fix_command == f"export LD_LIBRARY_PATH={f.SITE}/nvidia/cudnn/lib:/opt/tools/lib"


def test_no_loader_error_in_torchs_warnings_keeps_it_quiet() -> None:
    assert _findings("foreign-cuda-libs", _cudnn_runtime(("TypedStorage is deprecated",))) == ()


def test_wheel_folders_follow_the_wheels_layout() -> None:
    root = f"{f.SITE}/nvidia"
    assert cudalibs.wheel_lib_dir(root, "libnvJitLink.so.12", 12) == f"{root}/nvjitlink/lib"
    assert cudalibs.wheel_lib_dir(root, "libcudart.so.12", 12) == f"{root}/cuda_runtime/lib"
    assert cudalibs.wheel_lib_dir(root, "libcublas.so.13", 13) == f"{root}/cu13/lib"
    assert cudalibs.wheel_lib_dir(root, "libnccl.so.2", 13) == f"{root}/nccl/lib"
    assert cudalibs.wheel_root(CUSPARSE) == root and cudalibs.wheel_root("/usr/local/cuda/lib64/libcudnn.so.8") == ""
