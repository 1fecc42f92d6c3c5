"""The parent process never imports torch (or the NVML bindings): checked in a clean interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the package under ``root`` (with this repository's contract)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
    )


def test_no_module_imports_a_layer_above_it() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO / "torchdoctor", tmp_path / "torchdoctor", ignore=shutil.ignore_patterns("__pycache__"))
    model = tmp_path / "torchdoctor" / "model.py"
    model.write_text(model.read_text() + "\n\ndef _upward() -> None:\n    import torchdoctor.render.terminal\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "torchdoctor.model -> torchdoctor.render.terminal" in result.stdout


def test_nvmls_child_imports_its_probe_and_not_every_other_probe() -> None:
    """The NVML child is on `check --quick`'s critical path: importing torchdoctor.probes.nvml (and so the
    probes package) must not import the other probes, the process runner (the child starts no process) or
    the model's other fact types (it builds the GPU facts only) on the way."""
    code = (
        "import sys; from torchdoctor.probes.nvml import main; "
        "print(sorted(m for m in sys.modules if m.startswith('torchdoctor.probes.') or m == 'torchdoctor.model'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "['torchdoctor.probes.nvml']"


HEAVY = ("pydantic", "torch", "numpy", "pynvml", "psutil", "jsonschema", "xmlschema")
"""Modules the doctor's own process must not load for a live `check`: torch and the NVML bindings belong to the
children; pydantic came with typer 0.29 (pyproject.toml keeps typer below it: 0.08-0.10 s at every start); psutil
is read from /proc and /sys on Linux instead; the schema validators are the tests'."""


def test_the_command_line_loads_none_of_the_heavy_modules_for_a_quick_check() -> None:
    """The whole program, as `torchdoctor check --quick` runs it (typer parsing included), recording what the
    parent process had loaded as it ended: a dependency that starts loading one of these fails here, not in a
    benchmark nobody runs."""
    code = (
        "import os, sys\n"
        "leave = os._exit\n"
        "def said(status):\n"
        f"    print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), file=sys.stderr)\n"
        "    sys.stderr.flush()\n"
        "    leave(status)\n"
        "os._exit = said\n"
        "sys.argv = ['torchdoctor', 'check', '--quick', '-f', 'json']\n"
        "from torchdoctor.__main__ import main\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    said = [line for line in out.stderr.splitlines() if line.startswith("LOADED")]
    expected = "LOADED []" if sys.platform.startswith("linux") else "LOADED ['psutil']"
    assert said == [expected], (out.returncode, out.stderr[-2000:])
