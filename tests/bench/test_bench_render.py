"""The bench report's words: what it says of a device follows from what was measured there."""

from __future__ import annotations

from tests.bench import factories as b
from torchdoctor.model import BenchFacts, BenchMetric
from torchdoctor.render.bench import device_summary, lines


def test_a_gpu_without_a_datasheet_row_is_said_to_be_measured_only_when_something_was_measured() -> None:
    """`bench --device cuda` with a CPU-only torch said "(no datasheet reference: measured only)" of a device
    where nothing could run."""
    measured = b.device(BenchMetric("matmul", "bf16", 100.0, "TFLOP/s"), name="NVIDIA Unlisted GPU")
    unusable = b.device(BenchMetric("matmul", "bf16", 0.0, "TFLOP/s", error="no"), name="", died="not available")
    said = "\n".join(lines(BenchFacts((measured, unusable), 15.0), unicode=True))
    assert said.count("measured only") == 1 and "no datasheet reference" in device_summary(measured)
    assert "no datasheet reference" not in device_summary(unusable)
    assert "no datasheet reference" not in device_summary(b.device())  # the H100 has its row
