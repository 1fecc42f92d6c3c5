"""TD034's fixes run as printed: real ELF objects, the real loader, and the cuDNN version torch would see.

A stand-in ``libtorch_cuda.so`` needs ``libcudnn.so.9`` through its RUNPATH (``$ORIGIN/../../nvidia/cudnn/lib``,
as torch's wheels do) and reports ``cudnnGetVersion()`` of the copy the dynamic loader gave it; torch's own check
(torch/backends/cudnn/__init__.py) compares that with the version it was compiled with and words the mismatch as
below. An older cuDNN on LD_LIBRARY_PATH comes first; the printed `export` is pasted into bash, and with the
environment it leaves the loader probe and a real child load the tree again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories as f
from tests.loader.conftest import gcc
from tests.test_fixes_run_libraries import calls, judge, pasted, recording_shim, shell_env
from torchdoctor.model import Facts, Unavailable, Via
from torchdoctor.probes import elf
from torchdoctor.probes.loader import Search, resolve

pytestmark = pytest.mark.usefixtures("have_gcc")

COMPILED = 90100  # cuDNN 9.1.0, as cudnnGetVersion() encodes it (major * 10000 + minor * 100 + patch)


def cudnn(out: Path, version: int) -> Path:
    source = f"unsigned long cudnnGetVersion(void) {{ return {version}UL; }}\n"
    return gcc(out, source, "-Wl,-soname,libcudnn.so.9")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cudnn")
    site = root / "site-packages"
    cudnn(site / "nvidia" / "cudnn" / "lib" / "libcudnn.so.9", COMPILED)  # torch's own, from nvidia-cudnn-cu12
    cudnn(root / "apps" / "cudnn-9.0.0" / "lib64" / "libcudnn.so.9", 90000)  # a cluster module's older one
    gcc(
        site / "torch" / "lib" / "libtorch_cuda.so",
        "unsigned long cudnnGetVersion(void);\nunsigned long runtime_cudnn(void) { return cudnnGetVersion(); }\n",
        f"-L{site / 'nvidia' / 'cudnn' / 'lib'}",
        "-l:libcudnn.so.9",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../nvidia/cudnn/lib",
    )
    return root


def triple(version: int) -> tuple[int, int, int]:
    return version // 10000, version // 100 % 100, version % 100


def examine(tree: Path, environ: dict[str, str]) -> Facts:
    """The loader probe's view of the tree and, from a real child the loader fed, the cuDNN fact torch gives."""
    torch_cuda = tree / "site-packages" / "torch" / "lib" / "libtorch_cuda.so"
    loader = resolve([str(torch_cuda)], Search(environ, sys.executable, elf.read_ld_cache()))
    code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).runtime_cudnn())"
    child = subprocess.run(
        [sys.executable, "-c", code, str(torch_cuda)], env=environ, capture_output=True, text=True, timeout=60
    )
    runtime = int(child.stdout)
    fact: int | Unavailable = runtime
    if runtime != COMPILED:
        fact = Unavailable(
            "torch",
            f"RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against {triple(COMPILED)} but "
            f"found runtime version {triple(runtime)}. PyTorch already comes bundled with cuDNN.",
        )
    return f.facts(torch=f.runtime(cudnn=fact), loader=loader)


def test_td034_the_printed_export_takes_the_older_cudnn_off_the_path(tree: Path, tmp_path: Path) -> None:
    keep = tree / "keep me" / "lib"
    older = tree / "apps" / "cudnn-9.0.0" / "lib64"
    before = shell_env(tmp_path, LD_LIBRARY_PATH=f"{older}:{keep}")
    (finding,) = judge("TD034", examine(tree, before))
    assert "9.0.0" in finding.title and "9.1.0" in finding.title
    after = pasted(finding.fix_command, before, tmp_path)
    assert after["LD_LIBRARY_PATH"] == str(keep), finding.fix_command  # the other entry stays
    assert judge("TD034", examine(tree, after)) == (), finding.fix_command


def test_td034_a_conda_packages_cudnn_is_replaced_with_conda(tmp_path: Path) -> None:
    """`conda install` needs conda's channels: a conda shim on PATH records what the printed line runs."""
    prefix = tmp_path / "envs" / "train"
    path = f"{prefix}/lib/libcudnn.so.9"
    record = f"{prefix}/conda-meta/cudnn-9.0.0-h1234_0.json"
    obj = f.shared_object(path, "libcudnn.so.9", owned_by=f.owner("conda", "cudnn", "9.0.0", record))
    requester = f"{f.SITE}/torch/lib/libtorch_cuda.so"
    loader = f.loader(obj, resolutions=(f.resolved(requester, "libcudnn.so.9", f.candidate(path, Via.CACHE)),))
    mismatch = "cuDNN version incompatibility: PyTorch was compiled  against (9, 1, 0) but found runtime version "
    facts = f.facts(torch=f.runtime(cudnn=Unavailable("torch", f"RuntimeError: {mismatch}(9, 0, 0).")), loader=loader)
    (finding,) = judge("TD034", facts)
    log = recording_shim(tmp_path / "bin", "conda")
    environ = shell_env(tmp_path)
    pasted(finding.fix_command, {**environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{environ['PATH']}"}, tmp_path)
    assert calls(log) == [["install", "-p", str(prefix), "cudnn=9.1.0"]]
