"""The pytest plugin, in a real pytest run (pytester) on this CPU-only machine."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from tests import factories as f
from torchdoctor.pytest_plugin import device_problem, summary

pytest_plugins = ["pytester"]
needs_torch = pytest.mark.skipif(find_spec("torch") is None, reason="torch is a test dependency")
"""Not importorskip: pytester restores sys.modules after each test, and torch cannot be imported twice."""

TESTS = """
import pytest

@pytest.mark.torchdoctor_device("cuda")
def test_needs_cuda():
    pass

def test_plain():
    pass
"""


@needs_torch
def test_skip_reason_is_the_diagnosis_and_points_at_the_test(pytester: pytest.Pytester) -> None:
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


MODES = """
import pytest

@pytest.mark.torchdoctor_device("cuda")
def test_follows_the_session():
    pass

@pytest.mark.torchdoctor_device("cuda", unavailable="skip")
def test_always_skips():
    pass

@pytest.mark.torchdoctor_device("cuda", unavailable="fail")
def test_always_fails():
    pass

@pytest.mark.torchdoctor_device("cpu", unavailable="fail")
def test_cpu_is_usable():
    pass
"""


@needs_torch
@pytest.mark.parametrize(
    "how, follows",
    [("default", "skipped"), ("option", "failed"), ("ini", "failed")],
)
def test_fail_mode_fails_a_marked_test_whose_device_is_not_usable(
    pytester: pytest.Pytester, how: str, follows: str
) -> None:
    """On this CPU-only machine cuda is the broken device: the marker's argument wins, then the option, then the ini."""
    pytester.makepyfile(MODES)
    args = ["-rfs", "-p", "no:cacheprovider"]
    if how == "option":
        args.append("--torchdoctor-unavailable=fail")
    if how == "ini":
        pytester.makeini("[pytest]\ntorchdoctor_unavailable = fail\n")
    result = pytester.runpytest_subprocess(*args)
    expected = {"passed": 1, "skipped": 1, "failed": 1}
    expected[follows] += 1
    result.assert_outcomes(**expected)
    result.stdout.fnmatch_lines(["_* test_always_fails _*", "requires cuda: torch 2.*+cpu is a CPU-only build;*"])
    assert result.ret == (1 if expected["failed"] else 0)


def test_an_unknown_unavailable_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        'import pytest\n\n@pytest.mark.torchdoctor_device("cpu", unavailable="never")\ndef test_x():\n    pass\n'
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unavailable='never': use skip or fail*"])


@needs_torch
def test_xdist_workers_share_one_diagnosis(pytester: pytest.Pytester) -> None:
    """Two workers, each collecting every marked test: the facts are gathered once for the session."""
    assert find_spec("xdist") is not None, "pytest-xdist is a test dependency"
    count = pytester.path / "diagnoses"
    pytester.makeconftest(
        "import torchdoctor.probes as probes\n"
        "real = probes.gather\n"
        "def counted(*args, **kwargs):\n"
        f"    with open({str(count)!r}, 'a') as fh:\n"
        "        fh.write('1\\n')\n"
        "    return real(*args, **kwargs)\n"
        "probes.gather = counted\n"
    )
    pytester.makepyfile(test_a=MODES, test_b=TESTS)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--torchdoctor")
    result.assert_outcomes(passed=2, skipped=3, failed=1)
    assert count.read_text().count("1") == 1, "one diagnosis for the controller's header and both workers"


@needs_torch
def test_the_projects_timeout_bounds_the_diagnosis(pytester: pytest.Pytester) -> None:
    """`[tool.torchdoctor] timeout` bounds `import torch` in the plugin as in `torchdoctor check`."""
    pytester.makefile(".toml", pyproject="[tool.torchdoctor]\ntimeout = 0.01\n")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * requires cuda: `import torch` fails (timeout): *within 0.01 s"])
