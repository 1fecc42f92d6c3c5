"""Datasheet peaks per GPU model (compat/gpu_peaks.toml) and the thresholds bench judges with."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchdoctor.compat import schema
from torchdoctor.compat.schema import DTYPES
from torchdoctor.compat.tables import data_dir
from torchdoctor.rules.gpus import identify


@dataclass(frozen=True)
class Peak:
    names: tuple[str, ...]
    tflops: dict[str, float]
    """Dense TFLOP/s per dtype (absent: no figure)."""
    mem_gbs: float
    source: str
    confidence: str
    unverified: tuple[str, ...]
    pci_device_ids: tuple[str, ...] = ()
    """The PCI vendor:device IDs of this model, where cited: a GPU with another ID is another SKU."""

    def note(self, figure: str) -> str:
        """ " (unverified)" for a figure no cited source confirms, else ""."""
        return " (unverified)" if figure in self.unverified or self.confidence == "M" else ""


@dataclass(frozen=True)
class Peaks:
    as_of: str
    gpus: tuple[Peak, ...]
    thresholds: dict[str, float]

    def find(self, gpu_name: str, pci_device_id: str = "") -> Peak | None:
        """The row for exactly this GPU, by its name and (where known) NVML's PCI device ID (rules/gpus.py:
        "H200 NVL" does not get the "H200"'s figures)."""
        entries = ((peak, peak.names, peak.pci_device_ids) for peak in self.gpus)
        found = identify(gpu_name, entries, pci_device_id=pci_device_id)
        return found[0] if found else None


def parse_peaks(raw: dict[str, Any], label: str = "") -> Peaks:
    """The peaks, once ``raw`` fits gpu_peaks.toml's schema (errors name ``label``, the row and the key)."""
    schema.check("gpu_peaks", raw, label)
    gpus = tuple(
        Peak(
            tuple(row["names"]),
            {d: float(row[d]) for d in DTYPES if d in row},
            float(row["mem_gbs"]),
            row["source"],
            row["confidence"],
            tuple(row.get("unverified", ())),
            tuple(row.get("pci_device_ids", ())),
        )
        for row in raw.get("gpu", [])
    )
    return Peaks(raw["as_of"], gpus, {k: float(v) for k, v in raw["thresholds"].items()})


def load_peaks_from(directory: Path) -> Peaks:
    """gpu_peaks.toml in ``directory`` (a copy of compat/), checked against the schema."""
    return parse_peaks(schema.read(directory, "gpu_peaks"), str(directory / "gpu_peaks.toml"))


@functools.cache
def load_peaks() -> Peaks:
    return load_peaks_from(data_dir())
