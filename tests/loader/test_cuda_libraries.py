"""CUDA libraries from a second provider, judged from loader facts built in one line (tests/factories.py):
a conda package's CUDA library, a library nothing provides, two CUDA majors of one wheel, a foreign cuDNN."""

from __future__ import annotations

from tests import factories as f
from torchdoctor.checks import find
from torchdoctor.checks.base import run_checks
from torchdoctor.model import (
    CheckStatus,
    Facts,
    Finding,
    ImportFailureKind,
    TorchImportFailure,
    Unavailable,
    Via,
)

ENV = "/opt/conda/envs/work"
CUBLAS = f"{ENV}/lib/libcublas.so.11"
UNDEFINED = f"{CUBLAS}: undefined symbol: cublasLtBIIMatmulAlgoGetHeuristic, version libcublasLt.so.11"
WHEEL_LT = f"{f.SITE}/nvidia/cublas/lib/libcublasLt.so.11"


def _findings(slug: str, facts: Facts) -> tuple[Finding, ...]:
    check = find(slug)
    assert check is not None
    (outcome,) = run_checks(facts, [check])
    assert outcome.status in (CheckStatus.FIRED, CheckStatus.PASSED), outcome.reason
    return outcome.findings


def _conda_cublas(owner_kind: str, torch_installer: str = "pip") -> Facts:
    cublas = f.shared_object(
        CUBLAS,
        "libcublas.so.11",
        requires={"libcublasLt.so.11": ("libcublasLt.so.11",)},
        owned_by=f.owner(owner_kind, "cudatoolkit", "11.3.1", f"{ENV}/conda-meta/cudatoolkit-11.3.1-h2bc3f7f_2.json"),
    )
    lt = f.shared_object(WHEEL_LT, "libcublasLt.so.11", owned_by=f.owner("pip", "nvidia-cublas-cu11", "11.11.3.6"))
    return f.facts(
        torch=TorchImportFailure(ImportFailureKind.UNDEFINED_SYMBOL, "OSError", UNDEFINED),
        packages=f.packages(f.dist("torch", "1.13.1", installer=torch_installer)),
        loader=f.loader(
            cublas, lt, resolutions=(f.resolved(CUBLAS, "libcublasLt.so.11", f.candidate(WHEEL_LT, Via.RUNPATH)),)
        ),
    )


def test_a_conda_packages_cuda_library_is_removed_with_conda() -> None:
    (finding,) = _findings("torch-import-failed", _conda_cublas("conda"))
    assert finding.fix_command == f"conda remove -p {ENV} cudatoolkit"
    assert "cudatoolkit" in finding.title and "LD_LIBRARY_PATH" not in finding.fix_command


def test_the_same_library_from_a_pip_wheel_is_not_called_a_conda_package() -> None:
    (finding,) = _findings("torch-import-failed", _conda_cublas("pip"))
    assert "conda" not in finding.fix_command


def test_conda_torch_keeps_its_own_cudatoolkit() -> None:
    (finding,) = _findings("torch-import-failed", _conda_cublas("conda", torch_installer="conda"))
    assert "conda remove" not in finding.fix_command


MISSING = "libcudnn.so.9: cannot open shared object file: No such file or directory"
TORCH_CUDA = f"{f.SITE}/torch/lib/libtorch_cuda.so"


def _missing_cudnn(*dists: object, loader: object = None) -> Facts:
    torch = f.dist("torch", "2.5.1", requires=("nvidia-cudnn-cu12==9.1.0.70; platform_system == 'Linux'",))
    facts = f.facts(
        torch=TorchImportFailure(ImportFailureKind.MISSING_SHARED_LIBRARY, "OSError", MISSING),
        packages=f.packages(torch, *dists),  # type: ignore[arg-type]
    )
    if loader is not None:
        from dataclasses import replace

        facts = replace(facts, loader=loader)
    return facts


