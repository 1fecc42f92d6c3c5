"""GPU identity: one rule for the datasheet peaks (a model) and the compute capabilities (a family)."""

from __future__ import annotations

import pytest

from torchdoctor.bench.peaks import load_peaks
from torchdoctor.compat.tables import load_tables
from torchdoctor.rules.gpus import identify, normalize, pci_key

ROWS = (
    ("h200", ("H200", "H200 SXM"), ("10de:2335",)),
    ("h100", ("H100 80GB HBM3", "H100 NVL"), ()),
    ("4090", ("GeForce RTX 4090",), ("10de:2684",)),
)


def test_normalize_drops_case_punctuation_and_vendor_words() -> None:
    assert normalize("NVIDIA GeForce RTX 4090") == "rtx 4090"
    assert normalize("Tesla V100-SXM2-16GB") == "v100 sxm2 16gb"
    assert normalize("NVIDIA A100 80GB PCIe") == "a100 80gb pcie"


@pytest.mark.parametrize(
    "name, entry",
    [
        ("NVIDIA H200", ("h200", "H200")),
        ("nvidia h200 sxm", ("h200", "H200 SXM")),
        ("NVIDIA H100 NVL", ("h100", "H100 NVL")),
        ("NVIDIA GeForce RTX 4090", ("4090", "GeForce RTX 4090")),
        ("NVIDIA H200 NVL", None),
        ("NVIDIA GeForce RTX 4090 D", None),
        ("NVIDIA GeForce RTX 4090 Laptop GPU", None),
        ("NVIDIA H100", None),
    ],
)
def test_a_model_is_the_entry_that_names_it_whole(name: str, entry: tuple[str, str] | None) -> None:
    assert identify(name, ROWS) == entry


def test_a_family_name_may_stand_inside_a_longer_name_and_the_longest_wins() -> None:
    assert identify("NVIDIA GeForce RTX 4090 D", ROWS, family=True) == ("4090", "GeForce RTX 4090")
    assert identify("NVIDIA H100 NVL", ROWS, family=True) == ("h100", "H100 NVL")
    assert identify("NVIDIA H200 NVL", ROWS, family=True) == ("h200", "H200")
    assert identify("NVIDIA GH200 480GB", ROWS, family=True) is None


def test_of_equally_specific_names_the_first_entry_wins() -> None:
    rows = (("first", ("A10",), ()), ("second", ("A10",), ()))
    assert identify("NVIDIA A10", rows) == ("first", "A10")


@pytest.mark.parametrize(
    "nvml_name",
    ["NVIDIA H200 NVL", "NVIDIA GeForce RTX 4090 D", "NVIDIA GeForce RTX 5090 D", "NVIDIA GeForce RTX 3090 Ti"],
)
def test_an_unlisted_variant_gets_no_datasheet_figure_not_its_siblings(nvml_name: str) -> None:
    assert load_peaks().find(nvml_name) is None


@pytest.mark.parametrize(
    "nvml_name, mem_gbs",
    [
        ("Tesla T4", 320),
        ("Tesla V100-SXM2-16GB", 900),
        ("Tesla V100-SXM2-32GB", 900),
        ("NVIDIA A10G", 600),
        ("NVIDIA A100-SXM4-40GB", 1555),
        ("NVIDIA A100-PCIE-40GB", 1555),
        ("NVIDIA A100-SXM4-80GB", 2039),
        ("NVIDIA A100 80GB PCIe", 1935),
        ("NVIDIA L4", 300),
        ("NVIDIA L40S", 864),
        ("NVIDIA GeForce RTX 3090", 936),
        ("NVIDIA GeForce RTX 4090", 1008),
        ("NVIDIA GeForce RTX 5090", 1792),
        ("NVIDIA H100 80GB HBM3", 3350),
        ("NVIDIA H100 PCIe", 2000),
        ("NVIDIA H100 NVL", 3900),
        ("NVIDIA H200", 4800),
        ("NVIDIA B200", 7700),
    ],
)
def test_each_listed_model_gets_its_own_figures(nvml_name: str, mem_gbs: int) -> None:
    peak = load_peaks().find(nvml_name)
    assert peak is not None and peak.mem_gbs == mem_gbs


@pytest.mark.parametrize(
    "query, found",
    [
        ("NVIDIA H200 NVL", (90, "H200")),
        ("RTX 4090 D", (89, "GeForce RTX 4090")),
        ("RTX 5090 D", (120, "GeForce RTX 5090")),
        ("NVIDIA A100-SXM4-80GB", (80, "A100-SXM4-80GB")),
        ("GH200", (90, "GH200")),
    ],
)
def test_a_compute_capability_is_a_familys(query: str, found: tuple[int, str]) -> None:
    assert load_tables().gpu(query) == found


@pytest.mark.parametrize(
    "name, pci, entry",
    [
        ("NVIDIA H200", "10de:2335", ("h200", "H200")),  # name and ID agree
        ("NVIDIA H200", "0x233510DE", ("h200", "H200")),  # NVML's combined form
        ("NVIDIA H200", "10de:233b", None),  # the H200 NVL's ID under the SXM's name: not this model
        ("NVIDIA H200", "", ("h200", "H200")),  # ID unknown: the name decides
        ("NVIDIA H100 80GB HBM3", "10de:2330", ("h100", "H100 80GB HBM3")),  # the entry lists no ID
        ("NVIDIA GeForce RTX 4090 D", "10de:2685", None),
    ],
)
def test_a_model_is_its_name_and_its_pci_device_id_where_both_are_known(
    name: str, pci: str, entry: tuple[str, str] | None
) -> None:
    assert identify(name, ROWS, pci_device_id=pci) == entry


def test_a_family_takes_the_pci_device_id_alone_or_a_name() -> None:
    assert identify("Graphics Device", ROWS, family=True, pci_device_id="10de:2335") == ("h200", "H200")
    assert identify("NVIDIA GeForce RTX 4090 D", ROWS, family=True, pci_device_id="10de:2685") == (
        "4090",
        "GeForce RTX 4090",
    )


def test_pci_key_reads_both_notations() -> None:
    assert pci_key("0x233b10de") == "10de:233b" == pci_key("10DE:233B")
    assert pci_key("not an id") == ""


@pytest.mark.parametrize(
    "name, pci, mem_gbs",
    [
        ("NVIDIA H200", "10de:2335", 4800),
        ("NVIDIA H200", "10de:233b", None),
        ("NVIDIA GeForce RTX 4090", "10de:2685", None),
    ],
)
def test_peaks_go_to_the_exact_sku(name: str, pci: str, mem_gbs: float | None) -> None:
    peak = load_peaks().find(name, pci)
    assert (peak.mem_gbs if peak else None) == mem_gbs
