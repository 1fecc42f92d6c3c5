"""The fleet's answer in every format: terminal, JSON, Markdown, HTML, JUnit and GitHub annotations.

Each renderer reads the ``Fleet`` it is given; for the shared formats (unless ``--no-redact``) that is
``Fleet.shared()``, whose host names are already pseudonyms, so no renderer has to hide anything itself.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape as html_escape
from typing import Any

from rich.markup import escape

from torchdoctor.fleet import SLOW, Fleet, NodeFinding, Slow
from torchdoctor.model import Severity
from torchdoctor.render.console import hanging, string_console
from torchdoctor.render.github import escape_data, escape_property
from torchdoctor.render.html import CSS, command_html
from torchdoctor.render.markdown import ICONS, cell
from torchdoctor.render.terminal import mark
from torchdoctor.reportfile import header, json_text
from torchdoctor.words import plural, some_of

NAMED = 8
"""How many node names a line lists before it says "and N more"."""
FIXES = 3
"""How many distinct fix commands a finding shows (nodes built from one image share one)."""


def _unreadable(where: str, reason: str) -> str:
    return reason if where in reason else f"{where}: {reason}"


def _who(members: list[str]) -> str:
    """ "gpu-10", or "3 nodes (gpu-10, gpu-11, gpu-12)": who a line is about."""
    return members[0] if len(members) == 1 else f"{plural(len(members), 'node')} ({some_of(members, NAMED)})"


def _slow(x: Slow) -> str:
    return f"{x.node}: {x.what} {x.value:g} {x.unit} (fleet median {x.median:g})"


def render_fleet(fleet: Fleet, color: bool = False, width: int = 100) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    head, _, rest = fleet.verdict().partition(": ")
    console.print(f"[bold]{escape(head)}[/]: {escape(rest)}")
    classes = fleet.classes()
    if classes:
        console.print(f"[bold]Configurations[/] ({len(classes)})")
        for config, members in classes:
            hanging(console, "  • ", escape(f"{plural(len(members), 'node')}: {config}"))
    outliers = fleet.outlier_groups()
    console.print("[bold]Outliers[/]" + ("" if outliers else ": none"))
    for o, members in outliers:
        hanging(console, "  • ", escape(f"{_who(members)}: {o.value} (the majority: {o.majority})"))
    slow = fleet.slow()
    if slow:
        console.print(f"[bold]Slower than the fleet[/] (below {SLOW:.0%} of the median for the same GPU)")
        for x in slow:
            hanging(console, "  • ", escape(_slow(x)))
    findings = fleet.findings()
    console.print("[bold]Findings across the fleet[/]" + ("" if findings else ": none"))
    for f, members in findings:
        hanging(
            console,
            f"  {mark(f.severity, True)} ",
            escape(f"{f.title} on {plural(len(members), 'node')} ({some_of(members, NAMED)})")
            + f"  [dim]{f.code} {f.slug}[/]",
        )
        fixes = fleet.fixes(f)
        for command, which in fixes[:FIXES]:
            if which != members:  # which nodes this command is for: another node's fix can break this one
                hanging(console, "      ", escape(f"fix on {_who(which)}:"))
            # A command is never broken: a pasted first line would run a different install.
            console.print(f"      [bold cyan]$ {escape(command)}[/]", soft_wrap=True)
        if len(fixes) > FIXES:
            console.print(f"      ... and {len(fixes) - FIXES} other fix commands: see each node's report")
    if fleet.requirements:
        console.print("[bold]Requirements[/]")
        for r in fleet.requirements:
            state = "ok" if r.met else "error"
            hanging(console, f"  {mark(state, True)} ", escape(f"{r.requirement} ({r.saw})"))
    if fleet.duplicates:
        console.print("[bold]Reported more than once[/] (the first report is counted)")
        for name, wheres in fleet.duplicates.items():
            hanging(console, "  • ", escape(f"{name}: {', '.join(wheres)}"))
    if fleet.unreadable:
        console.print("[bold]Could not read[/]")
        for u in fleet.unreadable:
            hanging(console, "  • ", escape(_unreadable(u.where, u.reason)))
    return buf.getvalue()


def fleet_dict(fleet: Fleet) -> dict[str, Any]:
    return {
        **header("fleet"),
        "verdict": fleet.verdict(),
        "nodes": len(fleet.nodes),
        "reports": fleet.reports,
        "classes": [{"configuration": c, "count": len(m), "nodes": m} for c, m in fleet.classes()],
        "outliers": [o.__dict__ for o in fleet.outliers()],
        "slow": [x.__dict__ for x in fleet.slow()],
        "findings": [
            {
                "code": f.code,
                "slug": f.slug,
                "severity": f.severity,
                "title": f.title,
                "count": len(m),
                "nodes": m,
                "fixes": [{"command": c, "nodes": len(which), "which": which} for c, which in fleet.fixes(f)],
            }
            for f, m in fleet.findings()
        ],
        "requirements": [r.__dict__ for r in fleet.requirements],
        "duplicates": fleet.duplicates,
        "unreadable": [u.__dict__ for u in fleet.unreadable],
        "node_configurations": {n.name: dict(n.config) for n in fleet.nodes},
    }


def fleet_json(fleet: Fleet) -> str:
    return json_text(fleet_dict(fleet))


def fleet_markdown(fleet: Fleet) -> str:
    lines = [f"### torchdoctor fleet: {cell(fleet.verdict())}", ""]
    lines += ["#### Configurations", "", "| nodes | configuration | which |", "| ---: | --- | --- |"]
    lines += [f"| {len(m)} | {cell(c)} | {cell(some_of(m, NAMED))} |" for c, m in fleet.classes()]
    outliers = fleet.outlier_groups()
    lines += ["", "#### Outliers", ""]
    if outliers:
        lines += ["| nodes | differs in | has | the majority |", "| --- | --- | --- | --- |"]
        lines += [f"| {cell(_who(m))} | {o.key} | {cell(o.value)} | {cell(o.majority)} |" for o, m in outliers]
    else:
        lines.append("None.")
    slow = fleet.slow()
    if slow:
        lines += ["", f"#### Slower than the fleet (below {SLOW:.0%} of the median for the same GPU)", ""]
        lines += [f"- {cell(_slow(x))}" for x in slow]
    lines += ["", "#### Findings across the fleet", ""]
    findings = fleet.findings()
    if findings:
        lines += ["| | finding | nodes | which |", "| --- | --- | ---: | --- |"]
        lines += [
            f"| {ICONS[Severity(f.severity)]} | {cell(f.title)} (`{f.code} {f.slug}`) | {len(m)} | "
            f"{cell(some_of(m, NAMED))} |"
            for f, m in findings
        ]
        for f, members in findings:
            fixes = fleet.fixes(f)
            if not fixes:
                continue
            lines += ["", f"Fix for {cell(f.title)} (`{f.code}`):"]
            for command, which in fixes[:FIXES]:
                lines += ([f"on {cell(_who(which))}:"] if which != members else []) + ["", "```bash", command, "```"]
    else:
        lines.append("None.")
    if fleet.requirements:
        lines += ["", "#### Requirements", ""]
        lines += [f"- {'✅' if r.met else '❌'} `{r.requirement}` ({cell(r.saw)})" for r in fleet.requirements]
    if fleet.duplicates:
        lines += ["", "#### Reported more than once (the first report is counted)", ""]
        lines += [f"- {cell(name)}: {cell(', '.join(w))}" for name, w in fleet.duplicates.items()]
    if fleet.unreadable:
        lines += ["", "#### Could not read", ""]
        lines += [f"- {cell(_unreadable(u.where, u.reason))}" for u in fleet.unreadable]
    return "\n".join(lines) + "\n"


def fleet_html(fleet: Fleet) -> str:
    e = html_escape
    state = "error" if fleet.broken() else ("warning" if fleet.warned() else "ok")

    def table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
        cells = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
        return "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + f"</tr>{cells}</table>"

    parts = [
        "<h2>Configurations</h2>",
        table(("nodes", "configuration", "which"), [(str(len(m)), c, some_of(m, NAMED)) for c, m in fleet.classes()]),
        "<h2>Outliers</h2>",
        table(
            ("nodes", "differs in", "has", "the majority"),
            [(_who(m), o.key, o.value, o.majority) for o, m in fleet.outlier_groups()],
        )
        if fleet.outliers()
        else "<p>None.</p>",
    ]
    if fleet.slow():
        parts += [f"<h2>Slower than the fleet (below {SLOW:.0%} of the median)</h2>"]
        parts += [table(("node", "figure"), [(x.node, _slow(x)) for x in fleet.slow()])]
    findings = fleet.findings()
    parts.append("<h2>Findings across the fleet</h2>")

    def commands(f: NodeFinding, members: list[str]) -> str:
        return "".join(
            (f"<div>fix on {e(_who(which))}:</div>" if which != members else "") + command_html(c)
            for c, which in fleet.fixes(f)[:FIXES]
        )

    parts += [
        f"<section class='finding {e(f.severity)}' data-code='{e(f.code)}'><h3><span class='badge {e(f.severity)}'>"
        f"{e(f.severity)}</span>{e(f.title)} <span class='code'>{e(f.code)} {e(f.slug)}</span></h3>"
        f"<div>on {plural(len(m), 'node')}: {e(', '.join(m))}</div>{commands(f, m)}</section>"
        for f, m in findings
    ] or ["<p>None.</p>"]
    if fleet.requirements:
        rows = [(r.requirement, "met" if r.met else "NOT MET", r.saw) for r in fleet.requirements]
        parts += ["<h2>Requirements</h2>", table(("requirement", "state", "saw"), rows)]
    if fleet.duplicates:
        twice = [(name, ", ".join(w)) for name, w in fleet.duplicates.items()]
        parts += ["<h2>Reported more than once</h2>", table(("node", "reports (the first is counted)"), twice)]
    if fleet.unreadable:
        parts += ["<h2>Could not read</h2>", table(("report", "why"), [(u.where, u.reason) for u in fleet.unreadable])]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>torchdoctor fleet: {e(fleet.verdict())}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>torchdoctor fleet</h1>
<div class="verdict {state}" id="verdict">{e(fleet.verdict())}</div>
{"".join(parts)}
<footer>Generated offline by torchdoctor; this file loads nothing from the network.</footer>
</main>
</body>
</html>
"""


