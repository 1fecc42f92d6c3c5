"""The library fixes (TD033, TD034, TD041, TD045) run as printed, and the doctor judges again what they leave.

Each finding is made by the real probes over a sandbox: a fake WSL tree read by probe_wsl, real ELF objects
resolved by the loader probe, a throwaway venv read by the interpreter probe, tiny PE files read by read_dlls.
The printed command is run unedited by bash, as a person pastes it: an `export`/`unset` in a shell whose
environment is read back afterwards, pip in the throwaway venv with its index on local disk (PIP_NO_INDEX and
PIP_FIND_LINKS, the way a pip.conf would point it: nothing in the command changes). What cannot run here
(`wsl --update` is for Windows' PowerShell; `conda install` needs conda's channels) runs against a shim on PATH
that records its argv. Then the probes read the sandbox again and the check must be quiet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests import factories as f
from tests.fakes.wheel_index import build_wheel
from tests.probes.test_pe import tiny_pe
from torchdoctor.checks.base import REGISTRY, run_checks
from torchdoctor.model import (
    Facts,
    Finding,
    ImportFailureKind,
    OtherLoaderFacts,
    PackagesFacts,
    PythonFacts,
    TorchImportFailure,
    Unavailable,
)
from torchdoctor.probes.environment import probe_env
from torchdoctor.probes.interpreter import probe_interpreter
from torchdoctor.probes.loader import torch_folder
from torchdoctor.probes.other_loaders import probe_wsl, read_dlls

NA = Unavailable("loaders", "does not apply here", "not_applicable")
WSL2 = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@1) (gcc) #1 SMP"


def judge(code: str, facts: Facts) -> tuple[Finding, ...]:
    (outcome,) = run_checks(facts, [REGISTRY[code]])
    assert not outcome.reason, outcome.reason
    return outcome.findings


def pasted(command: str, environ: dict[str, str], cwd: Path) -> dict[str, str]:
    """Run ``command`` in bash as printed; the environment it leaves behind."""
    script = f"set -e\n{command}\nenv -0"
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=environ, cwd=cwd, timeout=300)
    assert done.returncode == 0, f"$ {command}\n{done.stdout.decode()}\n{done.stderr.decode()}"
    pairs = (line.partition("=") for line in done.stdout.decode().split("\0") if "=" in line)
    return {name: value for name, _, value in pairs}


def shell_env(home: Path, **variables: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **variables}


def recording_shim(folder: Path, name: str) -> Path:
    """``name`` on PATH that writes its argv (JSON, one line per call) to ``folder/name.argv`` and succeeds."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.argv"
    shim = folder / name
    shim.write_text(
        f"#!{sys.executable}\nimport json, sys\nwith open({str(log)!r}, 'a') as out:\n"
        "    out.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    shim.chmod(0o755)
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# ----------------------------------------------------------------------------- TD041: WSL 2's libcuda


def put(root: Path, rel: str, text: str = "") -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return "/" + rel


def wsl_tree(root: Path) -> None:
    put(root, "proc/version", WSL2)
    put(root, "usr/lib/wsl/lib/libcuda.so.1")
    put(root, "dev/dxg")
    put(root, "opt/linux-driver/lib/libcuda.so.1")  # a Linux NVIDIA driver's copy, installed inside WSL


def wsl_facts(root: Path, environ: dict[str, str], cache: dict[str, tuple[str, ...]]) -> Facts:
    loaders = OtherLoaderFacts(wsl=probe_wsl(root, environ, cache), tegra=NA, rocm=NA, dlls=NA)
    return replace(f.facts(env=probe_env(environ)), other_loaders=loaders)


CACHED = {"libcuda.so.1": ("/usr/lib/wsl/lib/libcuda.so.1",)}
WSL_CASES: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    # LD_LIBRARY_PATH puts the Linux driver's libcuda ahead of the Windows driver's (which ld.so.cache lists)
    "shadowed, others kept": ("/opt/linux-driver/lib:/opt/my libs", CACHED),
    "shadowed, nothing else": ("/opt/linux-driver/lib", CACHED),
    # no ld.so.cache entry for the Windows driver's libcuda: LD_LIBRARY_PATH must reach it
    "off the search path": ("/opt/my libs:/opt/x", {}),
    "off the search path, unset": ("", {}),
}


@pytest.mark.parametrize("case", sorted(WSL_CASES))
def test_td041_the_printed_ld_library_path_fix_cures_the_wsl_tree(case: str, tmp_path: Path) -> None:
    ld_library_path, cache = WSL_CASES[case]
    root = tmp_path / "root"
    wsl_tree(root)
    before = shell_env(tmp_path, LD_LIBRARY_PATH=ld_library_path) if ld_library_path else shell_env(tmp_path)
    (finding,) = judge("TD041", wsl_facts(root, before, cache))
    assert finding.fix_command
    after = pasted(finding.fix_command, before, tmp_path)
    assert judge("TD041", wsl_facts(root, after, cache)) == (), finding.fix_command
    kept = [e for e in ld_library_path.split(":") if e and e != "/opt/linux-driver/lib"]
    left = [e for e in after.get("LD_LIBRARY_PATH", "").split(":") if e and e != "/usr/lib/wsl/lib"]
    assert left == kept, f"the other entries stay, in order: {finding.fix_command}"


