"""What a machine says reaches every format as text to read, never as something that acts.

A GPU name from the real NVML bindings over the fake libnvidia-ml.so.1, a driver version and a host
name that carry a terminal clear (ESC[2J), a clipboard write (OSC 52), a hidden link (OSC 8), a BEL, a
newline that would forge a report line and an HTML tag: every format of `check` and `fleet` shows them
as visible escapes; JSON keeps them, escaped, and reads back the same. NaN and infinity are null in JSON.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.bench import factories as bf
from tests.conftest import REPORT_SCHEMA, Doctor
from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine
from tests.hostile.test_environments import no_traceback
from torchdoctor.model import BenchMetric
from torchdoctor.reportfile import report_to_dict
from torchdoctor.visible import visible

ESCAPES = "\x1b[2J\x1b]52;c;aGk=\x07\x1b]8;;http://e.x/\x1b\\"
TAG = "<img src=x onerror=alert(1)>"
GPU = f"NVIDIA A100 {ESCAPES}{TAG}"
DRIVER = "550.54.15\x1b[2J"
HOST = f"node7{ESCAPES}\nFORGED all checks passed {TAG}\x9b31m\u202e"
FORMATS = ("terminal", "markdown", "html", "junit", "github")
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def test_visible_shows_what_would_act() -> None:
    assert visible("a\x1b[2Jb\x07\x9b") == "a\\x1b[2Jb\\x07\\x9b"
    assert visible("one\ntwo") == "one\\ntwo"
    assert visible("one\r\ntwo\rthree", multiline=True) == "one\ntwo\\x0dthree"
    assert visible("\u202eevil\tok") == "\\u202eevil\tok"
    assert visible(visible(HOST)) == visible(HOST)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory, nvml_lib: FakeNvmlLibrary) -> Path:
    """A real `check` over the fake NVML with a hostile GPU name and driver, then a hostile host name."""
    where = tmp_path_factory.mktemp("hostile")
    doctor = Doctor(where)
    doctor.real_nvml(nvml_lib, Machine("R550", gpus=[{"name": GPU}], system={"driver": DRIVER}))
    doc, _ = doctor.json("--quick", "--no-smoke")
    names = [g.get("name") for g in doc["facts"]["nvml"].get("gpus", [])]
    assert names == [GPU], doc["facts"]["nvml"]  # the name came through the real bindings whole
    doc["facts"]["host"]["hostname"] = HOST
    path = where / "fleet" / "node7.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    return path


def outside_code(markdown: str) -> str:
    prose, fence = [], ""
    for line in markdown.splitlines():
        opener = re.match(r"\s*(`{3,})", line)
        if opener and (not fence or opener.group(1).startswith(fence)):
            fence = "" if fence else opener.group(1)
        elif not fence:
            prose.append(re.sub(r"(`+).*?\1", "", line))
    return "\n".join(prose)


def harmless(text: str, fmt: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text, fmt
    forged = [line for line in text.splitlines() if line.lstrip(" |-*#>:%").startswith("FORGED")]
    assert not forged, (fmt, forged)
    if fmt == "html":
        assert TAG not in text
    if fmt == "markdown":  # HTML is inert in code (spans and fenced blocks) and escaped everywhere else
        assert TAG not in outside_code(text), outside_code(text)
    if fmt == "junit":
        assert not XML_FORBIDDEN.search(text)
        ET.fromstring(text.encode())


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_shows_hostile_names_as_text(doctor: Doctor, hostile_report: Path, fmt: str) -> None:
    proc = doctor.run("check", "--from", str(hostile_report), "-f", fmt, "-v")
    no_traceback(proc)
    harmless(proc.stdout, fmt)
    if fmt in ("terminal", "junit", "github"):
        assert "\\x1b[2J" in proc.stdout, proc.stdout  # shown, not hidden: the reader sees what the machine said


def test_check_json_keeps_hostile_names_escaped_and_exact(doctor: Doctor, hostile_report: Path) -> None:
    proc = doctor.run("check", "--from", str(hostile_report), "-f", "json")
    no_traceback(proc)
    assert "\x1b" not in proc.stdout and "\x9b" not in proc.stdout and "\u202e" not in proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["facts"]["host"]["hostname"] == HOST
    assert doc["facts"]["nvml"]["gpus"][0]["name"] == GPU


@pytest.mark.parametrize("fmt", [*FORMATS, "json"])
def test_fleet_shows_hostile_names_as_text(doctor: Doctor, hostile_report: Path, fmt: str) -> None:
    proc = doctor.run("fleet", str(hostile_report.parent), "-f", fmt, "--no-redact")
    no_traceback(proc)
    if fmt == "json":
        assert "\x1b" not in proc.stdout and "\x9b" not in proc.stdout
        json.loads(proc.stdout)
    else:
        harmless(proc.stdout, fmt)


def nan_report(tmp_path: Path) -> Path:
    """A report whose bench measured an infinite bandwidth and whose timings hold NaN (as a broken clock gives)."""
    metrics = (BenchMetric("matmul", "bf16", math.inf, "TFLOP/s"), BenchMetric("memory", "", math.nan, "GB/s"))
    facts = bf.facts(bf.device(*metrics, seconds=math.nan))
    from torchdoctor.doctor import judge

    doc: dict[str, Any] = report_to_dict(replace(judge(facts), kind="bench"))
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(doc))  # Python's json writes NaN and Infinity, as older torchdoctors did
    assert "NaN" in path.read_text() and "Infinity" in path.read_text()
    return path


@pytest.mark.parametrize("command", ["check", "fleet"])
def test_nan_and_infinity_are_null_in_json(doctor: Doctor, tmp_path: Path, command: str) -> None:
    path = nan_report(tmp_path)
    args = ("check", "--from", str(path)) if command == "check" else ("fleet", str(path))
    proc = doctor.run(*args, "-f", "json")
    no_traceback(proc)
    doc = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    if command == "check":
        jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)
        metrics = doc["facts"]["bench"]["devices"][0]["metrics"]
        assert [m["value"] for m in metrics] == [None, None]
        again = tmp_path / "again.json"
        again.write_text(proc.stdout)
        proc = doctor.run("check", "--from", str(again), "-f", "json")  # our own output reads back
        no_traceback(proc)
        assert json.loads(proc.stdout)["facts"]["bench"]["devices"][0]["metrics"][0]["value"] is None


def test_a_fix_keeps_its_command_on_a_line_of_its_own_and_escapes_the_machines_newlines() -> None:
    """The one line break the doctor puts in a fix (before its command) stays in every format but JSON; a newline
    the machine put in a path inside the prose or the command is still shown as \\n."""
    from torchdoctor.checks import find
    from torchdoctor.checks.base import Fire
    from torchdoctor.model import Evidence, Source
    from torchdoctor.visible import sanitized

    check = find("TD001")
    assert check is not None
    plain = check.finding(Fire((Evidence(Source.PYTHON, "torch", "none"),), fix="Install torch.", command="pip x"))
    assert sanitized(plain).fix == "Install torch.\n  pip x"
    hostile = check.finding(Fire((), fix="Use /opt/a\nFORGED line.", command="/env\nFORGED/bin/python -m pip x"))
    assert sanitized(hostile).fix == "Use /opt/a\\nFORGED line.\n  /env\\nFORGED/bin/python -m pip x"


def test_no_format_shows_an_escaped_line_break_before_a_fixs_command() -> None:
    from tests import factories as f
    from torchdoctor.doctor import judge
    from torchdoctor.model import TorchNotInstalled
    from torchdoctor.render import OutputFormat, render

    report = judge(f.facts(torch=TorchNotInstalled("python", "no module named torch"), packages=f.packages()))
    fixes = [x for x in report.findings if x.fix_command]
    assert fixes, "no finding with a command: this test proves nothing"
    for fmt in (OutputFormat.TERMINAL, OutputFormat.MARKDOWN, OutputFormat.HTML, OutputFormat.JUNIT):
        text = render(report, fmt)
        assert "\\n" not in text, (fmt, text)
        assert fixes[0].fix_command in text
