"""The grammar of a device name, one for every command that takes one.

``cpu``, ``cuda`` (every CUDA device), ``cuda:N`` (one), ``mps`` (Apple's GPU), ``xpu`` (Intel's GPU),
``rocm`` (every GPU of a ROCm build, which torch names ``cuda:N``) and, where a command tests every
device, ``all``. Case and spaces do not matter (``CUDA: 1`` is ``cuda:1``). Whether a device is
present is a separate question, answered by the command from torch's facts.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the grammar is read by the command line's help before any fact exists
    from torchdoctor.model import TorchState


class Kind(enum.Enum):
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"
    XPU = "xpu"
    ROCM = "rocm"
    ALL = "all"


_GRAMMAR = re.compile(r"(cpu|cuda|mps|xpu|rocm|all)|cuda:([0-9]+)")


def choices(allow_all: bool = True, extra: str = "") -> str:
    """The names a user may give, as a sentence's end: "cpu, cuda, cuda:N, mps, xpu, rocm or all"."""
    names = (
        ["cpu", "cuda", "cuda:N", "mps", "xpu", "rocm"] + ([extra] if extra else []) + (["all"] if allow_all else [])
    )
    return ", ".join(names[:-1]) + " or " + names[-1]


class DeviceError(ValueError):
    """A device name outside the grammar; the message names what is allowed."""


@dataclass(frozen=True)
class Device:
    """One parsed device name; ``str()`` gives it back in its one spelling (``cuda:1``)."""

    kind: Kind
    index: int | None = None
    """The N of ``cuda:N``; None for every other name."""

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.index is not None else self.kind.value

    @property
    def every_gpu(self) -> bool:
        """``cuda`` or ``rocm``: all of the GPUs torch names ``cuda:N``."""
        return self.kind in (Kind.CUDA, Kind.ROCM) and self.index is None


def normalize(text: str) -> str:
    """Lower case, no spaces: the form the grammar reads."""
    return "".join(text.split()).lower()


def parse_device(text: str, allow_all: bool = True) -> Device:
    """``text`` as a device, or :class:`DeviceError` naming the choices."""
    match = _GRAMMAR.fullmatch(normalize(text))
    if match is None or (match.group(1) == "all" and not allow_all):
        raise DeviceError(f"unknown device {normalize(text)!r} (use {choices(allow_all)})")
    if match.group(2) is not None:
        return Device(Kind.CUDA, int(match.group(2)))
    return Device(Kind(match.group(1)))


def present_devices(torch: TorchState) -> list[str]:
    """The devices torch can use here, by name: cpu always, each cuda:N (CUDA or ROCm), mps."""
    from torchdoctor.model import TorchRuntime

    devices = ["cpu"]
    if isinstance(torch, TorchRuntime):
        if torch.cuda_available:
            devices += [f"cuda:{i}" for i in range(torch.device_count)]
        if torch.mps_available:
            devices.append("mps")
    return devices


def pick(selection: str, torch: TorchState) -> tuple[list[str], str]:
    """The present devices that ``selection`` names, and ``selection`` in its one spelling.

    ``all``: every present device; ``cuda``: every cuda:N; ``rocm``: every cuda:N of a ROCm build;
    otherwise the one device if present. Nothing for a name outside the grammar.
    """
    present = present_devices(torch)
    try:
        device = parse_device(selection)
    except DeviceError:
        return [], normalize(selection)
    if device.kind is Kind.ALL:
        return present, str(device)
    from torchdoctor.model import TorchRuntime

    rocm_build = isinstance(torch, TorchRuntime) and bool(torch.hip)
    if device.every_gpu and (device.kind is Kind.CUDA or rocm_build):
        return [d for d in present if d.startswith("cuda:")], str(device)
    return ([str(device)] if str(device) in present else []), str(device)
