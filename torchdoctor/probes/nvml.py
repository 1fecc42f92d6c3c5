"""The NVIDIA driver and every GPU, through NVML (the ``nvidia-ml-py`` bindings, ``import pynvml``).

NVML runs in a child process of the doctor's own interpreter, with a timeout: a GPU that has
fallen off the bus can hang NVML calls, and a broken driver can crash the process. Inside the
child:

- every call is guarded on its own against every exception (the bindings raise their own
  ``NVMLLibraryMismatchError``, a plain ``Exception``, besides ``NVMLError``): one failing call
  costs that field only. ``NotSupported`` is a fact (``NOT_SUPPORTED``), not an error;
- a versioned entry point the driver lacks falls back to the older version of the same call
  (``_v3`` → ``_v2`` → unversioned), as an old driver branch needs;
- every call has its own timeout, so a hung field costs that field (and the rest of that GPU);
  the GPUs are read at the same time, each in its own thread;
- the system facts and each GPU are reported as soon as they are read, so a child that dies or
  hangs later still leaves what it had read.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar, Union

from torchdoctor import serde
from torchdoctor.gpu_facts import GPUFacts, GPUProcess, NvmlFacts, field_label
from torchdoctor.maybe import NOT_SUPPORTED, Maybe, Unavailable
from torchdoctor.rules import limits, timeouts

if TYPE_CHECKING:  # the parent's side; the child (this module, imported by `-c`) starts no process of its own
    from torchdoctor.probes.subproc import ChildResult

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
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_VALUE_NOT_AVAILABLE = 2**64 - 1
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
    14: "CorruptedInforom",
    15: "GpuIsLost",
    16: "ResetRequired",
    17: "OperatingSystem",
    18: "LibRmVersionMismatch",
    20: "Memory",
    999: "Unknown",
}
FIELD_TIMEOUT = timeouts.NVML_FIELD
"""Seconds one NVML call may take (the table's ``NVML_FIELD``)."""


def error_name(exc: BaseException) -> str:
    value = getattr(exc, "value", None)
    if isinstance(value, int):
        return ERROR_NAMES.get(value, f"NVML error {value}")
    return type(exc).__name__


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class EntryPointMissing(Exception):
    """The driver (or the bindings) lack this version of a call; an older one may exist."""


class _Timeout(Exception):
    pass


def _call(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a thread; raise :class:`_Timeout` if it does not return within ``timeout``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # every failure is a fact about this field
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="nvml-call")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _Timeout()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _missing_entry_point(exc: BaseException) -> bool:
    """A call this driver or these bindings cannot make, as opposed to one that failed."""
    if isinstance(exc, (AttributeError, EntryPointMissing)):
        return True
    if type(exc).__name__ == "NVMLLibraryMismatchError":  # the bindings' own, raised for a missing _vN
        return True
    return getattr(exc, "value", None) == NVML_ERROR_FUNCTION_NOT_FOUND


class Reader:
    """Reads NVML fields one call at a time, turning each failure into a fact about that field."""

    def __init__(self, nvml: Any, timeout: float = FIELD_TIMEOUT) -> None:
        self.nvml = nvml
        self.timeout = timeout
        self.hung = ""
        """The field that did not return, after which nothing more is asked of this GPU."""

    def __call__(self, fn: Callable[[], T], field: str = "") -> Maybe[T]:
        return self.first(field, [(field, fn)])

    def first(self, field: str, calls: Sequence[tuple[str, Callable[[], T]]]) -> Maybe[T]:
        """The first of ``calls`` (newest version first) that this driver has."""
        if self.hung:
            return Unavailable("NVML", f"not read: {field_label(self.hung)} did not answer before it", "not_read")
        missing: list[str] = []
        said = ""
        for name, fn in calls:
            try:
                return _call(fn, self.timeout)
            except _Timeout:
                self.hung = field or name
                asked = field_label(field) if field else name
                return Unavailable("NVML", f"{asked} did not return within {self.timeout:g} s", "timeout")
            except Exception as exc:
                if _missing_entry_point(exc):
                    missing.append(name)
                    said = _text(exc) or type(exc).__name__
                    continue
                if getattr(exc, "value", None) == NVML_ERROR_NOT_SUPPORTED:
                    return NOT_SUPPORTED
                return Unavailable("NVML", f"{error_name(exc)}: {_text(exc) or type(exc).__name__}", error_name(exc))
        if len(missing) == 1:
            asked = field_label(field) if field else missing[0]
            why = f"{asked}: this driver's library lacks the entry point these bindings call ({said})"
        else:
            why = f"this driver has none of {', '.join(missing)}"
        return Unavailable("NVML", why, "FunctionNotFound")


def _fn(nvml: Any, name: str) -> Callable[..., Any]:
    fn = getattr(nvml, name, None)
    if fn is None:
        raise EntryPointMissing(name)
    return fn


def _clock_reasons(nvml: Any, handle: Any, name: str) -> tuple[str, ...]:
    mask = int(_fn(nvml, name)(handle))
    return tuple(reason for bit, reason in CLOCK_EVENT_REASONS.items() if mask & bit)


def _mig_uuids(nvml: Any, handle: Any) -> tuple[str, ...]:
    uuids = []
    for i in range(int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
        except Exception:  # an empty slot: instances need not be contiguous
            continue
        uuids.append(_text(nvml.nvmlDeviceGetUUID(mig)))
    return tuple(uuids)


def _processes_v1(nvml: Any, handle: Any) -> list[Any]:
    """The unversioned entry point (nvmlProcessInfo_v1_t), which the bindings no longer call."""
    import ctypes

    class ProcessInfoV1(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong)]

    get_pointer = getattr(nvml, "_nvmlGetFunctionPointer", None)
    if get_pointer is None:
        raise EntryPointMissing("nvmlDeviceGetComputeRunningProcesses")
    fn = get_pointer("nvmlDeviceGetComputeRunningProcesses")
    count = ctypes.c_uint(0)
    ret = fn(handle, ctypes.byref(count), None)
    if ret == 0:
        return []
    if ret != NVML_ERROR_INSUFFICIENT_SIZE:
        raise nvml.NVMLError(ret)
    count.value = count.value * 2 + 5
    infos = (ProcessInfoV1 * count.value)()
    ret = fn(handle, ctypes.byref(count), infos)
    if ret != 0:
        raise nvml.NVMLError(ret)
    return [SimpleNamespace(pid=infos[i].pid, usedGpuMemory=infos[i].usedGpuMemory) for i in range(count.value)]


def _processes(found: list[Any]) -> tuple[GPUProcess, ...]:
    out = []
    for proc in found:
        used = getattr(proc, "usedGpuMemory", None)
        memory: Maybe[int] = int(used) if isinstance(used, int) and used != NVML_VALUE_NOT_AVAILABLE else NOT_SUPPORTED
        out.append(GPUProcess(int(proc.pid), memory, "compute"))
    return tuple(out)


def pci_id(combined: int) -> str:
    """NVML's pciDeviceId (device << 16 | vendor) as pci.ids writes it: 0x233510de -> "10de:2335"."""
    return f"{combined & 0xFFFF:04x}:{(combined >> 16) & 0xFFFF:04x}"


def read_gpu(nvml: Any, index: int, timeout: float = FIELD_TIMEOUT) -> GPUFacts:
    """Every field of GPU ``index``; a field that fails is unavailable with the reason."""
    read = Reader(nvml, timeout)
    handle_or_error = read(lambda: nvml.nvmlDeviceGetHandleByIndex(index), "handle")
    if isinstance(handle_or_error, Unavailable):
        others = len(dataclasses.fields(GPUFacts)) - 1
        return GPUFacts(index, *([handle_or_error] * others))
    h = handle_or_error
    f: dict[str, Any] = {}  # the fields, in the order they are read
    f["name"] = read(lambda: _text(nvml.nvmlDeviceGetName(h)), "name")
    f["uuid"] = read(lambda: _text(nvml.nvmlDeviceGetUUID(h)), "uuid")
    f["pci_bus_id"] = read(lambda: _text(nvml.nvmlDeviceGetPciInfo(h).busId), "pci_bus_id")
    f["pci_device_id"] = read(lambda: pci_id(nvml.nvmlDeviceGetPciInfo(h).pciDeviceId), "pci_device_id")
    f["compute_capability"] = read(
        lambda: "{}.{}".format(*nvml.nvmlDeviceGetCudaComputeCapability(h)), "compute_capability"
    )
    memory = read(lambda: nvml.nvmlDeviceGetMemoryInfo(h), "memory")
    f["memory_total"] = memory if isinstance(memory, Unavailable) else int(memory.total)
    f["memory_used"] = memory if isinstance(memory, Unavailable) else int(memory.used)
    f["temperature_c"] = read(lambda: int(nvml.nvmlDeviceGetTemperature(h, 0)), "temperature_c")
    f["power_draw_w"] = read(lambda: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0, "power_draw_w")
    f["power_limit_w"] = read(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0, "power_limit_w")
    f["sm_clock_mhz"] = read(lambda: int(nvml.nvmlDeviceGetClockInfo(h, 1)), "sm_clock_mhz")
    f["sm_clock_max_mhz"] = read(lambda: int(nvml.nvmlDeviceGetMaxClockInfo(h, 1)), "sm_clock_max_mhz")
    f["mem_clock_mhz"] = read(lambda: int(nvml.nvmlDeviceGetClockInfo(h, 2)), "mem_clock_mhz")
    f["utilization_pct"] = read(lambda: int(nvml.nvmlDeviceGetUtilizationRates(h).gpu), "utilization_pct")
    f["throttle_reasons"] = read.first(
        "throttle_reasons",
        [
            (name, lambda name=name: _clock_reasons(nvml, h, name))  # type: ignore[misc]
            for name in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
        ],
    )
    f["pcie_gen"] = read(lambda: int(nvml.nvmlDeviceGetCurrPcieLinkGeneration(h)), "pcie_gen")
    f["pcie_gen_max"] = read(lambda: int(nvml.nvmlDeviceGetMaxPcieLinkGeneration(h)), "pcie_gen_max")
    f["pcie_width"] = read(lambda: int(nvml.nvmlDeviceGetCurrPcieLinkWidth(h)), "pcie_width")
    f["pcie_width_max"] = read(lambda: int(nvml.nvmlDeviceGetMaxPcieLinkWidth(h)), "pcie_width_max")
    ecc = read(lambda: nvml.nvmlDeviceGetEccMode(h), "ecc_enabled")
    f["ecc_enabled"] = ecc if isinstance(ecc, Unavailable) else bool(ecc[0])
    f["ecc_uncorrected_volatile"] = read(
        lambda: int(nvml.nvmlDeviceGetTotalEccErrors(h, 1, 0)), "ecc_uncorrected_volatile"
    )
    remap = read(lambda: nvml.nvmlDeviceGetRemappedRows(h), "remapped_rows")
    f["remap_pending"] = remap if isinstance(remap, Unavailable) else bool(remap[2])
    f["remap_failed"] = remap if isinstance(remap, Unavailable) else bool(remap[3])
    f["persistence_mode"] = read(lambda: bool(nvml.nvmlDeviceGetPersistenceMode(h)), "persistence_mode")
    f["compute_mode"] = read(
        lambda: COMPUTE_MODES.get(int(nvml.nvmlDeviceGetComputeMode(h)), "unknown"), "compute_mode"
    )
    mig = read(lambda: nvml.nvmlDeviceGetMigMode(h), "mig_enabled")
    f["mig_enabled"] = mig if isinstance(mig, Unavailable) else bool(mig[0])
    f["mig_uuids"] = read(lambda: _mig_uuids(nvml, h), "mig_uuids") if f["mig_enabled"] is True else ()
    processes = read.first(
        "processes",
        [
            (name, lambda name=name: _fn(nvml, name)(h))
            for name in ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2")
        ]
        + [("nvmlDeviceGetComputeRunningProcesses", lambda: _processes_v1(nvml, h))],
    )
    f["processes"] = processes if isinstance(processes, Unavailable) else _processes(processes)
    return GPUFacts(index=index, **f)


def _cuda_version(nvml: Any, name: str) -> str:
    value = int(_fn(nvml, name)())
    return f"{value // 1000}.{value % 1000 // 10}"


Emit = Callable[[dict[str, Any]], None]


def collect(
    nvml: Any, field_timeout: float = FIELD_TIMEOUT, init_timeout: float = timeouts.NVML_INIT, emit: Emit | None = None
) -> Maybe[NvmlFacts]:
    """Read every NVML fact through ``nvml`` (the pynvml module, or a fake of it).

    ``emit`` sees the system facts and then each GPU as soon as they are read.
    """
    init_reader = Reader(nvml, init_timeout)
    started = init_reader(nvml.nvmlInit, "nvmlInit")
    if isinstance(started, Unavailable):
        return Unavailable("NVML", f"nvmlInit failed: {started.reason}", started.code)
    read = Reader(nvml, field_timeout)
    try:
        driver = read(lambda: _text(nvml.nvmlSystemGetDriverVersion()), "driver_version")
        cuda = read.first(
            "cuda_driver_version",
            [
                (name, lambda name=name: _cuda_version(nvml, name))  # type: ignore[misc]
                for name in ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion")
            ],
        )
        version = read(lambda: _text(nvml.nvmlSystemGetNVMLVersion()), "nvml_version")
        count = read(lambda: int(nvml.nvmlDeviceGetCount()), "gpu_count")
        if emit is not None:
            emit({"nvml_system": serde.to_jsonable(NvmlFacts(driver, cuda, version, (), count))})
        gpus = _read_gpus(nvml, count if isinstance(count, int) else 0, field_timeout, emit)
        return NvmlFacts(driver, cuda, version, gpus, count)
    finally:
        Reader(nvml, field_timeout)(nvml.nvmlShutdown, "nvmlShutdown")


def _read_gpus(nvml: Any, count: int, timeout: float, emit: Emit | None) -> tuple[GPUFacts, ...]:
    """All GPUs at once, each in its own thread: a hung GPU costs its own time only."""
    results: dict[int, GPUFacts] = {}

    def one(index: int) -> None:
        gpu = read_gpu(nvml, index, timeout)
        results[index] = gpu
        if emit is not None:
            emit({"nvml_gpu": serde.to_jsonable(gpu)})

    threads = [threading.Thread(target=one, args=(i,), daemon=True, name=f"nvml-gpu-{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()  # each call inside has its own timeout, so this ends
    return tuple(results[i] for i in range(count))


def load_bindings() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        return Unavailable("NVML", f"the NVML bindings (nvidia-ml-py) cannot be imported: {exc}", "NoBindings")
    except Exception as exc:  # a broken bindings module
        return Unavailable("NVML", f"importing the NVML bindings failed: {type(exc).__name__}: {exc}", "NoBindings")
    return pynvml


def probe_nvml_here(
    field_timeout: float = FIELD_TIMEOUT, init_timeout: float = timeouts.NVML_INIT, emit: Emit | None = None
) -> Any:
    nvml = load_bindings()
    if isinstance(nvml, Unavailable):
        return nvml
    return collect(nvml, field_timeout, init_timeout, emit)


def main(field_timeout: float = FIELD_TIMEOUT, init_timeout: float = timeouts.NVML_INIT) -> None:
    """Child entry point: the NVML facts as protocol lines, each part as soon as it is read."""
    from torchdoctor.children import _channel_child

    _channel_child.open_channel()
    lock = threading.Lock()

    def emit(message: dict[str, Any]) -> None:
        with lock:
            _channel_child.emit(message)

    try:
        facts: Any = probe_nvml_here(field_timeout, init_timeout, emit)
    except Exception as exc:  # the doctor must not die: report what broke
        facts = Unavailable("NVML", f"{type(exc).__name__}: {exc}", "crash")
    emit({"nvml": serde.to_jsonable(facts)})
    # A thread may still be stuck inside the driver: leave without waiting for it.
    os._exit(0)


PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
"""The folder holding the torchdoctor package (os.path: the child need not import pathlib for it)."""
CHILD_CODE = (
    "import sys, os; cwd = os.path.abspath(os.curdir) if os.path.isdir(os.curdir) else ''; "
    "sys.path[:] = [p for p in sys.path if p not in ('', cwd)] + [{parent!r}]; "
    "from torchdoctor.probes.nvml import main; main({field!r}, {init!r})"
)


def probe_nvml(timeout: float, field_timeout: float = FIELD_TIMEOUT) -> Maybe[NvmlFacts]:
    """NVML's facts from a child process that may take at most ``timeout`` seconds."""
    field_timeout = min(field_timeout, timeout / 2)
    init_timeout = max(timeout / 2, timeout - 1)  # a second to report a hung nvmlInit before the child is killed
    code = CHILD_CODE.format(parent=PACKAGE_PARENT, field=field_timeout, init=init_timeout)
    started = time.monotonic()
    from torchdoctor.probes.subproc import run_child

    result = run_child([sys.executable, "-c", code], timeout, env=dict(os.environ))
    return interpret(result, timeout, time.monotonic() - started)


def interpret(result: ChildResult, timeout: float, waited: float) -> Maybe[NvmlFacts]:
    message = result.first("nvml")
    if message is not None:
        try:
            return serde.from_jsonable(Union[NvmlFacts, Unavailable], message["nvml"])  # noqa: UP007
        except serde.SnapshotError as exc:
            return Unavailable("NVML", f"unexpected output from the NVML child: {exc}", "protocol")
    if result.malformed:
        why = Unavailable("NVML", f"the NVML child's answer could not be read: {result.malformed[0]}", "protocol")
    elif result.timed_out:
        why = Unavailable("NVML", f"NVML did not answer within {timeout:g} s (a hung GPU or driver)", "timeout")
    elif result.signal_name:
        why = Unavailable("NVML", f"the NVML child was killed by {result.signal_name} after {waited:.1f} s", "crash")
    elif result.own_limit:
        why = Unavailable("NVML", f"the doctor could not run its NVML child: {result.start_error}", limits.LIMIT)
    else:
        detail = result.start_error or result.stderr_tail(3) or f"exit status {result.returncode}"
        why = Unavailable("NVML", f"the NVML child failed: {detail}", "crash")
    return _partial(result, why)


def _partial(result: ChildResult, why: Unavailable) -> Maybe[NvmlFacts]:
    """What the child reported before it hung or died; the GPUs it did not reach are unavailable."""
    system_message = result.first("nvml_system")
    if system_message is None:
        return why
    try:
        system = serde.from_jsonable(NvmlFacts, system_message["nvml_system"])
        read = {}
        for message in result.messages:
            if "nvml_gpu" in message:
                gpu = serde.from_jsonable(GPUFacts, message["nvml_gpu"])
                read[gpu.index] = gpu
    except serde.SnapshotError as exc:
        return Unavailable("NVML", f"unexpected output from the NVML child: {exc}", "protocol")
    count = system.gpu_count if isinstance(system.gpu_count, int) else len(read)
    lost = Unavailable("NVML", f"not read: {why.reason}", why.code)
    others = len(dataclasses.fields(GPUFacts)) - 1
    gpus = tuple(read.get(i) or GPUFacts(i, *([lost] * others)) for i in range(count))
    return dataclasses.replace(system, gpus=gpus)


# --------------------------------------------------------------------------- sampling under load


def sample_main(seconds: float, interval: float = 0.25, stop: str = "", field_timeout: float = FIELD_TIMEOUT) -> None:
    """Child entry point for `bench`: every GPU's clocks, power, temperature and clock-event reasons, with
    the wall-clock time, one message per GPU every ``interval`` seconds, for at most ``seconds`` or until
    the file ``stop`` exists."""
    from torchdoctor.children import _channel_child

    _channel_child.open_channel()
    nvml = load_bindings()
    if isinstance(nvml, Unavailable) or isinstance(Reader(nvml, 10.0)(nvml.nvmlInit, "nvmlInit"), Unavailable):
        os._exit(0)
    read = Reader(nvml, field_timeout)
    count = read(lambda: int(nvml.nvmlDeviceGetCount()), "gpu_count")
    handles: dict[int, Any] = {}
    for i in range(count if isinstance(count, int) else 0):
        handle = read(lambda i=i: nvml.nvmlDeviceGetHandleByIndex(i), "handle")  # type: ignore[misc]
        if not isinstance(handle, Unavailable):
            handles[i] = handle

    def once(h: Any) -> dict[str, Any]:
        return {
            "bus": read(lambda: _text(nvml.nvmlDeviceGetPciInfo(h).busId), "pci_bus_id"),
            "sm_max": read(lambda: int(nvml.nvmlDeviceGetMaxClockInfo(h, 1)), "sm_clock_max_mhz"),
            "limit": read(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0, "power_limit_w"),
        }

    def now(i: int, h: Any) -> dict[str, Any]:
        reasons = read.first(
            "throttle_reasons",
            [
                (name, lambda name=name: _clock_reasons(nvml, h, name))  # type: ignore[misc]
                for name in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
            ],
        )
        return {
            "index": i,
            "sm": read(lambda: int(nvml.nvmlDeviceGetClockInfo(h, 1)), "sm_clock_mhz"),
            "power": read(lambda: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0, "power_draw_w"),
            "temp": read(lambda: int(nvml.nvmlDeviceGetTemperature(h, 0)), "temperature_c"),
            "reasons": reasons,
        }

    fixed = {i: once(h) for i, h in handles.items()}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not read.hung and not (stop and os.path.exists(stop)):
        for i, h in handles.items():
            sample = {**now(i, h), **fixed[i], "t": time.time()}
            plain = {k: (v if not isinstance(v, Unavailable) else None) for k, v in sample.items()}
            _channel_child.emit({"nvml_sample": plain})
        time.sleep(interval)
    os._exit(0)


SAMPLER_CODE = (
    "import sys, os; cwd = os.path.abspath(os.curdir) if os.path.isdir(os.curdir) else ''; "
    "sys.path[:] = [p for p in sys.path if p not in ('', cwd)] + [{parent!r}]; "
    "from torchdoctor.probes.nvml import sample_main; sample_main({seconds!r}, {interval!r}, {stop!r})"
)


def sample_under_load(seconds: float, stop: str, interval: float = 0.25) -> ChildResult:
    """Run the sampler child for at most ``seconds``, or until the file ``stop`` appears."""
    code = SAMPLER_CODE.format(parent=PACKAGE_PARENT, seconds=seconds, interval=interval, stop=stop)
    from torchdoctor.probes.subproc import run_child

    return run_child([sys.executable, "-c", code], seconds + 15, env=dict(os.environ))
