"""A fake of the NVML bindings (the ``pynvml`` module), driven by a scenario dict.

It implements the calls torchdoctor makes, with NVML's own error values, so the probe runs its
real code against machines we do not have: a healthy multi-GPU box, a missing library, a GPU
whose every query fails, fields that are "not supported".
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

NVML_ERROR_NOT_SUPPORTED = 3


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {
            3: "Not Supported",
            9: "Driver Not Loaded",
            12: "NVML Shared Library Not Found",
            18: "RM has detected an NVML/RM version mismatch.",
            999: "Unknown Error",
        }.get(self.value, "Error")


GPU_DEFAULTS: dict[str, Any] = {
    "name": "NVIDIA A100-SXM4-80GB",
    "cc": [8, 0],
    "memory": [85899345920, 536870912],
    "temperature": 33,
    "power": [61000, 400000],
    "clocks": {"sm": 210, "sm_max": 1410, "mem": 1593},
    "utilization": 0,
    "throttle": 1,
    "pcie": [1, 4, 16, 16],
    "ecc": [1, 1],
    "ecc_uncorrected": 0,
    "remap": [0, 0, 0, 0],
    "persistence": 1,
    "compute_mode": 0,
    "mig": [0, 0],
    "mig_uuids": [],
    "processes": [],
    "error": None,
    "not_supported": [],
}


class FakeNVML:
    NVMLError = NVMLError

    def __init__(self, scenario: dict[str, Any]) -> None:
        self.scenario = scenario
        self.gpus = [dict(GPU_DEFAULTS, index=i, **g) for i, g in enumerate(scenario.get("gpus", []))]
        self.initialised = False

    # -- system
    def nvmlInit(self) -> None:
        if self.scenario.get("init_error"):
            raise NVMLError(self.scenario["init_error"])
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.scenario.get("driver", "550.54.15")

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.scenario.get("cuda", 12040)

    def nvmlSystemGetNVMLVersion(self) -> str:
        return "12." + self.nvmlSystemGetDriverVersion()

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        return self.gpus[index]

    # -- per device
    def _field(self, h: dict[str, Any], name: str) -> Any:
        if h["error"]:
            raise NVMLError(h["error"])
        if name in h["not_supported"]:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return h[name]

    def nvmlDeviceGetName(self, h: dict[str, Any]) -> str:
        return self._field(h, "name")

    def nvmlDeviceGetUUID(self, h: dict[str, Any]) -> str:
        if h.get("mig_parent") is not None:
            return h["uuid"]
        self._field(h, "name")
        return f"GPU-0000000{h['index']}-1111-2222-3333-444444444444"

    def nvmlDeviceGetPciInfo(self, h: dict[str, Any]) -> SimpleNamespace:
        self._field(h, "name")
        return SimpleNamespace(busId=f"00000000:{h['index'] + 1:02X}:00.0".encode())

    def nvmlDeviceGetCudaComputeCapability(self, h: dict[str, Any]) -> tuple[int, int]:
        return tuple(self._field(h, "cc"))  # type: ignore[return-value]

    def nvmlDeviceGetMemoryInfo(self, h: dict[str, Any]) -> SimpleNamespace:
        total, used = self._field(h, "memory")
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetTemperature(self, h: dict[str, Any], sensor: int) -> int:
        return self._field(h, "temperature")

    def nvmlDeviceGetPowerUsage(self, h: dict[str, Any]) -> int:
        return self._field(h, "power")[0]

    def nvmlDeviceGetEnforcedPowerLimit(self, h: dict[str, Any]) -> int:
        return self._field(h, "power")[1]

    def nvmlDeviceGetClockInfo(self, h: dict[str, Any], kind: int) -> int:
        return self._field(h, "clocks")["sm" if kind == 1 else "mem"]

    def nvmlDeviceGetMaxClockInfo(self, h: dict[str, Any], kind: int) -> int:
        return self._field(h, "clocks")["sm_max"]

    def nvmlDeviceGetUtilizationRates(self, h: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(gpu=self._field(h, "utilization"), memory=0)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: dict[str, Any]) -> int:
        return self._field(h, "throttle")

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: dict[str, Any]) -> int:
        return self._field(h, "pcie")[0]

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: dict[str, Any]) -> int:
        return self._field(h, "pcie")[1]

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: dict[str, Any]) -> int:
        return self._field(h, "pcie")[2]

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: dict[str, Any]) -> int:
        return self._field(h, "pcie")[3]

    def nvmlDeviceGetEccMode(self, h: dict[str, Any]) -> tuple[int, int]:
        return tuple(self._field(h, "ecc"))  # type: ignore[return-value]

    def nvmlDeviceGetTotalEccErrors(self, h: dict[str, Any], kind: int, counter: int) -> int:
        return self._field(h, "ecc_uncorrected")

    def nvmlDeviceGetRemappedRows(self, h: dict[str, Any]) -> tuple[int, int, int, int]:
        return tuple(self._field(h, "remap"))  # type: ignore[return-value]

    def nvmlDeviceGetPersistenceMode(self, h: dict[str, Any]) -> int:
        return self._field(h, "persistence")

    def nvmlDeviceGetComputeMode(self, h: dict[str, Any]) -> int:
        return self._field(h, "compute_mode")

    def nvmlDeviceGetMigMode(self, h: dict[str, Any]) -> tuple[int, int]:
        return tuple(self._field(h, "mig"))  # type: ignore[return-value]

    def nvmlDeviceGetMaxMigDeviceCount(self, h: dict[str, Any]) -> int:
        return len(self._field(h, "mig_uuids"))

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: dict[str, Any], i: int) -> dict[str, Any]:
        return {"mig_parent": h["index"], "uuid": h["mig_uuids"][i]}

    def nvmlDeviceGetComputeRunningProcesses_v3(self, h: dict[str, Any]) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in self._field(h, "processes")]