def test_td041_wsl_update_runs_against_a_recording_wsl(tmp_path: Path) -> None:
    """`wsl --update` is Windows' (PowerShell): here a shim named wsl on PATH records what the printed line runs."""
    root = tmp_path / "root"
    put(root, "proc/version", WSL2)  # no /usr/lib/wsl/lib: the Windows driver's libraries are not mounted
    environ = shell_env(tmp_path)
    (finding,) = judge("TD041", wsl_facts(root, environ, {}))
    log = recording_shim(tmp_path / "bin", "wsl")
    pasted(finding.fix_command, {**environ, "PATH": f"{tmp_path / 'bin'}:{environ['PATH']}"}, tmp_path)
    assert calls(log) == [["--update"]]


# ----------------------------------------------------------------------------- a throwaway venv, wheels on local disk


class Venv:
    """A fresh venv whose pip installs only from ``wheels`` (PIP_NO_INDEX, PIP_FIND_LINKS), read by the real
    interpreter probe; ``shell`` is the environment a pasted command runs in."""

    def __init__(self, tmp_path: Path) -> None:
        self.wheels = tmp_path / "wheels"
        self.wheels.mkdir()
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.shell = shell_env(
            self.home,
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS=str(self.wheels),
            PIP_CONFIG_FILE=os.devnull,
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
        )
        prefix = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, capture_output=True, timeout=300)
        self.python = prefix / "bin" / "python"

    def wheel(
        self, name: str, version: str, requires: tuple[str, ...] = (), files: dict[str, bytes] | None = None
    ) -> None:
        build_wheel(self.wheels, name, version, requires, files)

    def install(self, *specs: str) -> None:
        pasted(f"{self.python} -m pip install -q {' '.join(specs)}", self.shell, self.home)

    def read(self) -> tuple[PythonFacts, PackagesFacts]:
        python, packages = probe_interpreter(str(self.python), 60)
        assert isinstance(python, PythonFacts) and isinstance(packages, PackagesFacts), (python, packages)
        return python, packages

    def site(self) -> Path:
        (site,) = self.python.parent.parent.glob("lib/python3*/site-packages")
        return site


# ----------------------------------------------------------------------------- TD033: two CUDA majors of a wheel

NCCL = "nvidia/nccl/lib/libnccl.so.2"


def test_td033_the_printed_uninstall_and_reinstall_leave_torchs_nccl(tmp_path: Path) -> None:
    """nvidia-nccl-cu12 (torch's pin) and nvidia-nccl-cu13 both write libnccl.so.2; the printed pip lines remove
    the stray major and put torch's copy back, and the interpreter probe then finds one major."""
    venv = Venv(tmp_path)
    venv.wheel("nvidia-nccl-cu12", "2.21.5", files={NCCL: b"cu12 2.21.5"})
    venv.wheel("nvidia-nccl-cu13", "2.27.3", files={NCCL: b"cu13 2.27.3"})
    venv.wheel("torch", "2.5.1", ("nvidia-nccl-cu12==2.21.5; platform_system == 'Linux'",))
    venv.install("torch==2.5.1", "nvidia-nccl-cu13==2.27.3")
    python, packages = venv.read()
    (finding,) = judge("TD033", f.facts(python=python, packages=packages))
    pasted(finding.fix_command, venv.shell, venv.home)
    python, packages = venv.read()
    assert judge("TD033", f.facts(python=python, packages=packages)) == (), finding.fix_command
    assert (venv.site() / NCCL).read_bytes() == b"cu12 2.21.5"


# ----------------------------------------------------------------------------- TD045: a DLL torch's DLLs import

OMP = "libomp140.x86_64.dll"


def windows_torch(venv: Venv, version: str, ships_omp: bool) -> None:
    """A stand-in Windows torch: torch/lib/fbgemm.dll imports c10.dll and (delay-loaded) libomp140.x86_64.dll."""
    files = {"torch/lib/fbgemm.dll": tiny_pe(["c10.dll"], [OMP]), "torch/lib/c10.dll": tiny_pe([], [])}
    if ships_omp:
        files[f"torch/lib/{OMP}"] = tiny_pe([], [])
    venv.wheel("torch", version, files=files)


def dll_facts(venv: Venv, windows: Path) -> Facts:
    python, packages = venv.read()
    folder = torch_folder(packages)
    assert isinstance(folder, str), folder
    dlls = read_dlls(os.path.join(folder, "lib"), {"SystemRoot": str(windows), "PATH": ""})
    failed = TorchImportFailure(ImportFailureKind.DLL_LOAD, "OSError", f"[WinError 126] ... {folder}\\lib\\fbgemm.dll")
    loaders = OtherLoaderFacts(wsl=NA, tegra=NA, rocm=NA, dlls=dlls)
    return replace(f.facts(python=python, packages=packages, torch=failed), other_loaders=loaders)


def test_td045_the_printed_upgrade_past_the_broken_release_brings_the_dll(tmp_path: Path) -> None:
    """torch 2.4.0's Windows wheels lack libomp140.x86_64.dll (compat/loaders.toml); the printed pip line, run in
    the venv (a Linux venv standing in for a Windows one: pip does the same there), installs 2.4.1, and the DLL
    facts read from its torch/lib find every import."""
    venv = Venv(tmp_path)
    windows_torch(venv, "2.4.0", ships_omp=False)
    windows_torch(venv, "2.4.1", ships_omp=True)
    (tmp_path / "Windows" / "System32").mkdir(parents=True)
    venv.install("torch==2.4.0")
    (finding,) = judge("TD045", dll_facts(venv, tmp_path / "Windows"))
    assert finding.fix_command, finding.fix
    pasted(finding.fix_command, venv.shell, venv.home)
    assert judge("TD045", dll_facts(venv, tmp_path / "Windows")) == (), finding.fix_command
