"""One cluster report: a section per node, the collectives, the bandwidth sweep, cluster-wide findings."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

from rich.markup import escape
from rich.table import Table

from torchdoctor import serde
from torchdoctor.distributed.model import DistReport, RankFacts
from torchdoctor.model import CheckStatus, Severity, StepStatus
from torchdoctor.redact import Redactor, map_strings, redact_report
from torchdoctor.render import OutputFormat
from torchdoctor.render import github as github_render
from torchdoctor.render.console import string_console
from torchdoctor.render.markdown import ICONS, cell
from torchdoctor.render.terminal import mark, print_finding
from torchdoctor.reportfile import json_text
from torchdoctor.visible import sanitized
from torchdoctor.words import plural, some_of


def verdict(report: DistReport) -> str:
    errors = sum(1 for f in report.findings if f.severity == Severity.ERROR)
    warnings = sum(1 for f in report.findings if f.severity == Severity.WARNING)
    c = report.cluster
    head = "Broken" if errors else ("Works, with warnings" if warnings else "Healthy")
    return (
        f"{head}: {plural(errors, 'error')}, {plural(warnings, 'warning')}; {len(c.ranks)}/{c.world_size} ranks on "
        f"{plural(len(c.hosts), 'node')}, backend {c.backend}, {c.seconds:.1f} s"
    )


def to_dict(report: DistReport) -> dict[str, object]:
    """The versioned document: the common head (schema_version, kind, tool, created), then the job."""
    doc = serde.to_jsonable(report)
    doc["kind"] = "dist"
    doc["verdict"] = verdict(report)
    doc["findings"] = [serde.to_jsonable(f) for f in report.findings]
    head = ["schema_version", "kind", "tool", "created", "verdict"]
    return {k: doc[k] for k in head} | {k: v for k, v in doc.items() if k not in head}


def render(
    report: DistReport,
    fmt: OutputFormat,
    verbose: bool = False,
    color: bool = False,
    width: int = 100,
    redactor: Redactor | None = None,
    redact_identity: bool = True,
) -> str:
    """Secrets never appear; the shared formats (markdown, html) also hide who and where."""
    identity = (redactor or Redactor.for_this_machine()) if fmt.shared and redact_identity else None
    if identity is not None:  # every node's name, not only this machine's
        names = {host: f"node{i}" for i, host in enumerate(report.cluster.hosts) if len(host) > 2}
        report = map_strings(report, lambda text: _replace_words(text, names))
    report = redact_report(report, identity)
    if fmt is not OutputFormat.JSON:  # after redaction: a secret is found by its shape, escapes would hide it
        report = sanitized(report)
    if fmt is OutputFormat.JSON:
        return json_text(to_dict(report))
    if fmt is OutputFormat.MARKDOWN:
        return markdown(report)
    if fmt is OutputFormat.JUNIT:
        return junit(report)
    if fmt is OutputFormat.HTML:
        return html(report)
    if fmt is OutputFormat.GITHUB:
        return github_render.render(report)
    return terminal(report, verbose, color, width)


def _replace_words(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


def terminal(report: DistReport, verbose: bool, color: bool, width: int) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    c = report.cluster
    console.print(f"[bold]torchdoctor {report.tool.version} dist[/]  {escape(verdict(report))}")
    console.print(f"launcher {c.launch.launcher}, rendezvous {c.launch.master_addr}:{c.launch.master_port}")
    for hosts, summary, ranks in node_groups(report):
        if len(hosts) == 1 or verbose:
            for host in hosts:
                console.print(f"[bold]node {escape(host)}[/]: {escape(summary)}")
                for r in ranks[host]:
                    gpu = f" {r.gpu_name} {r.gpu_bus_id}" if r.gpu_name else ""
                    console.print(f"    rank {r.rank} (local {r.local_rank}, pid {r.pid}): {r.device}{escape(gpu)}")
        else:  # identical nodes: one line, so a thousand-node report stays a page
            shown = some_of(hosts, NAMED)
            console.print(f"[bold]{len(hosts)} nodes[/] ({escape(shown)}): {escape(summary)}")
    kinds = {StepStatus.PASSED: "ok", StepStatus.FAILED: "error", StepStatus.SKIPPED: "skip"}
    console.print("[bold]steps[/]")
    for step in c.steps:
        text = step.error.splitlines()[0] if step.error else ""
        console.print(
            f"    {mark(kinds[step.status], True)} {step.name:<22} {step.seconds * 1000:8.1f} ms  "
            f"[dim]{escape(text)}[/]"
        )
    for label, samples in (("all_reduce bandwidth", c.bandwidth), ("gloo control", c.control_bandwidth)):
        if not samples:
            continue
        table = Table(
            title=f"{label} ({c.backend if label.startswith('all') else 'gloo'}, {c.world_size} ranks)",
            title_justify="left",
        )
        for col in ("size", "time", "algbw GB/s", "busbw GB/s"):
            table.add_column(col, justify="right")
        for s in samples:
            table.add_row(_size(s.bytes), f"{s.seconds * 1e3:.2f} ms", f"{s.algbw_gbs:.3f}", f"{s.busbw_gbs:.3f}")
        console.print(table)
    for peer in c.peer:
        console.print(f"[bold]peer access on {escape(peer.host)}[/] (D2D copy GB/s)")
        for i, row in enumerate(peer.copy_gbs):
            cells = " ".join(
                f"{'-' if v < 0 else f'{v:.0f}':>6}{'' if peer.matrix[i][j] else '*'}" for j, v in enumerate(row)
            )
            console.print(f"    {peer.devices[i]:>8} {cells}")
    console.print("[bold]findings[/]")
    for outcome in report.checks:
        for f in outcome.findings:
            print_finding(console, f, True, verbose)
    if not report.findings:
        console.print(f"    {mark('ok', True)} none")
    return buf.getvalue()


NAMED = 6
"""How many of a group's node names a report lists before "and N more"."""
RANK_ROWS = 16
"""Up to this many ranks, markdown has a row per rank; beyond, a row per kind of node."""


