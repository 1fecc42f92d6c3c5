"""Recommendations and compat answers from the tables."""

from __future__ import annotations

import pytest

from torchdoctor.compat.machine import platform_key
from torchdoctor.compat.query import Query, answer
from torchdoctor.compat.recommend import Gpu, Machine, NoFit, Recommendation, parse_torch_filter, recommend
from torchdoctor.compat.tables import load_tables

tables = load_tables()


def gpu(query: str) -> Gpu:
    found = tables.gpu(query)
    assert found is not None, query
    return Gpu(found[0], found[1])


def pick(**kw: object) -> Recommendation:
    machine = Machine(**{"platform": "linux-x86_64", "python": "3.11.9", **kw})  # type: ignore[arg-type]
    rec = recommend(tables, machine, "python")
    assert isinstance(rec, Recommendation), rec
    return rec


@pytest.mark.parametrize(
    "query, cc",
    [
        ("RTX 5090", 120),
        ("NVIDIA GeForce RTX 4090", 89),
        ("sm_120", 120),
        ("12.0", 120),
        ("86", 86),
        ("NVIDIA A100-SXM4-80GB", 80),
        ("NVIDIA A10", 86),
        ("Tesla K80", 37),
        ("NVIDIA H100 80GB HBM3", 90),
        ("GB10", 121),
    ],
)
def test_gpu_lookup(query: str, cc: int) -> None:
    assert gpu(query).cc == cc


def test_unknown_gpu() -> None:
    assert tables.gpu("Voodoo 3") is None


def test_no_gpu_gets_the_cpu_build_from_its_index() -> None:
    rec = pick()
    assert rec.variant == "cpu" and rec.index_url == "https://download.pytorch.org/whl/cpu"
    assert rec.torch == tables.newest().latest
    assert rec.command.startswith(f"python -m pip install torch=={rec.torch} torchvision==")


def test_blackwell_on_a_570_driver_gets_cu128_and_a_hint() -> None:
    rec = pick(driver="570.86.10", gpus=(gpu("RTX 5090"),))
    assert (rec.torch, rec.variant) == ("2.11.0", "cu128")
    assert rec.index_url.endswith("/cu128")
    assert any("driver >= 580" in u for u in rec.upgrades)


@pytest.mark.parametrize(
    ("card", "driver", "needed", "architecture"),
    [("RTX 5090", "550.54.15", "570.26", "Blackwell"), ("RTX 4090", "470.82.01", "520.61.05", "Ada Lovelace")],
)
def test_a_driver_that_cannot_drive_the_gpu_is_not_a_cuda_variant_question(
    card: str, driver: str, needed: str, architecture: str
) -> None:
    """R550 predates Blackwell, R470 predates Ada: no wheel helps until the driver knows the chip."""
    machine = Machine("linux-x86_64", "3.11.9", driver=driver, gpus=(gpu(card),))
    nofit = recommend(tables, machine, "python")
    assert isinstance(nofit, NoFit)
    assert len(nofit.reasons) == 1 and "cannot drive" in nofit.reasons[0]
    assert nofit.changes == (f"update the NVIDIA driver to >= {needed} (the {architecture} GPU needs it for anything)",)


def test_kepler_on_470_gets_the_last_cu118_with_sm37() -> None:
    rec = pick(driver="470.82.01", gpus=(gpu("Tesla K80"),))
    assert rec.variant == "cu118" and rec.torch == "2.7.1"
    assert any("no kernels for this GPU" in u for u in rec.upgrades)


def test_pascal_stays_on_cu126() -> None:
    rec = pick(driver="580.95.05", gpus=(gpu("GTX 1080 Ti"),))
    assert (rec.torch, rec.variant) == ("2.14.1", "cu126")


def test_a_new_driver_and_hopper_gets_the_newest_cuda() -> None:
    rec = pick(driver="595.45.04", gpus=(gpu("H100"),))
    assert rec.torch == "2.15.0" and rec.variant == "cu132"