def _finding_lines(findings: tuple[NodeFinding, ...]) -> str:
    return "\n".join(
        f"{f.title} ({f.code} {f.slug}, {f.severity})" + (f"\n  fix: {f.command}" if f.command else "")
        for f in findings
    )


def fleet_junit(fleet: Fleet) -> str:
    """A testcase per node (an error finding fails it), per fleet requirement, and per unreadable report."""
    root = ET.Element("testsuites", name="torchdoctor.fleet")
    suite = ET.SubElement(root, "testsuite", name="torchdoctor.fleet")
    outliers: dict[str, list[str]] = {}
    for o in fleet.outliers():
        outliers.setdefault(o.node, []).append(f"outlier: {o.value} (the majority: {o.majority})")
    for x in fleet.slow():
        outliers.setdefault(x.node, []).append("slow: " + _slow(x))
    failures = errors = 0
    for node in fleet.nodes:
        case = ET.SubElement(suite, "testcase", classname="torchdoctor.fleet.node", name=node.name, time="0")
        bad = [f for f in node.findings if f.severity == Severity.ERROR.value]
        if bad:
            failure = ET.SubElement(case, "failure", message=bad[0].title, type=bad[0].slug)
            failure.text = _finding_lines(node.findings)
            failures += 1
        notes = ([_finding_lines(node.findings)] if node.findings and not bad else []) + outliers.get(node.name, [])
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join([node.configuration, *notes])
    for r in fleet.requirements:
        case = ET.SubElement(suite, "testcase", classname="torchdoctor.fleet.require", name=r.requirement, time="0")
        if not r.met:
            ET.SubElement(case, "failure", message=f"{r.requirement} not met ({r.saw})", type="require")
            failures += 1
    for u in fleet.unreadable:
        case = ET.SubElement(suite, "testcase", classname="torchdoctor.fleet.report", name=u.where, time="0")
        ET.SubElement(case, "error", message=u.reason, type="unreadable")
        errors += 1
    tests = len(fleet.nodes) + len(fleet.requirements) + len(fleet.unreadable)
    for element in (root, suite):  # skipped= on the <testsuite> only: junit-10.xsd rejects it on <testsuites>
        for key, value in (("tests", tests), ("failures", failures), ("errors", errors)):
            element.set(key, str(value))
    suite.set("skipped", "0")
    suite.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


