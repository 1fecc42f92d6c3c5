"""The parent process never imports torch (or the NVML bindings): checked in a clean interpreter."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

MODULES = [
    "torchdoctor.cli",
    "torchdoctor.doctor",
    "torchdoctor.checks",
    "torchdoctor.render.terminal",
    "torchdoctor.render.html",
    "torchdoctor.compat.recommend",
    "torchdoctor.distributed.run",
    "torchdoctor.distributed.checks",
    "torchdoctor.pytest_plugin",
    "torchdoctor.probes",
]


def test_importing_the_doctor_imports_neither_torch_nor_pynvml() -> None:
    code = (
        f"import sys; [__import__(m) for m in {MODULES!r}]; "
        "print(sorted(m for m in ('torch', 'pynvml', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_a_quick_check_never_imports_torch_in_the_parent() -> None:
    code = (
        "import sys; from torchdoctor.doctor import diagnose; from torchdoctor.probes import ProbeOptions; "
        "diagnose(ProbeOptions(python=sys.executable, quick=True)); "
        "print('torch' in sys.modules, 'pynvml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False False"
