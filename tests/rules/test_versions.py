"""Version comparison: PEP 440 through packaging, and "could not tell" for what does not parse."""

from __future__ import annotations

import pytest

from tests import factories as f
from torchdoctor.doctor import judge
from torchdoctor.rules.versions import (
    InvalidVersion,
    at_least,
    base_version,
    cuda_series,
    cuda_variant,
    driver_version_key,
    local_tag,
    older,
    release,
    series,
)


@pytest.mark.parametrize(
    ("have", "need", "expected"),
    [
        ("2.17", "2.28", True),
        ("2.28", "2.28", False),
        ("2.35", "2.28", False),
        ("13.6", "14.0", True),
        ("14", "14.0", False),  # 14 is 14.0: a digit-tuple compare once called it older
        ("2.10.0", "2.9.1", False),  # numbers, not strings
        ("2.5.0rc1", "2.5.0", True),
        ("2.5.1+cu124", "2.5.1", False),
    ],
)
def test_older_compares_as_pep_440(have: str, need: str, expected: bool) -> None:
    assert older(have, need) is expected


@pytest.mark.parametrize(("have", "need"), [("2.17", ""), ("not a version", "2.28"), ("2.17", "also not")])
def test_older_is_false_when_it_cannot_tell(have: str, need: str) -> None:
    assert older(have, need) is False


def test_at_least_is_the_inclusive_other_side_and_false_when_it_cannot_tell() -> None:
    assert at_least("2.11.1", "2.11.1") and at_least("2.12.0", "2.11.1")
    assert not at_least("2.11.0", "2.11.1")
    assert not at_least("garbage", "2.11.1") and not at_least("2.11.1", "")


def test_base_version_drops_local_and_pre_parts_and_keeps_what_does_not_parse_before_plus() -> None:
    assert base_version("2.5.1+cu124") == "2.5.1"
    assert base_version("2.6.0.dev20241112+cpu") == "2.6.0"
    assert base_version("weird version+cu124") == "weird version"


def test_local_tag_and_series() -> None:
    assert local_tag("2.5.1+cu124") == "cu124" and local_tag("2.5.1") == ""
    assert series("2.5.1+cu124") == "2.5" and series("nonsense") == ""


def test_release_gives_a_comparable_version_and_raises_for_garbage() -> None:
    assert str(release("2.5.1+cu124")) == "2.5.1"
    with pytest.raises(InvalidVersion):
        release("nonsense")


def test_driver_versions_compare_by_their_numbers() -> None:
    assert driver_version_key("535.104.05") == (535, 104, 5)
    assert driver_version_key("550.54.15") > driver_version_key("535.104.05")
    assert driver_version_key("") == ()


def test_the_two_mps_checks_agree_on_which_macos_is_too_old() -> None:
    """mps-unavailable steps aside exactly when mps-macos-too-old fires, so one of them always speaks."""
    for macos in ("13.6", "14", "14.0", "14.2"):
        facts = f.facts(
            host=f.mac(macos_version=macos),
            python=f.python(machine="arm64"),
            torch=f.cpu_runtime(version="2.11.0", mps_built=True, mps_available=False),
        )
        slugs = {x.slug for x in judge(facts).findings} & {"mps-unavailable", "mps-macos-too-old"}
        assert len(slugs) == 1, (macos, slugs)


@pytest.mark.parametrize(
    ("cuda", "series", "variant"),
    [
        ("12.6", "12.6", "cu126"),
        ("11.8", "11.8", "cu118"),
        ("9.0.176", "9.0", "cu90"),  # old builds carry the toolkit's patch level in torch.version.cuda
        ("10.0.130", "10.0", "cu100"),
        ("13.0", "13.0", "cu130"),
        ("", "", ""),
        ("cuda", "", ""),
    ],
)
def test_a_cuda_version_is_read_as_its_series_whatever_its_patch_level(cuda: str, series: str, variant: str) -> None:
    assert (cuda_series(cuda), cuda_variant(cuda)) == (series, variant)


@pytest.mark.parametrize("cuda", ["9.0.176", "10.0.130"])
def test_torch_with_a_three_part_cuda_version_is_judged_against_the_driver(cuda: str) -> None:
    """torch 1.x reported "10.0.130": it once read as CUDA 10013.0, and the driver check skipped."""
    from torchdoctor.checks.compat import driver_too_old
    from torchdoctor.compat.machine import torch_cuda

    facts = f.facts(
        torch=f.runtime(version="1.2.0", cuda=cuda),
        nvml=f.nvml(f.gpu(name="Tesla V100-SXM2-16GB", compute_capability="7.0"), driver="384.81"),
        kernel=f.kernel(module_version="384.81"),
    )
    assert torch_cuda(facts) == cuda_series(cuda)
    fired = list(driver_too_old(facts))
    assert fired if cuda == "10.0.130" else not fired  # 384.81 runs CUDA 9.0, not 10.0 (needs >= 410.48)
