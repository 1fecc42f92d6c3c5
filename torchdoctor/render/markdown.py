"""Markdown ready to paste into a GitHub issue: verdict, findings with fixes, key facts, all facts folded."""

from __future__ import annotations

import re

from torchdoctor import serde
from torchdoctor.model import Report, Severity
from torchdoctor.redact import LEFT_OUT, pasteable
from torchdoctor.render.summary import key_facts, verdict
from torchdoctor.reportfile import json_text

ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def cell(text: str) -> str:
    """Text for a Markdown line or table cell: HTML in it is shown, not rendered (a GPU name can hold a tag)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


def fence(text: str, at_least: int = 3) -> str:
    """Backticks enough to open a code span or block around ``text`` that no backtick inside it closes."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    return "`" * max(at_least, longest + 1)


def code(text: str) -> str:
    """An inline code span around ``text`` (in a table cell: pipes escaped, as GitHub wants them there)."""
    text = text.replace("\n", " ").replace("|", "\\|")
    ticks = fence(text, 1)
    return f"{ticks} {text} {ticks}" if text.startswith("`") or text.endswith("`") else f"{ticks}{text}{ticks}"


def render(report: Report) -> str:
    lines = [f"### torchdoctor {report.tool.version}: {verdict(report)}", ""]
    findings = sorted(report.findings, key=lambda f: -f.severity.rank)
    if findings:
        lines.append("#### Findings")
        lines.append("")
        for f in findings:
            lines.append(f"- {ICONS[f.severity]} **{cell(f.title)}** (`{f.code} {f.slug}`, {f.severity.value})")
            for e in f.evidence:
                lines.append(f"  - saw {cell(e.label)}: {code(e.value)} _({e.source.value})_")
            lines.append(f"  - why: {cell(f.why)}")
            fix = f.fix[: -len(f.fix_command)].rstrip() if f.fix_command and f.fix.endswith(f.fix_command) else f.fix
            lines.append(f"  - fix: {cell(fix.strip())}")
            if f.fix_command and pasteable(f.fix_command):
                ticks = fence(f.fix_command)
                lines += ["", f"    {ticks}bash", f"    {f.fix_command}", f"    {ticks}"]
            elif f.fix_command:
                lines.append(f"  - ({LEFT_OUT})")
        lines.append("")
    lines += ["#### Key facts", "", "| | |", "| --- | --- |"]
    lines += [f"| {cell(k)} | {cell(v)} |" for k, v in key_facts(report)]
    facts_json = json_text(serde.to_jsonable(report.facts)).rstrip("\n")
    ticks = fence(facts_json)
    lines += ["", "<details><summary>All facts</summary>", "", f"{ticks}json", facts_json, ticks, "", "</details>", ""]
    return "\n".join(lines)
