"""Every field of a table row the registry states agrees with the recorded snapshot (compat/registry/).

The snapshot is PyPI's word, recorded by scripts/compat_registry.py; these tests read only it (no network).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from torchdoctor.compat import registry
from torchdoctor.compat.schema import read
from torchdoctor.compat.tables import data_dir, load_tables

REPO = Path(__file__).resolve().parents[2]
DATA = data_dir()
RELEASES = read(DATA, "releases")["release"]
COMPANIONS = read(DATA, "companions")


def snapshot(project: str) -> dict[str, Any]:
    return registry.load_snapshot(REPO / "compat", project)


def test_the_snapshot_covers_every_release_the_tables_name() -> None:
    torch = snapshot("torch")
    for row in RELEASES:
        for patch in row["patches"]:
            assert patch in torch["releases"] or patch in torch["absent"], patch
    for package in ("torchvision", "torchaudio"):
        recorded = snapshot(package)
        for row in COMPANIONS[package]:
            assert row["version"] in recorded["releases"] or row["version"] in recorded["absent"], row["version"]


@pytest.mark.parametrize("row", RELEASES, ids=lambda r: r["torch"])
def test_each_release_row_says_what_the_registry_says(row: dict[str, Any]) -> None:
    facts = registry.derive_release(snapshot("torch"), row["torch"], row["patches"])
    assert registry.release_disagreements(row, facts) == []


@pytest.mark.parametrize("package", ["torchvision", "torchaudio"])
def test_each_companion_row_says_what_the_registry_says(package: str) -> None:
    tables, recorded = load_tables(), snapshot(package)
    found = []
    for row in COMPANIONS[package]:
        facts = registry.derive_companion(recorded, package, row["version"])
        torch = tables.release(row.get("released_with") or row["torch"].lstrip("=>"))
        pythons = [f"3.{m}" for m in range(6, 20) if torch and torch.supports_python(f"3.{m}")]
        found += registry.companion_disagreements(row, facts, pythons)
    assert found == []


def test_the_issue_21_rows_are_read_from_the_wheels() -> None:
    torch = snapshot("torch")
    f = registry.derive_release(torch, "2.15", ["2.15.0"])
    assert f.free_threaded == ("3.14", "3.15") and f.pypi["linux-x86_64"] == "cu132"
    assert registry.derive_release(torch, "2.5", ["2.5.0", "2.5.1"]).python_only_on == {"3.13": ("linux-x86_64",)}
    assert registry.derive_release(torch, "2.10", ["2.10.0"]).macos_arm64_min["3.14"] == "14.0"
    assert registry.derive_release(torch, "2.11", ["2.11.0"]).cudnn == "9.19.0.56"
    assert registry.derive_release(torch, "1.12", ["1.12.0", "1.12.1"]).pypi["linux-x86_64"] == "cu102"  # version.py
    tv = registry.derive_companion(snapshot("torchvision"), "torchvision", "0.29.2")
    assert tv.requires_python == ">=3.10,!=3.14.1" and tv.torch == ">=2.14.0"


# ---------------------------------------------------------------------- the derivation fires on a wrong row

SNAP = {
    "releases": {
        "9.1.0": {
            "groups": [
                {
                    "requires_python": ">=3.11",
                    "requires_dist": [
                        'cuda-toolkit[cudart]==13.2.2; platform_system == "Linux"',
                        'nvidia-cudnn-cu13==9.26.0.51; platform_system == "Linux"',
                    ],
                    "wheels": [
                        "cp311-cp311-manylinux_2_28_x86_64",
                        "cp312-cp312-manylinux_2_28_x86_64",
                        "cp312-cp312-manylinux_2_28_aarch64",
                        "cp312-cp312-win_amd64",
                        "cp312-cp312-macosx_14_0_arm64",
                        "cp311-cp311-macosx_11_0_arm64",
                        "cp313-cp313t-manylinux_2_28_x86_64",
                    ],
                }
            ],
            "version_py": {"windows-x86_64": "+cpu"},
        }
    }
}
ROW = {
    "torch": "9.1",
    "python": ">=3.11,<3.13",
    "python_only_on": {"3.11": ["linux-x86_64", "macos-arm64"]},
    "free_threaded": ["3.13"],
    "glibc": "2.28",
    "macos_x86_64": False,
    "macos_arm64_min": "11.0",
    "macos_arm64_min_by_python": {"3.12": "14.0"},
    "pypi": {"linux-x86_64": "cu132", "linux-aarch64": "cu132", "windows-x86_64": "cpu"},
    "cudnn": "cu132: 9.26.0.51",
}


def test_a_row_that_agrees_is_quiet() -> None:
    assert registry.release_disagreements(ROW, registry.derive_release(SNAP, "9.1", ["9.1.0"])) == []


@pytest.mark.parametrize(
    "change, said",
    [
        ({"python": ">=3.11,<3.14"}, "python >=3.11,<3.14"),
        ({"python_only_on": {}}, "python_only_on {}"),
        ({"free_threaded": []}, "free_threaded []"),
        ({"glibc": "2.17"}, "glibc 2.17"),
        ({"macos_arm64_min_by_python": {}}, "macOS arm64 minimum per Python"),
        ({"pypi": {**ROW["pypi"], "linux-x86_64": "cu130"}}, "pypi.linux-x86_64 cu130"),
        ({"cudnn": "cu132: 9.17.1.4"}, "cudnn for PyPI's cu132 9.17.1.4; its wheel pins 9.26.0.51"),
    ],
)
def test_a_row_that_says_otherwise_is_named(change: dict[str, Any], said: str) -> None:
    found = registry.release_disagreements({**ROW, **change}, registry.derive_release(SNAP, "9.1", ["9.1.0"]))
    assert any(said in line for line in found), found


def test_a_python_claimed_from_the_pytorch_index_alone_must_say_so() -> None:
    row = {**ROW, "python": ">=3.11,<3.14"}
    facts = registry.derive_release(SNAP, "9.1", ["9.1.0"])
    assert registry.release_disagreements({**row, "pytorch_index_only": {"python": ["3.13"]}}, facts) == []


def test_a_companion_that_refuses_a_python_its_torch_has_must_say_so() -> None:
    snap = {"releases": {"1.0": {"groups": [{"requires_python": ">=3.10,!=3.14.1", "requires_dist": ["torch==9.1.0"],
                                             "wheels": ["py3-none-any"]}]}}}  # fmt: skip
    facts = registry.derive_companion(snap, "torchvision", "1.0")
    row = {"version": "1.0", "torch": "==9.1.0"}
    assert "refuses 3.14.1" in registry.companion_disagreements(row, facts, ["3.13", "3.14"])[0]
    assert registry.companion_disagreements({**row, "python": ">=3.10,!=3.14.1"}, facts, ["3.14"]) == []
    wrong_pin = registry.companion_disagreements({**row, "torch": "==9.2.0"}, facts, [])
    assert wrong_pin == ["torchvision 1.0: torch ==9.2.0; its wheels require torch==9.1.0"]


# ---------------------------------------------------------------------- the script: index pages and drift


def script() -> Any:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import compat_registry
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return compat_registry


PEP503_PAGE = """<!DOCTYPE html>
<html><body><h1>Links for torch</h1>
<a href="/whl/cu130/torch-2.11.0%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl#sha256=00" data-requires-python="&gt;=3.10" data-dist-info-metadata="sha256=11" data-core-metadata="sha256=11">torch-2.11.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl</a><br/>
<a href="/whl/cu130/torch-2.11.0%2Bcu130-cp314-cp314t-win_amd64.whl#sha256=22" data-requires-python="&gt;=3.10" data-yanked="broken build">torch-2.11.0+cu130-cp314-cp314t-win_amd64.whl</a><br/>
</body></html>
"""  # noqa: E501  (a page as download.pytorch.org serves it: PEP 503 with PEP 592/658/714 attributes)


def test_a_pep_503_page_of_the_pytorch_index_is_read() -> None:
    files = script().parse_index_page(PEP503_PAGE, "text/html", "https://download.pytorch.org/whl/cu130/torch/")
    assert [f.filename for f in files] == [
        "torch-2.11.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl",
        "torch-2.11.0+cu130-cp314-cp314t-win_amd64.whl",
    ]
    assert (
        files[0].url
        == "https://download.pytorch.org/whl/cu130/torch-2.11.0%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl"
    )
    assert files[0].requires_python == ">=3.10" and files[0].yanked == "" and files[1].yanked == "broken build"
    assert script().wheel_parts(files[1].filename) == ("2.11.0", "+cu130", "cp314-cp314t-win_amd64")


def test_a_pep_691_page_is_read() -> None:
    body = (
        '{"meta": {"api-version": "1.1"}, "files": [{"filename": "torchvision-0.29.2-py3-none-any.whl", '
        '"url": "../../packages/x/torchvision-0.29.2-py3-none-any.whl", "requires-python": ">=3.10,!=3.14.1", '
        '"yanked": false, "upload-time": "2026-10-28T15:21:31Z", "hashes": {}}]}'
    )
    files = script().parse_index_page(
        body, "application/vnd.pypi.simple.v1+json", "https://pypi.org/simple/torchvision/"
    )
    assert files[0].url == "https://pypi.org/packages/x/torchvision-0.29.2-py3-none-any.whl"
    assert files[0].requires_python == ">=3.10,!=3.14.1" and files[0].uploaded == "2026-10-28"


def test_drift_names_a_new_release_a_new_file_a_gone_file_and_a_yanked_one() -> None:
    s = script()
    old = {"releases": {"2.15.0": {"groups": [{"wheels": ["cp312-cp312-win_amd64", "cp313-cp313-win_amd64"]}]}}}
    now = [
        s.IndexFile("torch-2.15.0-cp312-cp312-win_amd64.whl", "", "", "bad wheel", ""),
        s.IndexFile("torch-2.15.0-cp315-cp315-win_amd64.whl", "", "", "", ""),
        s.IndexFile("torch-2.16.0-cp312-cp312-win_amd64.whl", "", "", "", ""),
        s.IndexFile("torch-2.14.9-cp312-cp312-win_amd64.whl", "", "", "", ""),
    ]
    assert s.drift(old, now, "torch") == [
        "torch 2.15.0: new file cp315-cp315-win_amd64",
        "torch 2.15.0: file gone cp313-cp313-win_amd64",
        "torch 2.15.0: yanked cp312-cp312-win_amd64 (bad wheel)",
        "torch 2.16.0: a new release (1 wheels), not in the snapshot",
    ]
