"""The children that run inside the target interpreter, with the real (CPU) torch."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from torchdoctor.children import BENCH_CHILD, CHANNEL_CHILD, INTERP_CHILD, SMOKE_CHILD, TORCH_CHILD
from torchdoctor.model import PackagesFacts, PythonFacts, TorchRuntime
from torchdoctor.probes.interpreter import probe_interpreter
from torchdoctor.probes.torch import probe_torch

CHILDREN = [INTERP_CHILD, TORCH_CHILD, SMOKE_CHILD, CHANNEL_CHILD, BENCH_CHILD]


def test_torch_child_reads_the_real_torch() -> None:
    torch = pytest.importorskip("torch")
    facts, result = probe_torch(sys.executable, timeout=90)
    assert isinstance(facts, TorchRuntime), facts
    assert facts.version == torch.__version__
    assert facts.cuda == (torch.version.cuda or "")
    assert facts.git_version == torch.version.git_version
    assert facts.cuda_available == torch.cuda.is_available()
    assert Path(facts.file).resolve() == Path(torch.__file__).resolve()
    assert not result.timed_out


def test_interpreter_child_reads_metadata_without_importing() -> None:
    python, packages = probe_interpreter(sys.executable, timeout=30)
    assert isinstance(python, PythonFacts) and isinstance(packages, PackagesFacts)
    assert python.version == ".".join(map(str, sys.version_info[:3]))
    assert python.bits == 64
    assert packages.named("torch"), "the test environment has torch installed"
    assert isinstance(packages.torch_origin, str) and packages.torch_origin.endswith("__init__.py")
    assert python.venv == (sys.prefix != sys.base_prefix)


def test_interpreter_child_sees_a_torch_folder_in_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    _, packages = probe_interpreter(sys.executable, timeout=30)
    assert isinstance(packages, PackagesFacts)
    assert packages.cwd_torch_dir == str(tmp_path / "torch")
    assert packages.torch_origin == str(tmp_path / "torch" / "__init__.py")


@pytest.mark.parametrize("path", CHILDREN, ids=lambda p: p.name)
def test_children_are_stdlib_and_python38(path: Path) -> None:
    """They run in the user's interpreter: no torchdoctor, no third-party imports, 3.8 syntax."""
    source = path.read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    allowed = set(sys.stdlib_module_names) | {"torch", "torchvision", "_smoke_child", "_channel_child", "numpy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        assert all(n in allowed for n in names), (path.name, names)
    assert "torchdoctor" not in {n for n in source.split() if n.startswith("torchdoctor")} - {"torchdoctor."}


OLD_PYTHONS = sorted(Path.home().glob(".pyenv/versions/[23].*/bin/python"))


@pytest.mark.parametrize("python", OLD_PYTHONS or [None], ids=lambda p: p.parent.parent.name if p else "none")
def test_children_run_on_the_old_pythons_of_this_machine(python: Path | None) -> None:
    """The environments we diagnose are often old: 2.7 and 3.6+ must give facts, not tracebacks."""
    if python is None:
        pytest.skip("no other Python versions on this machine (pyenv)")
    facts, packages = probe_interpreter(str(python), timeout=30)
    assert isinstance(facts, PythonFacts) and isinstance(packages, PackagesFacts), facts
    state, result = probe_torch(str(python), timeout=60)
    assert "Traceback" not in result.stderr or "No module named" in result.stderr
    assert type(state).__name__ in ("TorchNotInstalled", "TorchRuntime"), state
