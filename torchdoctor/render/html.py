"""One self-contained HTML file: no external CSS, JS or fonts; readable offline and when printed."""

from __future__ import annotations

from html import escape

from torchdoctor import serde
from torchdoctor.model import Finding, Report, SmokeFacts, StepStatus
from torchdoctor.redact import LEFT_OUT, pasteable
from torchdoctor.render.summary import key_facts, verdict
from torchdoctor.reportfile import json_text
from torchdoctor.words import plural

CSS = """
:root { --err:#c62828; --warn:#b26a00; --info:#1565c0; --ok:#2e7d32; --muted:#5f6368; --bg:#fafafa; --card:#fff;
        --line:#e0e0e0; --code:#f3f3f3; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0;
       background: var(--bg); color: #202124; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); font-size: 13px; }
.verdict { margin: 16px 0; padding: 14px 16px; border-radius: 8px; font-weight: 600; color: #fff; }
.verdict.error { background: var(--err); } .verdict.warning { background: var(--warn); }
.verdict.ok { background: var(--ok); }
.counts span { display: inline-block; margin-right: 14px; }
.finding { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--info);
           border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.finding.error { border-left-color: var(--err); } .finding.warning { border-left-color: var(--warn); }
.finding h3 { margin: 0 0 6px; font-size: 16px; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; text-transform: uppercase; padding: 1px 8px;
         border-radius: 10px; color: #fff; margin-right: 8px; vertical-align: 1px; }
.badge.error { background: var(--err); } .badge.warning { background: var(--warn); }
.badge.info { background: var(--info); }
.code { color: var(--muted); font-size: 13px; font-weight: 400; }
ul.evidence { margin: 6px 0; padding-left: 20px; }
.src { color: var(--muted); font-size: 12px; }
.why { color: #3c4043; }
.fix { margin-top: 6px; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre.command::before { content: "$ "; color: var(--muted); user-select: none; -webkit-user-select: none; }
pre { background: var(--code); padding: 10px 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap;
      word-break: break-all; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
td, th { border: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: #f1f3f4; font-weight: 600; white-space: nowrap; }
table.facts th { width: 28%; white-space: normal; }
table.smoke td:last-child { width: 55%; }
.step.passed { color: var(--ok); } .step.failed { color: var(--err); font-weight: 600; }
.step.skipped { color: var(--muted); }
details { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""


def prose(text: str) -> str:
    """Escaped text whose `backticked` spans become <code> (no literal backticks on the page)."""
    parts = escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave the text as it is
        return escape(text)
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def command_html(command: str) -> str:
    """A command to copy: the ``$`` prompt is drawn by CSS (pre.command::before), so it is never in the selection."""
    return f"<pre class='command'>{escape(command)}</pre>"


def finding_html(f: Finding) -> str:
    sev = f.severity.value
    evidence = "".join(
        f"<li>{escape(e.label)}: <code>{escape(e.value)}</code> "
        f"<span class='src'>({escape(e.source.value)})</span></li>"
        for e in f.evidence
    )
    fix = f.fix[: -len(f.fix_command)].rstrip() if f.fix_command and f.fix.endswith(f.fix_command) else f.fix
    command = command_html(f.fix_command) if f.fix_command else ""
    if f.fix_command and not pasteable(f.fix_command):
        command = f"<div class='fix'>({escape(LEFT_OUT)})</div>"
    return (
        f"<section class='finding {sev}' data-code='{escape(f.code)}' data-slug='{escape(f.slug)}'>"
        f"<h3><span class='badge {sev}'>{sev}</span>{escape(f.title)} "
        f"<span class='code'>{escape(f.code)} {escape(f.slug)}</span></h3>"
        f"<ul class='evidence'>{evidence}</ul>"
        f"<div class='why'>{prose(f.why)}</div>"
        f"<div class='fix'><strong>Fix:</strong> {prose(fix.strip())}</div>{command}</section>"
    )


def smoke_html(report: Report) -> str:
    smoke = report.facts.smoke
    if not isinstance(smoke, SmokeFacts):
        return ""
    rows = []
    for device in smoke.devices:
        for step in device.steps:
            text = step.error if step.status == StepStatus.FAILED else step.detail
            rows.append(
                f"<tr><td>{escape(device.device)}</td><td>{escape(step.name)}</td>"
                f"<td class='step {step.status.value}'>{step.status.value}</td>"
                f"<td>{step.seconds * 1000:.0f} ms</td><td>{escape(text.splitlines()[0] if text else '')}</td></tr>"
            )
        if device.died:
            rows.append(
                f"<tr><td>{escape(device.device)}</td><td colspan='4' class='step failed'>"
                f"{escape(device.died)}</td></tr>"
            )
    head = "<tr><th>device</th><th>step</th><th>status</th><th>time</th><th>detail</th></tr>"
    return f"<h2>Smoke tests</h2><table class='smoke'>{head}{''.join(rows)}</table>"


def render(report: Report) -> str:
    c = report.summary()
    state = "error" if c["errors"] else ("warning" if c["warnings"] else "ok")
    findings = sorted(report.findings, key=lambda f: -f.severity.rank)
    facts_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in key_facts(report))
    facts_json = json_text(serde.to_jsonable(report.facts)).rstrip("\n")
    checks = "".join(
        f"<tr><td>{escape(o.code)}</td><td>{escape(o.slug)}</td><td>{escape(o.status.value)}</td>"
        f"<td>{escape(o.reason)}</td></tr>"
        for o in report.checks
    )
    body = "".join(finding_html(f) for f in findings) or "<p>No findings: every check passed or could not run.</p>"
    origin = "" if report.origin == "probed" else f" · facts from {escape(report.origin)}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>torchdoctor report: {escape(verdict(report))}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>torchdoctor report</h1>
<div class="meta">torchdoctor {escape(report.tool.version)} · {escape(report.created)}{origin}</div>
<div class="verdict {state}" id="verdict">{escape(verdict(report))}</div>
<div class="counts"><span>{plural(c["errors"], "error")}</span><span>{plural(c["warnings"], "warning")}</span>
<span>{plural(c["info"], "note")}</span><span>{plural(c["checks_passed"], "check")} passed</span>
<span>{c["checks_skipped"]} could not run</span></div>
<h2>Findings</h2>
<div id="findings">{body}</div>
<h2>Key facts</h2>
<table class="facts">{facts_rows}</table>
{smoke_html(report)}
<h2>Details</h2>
<details><summary>Every check ({len(report.checks)})</summary>
<table><tr><th>code</th><th>check</th><th>status</th><th>reason</th></tr>{checks}</table></details>
<details><summary>All facts (JSON)</summary><pre>{escape(facts_json)}</pre></details>
<footer>Generated offline by torchdoctor; this file loads nothing from the network.</footer>
</main>
</body>
</html>
"""