def test_intel_mac_with_python_313_fits_nothing_and_says_why() -> None:
    rec = recommend(tables, Machine("macos-x86_64", "3.13.1"), "python")
    assert isinstance(rec, NoFit)
    assert any("macos-x86_64 wheels" in r for r in rec.reasons)
    assert any("Apple Silicon" in c for c in rec.changes)
    assert any("torch 2.2.2" in c for c in rec.changes)


def test_apple_silicon_gets_pypi() -> None:
    rec = pick(platform="macos-arm64")
    assert rec.index_url == "https://pypi.org/simple" and "--index-url" not in rec.command


def test_free_threaded_python() -> None:
    rec = pick(python="3.14.0", free_threaded=True)
    assert rec.torch == tables.newest().latest
    nofit = recommend(tables, Machine("linux-x86_64", "3.12.0", free_threaded=True), "python")
    assert isinstance(nofit, NoFit)


@pytest.mark.parametrize(
    "system, machine, key",
    [
        ("Linux", "x86_64", "linux-x86_64"),
        ("Linux", "aarch64", "linux-aarch64"),
        ("Darwin", "arm64", "macos-arm64"),
        ("Darwin", "x86_64", "macos-x86_64"),
        ("Windows", "AMD64", "windows-x86_64"),
    ],
)
def test_platform_key(system: str, machine: str, key: str) -> None:
    assert platform_key(system, machine) == key


def test_cuda_13_3_is_answered_with_the_13x_floor_and_the_driver_its_toolkit_ships() -> None:
    result = answer(tables, Query(cuda="cu133", driver="595.71.05"))
    (need,) = [a for a in result.answers if a.startswith("CUDA 13.3 wheels need")]
    assert "driver >= 580.65.06 (Linux)" in need and "the 13.3 toolkit itself ships 610.43.02" in need
    assert "driver 595.71.05 runs CUDA 13.3 wheels (Linux)" in result.answers
    old = answer(tables, Query(cuda="13.3", driver="575.57.08"))
    assert "driver 575.57.08 does NOT run CUDA 13.3 wheels (Linux)" in old.answers


@pytest.mark.parametrize("cuda", ["13.4", "13.5"])
def test_a_cuda_13_minor_without_an_nvidia_driver_row_claims_no_toolkit_driver(cuda: str) -> None:
    (need,) = [a for a in answer(tables, Query(cuda=cuda)).answers if a.startswith(f"CUDA {cuda} wheels need")]
    assert "driver >= 580.65.06 (Linux)" in need and "toolkit itself ships" not in need


def test_what_does_torch_251_need() -> None:
    result = answer(tables, Query(torch="2.5.1", platforms=("linux-x86_64",)))
    assert {r.variant for r in result.rows} == {"cu118", "cu121", "cu124", "cpu"}
    assert any("Python >=3.9,<3.14" in a for a in result.answers)
    assert {r.min_driver for r in result.rows if r.variant == "cu124"} == {"525.60.13"}


def test_which_torch_runs_on_driver_470_with_a_k80() -> None:
    result = answer(tables, Query(driver="470", gpus=(gpu("K80"),), platforms=("linux-x86_64",)))
    variants = {(r.torch, r.variant) for r in result.rows}
    assert ("2.7.1", "cu118") in variants and ("1.12.1", "cu102") in variants
    assert all(r.variant.startswith("cu1") for r in result.rows)
    assert not any(r.torch.startswith("2.8") for r in result.rows)


def test_is_torchvision_0201_right_for_torch_251() -> None:
    yes = answer(tables, Query(torch="2.5.1", torchvision="0.20.1", platforms=("linux-x86_64",)))
    assert any("0.20.1 is right for torch 2.5.1" in a for a in yes.answers)
    no = answer(tables, Query(torch="2.5.1", torchvision="0.19.1", platforms=("linux-x86_64",)))
    assert any("NOT right" in a and "use torchvision 0.20.1" in a for a in no.answers)


