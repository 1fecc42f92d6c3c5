from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine, compiler

REPO = Path(__file__).resolve().parents[1]
FAKE_NVML_DIR = REPO / "tests" / "fakes" / "nvml_module"
REPORT_SCHEMA = json.loads((REPO / "torchdoctor" / "render" / "report.schema.json").read_text())


class Doctor:
    """Runs the real `python -m torchdoctor` in a subprocess, with fakes at the process boundary."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.pythonpath: list[str] = []
        self.env: dict[str, str] = {}

    def fake_nvml(self, scenario: dict[str, Any] | str) -> None:
        self.pythonpath.append(str(FAKE_NVML_DIR))
        self.env["FAKE_NVML"] = scenario if isinstance(scenario, str) else json.dumps(scenario)

    def real_nvml(self, lib: FakeNvmlLibrary, machine: Machine) -> None:
        """The real bindings over the fake libnvidia-ml.so.1, as ``machine`` (a driver branch and its GPUs)."""
        self.env.update(lib.env(machine, self.tmp_path))

    def fake_torch(self, body: str) -> None:
        pkg = self.tmp_path / "fake_site" / "torch"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text(textwrap.dedent(body))
        self.pythonpath.append(str(pkg.parent))

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        env.pop("CONDA_PREFIX", None)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join([*self.pythonpath, str(REPO)])
        env["NO_COLOR"] = "1"
        return env

    def run(self, *args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "torchdoctor", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.environment(),
            cwd=cwd or self.tmp_path,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The doctor running in the background (to be signalled), its output collected by the caller."""
        return subprocess.Popen(
            [sys.executable, "-m", "torchdoctor", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environment(),
            cwd=self.tmp_path,
        )

    def json(self, *args: str, timeout: float = 60) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
        proc = self.run("check", "--format", "json", *args, timeout=timeout)
        assert "Traceback" not in proc.stderr, proc.stderr
        doc = json.loads(proc.stdout)
        jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)  # every report, however broken the machine
        return doc, proc


@pytest.fixture
def doctor(tmp_path: Path) -> Doctor:
    return Doctor(tmp_path)


def fired(report: dict[str, Any]) -> set[str]:
    return {f["slug"] for f in report["findings"]}


@pytest.fixture(scope="session")
def nvml_lib(tmp_path_factory: pytest.TempPathFactory) -> FakeNvmlLibrary:
    """The fake libnvidia-ml.so.1, compiled with the system C compiler, under the real bindings."""
    if compiler() is None:
        pytest.skip("no C compiler (gcc or cc) to build the fake libnvidia-ml.so.1; CI has one")
    return FakeNvmlLibrary(tmp_path_factory.mktemp("libnvml"))


@pytest.fixture(autouse=True)
def _signals_as_they_were() -> Any:
    """A test that runs a dist rank in this process (its last-resort thread blocks SIGTERM, for good) must not
    leave the worker deaf to SIGTERM: a mask is inherited by every process a later test starts."""
    import signal

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set()) if hasattr(signal, "pthread_sigmask") else None
    handler = signal.getsignal(signal.SIGTERM)
    yield
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)
