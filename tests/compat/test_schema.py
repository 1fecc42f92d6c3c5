"""One schema for every compat/*.toml: a bad row planted in a copy of the tables stops the load with an error
that names the file, the row and the key."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from torchdoctor.bench.peaks import load_peaks, load_peaks_from
from torchdoctor.compat.schema import SCHEMAS, CompatDataError, cited_keys
from torchdoctor.compat.tables import data_dir, load_tables, load_tables_from

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GPU = 'capability = "9.0"\narchitecture = "Hopper"\nnames = ["H999"]\nsource = "NV-GPU"\nconfidence = "S"\n'
PEAK = 'names = ["H999"]\nbf16 = 1.0\nmem_gbs = 100\nsource = "LIT (datasheet)"\nconfidence = "S"\n'


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """A copy of the shipped tables, to plant bad rows in."""
    for path in data_dir().glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def append_row(directory: Path, name: str, array: str, row: str) -> str:
    """Add a ``[[array]]`` row at the end of ``name``.toml; its label as an error names it."""
    path = directory / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    index = len(tomllib.loads(text)[array])
    path.write_text(f"{text}\n[[{array}]]\n{row}", encoding="utf-8")
    return f"{path} {array}[{index}]"


BAD_ROWS: dict[str, tuple[str, str, Callable[[Path], object], str, str]] = {
    "unknown key": ("gpus", "gpu", load_tables_from, GPU + 'capabilty = "9.0"\n', "unknown key 'capabilty'"),
    "wrong type": (
        "gpus",
        "gpu",
        load_tables_from,
        GPU.replace('capability = "9.0"', "capability = 9.0"),
        "'capability' must be text, got 9.0",
    ),
    "missing required key": (
        "gpus",
        "gpu",
        load_tables_from,
        GPU.replace('architecture = "Hopper"\n', ""),
        "missing 'architecture'",
    ),
    "source key not in [sources]": (
        "gpus",
        "gpu",
        load_tables_from,
        GPU.replace('"NV-GPU"', '"NV-GPUS"'),
        "'source' cites 'NV-GPUS', which is not a key of [sources]",
    ),
    "a listed source key not in [sources]": (
        "gpus",
        "gpu",
        load_tables_from,
        GPU + 'min_cuda = "11.8"\nmin_cuda_source = "FIRST-CUDA, NV-130"\nmin_cuda_confidence = "S"\n',
        "'min_cuda_source' cites 'NV-130', which is not a key of [sources]",
    ),
    "peaks: unknown key": ("gpu_peaks", "gpu", load_peaks_from, PEAK + "bf61 = 2.0\n", "unknown key 'bf61'"),
    "peaks: wrong type": (
        "gpu_peaks",
        "gpu",
        load_peaks_from,
        PEAK.replace("mem_gbs = 100", 'mem_gbs = "100"'),
        "'mem_gbs' must be a number, got '100'",
    ),
    "peaks: missing required key": (
        "gpu_peaks",
        "gpu",
        load_peaks_from,
        PEAK.replace("mem_gbs = 100\n", ""),
        "missing 'mem_gbs'",
    ),
    "peaks: source key not in [sources]": (
        "gpu_peaks",
        "gpu",
        load_peaks_from,
        PEAK.replace('"LIT (datasheet)"', '"LTI (datasheet)"'),
        "'source' cites 'LTI', which is not a key of [sources]",
    ),
    "drivers: a bool written as text": (
        "drivers",
        "major",
        load_tables_from,
        'cuda = "14"\nmvc = "yes"\nlinux = "600"\nwindows = "600"\nsource = "NV-RN"\nconfidence = "S"\n',
        "'mvc' must be true or false, got 'yes'",
    ),
    "arches: a list of text where integers belong": (
        "arches",
        "build",
        load_tables_from,
        'torch = ">=9"\nvariants = ["cu999"]\nplatforms = ["linux-x86_64"]\nsm = ["90"]\nptx = false\n'
        'source = "B"\nconfidence = "S"\n',
        "'sm' must be a list of integers, got ['90']",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_is_named_by_file_row_and_key(tables: Path, case: str) -> None:
    name, array, load, row, problem = BAD_ROWS[case]
    where = append_row(tables, name, array, row)
    with pytest.raises(CompatDataError) as caught:
        load(tables)
    assert str(caught.value) == f"{where}: {problem}"


def test_an_unknown_top_level_key_is_rejected(tables: Path) -> None:
    path = tables / "releases.toml"
    path.write_text('numpy3_since = "9.0"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CompatDataError) as caught:
        load_tables_from(tables)
    assert str(caught.value) == f"{path}: unknown key 'numpy3_since'"


def test_a_missing_threshold_is_named(tables: Path) -> None:
    path = tables / "gpu_peaks.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("pcie_ok = 0.60", ""), encoding="utf-8")
    with pytest.raises(CompatDataError) as caught:
        load_peaks_from(tables)
    assert str(caught.value) == f"{path} thresholds: missing 'pcie_ok'"


def test_a_file_that_is_not_toml_is_named(tables: Path) -> None:
    path = tables / "gpus.toml"
    path.write_text("[[gpu]\n", encoding="utf-8")
    with pytest.raises(CompatDataError, match=f"^{path}: "):
        load_tables_from(tables)


def test_a_copy_of_the_shipped_tables_loads_to_the_same_values(tables: Path) -> None:
    assert load_tables_from(tables) == load_tables()
    assert load_peaks_from(tables) == load_peaks()


def test_every_shipped_file_has_a_schema() -> None:
    assert {path.stem for path in data_dir().glob("*.toml")} == set(SCHEMAS)


@pytest.mark.parametrize(
    "source, keys",
    [
        ("NV-RN Table 3", ("NV-RN",)),
        ("REG: PyPI has macosx_11_0_arm64 wheels", ("REG",)),
        ("P-REL(a), B promote 5c4d2fa1, APL (old)", ("P-REL",)),
        ("MLE-ACC, LIT, TITAN (NVML's 'H100 80GB HBM3' is the SXM5 part)", ("MLE-ACC", "LIT", "TITAN")),
        ("NV-RN Table 2, NV-MVC, PT-123456", ("NV-RN", "NV-MVC", "PT-123456")),
        ("PT-182250, PR #175253 (Volta dropped)", ("PT-182250",)),
        ("NANO; L4 spec listing via the reference", ("NANO",)),
        ("assumed equal to Linux cu128 without PTX (M)", ()),
        ("pytorch.org/audio/2.0.0 installation page", ()),
    ],
)
def test_the_keys_a_source_cites(source: str, keys: tuple[str, ...]) -> None:
    assert cited_keys(source) == keys
