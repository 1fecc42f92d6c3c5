"""The smoke tests for real on the CPU, and their isolation when a device's child crashes or hangs."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests import factories as f
from torchdoctor.children import SMOKE_CHILD
from torchdoctor.model import StepStatus, TorchRuntime
from torchdoctor.probes.subproc import run_child
from torchdoctor.smoke.runner import SmokeOptions, SmokeSession, collect, select

EVERYDAY = ["tensors", "autograd", "model", "train", "modes", "data", "save_load"]


def test_cpu_smoke_runs_the_everyday_path_with_real_torch() -> None:
    pytest.importorskip("torch")
    with SmokeSession(sys.executable, SmokeOptions("cpu", timeout=120)) as session:
        torch = session.torch_with_cpu_smoke(timeout=90)
        tmp = Path(session.tmp)
    assert isinstance(torch, TorchRuntime)
    assert session.cpu is not None
    steps = {s.name: s for s in session.cpu.steps}
    assert [n for n in EVERYDAY if steps[n].status is not StepStatus.PASSED] == [], steps
    assert "SGD" in steps["train"].detail and "Adam" in steps["train"].detail
    assert "amp" not in steps, "mixed precision is a CUDA step"
    assert all(s.seconds >= 0 for s in steps.values())
    assert not tmp.exists(), "the temp directory is always removed"


def fake_torch(tmp_path: Path, body: str) -> dict[str, str]:
    pkg = tmp_path / "fake" / "torch"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(body))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pkg.parent)
    return env


CRASHING_DEVICE = """
import os, signal
class _Dev:
    def __init__(self, name): self.type, self.index = name.split(":")[0], 0
def device(name):
    return _Dev(name)
class cuda:
    @staticmethod
    def set_device(i): pass
    @staticmethod
    def get_device_name(i): return "Fake GPU"
class nn:
    Module = object
def __getattr__(name):  # the first real tensor operation "crashes in the driver"
    os.kill(os.getpid(), signal.SIGSEGV)
"""


def test_a_device_child_that_segfaults_is_reported_not_fatal(tmp_path: Path) -> None:
    env = fake_torch(tmp_path, CRASHING_DEVICE)
    result = run_child([sys.executable, str(SMOKE_CHILD), "--device", "cuda:0", "--tmp", str(tmp_path)], 30, env=env)
    device = collect(result, "cuda:0", 30)
    assert device.name == "Fake GPU"
    assert device.died == "SIGSEGV during tensors"
    assert device.steps[-1].name == "tensors" and device.steps[-1].status is StepStatus.FAILED


def test_a_device_child_that_hangs_is_killed_at_its_timeout(tmp_path: Path) -> None:
    env = fake_torch(
        tmp_path, CRASHING_DEVICE.replace("os.kill(os.getpid(), signal.SIGSEGV)", "import time; time.sleep(60)")
    )
    result = run_child([sys.executable, str(SMOKE_CHILD), "--device", "cuda:0", "--tmp", str(tmp_path)], 2, env=env)
    device = collect(result, "cuda:0", 2)
    assert result.seconds < 15
    assert device.died == "timeout (2 s) during tensors"


def test_asking_for_a_device_torch_cannot_use() -> None:
    chosen, missing = select("cuda", f.cpu_runtime())
    assert chosen == []
    (entry,) = missing
    assert entry.died == "not available: torch 2.13.0+cpu is not a CUDA build"
    chosen, missing = select("all", f.runtime(device_count=2))
    assert chosen == ["cpu", "cuda:0", "cuda:1"] and missing == []
    assert select("cuda:1", f.runtime(device_count=2))[0] == ["cuda:1"]