def test_stable_abi_companions_accept_a_range() -> None:
    assert tables.companion("torchvision", "0.29.2").torch.contains("2.14.1")  # type: ignore[union-attr]
    assert tables.companion_for("torchvision", "2.15.0").version == "0.29.2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "torch, torchvision, torchaudio",
    [
        ("2.12.1", "0.27.1", "2.11.0"),  # test-infra release_versions.sh@50358ee12
        ("2.14.1", "0.29.1", "2.11.0"),  # 0.29.2 runs with 2.14.1 too but came out with 2.15
        ("2.15.0", "0.29.2", "2.11.1"),
    ],
)
def test_recommended_companions_are_the_ones_released_by_then(torch: str, torchvision: str, torchaudio: str) -> None:
    assert tables.companion_for("torchvision", torch).version == torchvision  # type: ignore[union-attr]
    assert tables.companion_for("torchaudio", torch).version == torchaudio  # type: ignore[union-attr]


def test_torch_filter_accepts_versions_and_ranges() -> None:
    assert "2.5.0" in parse_torch_filter("2.5.1")
    assert "2.6.0" in parse_torch_filter(">=2.4") and "2.3.1" not in parse_torch_filter(">=2.4")
    with pytest.raises(ValueError):
        parse_torch_filter("banana")


@pytest.mark.parametrize(
    "code, device, runs",
    [
        (80, 86, True),
        (80, 87, False),
        (86, 89, True),
        (90, 100, False),
        (100, 103, True),
        (100, 101, False),
        (101, 110, True),
        (50, 53, False),
        (70, 72, False),
        (120, 121, True),
    ],
)
def test_sass_binary_compatibility(code: int, device: int, runs: bool) -> None:
    assert tables.sass_runs(code, device) is runs


def test_ptx_covers_newer_gpus_only() -> None:
    assert tables.covers((75, 80, 120), True, 130)
    assert not tables.covers((75, 80, 120), False, 130)
    assert not tables.covers((75, 80), True, 70)


def test_upgrades_name_the_smallest_and_the_largest_driver_step() -> None:
    rec = pick(driver="470.82.01", gpus=(gpu("RTX 3090"),))
    assert (rec.torch, rec.variant) == ("2.7.1", "cu118")
    assert rec.upgrades[:2] == (
        "a driver >= 525.60.13 would allow torch 2.14.1 cu126",
        "a driver >= 580.65.06 would allow torch 2.15.0 cu132",
    )


def test_a_companion_that_excludes_this_python_is_not_recommended() -> None:
    """Every torchvision from 0.26.0 says Requires-Python >=3.10,!=3.14.1 (compat/registry/torchvision.json): none
    runs with torch 2.14.1 on 3.14.1, so none is pinned."""
    assert tables.companion_for("torchvision", "2.14.1", "3.14.1") is None
    assert tables.companion_for("torchvision", "2.14.1", "3.14.0").version == "0.29.1"  # type: ignore[union-attr]


def test_python_3_14_1_is_told_why_torchvision_is_left_out_and_which_python_has_it() -> None:
    """Issue 21 left this: `recommend --python-version 3.14.1` dropped torchvision without a word."""
    rec = recommend(tables, Machine("linux-x86_64", "3.14.1"))
    assert isinstance(rec, Recommendation)
    assert not rec.torchvision and "torchvision" not in rec.command
    (note,) = [r for r in rec.reasons if r.startswith("torchvision is left out")]
    assert "excludes 3.14.1" in note and "!=3.14.1" in note
    assert note.endswith("use Python 3.14.2 to install it")


def test_a_python_every_companion_runs_on_gets_no_left_out_note() -> None:
    rec = recommend(tables, Machine("linux-x86_64", "3.14.2"))
    assert isinstance(rec, Recommendation)
    assert rec.torchvision and not [r for r in rec.reasons if "left out" in r]


def test_a_fix_pins_only_installed_companions_and_says_nothing_of_the_others() -> None:
    rec = recommend(tables, Machine("linux-x86_64", "3.14.1"), companions=("torchaudio",))
    assert isinstance(rec, Recommendation)
    assert not [r for r in rec.reasons if "left out" in r]


