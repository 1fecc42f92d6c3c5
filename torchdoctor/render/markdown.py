"""Markdown ready to paste into a GitHub issue: verdict, findings with fixes, key facts, all facts folded."""

from __future__ import annotations

import json

from torchdoctor import serde
from torchdoctor.model import Report, Severity
from torchdoctor.redact import LEFT_OUT, pasteable
from torchdoctor.render.summary import key_facts, verdict

ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report) -> str:
    lines = [f"### torchdoctor {report.tool.version}: {verdict(report)}", ""]
    findings = sorted(report.findings, key=lambda f: -f.severity.rank)
    if findings:
        lines.append("#### Findings")
        lines.append("")
        for f in findings:
            lines.append(f"- {ICONS[f.severity]} **{f.title}** (`{f.code} {f.slug}`, {f.severity.value})")
            for e in f.evidence:
                lines.append(f"  - saw {e.label}: `{cell(e.value)}` _({e.source.value})_")
            lines.append(f"  - why: {f.why}")
            fix = f.fix[: -len(f.fix_command)].rstrip() if f.fix_command and f.fix.endswith(f.fix_command) else f.fix
            lines.append(f"  - fix: {fix.strip()}")
            if f.fix_command and pasteable(f.fix_command):
                lines += ["", "    ```bash", f"    {f.fix_command}", "    ```"]
            elif f.fix_command:
                lines.append(f"  - ({LEFT_OUT})")
        lines.append("")
    lines += ["#### Key facts", "", "| | |", "| --- | --- |"]
    lines += [f"| {cell(k)} | {cell(v)} |" for k, v in key_facts(report)]
    facts_json = json.dumps(serde.to_jsonable(report.facts), indent=2, ensure_ascii=False)
    lines += ["", "<details><summary>All facts</summary>", "", "```json", facts_json, "```", "", "</details>", ""]
    return "\n".join(lines)
