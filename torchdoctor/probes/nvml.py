"""The NVIDIA driver and every GPU, through NVML (the ``nvidia-ml-py`` bindings, ``import pynvml``).

NVML runs in a child process of the doctor's own interpreter, with a timeout: a GPU that has
fallen off the bus can hang NVML calls, and a broken driver can crash the process. Each field
is read on its own; ``NotSupported`` is a fact (``NOT_SUPPORTED``), other errors are
:class:`Unavailable` with the NVML error's name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, Union

from torchdoctor import serde
from torchdoctor.model import NOT_SUPPORTED, GPUFacts, GPUProcess, Maybe, NvmlFacts, Unavailable
from torchdoctor.probes.subproc import MARKER, run_child

T = TypeVar("T")

# nvmlClocksEventReasons bits (nvml.h); the names are what we show.
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
COMPUTE_MODES = {0: "default", 1: "exclusive_thread", 2: "prohibited", 3: "exclusive_process"}
# NVML_ERROR_* values (nvml.h), used when the bindings lack the constant.
NVML_ERROR_NOT_SUPPORTED = 3
ERROR_NAMES = {
    1: "Uninitialized",
    2: "InvalidArgument",
    3: "NotSupported",
    4: "NoPermission",
    6: "NotFound",
    9: "DriverNotLoaded",
    10: "Timeout",
    12: "LibraryNotFound",
    13: "FunctionNotFound",
    15: "GpuIsLost",
    17: "OperatingSystem",
    18: "LibRmVersionMismatch",
    999: "Unknown",
}


def error_name(exc: BaseException) -> str:
    value = getattr(exc, "value", None)
    if isinstance(value, int):
        return ERROR_NAMES.get(value, f"NVML error {value}")
    return type(exc).__name__


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Reader:
    """Calls one NVML function, turning its failure into a fact."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.error_type: type[BaseException] = getattr(nvml, "NVMLError", Exception)

    def __call__(self, fn: Callable[[], T]) -> Maybe[T]:
        try:
            return fn()
        except self.error_type as exc:
            if getattr(exc, "value", None) == NVML_ERROR_NOT_SUPPORTED:
                return NOT_SUPPORTED
            return Unavailable("NVML", f"{error_name(exc)}: {exc}", error_name(exc))
        except (AttributeError, TypeError) as exc:
            # Bindings older or newer than this call (e.g. a _v3 symbol missing on an old driver).
            return Unavailable("NVML", f"this pynvml cannot make the call: {exc}", "FunctionNotFound")


def _clock_reasons(nvml: Any, handle: Any) -> tuple[str, ...]:
    fn = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    mask = int(fn(handle))
    return tuple(name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit)


