"""Datasheet peaks per GPU model (compat/gpu_peaks.toml) and the thresholds bench judges with."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

from torchdoctor.compat.tables import CompatDataError, data_dir, normalize_gpu

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8")


@dataclass(frozen=True)
class Peak:
    names: tuple[str, ...]
    tflops: dict[str, float]
    """Dense TFLOP/s per dtype (absent: no figure)."""
    mem_gbs: float
    source: str
    confidence: str
    unverified: tuple[str, ...]

    def note(self, figure: str) -> str:
        """ " (unverified)" for a figure no cited source confirms, else ""."""
        return " (unverified)" if figure in self.unverified or self.confidence == "M" else ""


@dataclass(frozen=True)
class Peaks:
    as_of: str
    gpus: tuple[Peak, ...]
    thresholds: dict[str, float]

    def find(self, gpu_name: str) -> Peak | None:
        """The row whose longest name is contained in NVML's/torch's name for the GPU."""
        wanted = normalize_gpu(gpu_name)
        best: tuple[int, Peak] | None = None
        for peak in self.gpus:
            for name in peak.names:
                n = normalize_gpu(name)
                if n and (n == wanted or f" {n} " in f" {wanted} ") and (best is None or len(n) > best[0]):
                    best = (len(n), peak)
        return best[1] if best else None


@functools.cache
def load_peaks() -> Peaks:
    path = data_dir() / "gpu_peaks.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CompatDataError(f"{path}: {exc}") from exc
    gpus = tuple(
        Peak(
            tuple(row["names"]),
            {d: float(row[d]) for d in DTYPES if d in row},
            float(row["mem_gbs"]),
            str(row["source"]),
            str(row["confidence"]),
            tuple(row.get("unverified", ())),
        )
        for row in raw.get("gpu", [])
    )
    return Peaks(str(raw["as_of"]), gpus, {k: float(v) for k, v in raw["thresholds"].items()})
