"""gather runs the probes at once and bounds them all; a torch child that also runs the CPU smoke
tests gets the smoke time on top of the import timeout."""

from __future__ import annotations

import sys
import time

from tests import factories as f
from torchdoctor.model import TorchRuntime, Unavailable
from torchdoctor.probes import ProbeOptions, gather


def slow_torch(seconds: float):  # type: ignore[no-untyped-def]
    def probe(options: ProbeOptions) -> TorchRuntime:
        time.sleep(seconds)
        return f.cpu_runtime()

    return probe


def test_a_probe_past_every_bound_is_reported_not_waited_for() -> None:
    started = time.monotonic()
    facts, timings = gather(
        ProbeOptions(python=sys.executable, timeout=0.1, fast_timeout=1.0, nvml_timeout=1.0, guard_seconds=0.1),
        slow_torch(4.0),
    )
    assert time.monotonic() - started < 3.5
    assert isinstance(facts.torch, Unavailable) and facts.torch.code == "timeout"
    assert "torch" not in {t.name for t in timings}


def test_the_smoke_time_extends_the_bound_of_the_torch_probe() -> None:
    facts, _ = gather(
        ProbeOptions(python=sys.executable, timeout=0.1, fast_timeout=1.0, nvml_timeout=1.0, guard_seconds=0.1),
        slow_torch(1.5),
        torch_extra_seconds=3.0,
    )
    assert isinstance(facts.torch, TorchRuntime)


def test_quick_leaves_out_the_loader_whose_facts_explain_an_import_it_does_not_attempt() -> None:
    from torchdoctor.model import Unavailable
    from torchdoctor.probes import ProbeOptions, gather

    quick, _ = gather(ProbeOptions(python=sys.executable, quick=True))
    assert isinstance(quick.loader, Unavailable) and quick.loader.code == "skipped"
    assert isinstance(quick.torch, Unavailable) and quick.torch.code == "skipped"
