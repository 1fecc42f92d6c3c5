"""The PyTorch index URL rule, and the fixes and recommendations that use it."""

from __future__ import annotations

import pytest

from tests import factories as f
from torchdoctor.compat.recommend import index_url as recommend_index_url
from torchdoctor.doctor import judge
from torchdoctor.model import Unavailable
from torchdoctor.rules.index import PYPI, index_option, index_url, pinned, pip


@pytest.mark.parametrize("tag", ["cpu", "cu118", "cu126", "cu130", "rocm6.3", "xpu"])
def test_every_variant_pytorch_publishes_has_its_own_index(tag: str) -> None:
    assert index_url(tag) == f"https://download.pytorch.org/whl/{tag}"
    assert index_option(tag) == f" --index-url https://download.pytorch.org/whl/{tag}"


@pytest.mark.parametrize("tag", ["", "local", "g1234abc", "post1"])
def test_a_tag_that_is_no_variant_names_no_index(tag: str) -> None:
    assert index_url(tag) == ""
    assert index_option(tag) == ""


def test_pinned_names_the_index_only_for_a_local_build() -> None:
    assert pinned("torch", "2.5.1+cu124") == "torch==2.5.1+cu124 --index-url https://download.pytorch.org/whl/cu124"
    assert pinned("torch", "2.8.0+xpu") == "torch==2.8.0+xpu --index-url https://download.pytorch.org/whl/xpu"
    assert pinned("torch", "2.5.1") == "torch==2.5.1"
    assert pinned("torch", "") == "torch"


def test_pip_runs_in_the_checked_interpreter_or_plain_python_when_unknown() -> None:
    assert pip(f.facts(), "install numpy") == "/home/ada/venv/bin/python -m pip install numpy"
    assert (
        pip(f.facts(python=Unavailable("python", "the interpreter did not answer", "failed")), "install numpy")
        == "python -m pip install numpy"
    )


def test_recommend_uses_pypi_on_a_mac_and_the_variant_index_elsewhere() -> None:
    assert recommend_index_url("cu128", "linux-x86_64") == "https://download.pytorch.org/whl/cu128"
    assert recommend_index_url("cpu", "macos-arm64") == PYPI


def test_companion_fix_for_an_xpu_torch_names_the_xpu_index() -> None:
    """The companion-mismatch fix once knew cu, cpu and rocm only, so an xpu build got PyPI's CPU-only wheel."""
    packages = f.packages(f.dist("torch", "2.5.1+xpu"), f.dist("torchvision", "0.19.1"), f.dist("numpy", "2"))
    facts = f.facts(packages=packages, torch=f.cpu_runtime(version="2.5.1+xpu"))
    (finding,) = [x for x in judge(facts).findings if x.slug == "companion-mismatch"]
    assert finding.fix_command.endswith("torchvision==0.20.1 --index-url https://download.pytorch.org/whl/xpu")
