"""The issue's "Done when", with the real torch and the real CLI: a stale libstdc++ on LD_LIBRARY_PATH.

The stand-ins carry the soname libstdc++.so.6. ``old``: too few version nodes (GLIBCXX_3.4 only).
``hollow``: every version node the system's libstdc++ defines, but almost no symbols. ``compatible``: the
system's own libstdc++ copied in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Doctor
from tests.loader.conftest import SYSTEM_LIBSTDCXX, versioned
from torchdoctor.probes import elf

pytestmark = pytest.mark.usefixtures("have_gcc")
FORBIDDEN = ("newer OS", "CUDA", "reinstall", "--force-reinstall")


def stale(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / kind
    if kind == "compatible":
        folder.mkdir()
        shutil.copy(SYSTEM_LIBSTDCXX, folder / "libstdc++.so.6")
    elif kind == "old":
        versioned(folder / "libstdc++.so.6", "libstdc++.so.6", {"GLIBCXX_3.4": ["_ZNSt9exceptionD2Ev"]})
    else:
        defines = elf.read_object(SYSTEM_LIBSTDCXX).defines
        versioned(folder / "libstdc++.so.6", "libstdc++.so.6", {v: [] for v in defines if "_TM_" not in v})
    return folder


def torch_finding(doctor: Doctor, ld_library_path: str) -> dict | None:
    doctor.env["LD_LIBRARY_PATH"] = ld_library_path
    report, _ = doctor.json("--no-smoke", timeout=180)
    found = [f for f in report["findings"] if f["code"] == "TD002"]
    return found[0] if found else None


@pytest.mark.parametrize("kind", ["old", "hollow"])
def test_stale_libstdcxx_on_ld_library_path(tmp_path: Path, kind: str) -> None:
    folder = stale(tmp_path, kind)
    finding = torch_finding(Doctor(tmp_path), f"/opt/keep:{folder}:/opt/also")
    assert finding is not None
    text = " ".join([finding["title"], finding["fix"], *(e["value"] for e in finding["evidence"])])
    assert "libstdc++.so.6" in finding["title"] and str(folder) in finding["title"]
    assert "LD_LIBRARY_PATH" in finding["title"]
    assert finding["fix_command"] == "export LD_LIBRARY_PATH=/opt/keep:/opt/also"
    assert not any(word in finding["title"] + finding["fix"] for word in FORBIDDEN), text
    # the printed command, run by a shell as a person pastes it; then the doctor again in what it leaves
    shell = f'LD_LIBRARY_PATH="/opt/keep:{folder}:/opt/also"; {finding["fix_command"]} && printf %s "$LD_LIBRARY_PATH"'
    cured = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True).stdout
    assert torch_finding(Doctor(tmp_path), cured) is None


def test_compatible_libstdcxx_on_ld_library_path_is_no_finding(tmp_path: Path) -> None:
    folder = stale(tmp_path, "compatible")
    doctor = Doctor(tmp_path)
    assert torch_finding(doctor, str(folder)) is None


def test_resolution_agrees_with_what_the_torch_child_really_mapped(tmp_path: Path) -> None:
    doctor = Doctor(tmp_path)
    doctor.env["LD_LIBRARY_PATH"] = ""
    report, _ = doctor.json("--no-smoke", timeout=180)
    mapped = {os.path.realpath(p) for p in report["facts"]["torch"]["mapped"]}
    loader = report["facts"]["loader"]
    torch_objects = [o["path"] for o in loader["objects"] if o["path"].startswith(loader["torch_dir"])]
    assert torch_objects and all(os.path.realpath(p) in mapped for p in torch_objects[:8])
    for res in loader["resolutions"]:
        if res["requester"].startswith(loader["torch_dir"]) and res["candidates"]:
            assert os.path.realpath(res["candidates"][0]["path"]) in mapped, res
