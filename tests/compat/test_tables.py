"""The compat tables: valid, complete, sourced, and shipped inside the wheel."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from torchdoctor.compat.tables import (
    CUDA_PLATFORMS,
    FILES,
    cuda_of_variant,
    data_dir,
    load_raw,
    load_tables,
    parse,
)

REPO = Path(__file__).resolve().parents[2]
CONFIDENCE = {"W", "S", "3P", "M"}
tables = load_tables()


def test_every_file_has_as_of_and_sources() -> None:
    raw = load_raw()
    for name in FILES:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw[name]["as_of"]), name
        assert raw[name]["sources"], f"{name}.toml has no [sources] key"


def rows_of(raw: dict, key: str) -> list[dict]:
    return list(itertools.chain.from_iterable(v for k, v in raw.items() if k == key))


@pytest.mark.parametrize(
    "name, key",
    [
        ("releases", "release"),
        ("arches", "build"),
        ("companions", "torchvision"),
        ("companions", "torchaudio"),
        ("drivers", "major"),
        ("drivers", "toolkit"),
        ("gpus", "gpu"),
    ],
)
def test_no_row_without_a_source(name: str, key: str) -> None:
    rows = load_raw()[name][key]
    assert rows
    for row in rows:
        assert str(row.get("source", "")).strip(), row
        if "confidence" in row:
            assert row["confidence"] in CONFIDENCE, row


def test_releases_are_sorted_unique_and_complete() -> None:
    series = [r.torch for r in tables.releases]
    assert series == sorted(series, key=Version) and len(set(series)) == len(series)
    assert series[0] == "1.8" and "2.15" in series
    for release in tables.releases:
        assert list(release.patches) == sorted(release.patches, key=Version)
        assert all(p.startswith(release.torch + ".") for p in release.patches)
        assert set(release.cuda) == set(CUDA_PLATFORMS) and set(release.pypi) == set(CUDA_PLATFORMS)
        assert any(release.python.contains(f"3.{minor}") for minor in (6, 8, 10, 11)), release.torch


def test_every_variant_has_exactly_one_architecture_row_and_a_driver_floor() -> None:
    for release in tables.releases:
        for platform, variants in release.cuda.items():
            for variant in variants:
                matching = [
                    b
                    for b in tables.builds
                    if variant in b.variants and platform in b.platforms and Version(release.torch) in b.torch
                ]
                assert len(matching) == 1, (release.torch, platform, variant, len(matching))
                cuda = cuda_of_variant(variant)
                assert tables.min_driver(cuda, "linux"), (variant, "no Linux driver floor")
                assert tables.toolkit(cuda) is not None, (variant, "no toolkit row")


def test_every_torch_release_has_its_companions() -> None:
    for release in tables.releases:
        for patch in release.patches:
            assert tables.companion_for("torchvision", patch) is not None, patch
            assert tables.companion_for("torchaudio", patch) is not None, patch


def test_companion_rows_are_unique() -> None:
    keys = [(c.package, c.version) for c in tables.companions]
    assert len(keys) == len(set(keys))


def test_toolkits_are_sorted_and_floors_cover_every_major() -> None:
    cudas = [t.cuda for t in tables.toolkits]
    assert cudas == sorted(cudas, key=Version)
    majors = {c.split(".")[0] for c in cudas}
    assert majors <= {f.cuda_major for f in tables.floors}


def test_a_broken_table_is_rejected_with_its_location() -> None:
    raw = load_raw()
    del raw["releases"]["release"][3]["python"]
    with pytest.raises(ValueError, match=r"releases.toml release\[3\]: missing 'python'"):
        parse(raw)


def test_the_installed_torch_is_known_to_the_tables() -> None:
    """Fails when the test environment's torch is newer than the tables: update compat/ (compat/README.md)."""
    torch = pytest.importorskip("torch")
    assert tables.release(torch.__version__) is not None, f"torch {torch.__version__} is newer than compat/"
    assert tables.known_patch(torch.__version__), f"torch {torch.__version__} is not a patch the tables list"


def test_tables_load_from_an_installed_wheel(tmp_path: Path) -> None:
    """Build the wheel, unpack it elsewhere, and load the tables from there (not from the source tree)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("torchdoctor-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in FILES:
        assert f"torchdoctor/compat_data/{name}.toml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import json, torchdoctor.compat.tables as t; tb = t.load_tables(); "
        "print(json.dumps([str(t.data_dir()), len(tb.releases), tb.newest().latest]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    where, count, newest = json.loads(out.stdout)
    assert where.startswith(str(site)) and where.endswith("compat_data")
    assert count == len(tables.releases) and newest == tables.newest().latest


def test_source_tree_fallback_points_at_compat() -> None:
    assert (data_dir() / "releases.toml").is_file()


def test_rows_read_from_the_registry_say_what_it_said() -> None:
    """torch 2.15.0 on PyPI: Requires-Python >=3.11, Linux wheels pin cuda-toolkit==13.2.2 (cu132)."""
    release = tables.release("2.15.0")
    assert release is not None and "REG" in release.source
    assert not release.supports_python("3.10.14") and release.supports_python("3.11.9")
    assert release.pypi["linux-x86_64"] == "cu132" and release.pypi["windows-x86_64"] == "cpu"


def test_a_python_in_the_range_without_wheels_on_this_platform_says_where_they_are() -> None:
    """torch 2.5's cp313 wheels are on linux-x86_64 only (the registry): Windows is a no that names where they are."""
    from torchdoctor.compat.query import Query, answer

    tables = load_tables()
    windows = answer(tables, Query("2.5.1", "3.13", "", "", (), ("windows-x86_64",), "", ""))
    assert windows.negative and not windows.rows
    assert any("on windows-x86_64: its Python 3.13 wheels are for linux-x86_64 only" in a for a in windows.answers)
    linux = answer(tables, Query("2.5.1", "3.13", "", "", (), ("linux-x86_64",), "", ""))
    assert linux.rows and not any("wheels are for" in a for a in linux.answers)