def test_a_fix_keeps_the_installed_version_and_pins_only_installed_companions() -> None:
    machine = Machine("linux-x86_64", "3.11.9", driver="550.54.15", gpus=(gpu("RTX 4090"),))
    rec = recommend(tables, machine, "python", keep="2.13.0+cpu", companions=())
    assert isinstance(rec, Recommendation)
    assert (rec.torch, rec.variant) == ("2.13.0", "cu126")
    assert rec.command == "python -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
    assert rec.upgrades[0].startswith("upgrading instead would give torch 2.14.1")


def test_python_3_10_is_not_offered_torch_2_15() -> None:
    """torch 2.15.0's Requires-Python is >=3.11 on the registry."""
    rec = pick(driver="595.45.04", gpus=(gpu("H100"),), python="3.10.14")
    assert rec.torch != "2.15.0"


def test_glibc_too_old_for_manylinux_2_28_gets_the_last_glibc_2_17_release() -> None:
    rec = pick(driver="550.54.15", gpus=(gpu("A100"),), glibc="2.27")
    assert rec.torch.startswith("2.5.")


def test_an_experimental_python_is_said_to_be_experimental() -> None:
    rec = pick(python="3.15.0")
    assert any("experimental" in r for r in rec.reasons), rec.reasons
    assert not any("is supported by" in r for r in rec.reasons)


def test_identical_gpus_are_grouped_in_the_reasons() -> None:
    h100 = tables.gpu("H100")
    assert h100 is not None
    gpus = tuple(Gpu(h100[0], f"GPU {i} NVIDIA H100 80GB HBM3") for i in range(8))
    rec = pick(driver="580.65.06", gpus=gpus)
    assert any("8 × NVIDIA H100 80GB HBM3 (sm_90)" in r for r in rec.reasons), rec.reasons
    assert not any("GPU 1 " in r for r in rec.reasons)


def test_macos_13_is_not_offered_a_torch_whose_arm64_wheels_need_macos_14() -> None:
    """torch 2.12.0 and later ship macosx_14_0_arm64 wheels only (registry, MACTAG)."""
    old = pick(platform="macos-arm64", python="3.12.7", macos="13.6")
    assert old.torch == "2.11.0"
    assert "torch 2.15 needs macOS >= 14.0 (this Mac has 13.6)" in old.upgrades
    new = pick(platform="macos-arm64", python="3.12.7", macos="14.5")
    assert new.torch.startswith("2.15.") and not any("macOS" in u for u in new.upgrades)


def test_every_apple_silicon_release_records_its_wheels_macos_from_the_registry() -> None:
    for release in tables.releases:
        arm64 = tables.platform_has_wheels(release, "macos-arm64")
        assert bool(release.macos_arm64_min) == arm64, release.torch
        assert not arm64 or "MACTAG" in release.source, release.torch


def test_a_macs_version_reaches_the_recommendation_through_its_facts() -> None:
    from tests import factories as f
    from torchdoctor.compat.machine import machine_from_facts

    mac = f.facts(host=f.host(system="Darwin", macos_version="13.6.1", glibc=""), python=f.python(machine="arm64"))
    machine = machine_from_facts(mac)
    assert (machine.platform, machine.macos) == ("macos-arm64", "13.6.1")
    assert machine_from_facts(f.facts()).macos == ""


def test_a_build_whose_architecture_list_is_a_lead_says_so_where_its_advice_is_used() -> None:
    rtx5090 = (Gpu(120, "GeForce RTX 5090"),)
    windows = pick(platform="windows-x86_64", python="3.12.0", driver="576.02", gpus=rtx5090)
    assert windows.variant == "cu128"
    assert any("architecture list for windows-x86_64 is NOT verified" in r for r in windows.reasons)
    linux = pick(python="3.12.0", driver="575.57.08", gpus=rtx5090)
    assert linux.variant == "cu128" and not any("NOT verified" in r for r in linux.reasons)
