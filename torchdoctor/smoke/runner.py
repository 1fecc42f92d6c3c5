"""Run the smoke tests: CPU inside the torch facts child, every other device in a child of its own.

Every device at once, each in its own child with its own timeout; a crash, hang or CUDA error in
one device does not stop the others. The temp directory the children write to is made and removed here, so it is
removed even when a child is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass

from torchdoctor import serde
from torchdoctor.children import SMOKE_CHILD
from torchdoctor.model import DeviceSmoke, SmokeStep, StepStatus, TorchRuntime, TorchState
from torchdoctor.probes.subproc import ChildResult, OnMessage, run_child, track_dir, untrack_dir, working_dir
from torchdoctor.probes.torch import child_env, probe_torch
from torchdoctor.rules import timeouts
from torchdoctor.rules.devices import DeviceError, Kind, normalize, parse_device, pick


@dataclass(frozen=True)
class SmokeOptions:
    device: str = "all"
    """A name in rules/devices.py's grammar: cpu, cuda, cuda:N, mps, xpu, rocm or all (every device torch can use)."""
    timeout: float = timeouts.SMOKE_PER_DEVICE
    """Seconds per device."""


def select(selection: str, torch: TorchState) -> tuple[list[str], list[DeviceSmoke]]:
    """The devices to test, and the ones asked for that torch cannot use (as failed entries)."""
    chosen, label = pick(selection, torch)
    if chosen:
        return chosen, []
    why = "torch did not import" if not isinstance(torch, TorchRuntime) else why_absent(selection, torch)
    return [], [DeviceSmoke(label, "", (), died=f"not available: {why}")]


def why_absent(selection: str, torch: TorchRuntime) -> str:
    try:
        device = parse_device(selection)
    except DeviceError as exc:
        return str(exc)
    if device.kind is Kind.CUDA:
        if not torch.cuda:
            return f"torch {torch.version} is not a CUDA build"
        if not torch.cuda_available:
            return "torch.cuda.is_available() is False"
        return f"torch sees {torch.device_count} CUDA device(s)"
    if device.kind is Kind.ROCM:
        if not torch.hip:
            return f"torch {torch.version} is not a ROCm build"
        if not torch.cuda_available:
            return "torch.cuda.is_available() is False"
        return f"torch sees {torch.device_count} ROCm device(s)"
    if device.kind is Kind.MPS:
        return "torch.backends.mps.is_available() is False"
    if device.kind is Kind.XPU:
        if torch.xpu_available:
            return "torchdoctor does not test XPU devices yet (torch.xpu.is_available() is True)"
        return "torch.xpu.is_available() is False"
    return "nothing is missing: torch can always use the CPU"


def collect(result: ChildResult, device: str, timeout: float) -> DeviceSmoke:
    """The steps one child reported for ``device``, and how it died if it did not finish."""
    steps: list[SmokeStep] = []
    name = ""
    started: str | None = None
    done = False
    for message in result.messages:
        if "smoke_device" in message and message["smoke_device"].get("device") == device:
            name = str(message["smoke_device"].get("name", ""))
        elif "smoke_start" in message and message["smoke_start"].get("device") == device:
            started = str(message["smoke_start"].get("step"))
        elif "smoke" in message and message["smoke"].get("device") == device:
            data = dict(message["smoke"])
            data.pop("device", None)
            data["name"] = str(data.pop("step", ""))
            try:
                steps.append(serde.from_jsonable(SmokeStep, data))
            except serde.SnapshotError:
                continue
            started = None
        elif "smoke_done" in message and message["smoke_done"].get("device") == device:
            done = True
    died = ""
    if not done:
        where = f" during {started}" if started else ""
        if result.timed_out:
            died = f"timeout ({timeout:g} s){where}"
        elif result.signal_name:
            died = f"{result.signal_name}{where}"
        elif result.start_error:
            died = f"could not start: {result.start_error}"
        else:
            tail = result.stderr_tail(3).replace("\n", " | ")
            died = f"exited with status {result.returncode}{where}" + (f": {tail}" if tail else "")
        if started:
            steps.append(
                SmokeStep(
                    started, StepStatus.FAILED, round(result.seconds, 3), error=died, detail=result.stderr_tail(6)
                )
            )
    return DeviceSmoke(device, name, tuple(steps), died, round(result.seconds, 3))


class SmokeSession:
    """One temp directory and the device runs that share it."""

    def __init__(self, python: str, options: SmokeOptions, on_message: OnMessage | None = None) -> None:
        self.python = python
        self.options = options
        self.on_message = on_message
        self.tmp = tempfile.mkdtemp(prefix="torchdoctor-smoke-")
        track_dir(self.tmp)  # removed on Ctrl-C too
        self.cpu: DeviceSmoke | None = None

    def __enter__(self) -> SmokeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):  # under umask 0777 it was made mode 000: rmtree could not enter it
            os.chmod(self.tmp, 0o700)
        shutil.rmtree(self.tmp, ignore_errors=True)
        untrack_dir(self.tmp)

    @property
    def wants_cpu(self) -> bool:
        return normalize(self.options.device) in ("all", "cpu")

    def torch_with_cpu_smoke(self, timeout: float) -> TorchState:
        """The torch facts child, running the CPU smoke tests after reporting its facts."""
        smoke_args = ("--tmp", self._dir("cpu")) if self.wants_cpu else None
        state, result = probe_torch(self.python, timeout, smoke_args, self.options.timeout, self.on_message)
        if self.wants_cpu and isinstance(state, TorchRuntime):
            self.cpu = collect(result, "cpu", self.options.timeout)
        return state

    def other_devices(self, torch: TorchState) -> list[DeviceSmoke]:
        """Every device but the CPU, each in a child of its own, all at once: 8 GPUs cost about what one does."""
        chosen, unavailable = select(self.options.device, torch)
        devices = [d for d in chosen if d != "cpu"]
        results: dict[str, DeviceSmoke] = {}

        def one(device: str) -> None:
            argv = [self.python, str(SMOKE_CHILD), "--device", device, "--tmp", self._dir(device)]
            timeout = self.options.timeout
            result = run_child(argv, timeout, env=child_env(), cwd=working_dir(), on_message=self.on_message)
            results[device] = collect(result, device, timeout)

        threads = [threading.Thread(target=one, args=(d,), daemon=True, name=f"smoke-{d}") for d in devices]
        for t in threads:
            t.start()
        for t in threads:
            t.join()  # each child has its own timeout
        return [results[d] for d in devices if d in results] + unavailable

    def _dir(self, device: str) -> str:
        path = os.path.join(self.tmp, device.replace(":", "_"))
        os.makedirs(path, exist_ok=True)
        return path
