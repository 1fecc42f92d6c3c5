"""Every GPU's smoke child runs at once: 3 devices whose child takes 1.5 s each cost ~1.5 s, not 4.5 s.

The children are real processes (a stand-in child script that takes a known time and reports on the
real channel), so what is measured is the runner's own scheduling.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import factories as f
from torchdoctor.smoke import runner
from torchdoctor.smoke.runner import SmokeOptions, SmokeSession

SLOW_CHILD = """
import os, sys, time
sys.path.insert(0, {probes!r})
import _channel_child
_channel_child.open_channel()
device = sys.argv[sys.argv.index("--device") + 1]
_channel_child.emit({{"smoke_device": {{"device": device, "name": "fake"}}}})
time.sleep(1.5)
_channel_child.emit({{"smoke_done": {{"device": device}}}})
"""


def test_gpu_smoke_children_run_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    child = tmp_path / "slow_child.py"
    child.write_text(SLOW_CHILD.format(probes=str(Path(runner.__file__).parents[1] / "children")))
    monkeypatch.setattr(runner, "SMOKE_CHILD", child)
    torch = f.runtime(device_count=3, cuda_available=True)
    import sys

    with SmokeSession(sys.executable, SmokeOptions(device="cuda", timeout=30)) as session:
        started = time.monotonic()
        devices = session.other_devices(torch)
        seconds = time.monotonic() - started
    assert [d.device for d in devices] == ["cuda:0", "cuda:1", "cuda:2"]
    assert all(not d.died for d in devices), devices
    assert seconds < 3.5, f"3 children of 1.5 s took {seconds:.1f} s: they ran one after another"
