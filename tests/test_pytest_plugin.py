"""The pytest plugin, in a real pytest run (pytester) on this CPU-only machine."""

from __future__ import annotations

import pytest

from tests import factories as f
from torchdoctor.pytest_plugin import device_problem, summary

pytest_plugins = ["pytester"]

TESTS = """
import pytest

@pytest.mark.torchdoctor_device("cuda")
def test_needs_cuda():
    pass

def test_plain():
    pass
"""


def test_skip_reason_is_the_diagnosis_and_points_at_the_test(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-rs", "--torchdoctor")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["torchdoctor: torch 2.* · Python 3.*"])
    here = "test_skip_reason_is_the_diagnosis_and_points_at_the_test.py:3"
    diagnosis = "requires cuda: torch 2.*+cpu is a CPU-only build; *NVIDIA driver*"
    result.stdout.fnmatch_lines([f"SKIPPED ?1? {here}: {diagnosis}"])
    assert "pytest_plugin.py" not in result.stdout.str()


def test_a_misspelt_device_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('import pytest\n\n@pytest.mark.torchdoctor_device("cdua")\ndef test_x():\n    pass\n')
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*torchdoctor_device('cdua'): use cpu, cuda, cuda:N, mps, xpu, rocm or gpus>=N*"])


def test_a_projects_own_requires_device_marker_is_left_alone(pytester: pytest.Pytester) -> None:
    marker = 'config.addinivalue_line("markers", "requires_device(x): ours")'
    pytester.makeconftest(f"import pytest\n\ndef pytest_configure(config):\n    {marker}\n")
    pytester.makepyfile('import pytest\n\n@pytest.mark.requires_device("cuda")\ndef test_x():\n    pass\n')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_inert_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert not any(line.startswith("torchdoctor:") for line in result.stdout.lines)


def test_reasons_from_facts() -> None:
    assert device_problem("cuda", f.facts()) == ""
    assert device_problem("gpus>=2", f.facts()) == "torch sees 1 CUDA device(s), this test needs 2"
    assert device_problem("cuda:1", f.facts(torch=f.runtime(device_count=2))) == ""
    cpu = device_problem("cuda", f.facts(torch=f.cpu_runtime()))
    assert cpu == "torch 2.13.0+cpu is a CPU-only build; NVIDIA driver 550.54.15 present (NVIDIA A100-SXM4-80GB)"
    broken = device_problem(
        "cuda",
        f.facts(
            torch=f.runtime(
                cuda_available=False,
                device_count=0,
                devices=(),
                warnings=(
                    "UserWarning: CUDA initialization: The NVIDIA "
                    "driver on your system is too old (found "
                    "version 11040)",
                ),
            )
        ),
    )
    assert "driver is too old" in broken
    assert device_problem("mps", f.facts()) == "MPS is not built into this torch (torch 2.5.1+cu124)"
    assert summary(f.facts()).startswith("torchdoctor: torch 2.5.1+cu124 (CUDA 12.4, 1 GPU(s) usable)")
