"""pytest plugin: torchdoctor's diagnosis in pytest's header and in skip reasons.

Installed with torchdoctor (entry point ``pytest11``) but opt-in: it does nothing until asked.

* ``pytest --torchdoctor`` (or ``torchdoctor = true`` in the ini file) adds a one-line environment
  summary to pytest's header.
* ``@pytest.mark.torchdoctor_device("cuda")`` (also ``"cuda:1"``, ``"mps"``, ``"xpu"``, ``"rocm"``, ``"cpu"``,
  ``"gpus>=2"``: rules/devices.py's grammar) skips a test with the diagnosis as the reason ("torch
  2.13.0+cpu is a CPU-only build; NVIDIA driver 550.54.15 present") instead of a bare "no GPU". The
  marker's name is ours alone, so a project's own ``requires_device`` marker is never touched; a
  device it does not know is a collection error.

The diagnosis runs once per session, in child processes (pytest's process never imports torch for
it), and only when the header or a marked test needs it. ``-p no:torchdoctor`` turns it off.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest

_CACHE: dict[str, Any] = {}
MARKER = "torchdoctor_device"
GPUS = re.compile(r"gpus>=([0-9]+)")
"""The one kind beyond rules/devices.py's device names: at least N GPUs."""


def kinds() -> str:
    """What the marker takes: "cpu, cuda, cuda:N, mps, xpu, rocm or gpus>=N"."""
    from torchdoctor.rules.devices import choices

    return choices(allow_all=False, extra="gpus>=N")


def parse_kind(kind: str) -> Any:
    """A device (rules/devices.py's grammar, no ``all``) or, for ``gpus>=N``, N; DeviceError otherwise."""
    from torchdoctor.rules.devices import normalize, parse_device

    match = GPUS.fullmatch(normalize(kind))
    return int(match.group(1)) if match else parse_device(kind, allow_all=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("torchdoctor")
    group.addoption(
        "--torchdoctor",
        action="store_true",
        default=False,
        help="add torchdoctor's one-line environment summary to the header",
    )
    parser.addini("torchdoctor", type="bool", default=False, help="same as --torchdoctor")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(kind): skip unless torch can use it ({kinds()}); the reason is torchdoctor's diagnosis",
    )


def _facts() -> Any:
    if "facts" not in _CACHE:
        from torchdoctor.probes import ProbeOptions, gather

        seconds = _configured_timeouts()
        options = ProbeOptions(python=sys.executable)
        options = ProbeOptions(
            python=sys.executable,
            timeout=seconds.get("timeout", options.timeout),
            nvml_timeout=seconds.get("nvml_timeout", options.nvml_timeout),
        )
        _CACHE["facts"] = gather(options)[0]
    return _CACHE["facts"]


def _configured_timeouts() -> dict[str, float]:
    """``timeout`` and ``nvml-timeout`` from ``[tool.torchdoctor]``, as `torchdoctor check` reads them."""
    from torchdoctor import config

    try:
        conf = config.load()
    except config.ConfigError:
        return {}  # `torchdoctor check` says what is wrong with the file; the tests run with the defaults
    names = {"timeout": "timeout", "nvml-timeout": "nvml_timeout"}
    return {names[key]: float(conf.get(key)) for key in names if conf.get(key) is not None}


def summary(facts: Any) -> str:
    from torchdoctor.model import NvmlFacts, PythonFacts, TorchRuntime

    parts = []
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        build = torch.build
        usable = f", {torch.device_count} GPU(s) usable" if torch.cuda_available else ""
        parts.append(f"torch {torch.version} ({build}{usable}{', MPS' if torch.mps_available else ''})")
    else:
        parts.append(f"torch: {_torch_problem(torch)}")
    if isinstance(facts.python, PythonFacts):
        parts.append(f"Python {facts.python.version}")
    if isinstance(facts.nvml, NvmlFacts):
        parts.append(f"NVIDIA driver {facts.nvml.driver_version}, {len(facts.nvml.gpus)} GPU(s)")
    else:
        parts.append("no NVIDIA driver")
    return "torchdoctor: " + " · ".join(parts)


def _torch_problem(torch: Any) -> str:
    from torchdoctor.model import TorchImportFailure, TorchNotInstalled

    if isinstance(torch, TorchNotInstalled):
        return "torch is not installed"
    if isinstance(torch, TorchImportFailure):
        return f"`import torch` fails ({torch.kind.value}): {torch.message.splitlines()[0][:200]}"
    return f"could not check torch ({getattr(torch, 'reason', torch)})"


def _driver_text(facts: Any) -> str:
    from torchdoctor.model import NvmlFacts

    nvml = facts.nvml
    if isinstance(nvml, NvmlFacts):
        names = ", ".join(str(g.name) for g in nvml.gpus)
        return f"NVIDIA driver {nvml.driver_version} present" + (f" ({names})" if names else "")
    return "no NVIDIA driver (" + str(getattr(nvml, "reason", nvml)) + ")"


def device_problem(kind: str, facts: Any) -> str:
    """Why torch cannot use ``kind`` here, or "" when it can."""
    from torchdoctor.derived import cuda_cause
    from torchdoctor.model import TorchRuntime
    from torchdoctor.rules.devices import Device, DeviceError, Kind, normalize

    torch = facts.torch
    if not isinstance(torch, TorchRuntime):
        return _torch_problem(torch)
    try:
        wanted = parse_kind(kind)
    except DeviceError:
        return f"unknown device {normalize(kind)!r} in torchdoctor_device (use {kinds()})"
    if isinstance(wanted, Device):
        if wanted.kind is Kind.CPU:
            return ""
        if wanted.kind is Kind.MPS:
            if torch.mps_available:
                return ""
            why = "not built into this torch" if not torch.mps_built else "built but not available"
            return f"MPS is {why} (torch {torch.version})"
        if wanted.kind is Kind.XPU:
            return "" if torch.xpu_available else f"XPU is not available to torch {torch.version}"
        if wanted.kind is Kind.ROCM and not torch.hip:
            return f"torch {torch.version} is not a ROCm build"
        wanted = 1 if wanted.index is None else wanted.index + 1
    if not torch.cuda and not torch.hip:
        return f"torch {torch.version} is a CPU-only build; {_driver_text(facts)}"
    if not torch.cuda_available:
        cause, _, text = cuda_cause(torch)
        return f"torch {torch.version} cannot use CUDA: {cause or text or 'torch.cuda.is_available() is False'}"
    if torch.device_count < wanted:
        return f"torch sees {torch.device_count} CUDA device(s), this test needs {wanted}"
    return ""


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("torchdoctor") or config.getini("torchdoctor"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _enabled(config):
        return []
    try:
        return [summary(_facts())]
    except Exception as exc:  # the header must never break a test run
        return [f"torchdoctor: could not diagnose ({type(exc).__name__}: {exc})"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marked tests get their skip here, so the report points at the test, not at this plugin."""
    for item in items:
        for marker in item.iter_markers(MARKER):
            kind = str(marker.args[0]) if marker.args else "cuda"
            try:
                parse_kind(kind)
            except ValueError:  # rules.devices.DeviceError
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}({kind!r}): use {kinds()}") from None
            problem = device_problem(kind, _facts())
            if problem:
                item.add_marker(pytest.mark.skip(reason=f"requires {kind}: {problem}"))
