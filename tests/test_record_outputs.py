"""scripts/record_outputs.py's normalizer and comparison, on sample text (no CLI runs)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "record_outputs.py"
spec = importlib.util.spec_from_file_location("record_outputs", SCRIPT)
assert spec and spec.loader
record_outputs = importlib.util.module_from_spec(spec)
sys.modules["record_outputs"] = record_outputs
spec.loader.exec_module(record_outputs)
normalize = record_outputs.normalize

WORK = "/tmp/tdg-ab12cd34"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('  "created": "2026-12-02T14:34:32+00:00",', '  "created": "<time>",'),
        ('      "seconds": 1.0492,', '      "seconds": <s>,'),
        ('    "seconds": 10,', '    "seconds": <s>,'),
        ('  "pid": 12345,', '  "pid": <pid>,'),
        ('  "value": 0.0312,', '  "value": <x>,'),
        ('  "value": "2.13.0+cpu"', '  "value": "2.13.0+cpu"'),  # evidence text stays
        ("[✓] Smoke tests  cpu: 7 passed in 11.82 s", "[✓] Smoke tests  cpu: 7 passed in <dur> s"),
        ("matmul fp32  0.12 TFLOP/s", "matmul fp32  <n> <unit>"),
        ("copy 12.5 GB/s", "copy <n> <unit>"),
        ('<testcase name="x" time="1.049" />', '<testcase name="x" time="<s>" />'),
        ('<testcase name="x" time="0" />', '<testcase name="x" time="0" />'),
        ('<testsuite timestamp="2026-12-02T14:34:32+00:00">', '<testsuite timestamp="<time>">'),
        ("torchdoctor 0.1.0 · 2026-12-02 14:34 UTC · probed", "torchdoctor 0.1.0 · <time> · probed"),
        (f"{WORK}/venv/bin/python -m pip", "<WORK>/venv/bin/python -m pip"),
        (f"{WORK}/lib/c38f54abd11f", "<WORK>/lib/<hash>"),
        ("saved to /tmp/x/torchdoctor-crash-20261202-143432-4711.txt", "saved to /tmp/x/torchdoctor-crash-<id>"),
        ("rank 0 (local 0, pid 4242): cpu", "rank 0 (local 0, pid <pid>): cpu"),
        ("rendezvous localhost:29500", "rendezvous localhost:<port>"),
        # What does not vary stays: versions, GPU sizes, driver numbers, counts.
        ("driver 550.54.15 (supports CUDA 12.4), 2 GPUs", "driver 550.54.15 (supports CUDA 12.4), 2 GPUs"),
        ("NVIDIA A100-SXM4-80GB 80.0 GiB", "NVIDIA A100-SXM4-80GB 80.0 GiB"),
        ("Python 3.11.7 64-bit x86_64 (venv)", "Python 3.11.7 64-bit x86_64 (venv)"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw, WORK) == expected


def test_measured_arrays_and_alignment() -> None:
    doc = '{\n  "window": [\n    1.5,\n    2.5\n  ],\n  "copy_gbs": [\n    [\n      1.0\n    ]\n  ],\n  "n": 3\n}\n'
    assert normalize(doc, WORK, measuring=True) == '{\n  "window": [<x>],\n  "copy_gbs": [<x>],\n  "n": 3\n}\n'
    table = "│  4 MiB │ 0.0123 s │    12.34 │\n┏━━━━━━━┳━━━━┓\n"
    assert normalize(table, WORK, measuring=True) == "│ 4 MiB │ <dur> s │ <x> │\n┏━┳━┓\n"


def test_same_text_twice_is_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for side, body in (("a", "x\n"), ("b", "x\n")):
        (tmp_path / side / "cases").mkdir(parents=True)
        (tmp_path / side / "cases" / "one.txt").write_text(body)
    assert record_outputs.compare(tmp_path / "a", tmp_path / "b") == 0
    (tmp_path / "b" / "cases" / "one.txt").write_text("y\n")
    assert record_outputs.compare(tmp_path / "a", tmp_path / "b") == 1
    out = capsys.readouterr().out
    assert "-x\n+y\n" in out
    assert out.rstrip().endswith(
        "0 identical, 1 differing, 0 only in "
        + str(tmp_path / "a")
        + ", 0 only in "
        + str(tmp_path / "b")
        + " (1 vs 1 cases)"
    )


def test_html_escaped_json_keeps_its_quotes() -> None:
    raw = "&quot;seconds&quot;: 1.9411,\n&quot;created&quot;: &quot;2026-12-02T14:34:32+00:00&quot;,"
    assert normalize(raw, WORK) == "&quot;seconds&quot;: <s>,\n&quot;created&quot;: &quot;<time>&quot;,"


def test_right_aligned_durations_and_fact_rows() -> None:
    raw = "  [✓] model             0.03 s  2148 parameters\n│ smoke.devices[0].seconds   │ 7.255        │"
    assert normalize(raw, WORK) == "  [✓] model <dur> s  2148 parameters\n│ smoke.devices[0].seconds   │ <s> │"


def test_any_recordings_work_folder() -> None:
    assert normalize("home /tmp/tdg-ivv_2erz/cases/x/home", WORK) == "home <WORK>/cases/x/home"
