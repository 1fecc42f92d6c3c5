"""torch's own search for the nvidia-* wheels' libraries (``_preload_cuda_deps``), read as a missing library (TD002).

Before it loads libtorch_cuda, a torch whose CUDA libraries come from the nvidia-* wheels looks for each in every
``sys.path`` entry's ``nvidia/<lib>/lib`` and raises ``ValueError: PATTERN not found in the system path [...]`` when no
wheel provides it. The wheel torch's own Requires-Dist pins for that library, installed or not, decides the fix: install
exactly that pin, never a reinstall of torch (which an installer that skipped the wheels would repeat).
"""

from __future__ import annotations

from typing import Any

from tests import factories as f
from tests.checks.test_cuda_init_errors import fired
from torchdoctor.model import Facts, ImportFailureKind, TorchImportFailure
from torchdoctor.rules import dlerror

SEARCHED = (
    "libnvrtc.so.*[0-9].*[0-9] not found in the system path ['/srv/app', '/srv/.venv/lib/python3.10/site-packages']"
)
PIN = 'nvidia-cuda-nvrtc-cu11 (==11.7.99) ; platform_system == "Linux" and platform_machine == "x86_64"'
"""How torch 2.0.1's METADATA writes the requirement (the older ``name (==version)`` form)."""


def preload_failed(message: str, *installed: Any) -> Facts:
    torch = f.dist("torch", "2.0.1", requires=(PIN,))
    failure = TorchImportFailure(ImportFailureKind.OTHER, "ValueError", message)
    return f.facts(torch=failure, packages=f.packages(torch, f.dist("numpy", "1.26.4"), *installed))


def td002(facts: Facts) -> Any:
    (finding,) = fired("TD002", facts)
    return finding


def test_torchs_preload_message_is_a_missing_library_with_its_pattern() -> None:
    error = dlerror.parse(f"ValueError: {SEARCHED}")
    assert error is not None and error.kind is dlerror.LoaderErrorKind.MISSING_LIBRARY
    assert error.library == "libnvrtc.so.*[0-9].*[0-9]"
    assert dlerror.parse("ValueError: key 'cuda' not found in the system path") is None  # names no library


def test_a_wheel_torch_pins_and_nobody_installed_is_installed_at_that_pin() -> None:
    finding = td002(preload_failed(SEARCHED))
    assert "libnvrtc" in finding.title and "missing" in finding.title
    assert finding.fix_command.endswith("install nvidia-cuda-nvrtc-cu11==11.7.99")
    assert "--force-reinstall torch" not in finding.fix_command
    assert ("nvidia-cuda-nvrtc-cu11", "not installed") in [(e.label, e.value) for e in finding.evidence]


def test_the_pinned_wheel_installed_but_incomplete_is_put_back_without_touching_torch() -> None:
    finding = td002(preload_failed(SEARCHED, f.dist("nvidia-cuda-nvrtc-cu11", "11.7.99")))
    assert finding.fix_command.endswith("install --force-reinstall --no-deps nvidia-cuda-nvrtc-cu11==11.7.99")


def test_a_value_error_that_names_no_library_keeps_the_generic_reading() -> None:
    finding = td002(preload_failed("invalid literal for int() with base 10: 'x'"))
    assert finding.title == "`import torch` fails: other"
    assert "nvidia-cuda-nvrtc" not in finding.fix_command