def _mig_uuids(nvml: Any, handle: Any) -> tuple[str, ...]:
    uuids = []
    for i in range(int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
        except nvml.NVMLError:
            continue
        uuids.append(_text(nvml.nvmlDeviceGetUUID(mig)))
    return tuple(uuids)


def _processes(nvml: Any, handle: Any) -> tuple[GPUProcess, ...]:
    out = []
    for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
        used = getattr(proc, "usedGpuMemory", None)
        out.append(GPUProcess(int(proc.pid), int(used) if isinstance(used, int) else NOT_SUPPORTED, "compute"))
    return tuple(out)


def read_gpu(nvml: Any, read: Reader, index: int) -> GPUFacts:
    handle_or_error = read(lambda: nvml.nvmlDeviceGetHandleByIndex(index))
    if isinstance(handle_or_error, Unavailable):
        others = len(dataclasses.fields(GPUFacts)) - 1
        return GPUFacts(index, *([handle_or_error] * others))
    h = handle_or_error
    ecc = read(lambda: nvml.nvmlDeviceGetEccMode(h))
    remap = read(lambda: nvml.nvmlDeviceGetRemappedRows(h))
    mig = read(lambda: nvml.nvmlDeviceGetMigMode(h))
    mig_enabled: Maybe[bool] = mig if isinstance(mig, Unavailable) else bool(mig[0])
    memory = read(lambda: nvml.nvmlDeviceGetMemoryInfo(h))
    return GPUFacts(
        index=index,
        name=read(lambda: _text(nvml.nvmlDeviceGetName(h))),
        uuid=read(lambda: _text(nvml.nvmlDeviceGetUUID(h))),
        pci_bus_id=read(lambda: _text(nvml.nvmlDeviceGetPciInfo(h).busId)),
        compute_capability=read(lambda: "{}.{}".format(*nvml.nvmlDeviceGetCudaComputeCapability(h))),
        memory_total=memory if isinstance(memory, Unavailable) else int(memory.total),
        memory_used=memory if isinstance(memory, Unavailable) else int(memory.used),
        temperature_c=read(lambda: int(nvml.nvmlDeviceGetTemperature(h, 0))),
        power_draw_w=read(lambda: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
        power_limit_w=read(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0),
        sm_clock_mhz=read(lambda: int(nvml.nvmlDeviceGetClockInfo(h, 1))),
        sm_clock_max_mhz=read(lambda: int(nvml.nvmlDeviceGetMaxClockInfo(h, 1))),
        mem_clock_mhz=read(lambda: int(nvml.nvmlDeviceGetClockInfo(h, 2))),
        utilization_pct=read(lambda: int(nvml.nvmlDeviceGetUtilizationRates(h).gpu)),
        throttle_reasons=read(lambda: _clock_reasons(nvml, h)),
        pcie_gen=read(lambda: int(nvml.nvmlDeviceGetCurrPcieLinkGeneration(h))),
        pcie_gen_max=read(lambda: int(nvml.nvmlDeviceGetMaxPcieLinkGeneration(h))),
        pcie_width=read(lambda: int(nvml.nvmlDeviceGetCurrPcieLinkWidth(h))),
        pcie_width_max=read(lambda: int(nvml.nvmlDeviceGetMaxPcieLinkWidth(h))),
        ecc_enabled=ecc if isinstance(ecc, Unavailable) else bool(ecc[0]),
        ecc_uncorrected_volatile=read(lambda: int(nvml.nvmlDeviceGetTotalEccErrors(h, 1, 0))),
        remap_pending=remap if isinstance(remap, Unavailable) else bool(remap[2]),
        remap_failed=remap if isinstance(remap, Unavailable) else bool(remap[3]),
        persistence_mode=read(lambda: bool(nvml.nvmlDeviceGetPersistenceMode(h))),
        compute_mode=read(lambda: COMPUTE_MODES.get(int(nvml.nvmlDeviceGetComputeMode(h)), "unknown")),
        mig_enabled=mig_enabled,
        mig_uuids=read(lambda: _mig_uuids(nvml, h)) if mig_enabled is True else (),
        processes=read(lambda: _processes(nvml, h)),
    )


def collect(nvml: Any) -> Maybe[NvmlFacts]:
    """Read every NVML fact through ``nvml`` (the pynvml module, or a fake of it)."""
    read = Reader(nvml)
    started = read(nvml.nvmlInit)
    if isinstance(started, Unavailable):
        return Unavailable("NVML", f"nvmlInit failed: {started.reason}", started.code)
    try:
        count = read(lambda: int(nvml.nvmlDeviceGetCount()))
        gpus: tuple[GPUFacts, ...] = ()
        if isinstance(count, int):
            gpus = tuple(read_gpu(nvml, read, i) for i in range(count))

        def cuda_version() -> str:
            fn = getattr(nvml, "nvmlSystemGetCudaDriverVersion_v2", None) or nvml.nvmlSystemGetCudaDriverVersion
            value = int(fn())
            return f"{value // 1000}.{value % 1000 // 10}"

        facts = NvmlFacts(
            driver_version=read(lambda: _text(nvml.nvmlSystemGetDriverVersion())),
            cuda_driver_version=read(cuda_version),
            nvml_version=read(lambda: _text(nvml.nvmlSystemGetNVMLVersion())),
            gpus=gpus,
        )
        if isinstance(count, Unavailable):
            return Unavailable("NVML", f"nvmlDeviceGetCount failed: {count.reason}", count.code)
        return facts
    finally:
        read(nvml.nvmlShutdown)


def load_bindings() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        return Unavailable("NVML", f"the NVML bindings (nvidia-ml-py) cannot be imported: {exc}", "NoBindings")
    return pynvml


def probe_nvml_here() -> Maybe[NvmlFacts]:
    nvml = load_bindings()
    if isinstance(nvml, Unavailable):
        return nvml
    return collect(nvml)


def main() -> None:
    """Child entry point: print the NVML facts as one protocol line."""
    try:
        facts: Any = probe_nvml_here()
    except Exception as exc:  # the doctor must not die: report what broke
        facts = Unavailable("NVML", f"{type(exc).__name__}: {exc}", "crash")
    sys.stdout.write(MARKER + json.dumps({"nvml": serde.to_jsonable(facts)}) + "\n")
    sys.stdout.flush()


PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
CHILD_CODE = (
    "import sys, os; cwd = os.getcwd(); "
    "sys.path[:] = [p for p in sys.path if p not in ('', cwd)] + [{parent!r}]; "
    "from torchdoctor.probes.nvml import main; main()"
)


def probe_nvml(timeout: float) -> Maybe[NvmlFacts]:
    code = CHILD_CODE.format(parent=PACKAGE_PARENT)
    result = run_child([sys.executable, "-c", code], timeout, env=dict(os.environ))
    message = result.first("nvml")
    if message is not None:
        try:
            return serde.from_jsonable(Union[NvmlFacts, Unavailable], message["nvml"])  # noqa: UP007
        except serde.SnapshotError as exc:
            return Unavailable("NVML", f"unexpected output from the NVML child: {exc}", "protocol")
    if result.timed_out:
        return Unavailable("NVML", f"NVML did not answer within {timeout:g} s (a hung GPU or driver)", "timeout")
    if result.signal_name:
        return Unavailable("NVML", f"the NVML child was killed by {result.signal_name}", "crash")
    return Unavailable("NVML", f"the NVML child failed: {result.start_error or result.stderr_tail(3)}", "crash")