def test_a_missing_wheel_is_installed_at_torchs_pin() -> None:
    obj = f.shared_object(TORCH_CUDA, needed=("libcudnn.so.9",), runpath=("$ORIGIN/../../nvidia/cudnn/lib",))
    loader = f.loader(obj, resolutions=(f.resolved(TORCH_CUDA, "libcudnn.so.9"),), ld_library_path="/opt/x")
    (finding,) = _findings("torch-import-failed", _missing_cudnn(loader=loader))
    assert "nvidia-cudnn-cu12==9.1.0.70" in finding.fix_command and "--force-reinstall" not in finding.fix_command
    assert "torch==" not in finding.fix_command
    searched = next(e.value for e in finding.evidence if e.label == "searched, in order")
    assert str(searched).startswith("LD_LIBRARY_PATH /opt/x; RUNPATH $ORIGIN/../../nvidia/cudnn/lib")


def test_an_installed_wheel_without_its_file_is_reinstalled_alone() -> None:
    (finding,) = _findings("torch-import-failed", _missing_cudnn(f.dist("nvidia-cudnn-cu12", "9.1.0.70")))
    assert "--force-reinstall --no-deps" in finding.fix_command and "nvidia-cudnn-cu12==9.1.0.70" in finding.fix_command


def test_a_missing_library_that_is_not_cuda_keeps_the_fallback() -> None:
    message = "libfoo.so.1: cannot open shared object file: No such file or directory"
    facts = f.facts(torch=TorchImportFailure(ImportFailureKind.MISSING_SHARED_LIBRARY, "OSError", message))
    (finding,) = _findings("torch-import-failed", facts)
    assert "missing shared library" in finding.title


def test_mixed_majors_name_the_copy_the_loader_takes_and_keep_torchs_pin() -> None:
    nccl = f"{f.SITE}/nvidia/nccl/lib/libnccl.so.2"
    obj = f.shared_object(nccl, "libnccl.so.2", owned_by=f.owner("pip", "nvidia_nccl_cu13", "2.28.3"))
    loader = f.loader(obj, resolutions=(f.resolved(TORCH_CUDA, "libnccl.so.2", f.candidate(nccl, Via.RUNPATH)),))
    torch = f.dist("torch", "2.9.0", requires=("nvidia-nccl-cu12==2.27.5; platform_system == 'Linux'",))
    packages = f.packages(torch, f.dist("nvidia-nccl-cu12", "2.27.5"), f.dist("nvidia-nccl-cu13", "2.28.3"))
    (finding,) = _findings("mixed-cuda-major-wheels", f.facts(packages=packages, loader=loader))
    assert "nvidia_nccl_cu13" in str(next(e.value for e in finding.evidence if e.label == "the loader takes"))
    assert "uninstall -y nvidia-nccl-cu13 " in finding.fix_command
    assert "--no-deps nvidia-nccl-cu12==2.27.5" in finding.fix_command


def test_mixed_majors_without_torchs_choice_give_no_command() -> None:
    packages = f.packages(f.dist("torch", ""), f.dist("nvidia-nccl-cu12", "2.27.5"), f.dist("nvidia-nccl-cu13", "2.28"))
    facts = f.facts(packages=packages, torch=f.cpu_runtime(cuda=""), nvml=f.nvml())
    (finding,) = _findings("mixed-cuda-major-wheels", facts)
    assert finding.fix_command == ""


CUDNN_OLD = Unavailable(
    "torch",
    "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (8, 3, 2) but found runtime "
    "version (8, 0, 3).",
)


def test_a_cudnn_on_ld_library_path_is_taken_out_by_its_entry() -> None:
    bad = "/apps/cudnn/8.0.3/lib64"
    path = f"{bad}/libcudnn.so.8"
    obj = f.shared_object(path, "libcudnn.so.8")
    loader = f.loader(
        obj,
        resolutions=(f.resolved(TORCH_CUDA, "libcudnn.so.8", f.candidate(path)),),
        ld_library_path=f"{bad}:/usr/local/cuda/lib64",
    )
    (finding,) = _findings("cudnn-version-mismatch", f.facts(torch=f.runtime(cudnn=CUDNN_OLD), loader=loader))
    assert finding.fix_command == "export LD_LIBRARY_PATH=/usr/local/cuda/lib64"
    assert "8.0.3" in finding.title and "8.3.2" in finding.title


def test_a_matching_cudnn_is_quiet() -> None:
    assert _findings("cudnn-version-mismatch", f.facts(torch=f.runtime(cudnn=8302))) == ()