def node_summary(ranks: list[RankFacts]) -> str:
    """What makes nodes alike: the first rank's software, and the ranks' devices."""
    first = ranks[0]
    devices: dict[str, int] = {}
    for r in ranks:
        name = r.gpu_name or r.device
        devices[name] = devices.get(name, 0) + 1
    return (
        f"torch {first.torch}"
        + (f", CUDA {first.cuda}, NCCL {first.nccl or '-'}" if first.cuda else ", CPU build")
        + (f", driver {first.driver}" if first.driver else "")
        + f", /dev/shm {first.shm_bytes / 1024**3:.1f} GiB" * (first.shm_bytes > 0)
        + f"; {len(ranks)} rank{'s' * (len(ranks) != 1)} on "
        + ", ".join(f"{n} × {name}" for name, n in devices.items())
    )


def node_groups(report: DistReport) -> list[tuple[list[str], str, dict[str, list[RankFacts]]]]:
    """Nodes grouped by ``node_summary``, largest group first: (hosts, summary, each host's ranks)."""
    by_host: dict[str, list[RankFacts]] = {}
    for r in report.cluster.ranks:
        by_host.setdefault(r.host, []).append(r)
    groups: dict[str, list[str]] = {}
    for host in sorted(by_host, key=lambda h: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", h)]):
        groups.setdefault(node_summary(by_host[host]), []).append(host)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[1][0]))
    return [(hosts, summary, {h: by_host[h] for h in hosts}) for summary, hosts in ordered]


def _size(n: int) -> str:
    return f"{n // 1024**2} MiB" if n >= 1024**2 else f"{n // 1024} KiB"


def markdown(report: DistReport) -> str:
    c = report.cluster
    lines = [f"### torchdoctor dist: {verdict(report)}", ""]
    for f in sorted(report.findings, key=lambda f: -f.severity.rank):
        lines.append(f"- {ICONS[f.severity]} **{f.title}** (`{f.code} {f.slug}`)")
        lines += [f"  - saw {e.label}: `{cell(e.value)}`" for e in f.evidence]
        lines.append(f"  - fix: {f.fix}")
    if len(c.ranks) <= RANK_ROWS:
        lines += [
            "",
            "| rank | host | device | torch | CUDA | NCCL | driver |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r.rank} | {cell(r.host)} | {cell(r.device + ' ' + r.gpu_name)} | {r.torch} | {r.cuda or '-'} | "
            f"{r.nccl or '-'} | {r.driver or '-'} |"
            for r in c.ranks
        ]
    else:  # a big job: a row per kind of node
        lines += ["", "| nodes | configuration |", "| --- | --- |"]
        for hosts, summary, _ in node_groups(report):
            shown = some_of(hosts, NAMED)
            lines.append(f"| {len(hosts)}: {cell(shown)} | {cell(summary)} |")
    lines += ["", "| step | status | ms |", "| --- | --- | --- |"]
    lines += [f"| {s.name} | {s.status.value} | {s.seconds * 1000:.1f} |" for s in c.steps]
    if c.bandwidth:
        lines += ["", "| size | algbw GB/s | busbw GB/s |", "| --- | --- | --- |"]
        lines += [f"| {_size(s.bytes)} | {s.algbw_gbs:.3f} | {s.busbw_gbs:.3f} |" for s in c.bandwidth]
    return "\n".join(lines) + "\n"


