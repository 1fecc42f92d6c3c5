"""The maintainer script drafts rows from a wheel file (a small synthetic wheel here)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

METADATA = """Metadata-Version: 2.1
Name: torch
Version: 2.16.0
Requires-Python: >=3.10
Classifier: Programming Language :: Python :: 3.10
Classifier: Programming Language :: Python :: 3.14
Requires-Dist: nvidia-cudnn-cu13==9.30.0.1
"""
CUDA_INIT = """
PYTORCH_RELEASES_CODE_CC = {
    "13.0": {"x86_64": {75, 80, 86, 90, 100, 120}, "aarch64": {80, 90, 100, 110, 120}},
}
"""


def test_drafts_rows_from_a_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "torch-2.16.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("torch-2.16.0.dist-info/METADATA", METADATA)
        zf.writestr(
            "torch/version.py",
            "__version__ = '2.16.0+cu130'\ngit_version = 'abcdef0123456'\ncuda: Optional[str] = '13.0'\n",
        )
        zf.writestr("torch/cuda/__init__.py", CUDA_INIT)
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "compat_release.py"), "2.16.0", "--wheel", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'torch = "2.16"' in out and 'python = ">=3.10,<3.15"' in out
    assert 'linux-x86_64 = "cu130"' in out
    assert "sm = [75, 80, 86, 90, 100, 120]" in out and "sm = [80, 90, 100, 110, 120]" in out
    assert "nvidia-cudnn-cu13==9.30.0.1" in out
    assert "git abcdef0123" in out


def test_registry_reads_pypis_cuda_only_from_releases_that_pin_it() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import compat_release
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert not compat_release.pins_cuda("torch", "1.12.1")  # CUDA 10.2 inside the wheel: Requires-Dist is silent
    assert compat_release.pins_cuda("torch", "1.13.0")
    assert not compat_release.pins_cuda("torchvision", "0.20.1")
    env = {"platform_system": "Linux", "platform_machine": "x86_64"}
    assert compat_release.cuda_of(["cuda-toolkit==13.2.2; platform_system == 'Linux'"], env, "3.12") == "cu132"
