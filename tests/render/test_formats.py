"""Every output format, rendered from the same reports: total, valid against its schema, faithful."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from tests import factories as f
from tests.render.junit_schemas import assert_valid_junit, schema
from torchdoctor.doctor import judge
from torchdoctor.model import Report, Unavailable
from torchdoctor.redact import Redactor
from torchdoctor.render import OutputFormat, RenderOptions, render
from torchdoctor.render.github import escape_data

HERE = Path(__file__).parent
pytest_plugins = ["pytester"]
SCHEMA = json.loads(files("torchdoctor.render").joinpath("report.schema.json").read_text())
NOBODY = Redactor(user="ada", home="/home/ada", host="gpu-node-7")

REPORTS: dict[str, Report] = {
    "healthy": judge(f.facts()),
    "cpu-build-on-gpu": judge(f.facts(torch=f.cpu_runtime())),
    "smoke-crash": judge(
        f.facts(
            smoke=f.smoke(
                f.device_smoke("cpu"), f.device_smoke("cuda:0", "GPU", f.step("tensors"), died="SIGSEGV during model")
            )
        )
    ),
    "no-gpu": judge(f.no_gpu()),
    "everything-broken": judge(
        f.facts(
            python=f.python(bits=32),
            host=f.host(shm_bytes=64 * 1024**2),
            nvml=f.nvml(f.gpu(remap_failed=True, pcie_width=4)),
            smoke=f.smoke_failure("cuda:0", "data", "Bus error"),
        )
    ),
}


def options() -> RenderOptions:
    return RenderOptions(redactor=NOBODY)


@pytest.mark.parametrize("fmt", list(OutputFormat))
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_format_renders_every_report(fmt: OutputFormat, name: str) -> None:
    out = render(REPORTS[name], fmt, options())
    assert isinstance(out, str)
    for finding in REPORTS[name].findings:
        if fmt in (OutputFormat.JSON, OutputFormat.MARKDOWN, OutputFormat.HTML, OutputFormat.GITHUB):
            assert finding.code in out, (fmt, finding.code)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_json_matches_the_shipped_schema(name: str) -> None:
    doc = json.loads(render(REPORTS[name], OutputFormat.JSON))
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_schema_rejects_a_document_that_is_not_a_report() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "tool": {"name": "x"}}, SCHEMA)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_junit_is_valid_against_jenkins_and_surefire_schemas(name: str) -> None:
    xml = render(REPORTS[name], OutputFormat.JUNIT)
    assert_valid_junit(xml)
    root = ET.fromstring(xml)
    report = REPORTS[name]
    checks = root.find("testsuite[@name='torchdoctor.checks']")
    assert checks is not None and int(checks.get("tests", "0")) == len(report.checks)
    errors = {f.code for f in report.findings if f.severity.value == "error"}
    failed = {c.get("name", "").split()[0] for c in checks.iter("testcase") if c.find("failure") is not None}
    assert failed == errors


def test_jenkins_schema_rejects_skipped_on_the_root_and_accepts_pytests_own_junit(pytester: pytest.Pytester) -> None:
    """The vendored junit-10.xsd is the strict one consumers use: it rejects `<testsuites skipped=>`
    (what we wrote before) and accepts what pytest itself writes."""
    xml = render(REPORTS["everything-broken"], OutputFormat.JUNIT)
    root = ET.fromstring(xml)
    assert "skipped" not in root.attrib
    root.set("skipped", "1")
    assert not schema("junit-10.xsd").is_valid(ET.tostring(root, encoding="unicode"))
    pytester.makepyfile(
        "import pytest\n"
        "def test_ok(): pass\n"
        "def test_fails(): assert False\n"
        "@pytest.mark.skip(reason='no GPU')\n"
        "def test_skipped(): pass\n"
    )
    pytester.runpytest("-p", "no:torchdoctor", "-p", "no:cacheprovider", "--junitxml=out.xml")
    own = (pytester.path / "out.xml").read_text()
    assert "<skipped" in own and "<failure" in own
    schema("junit-10.xsd").validate(own)


def test_junit_smoke_steps_are_testcases() -> None:
    root = ET.fromstring(render(REPORTS["smoke-crash"], OutputFormat.JUNIT))
    suite = root.find("testsuite[@name='torchdoctor.smoke.cuda:0']")
    assert suite is not None
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["tensors", "device"]
    assert suite.find("testcase[@name='device']/failure").get("message") == "SIGSEGV during model"  # type: ignore[union-attr]


def test_markdown_is_a_pasteable_issue_report() -> None:
    md = render(REPORTS["cpu-build-on-gpu"], OutputFormat.MARKDOWN, options())
    first = md.splitlines()[0]
    assert first.startswith("### torchdoctor") and "Broken: 1 error," in first
    assert "**a CPU-only torch on a machine with an NVIDIA GPU** (`TD003 torch-cpu-only-build`, error)" in md
    assert "```bash" in md and "--index-url https://download.pytorch.org/whl/cu" in md
    assert "| torch | 2.13.0+cpu (CPU-only) |" in md
    assert "<details><summary>All facts</summary>" in md and md.rstrip().endswith("</details>")


def test_html_is_self_contained() -> None:
    html = render(REPORTS["everything-broken"], OutputFormat.HTML, options())
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert "<details>" in html


def test_github_annotations_escape_newlines_and_percent() -> None:
    out = render(REPORTS["cpu-build-on-gpu"], OutputFormat.GITHUB)
    (line,) = out.splitlines()
    assert line.startswith("::error title=TD003 torch-cpu-only-build::")
    assert "\n" not in line.split("::", 2)[2]
    assert escape_data("50%\nok") == "50%25%0Aok"


def test_identity_is_hidden_only_in_shared_formats() -> None:
    facts = f.facts(nvml=f.nvml(f.gpu(uuid="GPU-12345678-abcd-ef01-2345-6789abcdef01")))
    report = judge(facts)
    for fmt in (OutputFormat.MARKDOWN, OutputFormat.HTML):
        out = render(report, fmt, options())
        assert "/home/ada" not in out and "GPU-12345678-abcd" not in out, fmt
        assert "~/venv/bin/python" in out
        kept = render(report, fmt, RenderOptions(redactor=NOBODY, redact_identity=False))
        assert "/home/ada/venv" in kept and "GPU-12345678-abcd" in kept
    assert "/home/ada/venv" in render(report, OutputFormat.JSON, options())


def test_counts_are_said_in_words_and_verbose_does_not_point_at_itself() -> None:
    from torchdoctor.render.terminal import summary_line
    from torchdoctor.words import counts

    report = judge(f.facts(torch=f.cpu_runtime(), smoke=Unavailable("smoke", "--no-smoke", "skipped")))
    assert counts(report.summary()).startswith("1 error, 0 warnings, 0 notes;")
    assert "(-v shows why)" in summary_line(report)
    assert "(-v shows why)" not in summary_line(report, verbose=True)
    assert str(report.facts.smoke) == "skipped (--no-smoke)"


def test_html_prose_has_no_literal_backticks_and_terminal_ascii_has_no_middle_dot() -> None:
    from torchdoctor.render.html import prose

    assert prose("Run `nvidia-smi -L` and <b>") == "Run <code>nvidia-smi -L</code> and &lt;b&gt;"
    html = render(judge(f.facts(torch=f.cpu_runtime())), OutputFormat.HTML, options())
    fix_divs = [line for line in html.splitlines() if "class='fix'" in line]
    assert fix_divs and not any("`" in line for line in fix_divs)
    plain = render(judge(f.facts()), OutputFormat.TERMINAL, RenderOptions(unicode=False))
    assert "·" not in plain and "[ok] Platform" in plain


def test_verbose_facts_of_eight_identical_gpus_show_only_what_differs() -> None:
    gpus = [f.gpu(i, name="NVIDIA H100 80GB HBM3", compute_capability="9.0") for i in range(8)]
    text = render(judge(f.facts(nvml=f.nvml(*gpus))), OutputFormat.TERMINAL, RenderOptions(verbose=True, width=140))
    assert "nvml.gpus[5]" in text and "as gpus[0] except:" in text
    assert "nvml.gpus[5].name" not in text and "nvml.gpus[5].uuid" in text
    assert "85899345920" not in text and "80.0 GiB" in text


def test_at_80_columns_wrapped_lines_keep_the_tree_indent_and_the_banner_prints_once() -> None:
    report = REPORTS["cpu-build-on-gpu"]
    text = render(report, OutputFormat.TERMINAL, RenderOptions(color=True, width=80, redactor=NOBODY))
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
    assert all(len(line) <= 80 for line in lines if not line.lstrip().startswith("$ "))
    (finding,) = [i for i, line in enumerate(lines) if "TD003" in line]
    block = list(itertools.takewhile(lambda line: line.startswith("        "), lines[finding + 1 :]))
    assert len(block) > 6, "the evidence and the fix wrapped into the block, each line indented"
    command = [line for line in block if line.lstrip().startswith("$ ")]
    assert len(command) == 1
    assert sum("torchdoctor" in line and report.tool.version in line for line in lines) == 1