def junit(report: DistReport) -> str:
    root = ET.Element("testsuites", name="torchdoctor.dist")
    suite = ET.SubElement(root, "testsuite", name="torchdoctor.dist", timestamp=report.created[:19])
    failures = skipped = 0
    for step in report.cluster.steps:
        case = ET.SubElement(
            suite, "testcase", classname="torchdoctor.distributed.steps", name=step.name, time=f"{step.seconds:.3f}"
        )
        if step.status == StepStatus.FAILED:
            ET.SubElement(case, "failure", message=step.error[:500] or "failed", type="dist")
            failures += 1
    for outcome in report.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="torchdoctor.distributed.checks",
            name=f"{outcome.code} {outcome.slug}",
            time="0",
        )
        errors = [f for f in outcome.findings if f.severity == Severity.ERROR]
        if outcome.status in (CheckStatus.SKIPPED, CheckStatus.IGNORED):
            ET.SubElement(case, "skipped", message=outcome.reason or outcome.status.value)
            skipped += 1
        elif errors:
            ET.SubElement(case, "failure", message=errors[0].title, type=errors[0].slug).text = errors[0].fix
            failures += 1
    count = len(report.cluster.steps) + len(report.checks)
    for el in (root, suite):
        el.set("tests", str(count))
        el.set("failures", str(failures))
        el.set("errors", "0")
    suite.set("skipped", str(skipped))  # on the <testsuite> only: junit-10.xsd rejects it on <testsuites>
    suite.set("time", f"{report.cluster.seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def html(report: DistReport) -> str:
    """One self-contained page, in the look of the check report."""
    from html import escape as esc

    from torchdoctor.render.html import CSS, finding_html

    c = report.cluster
    errors = any(f.severity == Severity.ERROR for f in report.findings)
    state = "error" if errors else ("warning" if report.findings else "ok")
    ranks = "".join(
        f"<tr><td>{r.rank}</td><td>{esc(r.host)}</td><td>{esc(r.device)} {esc(r.gpu_name)}</td><td>{esc(r.torch)}</td>"
        f"<td>{esc(r.cuda or '-')}</td><td>{esc(r.nccl or '-')}</td><td>{esc(r.driver or '-')}</td></tr>"
        for r in c.ranks
    )
    steps = "".join(
        f"<tr><td>{esc(s.name)}</td><td class='step {s.status.value}'>{s.status.value}</td>"
        f"<td>{s.seconds * 1000:.1f} ms</td><td>{esc(s.error)}</td></tr>"
        for s in c.steps
    )
    bandwidth = "".join(
        f"<tr><td>{_size(s.bytes)}</td><td>{s.algbw_gbs:.3f}</td><td>{s.busbw_gbs:.3f}</td></tr>" for s in c.bandwidth
    )
    findings = "".join(finding_html(f) for f in report.findings) or "<p>No findings.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>torchdoctor dist: {esc(verdict(report))}</title>
<style>{CSS}</style></head><body><main>
<h1>torchdoctor dist report</h1>
<div class="meta">torchdoctor {esc(report.tool.version)} · {esc(report.created)} · {esc(c.launch.launcher)}</div>
<div class="verdict {state}">{esc(verdict(report))}</div>
<h2>Findings</h2><div id="findings">{findings}</div>
<h2>Ranks</h2><table><tr><th>rank</th><th>host</th><th>device</th><th>torch</th><th>CUDA</th><th>NCCL</th>
<th>driver</th></tr>{ranks}</table>
<h2>Steps</h2><table><tr><th>step</th><th>status</th><th>time</th><th>error</th></tr>{steps}</table>
<h2>all_reduce bandwidth ({esc(c.backend)})</h2><table><tr><th>size</th><th>algbw GB/s</th><th>busbw GB/s</th></tr>
{bandwidth}</table>
<footer>Generated offline by torchdoctor; this file loads nothing from the network.</footer>
</main></body></html>
"""
