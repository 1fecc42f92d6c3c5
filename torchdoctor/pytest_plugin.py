"""pytest plugin: torchdoctor's diagnosis in pytest's header and in skip reasons.

Installed with torchdoctor (entry point ``pytest11``) but opt-in: it does nothing until asked.

* ``pytest --torchdoctor`` (or ``torchdoctor = true`` in the ini file) adds a one-line environment
  summary to pytest's header.
* ``@pytest.mark.torchdoctor_device("cuda")`` (also ``"cuda:1"``, ``"mps"``, ``"xpu"``, ``"rocm"``, ``"cpu"``,
  ``"gpus>=2"``: rules/devices.py's grammar) skips a test with the diagnosis as the reason ("torch
  2.13.0+cpu is a CPU-only build; NVIDIA driver 550.54.15 present") instead of a bare "no GPU". The
  marker's name is ours alone, so a project's own ``requires_device`` marker is never touched; a
  device it does not know is a collection error.

* When the device is not usable the test skips, or fails with the same reason where a skip would
  hide a broken runner (a GPU CI job whose CUDA broke must not go green): ``unavailable="fail"`` in
  the marker, ``--torchdoctor-unavailable=fail`` on the command line, or ``torchdoctor_unavailable =
  fail`` in the ini file, in that order of precedence (default: skip).

The diagnosis runs once per session, in child processes (pytest's process never imports torch for
it), and only when the header or a marked test needs it; under pytest-xdist the controller hands
every worker one cache file, and the first process to need the facts diagnoses while the others
wait on its lock and read them. ``[tool.torchdoctor] timeout`` and ``nvml-timeout`` bound it as they
bound ``torchdoctor check``. ``-p no:torchdoctor`` turns it off.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

_CACHE: dict[str, Any] = {}
MARKER = "torchdoctor_device"
UNAVAILABLE = ("skip", "fail")
"""What a marked test does when its device is not usable."""
SHARED = "torchdoctor_facts"
"""workerinput key: the session's cache file, from the xdist controller."""
_PROBLEM = pytest.StashKey[str]()
_SHARED_DIR = pytest.StashKey[str]()
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
    group.addoption(
        "--torchdoctor-unavailable",
        choices=UNAVAILABLE,
        default=None,
        help="a torchdoctor_device test whose device is not usable: skip (default) or fail",
    )
    parser.addini("torchdoctor_unavailable", default="skip", help="same as --torchdoctor-unavailable (skip or fail)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(kind, unavailable='skip'|'fail'): skip (or fail) unless torch can use it ({kinds()}); "
        "the reason is torchdoctor's diagnosis",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_SHARED_DIR, "")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's controller, per worker: the session's one cache file, so the facts are gathered once."""
    node.workerinput[SHARED] = str(_shared_file(node.config))


def _shared_file(config: pytest.Config) -> Path:
    if _SHARED_DIR not in config.stash:
        config.stash[_SHARED_DIR] = tempfile.mkdtemp(prefix="torchdoctor-pytest-")
    return Path(config.stash[_SHARED_DIR], "facts.json")


def _facts(config: pytest.Config) -> Any:
    """This session's facts: gathered once, in this process or, under xdist, once for every worker."""
    if "facts" not in _CACHE:
        shared = getattr(config, "workerinput", {}).get(SHARED)
        if shared is None and config.pluginmanager.has_plugin("dsession"):  # the xdist controller (the header)
            shared = str(_shared_file(config))
        _CACHE["facts"] = _shared_facts(Path(shared), config) if shared else _diagnose(config)
    return _CACHE["facts"]


def _diagnose(config: pytest.Config) -> Any:
    from torchdoctor.config import ConfigError, load
    from torchdoctor.probes import ProbeOptions, gather
    from torchdoctor.rules import timeouts

    try:
        conf = load(config.rootpath)
    except ConfigError as exc:
        raise pytest.UsageError(f"torchdoctor: {exc}") from None
    options = ProbeOptions(
        python=sys.executable,
        timeout=float(conf.get("timeout", timeouts.IMPORT_TORCH)),
        nvml_timeout=float(conf.get("nvml-timeout", timeouts.NVML)),
    )
    return gather(options)[0]


def _shared_facts(path: Path, config: pytest.Config) -> Any:
    """The facts from ``path``, or gathered and written there; one process at a time (a lock beside it)."""
    from torchdoctor import serde
    from torchdoctor.model import Facts

    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: each worker diagnoses for itself
        return _diagnose(config)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError, ValueError):
            return serde.from_jsonable(Facts, json.loads(path.read_text(encoding="utf-8")))
        facts = _diagnose(config)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(serde.to_jsonable(facts)), encoding="utf-8")
            os.replace(tmp, path)
        return facts


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
        return [summary(_facts(config))]
    except Exception as exc:  # the header must never break a test run
        return [f"torchdoctor: could not diagnose ({type(exc).__name__}: {exc})"]


def _unavailable(config: pytest.Config, marker: pytest.Mark, where: str) -> str:
    """skip or fail: the marker's ``unavailable=``, else --torchdoctor-unavailable, else the ini's."""
    mode = str(
        marker.kwargs.get("unavailable")
        or config.getoption("torchdoctor_unavailable")
        or config.getini("torchdoctor_unavailable")
        or "skip"
    ).strip()
    if mode not in UNAVAILABLE:
        raise pytest.UsageError(f"{where}: torchdoctor unavailable={mode!r}: use skip or fail")
    return mode


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marked tests get their skip (or their failure, at call) here, so the report points at the test."""
    for item in items:
        for marker in item.iter_markers(MARKER):
            kind = str(marker.args[0]) if marker.args else "cuda"
            try:
                parse_kind(kind)
            except ValueError:  # rules.devices.DeviceError
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}({kind!r}): use {kinds()}") from None
            mode = _unavailable(config, marker, item.nodeid)
            problem = device_problem(kind, _facts(config))
            if problem and mode == "fail":
                item.stash[_PROBLEM] = f"requires {kind}: {problem}"
            elif problem:
                item.add_marker(pytest.mark.skip(reason=f"requires {kind}: {problem}"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A marked test in fail mode whose device is not usable fails with the diagnosis, without running."""
    problem = item.stash.get(_PROBLEM, "")
    if problem:
        pytest.fail(problem, pytrace=False)
