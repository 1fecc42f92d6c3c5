"""TD002 on a library `import torch` needs and the loader does not find, or finds too old, decided from the facts: a
wheel compat/loaders.toml records as shipping without it, a CUDA build on a machine with no NVIDIA GPU, and a glibc
older than any release in the tables is built for. Each fires, and its healthy neighbour keeps the other diagnosis."""

from __future__ import annotations

from dataclasses import replace

from tests import factories as f
from torchdoctor.checks import find
from torchdoctor.checks.base import run_checks
from torchdoctor.compat.loaders import knowledge
from torchdoctor.model import (
    CheckStatus,
    Facts,
    Finding,
    ImportFailureKind,
    OtherLoaderFacts,
    OwnerKind,
    TegraFacts,
    TorchImportFailure,
    Via,
)


def _td002(facts: Facts) -> Finding:
    check = find("torch-import-failed")
    assert check is not None
    (outcome,) = run_checks(facts, [check])
    assert outcome.status is CheckStatus.FIRED, outcome.reason
    (finding,) = outcome.findings
    return finding


def _missing(soname: str, torch: str, **kw: object) -> Facts:
    message = f"{soname}: cannot open shared object file: No such file or directory"
    return f.facts(
        torch=TorchImportFailure(ImportFailureKind.MISSING_SHARED_LIBRARY, "ImportError", message),
        packages=f.packages(f.dist("torch", torch)),
        **kw,
    )


# ----------------------------------------------------------------------------- a wheel known to ship without it


def test_the_broken_linux_wheel_row_is_found_by_release_and_library() -> None:
    data = knowledge()
    row = data.broken_linux_wheel("0.1.10.post1", "libiomp5.so")
    assert row is not None and row.source.startswith("PT-936")
    assert data.broken_linux_wheel("0.1.10.post2", "libiomp5.so") is None  # a later wheel of the same series
    assert data.broken_linux_wheel("0.1.10.post1", "libgomp.so.1") is None  # another library


def test_a_wheel_known_to_lack_the_library_is_upgraded_past() -> None:
    finding = _td002(_missing("libiomp5.so", "0.1.10.post1"))
    assert "known bug of that release" in finding.fix
    assert "install --upgrade 'torch>0.1.10.post1'" in finding.fix_command
    assert any(e.label == "source" and str(e.value).startswith("PT-936") for e in finding.evidence)


def test_the_same_library_missing_under_another_release_is_not_called_a_known_bug() -> None:
    finding = _td002(_missing("libiomp5.so", "0.1.12"))
    assert "known bug" not in finding.fix and "--upgrade" not in finding.fix_command


# ----------------------------------------------------------------------------- a CUDA build where no NVIDIA GPU is


def _no_nvidia(**kw: object) -> Facts:
    bare = f.no_gpu()
    return _missing("libcurand.so.10", "1.12.0", nvml=bare.nvml, kernel=bare.kernel, **kw)


def test_a_cuda_library_missing_where_no_nvidia_gpu_is_gets_the_cpu_build() -> None:
    finding = _td002(_no_nvidia())
    assert "no NVIDIA GPU" in finding.title and "libcurand.so.10 is missing" in finding.title
    assert "/whl/cpu" in finding.fix_command and "cudatoolkit" not in finding.fix_command


def test_the_same_library_missing_beside_an_nvidia_gpu_is_a_missing_cuda_library() -> None:
    finding = _td002(_missing("libcurand.so.10", "1.12.0"))  # the builders' machine: an NVIDIA GPU on the bus
    assert "no NVIDIA GPU" not in finding.title and "/whl/cpu" not in finding.fix_command


def test_a_jetson_has_no_nvml_and_no_pci_gpu_and_is_not_called_gpu_less() -> None:
    facts = _no_nvidia()
    jetson = replace(facts.other_loaders, tegra=TegraFacts("35.4.1", "NVIDIA Jetson AGX Orin"))
    assert isinstance(jetson, OtherLoaderFacts)
    finding = _td002(replace(facts, other_loaders=jetson))
    assert "no NVIDIA GPU" not in finding.title and "/whl/cpu" not in finding.fix_command


# ----------------------------------------------------------------------------- a glibc older than the build needs

LIBSHM = f"{f.SITE}/torch/lib/libshm.so"


def _old_glibc(lacks: str) -> Facts:
    message = f"/lib64/libc.so.6: version `{lacks}' not found (required by {LIBSHM})"
    libc = f.shared_object("/lib64/libc.so.6", "libc.so.6", owned_by=f.owner(OwnerKind.SYSTEM))
    libshm = f.shared_object(LIBSHM, requires={"libc.so.6": (lacks,)}, needed=("libc.so.6",))
    loader = f.loader(
        libc, libshm, resolutions=(f.resolved(LIBSHM, "libc.so.6", f.candidate("/lib64/libc.so.6", Via.DEFAULT)),)
    )
    return f.facts(torch=TorchImportFailure(ImportFailureKind.GLIBC_TOO_OLD, "ImportError", message), loader=loader)


def test_a_glibc_older_than_any_release_is_built_for_is_built_from_source() -> None:
    finding = _td002(_old_glibc("GLIBC_2.14"))  # every release in the tables needs 2.17 or newer
    assert "newer OS" in finding.fix and "from source" in finding.fix and "older torch" not in finding.fix


def test_a_glibc_some_older_release_is_built_for_gets_that_release() -> None:
    finding = _td002(_old_glibc("GLIBC_2.28"))  # 2.6 and later need 2.28; 2.5 and earlier 2.17
    assert "older torch built for glibc 2.17 (torch <= 2.5)" in finding.fix and "from source" not in finding.fix