LEVEL = {Severity.ERROR.value: "error", Severity.WARNING.value: "warning", Severity.INFO.value: "notice"}
ANNOTATIONS = 10
"""GitHub shows about ten annotations of each level per step: at most this many of each, the rest in the job summary."""


def fleet_github(fleet: Fleet) -> str:
    """Workflow annotations, grouped: one per finding code (with its node count), per kind of outlier, one for
    slow nodes, one for unread reports, one per unmet requirement; at most ``ANNOTATIONS`` of each level, the
    last saying how many more the job summary has."""
    found: dict[str, list[tuple[str, str]]] = {"error": [], "warning": [], "notice": []}
    by_code: dict[str, list[tuple[NodeFinding, list[str]]]] = {}
    for f, m in fleet.findings():
        by_code.setdefault(f.code, []).append((f, m))
    order = {node.name: i for i, node in enumerate(fleet.nodes)}
    for same in by_code.values():
        first = same[0][0]
        nodes = sorted({name for _, m in same for name in m}, key=lambda name: order.get(name, 0))
        fixes: dict[str, set[str]] = {}
        for f, _ in same:
            for command, which in fleet.fixes(f):
                fixes.setdefault(command, set()).update(which)
        if len(fixes) == 1 and next(iter(fixes.values())) == set(nodes):
            fix = f"\nfix: {next(iter(fixes))}"
        else:  # one node's fix can break another: the job summary names the nodes of each
            fix = "\nthe fix differs between nodes: see the job summary" if fixes else ""
        also = f" (and {plural(len(same) - 1, 'similar finding')})" if len(same) > 1 else ""
        text = f"{first.title}{also} on {plural(len(nodes), 'node')}: {some_of(nodes, NAMED)}{fix}"
        found[LEVEL[first.severity]].append((f"{first.code} {first.slug}", text))
    by_key: dict[str, list[tuple[str, str]]] = {}
    for o, m in fleet.outlier_groups():
        by_key.setdefault(o.key, []).append((f"{_who(m)}: {o.value}", o.majority))
    for key, groups in by_key.items():
        said = "; ".join(text for text, _ in groups[:3]) + (f"; and {len(groups) - 3} more" if len(groups) > 3 else "")
        found["warning"].append((f"fleet outlier: {key}", f"{said} (the majority: {groups[0][1]})"))
    slow = fleet.slow()
    if slow:
        names = list(dict.fromkeys(x.node for x in slow))
        detail = "; ".join(_slow(x) for x in slow[:3]) + ("; ..." if len(slow) > 3 else "")
        found["warning"].append(("fleet slow nodes", f"{_who(names)} slower than the fleet: {detail}"))
    unmet = [r for r in fleet.requirements if not r.met]
    found["error"] += [("fleet requirement", f"{r.requirement} not met ({r.saw})") for r in unmet]
    if fleet.unreadable:
        unread = fleet.unreadable[0]
        more = f" (and {len(fleet.unreadable) - 1} more: see the job summary)" if len(fleet.unreadable) > 1 else ""
        title = f"{plural(len(fleet.unreadable), 'report')} could not be read"
        found["error"].append((title, _unreadable(unread.where, unread.reason) + more))
    lines = []
    for level, items in found.items():
        if len(items) > ANNOTATIONS:
            rest = len(items) - ANNOTATIONS + 1
            items = [*items[: ANNOTATIONS - 1], (f"{plural(rest, 'more ' + level)}", "see the job summary")]
        lines += [f"::{level} title={escape_property(title)}::{escape_data(text)}" for title, text in items]
    return "\n".join(lines) + ("\n" if lines else "")
