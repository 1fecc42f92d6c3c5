"""CUDA runtime error codes in torch's messages: the number CUDA returned, and what the CUDA documentation says it
means. The number is the runtime's own fact (``cudaError_t``); the words around it vary with torch's release.

    code("... Error 804: forward compatibility was attempted on non supported HW")  -> 804
    code("cuda runtime error (802) : system not yet initialized at .../THCGeneral.cpp:50")  -> 802
"""

from __future__ import annotations

import re

SYSTEM_NOT_READY = 802
"""cudaErrorSystemNotReady: the system is not ready to start CUDA work (on NVSwitch systems, the fabric manager)."""
SYSTEM_DRIVER_MISMATCH = 803
"""cudaErrorSystemDriverMismatch: the user-space CUDA driver (libcuda) is not the running kernel driver's version."""
COMPAT_NOT_SUPPORTED = 804
"""cudaErrorCompatNotSupportedOnDevice: CUDA forward compatibility (a libcuda newer than the kernel driver, such as a
container's cuda-compat package) on a GPU that does not support it."""

_CODE = re.compile(r"\b(?:Error|error=|cuda runtime error \()\s*(\d{3})\b", re.I)


def code(text: str) -> int | None:
    """The CUDA runtime error number a message of torch's names, if it names one."""
    found = _CODE.search(text or "")
    return int(found.group(1)) if found else None
