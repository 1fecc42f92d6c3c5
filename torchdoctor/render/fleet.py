"""The fleet's answer for a person (terminal) and for a program (JSON)."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.markup import escape

from torchdoctor.fleet import SLOW, Fleet
from torchdoctor.render.console import hanging, string_console
from torchdoctor.render.terminal import mark
from torchdoctor.words import plural, some_of

NAMED = 8
"""How many node names a line lists before it says "and N more"."""


def render_fleet(fleet: Fleet, color: bool = False, width: int = 100) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    read = len(fleet.nodes) + len(fleet.unreadable)
    console.print(
        f"[bold]Fleet[/]: {plural(len(fleet.nodes), 'node')} from {plural(read, 'report')}"
        + (f" ({len(fleet.unreadable)} could not be read)" if fleet.unreadable else "")
    )
    classes = fleet.classes()
    if classes:
        console.print(f"[bold]Configurations[/] ({len(classes)})")
        for config, members in classes:
            hanging(console, "  • ", escape(f"{plural(len(members), 'node')}: {config}"))
    outliers = fleet.outliers()
    console.print("[bold]Outliers[/]" + ("" if outliers else ": none"))
    for o in outliers:
        hanging(console, "  • ", escape(f"{o.node}: {o.value} (the majority: {o.majority})"))
    slow = fleet.slow()
    if slow:
        console.print(f"[bold]Slower than the fleet[/] (below {SLOW:.0%} of the median for the same GPU)")
        for x in slow:
            hanging(console, "  • ", escape(f"{x.node}: {x.what} {x.value:g} {x.unit} (fleet median {x.median:g})"))
    findings = fleet.findings()
    console.print("[bold]Findings across the fleet[/]" + ("" if findings else ": none"))
    for f, members in findings:
        hanging(
            console,
            f"  {mark(f.severity, True)} ",
            escape(f"{f.title} on {plural(len(members), 'node')} ({some_of(members, NAMED)})")
            + f"  [dim]{f.code} {f.slug}[/]",
        )
    if fleet.unreadable:
        console.print("[bold]Could not read[/]")
        for u in fleet.unreadable:
            hanging(console, "  • ", escape(u.reason if u.where in u.reason else f"{u.where}: {u.reason}"))
    return buf.getvalue()


def fleet_json(fleet: Fleet) -> str:
    doc: dict[str, Any] = {
        "nodes": len(fleet.nodes),
        "classes": [{"configuration": c, "count": len(m), "nodes": m} for c, m in fleet.classes()],
        "outliers": [o.__dict__ for o in fleet.outliers()],
        "slow": [x.__dict__ for x in fleet.slow()],
        "findings": [
            {"code": f.code, "slug": f.slug, "severity": f.severity, "title": f.title, "count": len(m), "nodes": m}
            for f, m in fleet.findings()
        ],
        "unreadable": [u.__dict__ for u in fleet.unreadable],
        "node_configurations": {n.name: dict(n.config) for n in fleet.nodes},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
