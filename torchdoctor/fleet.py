"""Many machines' JSON reports become one answer: configurations, outliers, and findings across the fleet.

Each report is re-judged with this version's checks (as ``check --from`` does) and reduced at once to a
small ``Node`` (its configuration and its findings' codes), so memory grows with the number of nodes,
never with the size of their reports. From ``PARALLEL_FROM`` reports on, forked children (one per core, Linux)
judge them, each every n-th report, and the nodes come back in the order given: the same answer as one process.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torchdoctor import serde
from torchdoctor.checks.base import Check
from torchdoctor.checks.requirements import OPS
from torchdoctor.compat.machine import torch_cuda
from torchdoctor.derived import torch_version
from torchdoctor.files import FileProblem, read_text
from torchdoctor.model import BenchFacts, Facts, Finding, HostFacts, PythonFacts, Severity
from torchdoctor.nvidia import driver_version_seen, gpus_seen
from torchdoctor.redact import Redactor, pasteable, redact_value
from torchdoctor.reportfile import MAX_REPORT, ReportFileError
from torchdoctor.words import plural, some_of

CONFIG_KEYS = ("os", "python", "torch", "driver", "gpus")
"""What makes two nodes the same configuration, in the order a person reads it."""
SLOW = 0.8
"""A node's bench figure below this share of the fleet's median for the same GPU and measurement is slow."""
MEASURED = (("matmul", ""), ("memory", ""), ("h2d", "pinned"), ("d2h", "pinned"))
"""The bench figures compared across the fleet ("" = every dtype of that measurement)."""


@dataclass(frozen=True)
class NodeFinding:
    code: str
    slug: str
    severity: str
    title: str
    command: str = field(default="", compare=False)
    """The fix's command on this node ("" when it has none); not part of what makes two findings the same."""


@dataclass(frozen=True)
class Node:
    name: str
    """The node's host name from its report, else the report's file name (or line of a stream)."""
    where: str
    config: tuple[tuple[str, str], ...]
    """(key, value) for each of ``CONFIG_KEYS``; "" where the report does not say (a `dist` report has no OS)."""
    findings: tuple[NodeFinding, ...]
    bench: tuple[tuple[str, float, str], ...] = ()
    """(GPU model and measurement, the node's slowest device's figure, unit) from its bench facts."""
    kind: str = "check"
    """Which report the node came from: check (also bench) or dist; "check+dist" when both named it."""
    identity: tuple[str, str, str] = field(default=("", "", ""), compare=False)
    """(user, home, host) its report names: what a shared view hides in its findings' titles and commands."""

    @property
    def configuration(self) -> str:
        return ", ".join(value for _, value in self.config if value) or "configuration unknown"


@dataclass(frozen=True)
class Unreadable:
    where: str
    reason: str


@dataclass(frozen=True)
class Outlier:
    node: str
    key: str
    value: str
    majority: str


@dataclass(frozen=True)
class Slow:
    node: str
    what: str
    value: float
    median: float
    unit: str


@dataclass(frozen=True)
class RequirementResult:
    requirement: str
    met: bool
    saw: str


@dataclass
class Fleet:
    nodes: list[Node] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    """Node name -> every report of the same kind that named it (first one counted)."""
    requirements: list[RequirementResult] = field(default_factory=list)
    reports: int = 0
    """Every report given, read or not."""
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, node: Node) -> None:
        """One node per host: a second report of the same kind is a duplicate; a `check` and a `dist` report
        of one host are merged (the check's configuration, both reports' findings)."""
        at = self._index.get(node.name)
        if at is None:
            self._index[node.name] = len(self.nodes)
            self.nodes.append(node)
            return
        known = self.nodes[at]
        if node.kind in known.kind.split("+"):
            self.duplicates.setdefault(node.name, [known.where]).append(node.where)
            return
        check, dist = (known, node) if known.kind == "check" else (node, known)
        config = tuple((key, value or dist.config[i][1]) for i, (key, value) in enumerate(check.config))
        findings = check.findings + tuple(f for f in dist.findings if f not in check.findings)
        where = f"{known.where}{WHERE_SEPARATOR}{node.where}"
        self.nodes[at] = Node(node.name, where, config, findings, check.bench, "check+dist", check.identity)

    def shared(self) -> Fleet:
        """The same fleet for readers elsewhere (markdown, html, a job summary): host names become stable
        pseudonyms, report paths lose the host's file name and this user's home, findings lose who and where."""
        out = Fleet(reports=self.reports)
        for node in self.nodes:
            text = _redactor(node.identity).text
            findings = tuple(
                replace(f, title=text(f.title), command=c if pasteable(c := text(f.command)) else "")
                for f in node.findings
            )
            out.add(replace(node, name=pseudonym(node.name), where=_hidden_where(node.where), findings=findings))
        out.duplicates = {
            pseudonym(name): [_hidden_where(w) for w in wheres] for name, wheres in self.duplicates.items()
        }
        for u in self.unreadable:
            hidden = _hidden_where(u.where)
            out.unreadable.append(Unreadable(hidden, u.reason.replace(u.where, hidden)))
        return out

    def classes(self) -> list[tuple[str, list[str]]]:
        """(configuration, node names), largest first."""
        groups: dict[str, list[str]] = {}
        for node in self.nodes:
            groups.setdefault(node.configuration, []).append(node.name)
        return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))

    def outliers(self) -> list[Outlier]:
        """Nodes that differ from the fleet's majority in one part of their configuration (where it is known)."""
        out = []
        for i, key in enumerate(CONFIG_KEYS):
            values = Counter(node.config[i][1] for node in self.nodes if node.config[i][1])
            if len(values) < 2:
                continue
            (majority, top), (_, second) = values.most_common(2)
            if top == second:  # no majority to differ from: a split fleet, said by its classes
                continue
            out += [
                Outlier(node.name, key, node.config[i][1], majority)
                for node in self.nodes
                if node.config[i][1] not in ("", majority)
            ]
        return out

    def outlier_groups(self) -> list[tuple[Outlier, list[str]]]:
        """Outliers that differ in the same way, together (the first one stands for its group), largest first:
        a hundred nodes left on an old driver are one line, not a hundred."""
        groups: dict[tuple[str, str, str], tuple[Outlier, list[str]]] = {}
        for o in self.outliers():
            groups.setdefault((o.key, o.value, o.majority), (o, []))[1].append(o.node)
        return sorted(groups.values(), key=lambda item: -len(item[1]))

    def slow(self) -> list[Slow]:
        """Nodes whose bench figure is below ``SLOW`` of the fleet's median (three nodes or more measured it)."""
        figures: dict[str, list[tuple[str, float, str]]] = {}
        for node in self.nodes:
            for what, value, unit in node.bench:
                figures.setdefault(what, []).append((node.name, value, unit))
        out = []
        for what, measured in sorted(figures.items()):
            if len(measured) < 3:
                continue
            median = statistics.median(v for _, v, _ in measured)
            out += [Slow(name, what, v, median, unit) for name, v, unit in measured if v < SLOW * median]
        return out

    def findings(self) -> list[tuple[NodeFinding, list[str]]]:
        """Each finding (by code and title) with the nodes that have it, the most severe and widest first."""
        seen: dict[tuple[str, str], tuple[NodeFinding, list[str]]] = {}
        for node in self.nodes:
            for f in node.findings:
                seen.setdefault((f.code, f.title), (f, []))[1].append(node.name)
        order = {Severity.ERROR.value: 0, Severity.WARNING.value: 1, Severity.INFO.value: 2}
        return sorted(seen.values(), key=lambda item: (order.get(item[0].severity, 3), -len(item[1]), item[0].code))

    def fixes(self, finding: NodeFinding) -> list[tuple[str, list[str]]]:
        """The fix commands the nodes with this finding print, most common first, each with the nodes that print
        it: one command for a fleet built from one image, several where nodes differ (another Python path, a
        driver that needs another CUDA build). Which nodes matters: one node's fix can break another."""
        commands: dict[str, list[str]] = {}
        for node in self.nodes:
            for f in node.findings:
                if (f.code, f.title) == (finding.code, finding.title) and f.command:
                    commands.setdefault(f.command, []).append(node.name)
        return sorted(commands.items(), key=lambda item: -len(item[1]))

    def with_severity(self, severity: Severity) -> int:
        """How many nodes have at least one finding of this severity."""
        return sum(1 for n in self.nodes if any(f.severity == severity.value for f in n.findings))

    def severities(self) -> set[str]:
        return {f.severity for n in self.nodes for f in n.findings}

    def broken(self) -> bool:
        """An error on a node, an unreadable report, a requirement not met, or nothing read at all."""
        return (
            not self.nodes
            or bool(self.unreadable)
            or any(not r.met for r in self.requirements)
            or Severity.ERROR.value in self.severities()
        )

    def warned(self) -> bool:
        """Anything a person should look at that is not an error: warnings, outliers, slow nodes, duplicates."""
        return (
            Severity.WARNING.value in self.severities()
            or bool(self.duplicates)
            or bool(self.outliers())
            or bool(self.slow())
        )

    def verdict(self) -> str:
        errors = sum(1 for f, _ in self.findings() if f.severity == Severity.ERROR.value)
        warnings = sum(1 for f, _ in self.findings() if f.severity == Severity.WARNING.value)
        unmet = sum(1 for r in self.requirements if not r.met)
        if self.broken():
            head = "Broken"
        elif warnings:
            head = "Works, with warnings"
        else:  # outliers, slow nodes or hosts reported twice, and no warning finding
            head = "Works, with differences" if self.warned() else "Healthy"
        unread = f" ({len(self.unreadable)} could not be read)" if self.unreadable else ""
        nodes = plural(len(self.nodes), "node")
        if head == "Broken":  # how many are: "Broken: 233 nodes" read as if every one were
            nodes = f"{self.with_severity(Severity.ERROR)} of {nodes} with errors,"
        elif warnings:
            nodes = f"{self.with_severity(Severity.WARNING)} of {nodes} with warnings,"
        parts = [
            f"{nodes} from {plural(self.reports, 'report')}{unread}",
            plural(len(self.classes()), "configuration"),
            plural(len({o.node for o in self.outliers()}), "outlier"),
            plural(errors, "error"),
            plural(warnings, "warning"),
        ]
        if unmet:
            parts.append(plural(unmet, "requirement") + " not met")
        return f"{head}: " + ", ".join(parts)


FLEET_REQUIREMENT = re.compile(r"(nodes|configurations)\s*(>=|==|<=|>|<)\s*(\d+)$")
NO_OUTLIERS = ("no-outliers", "no outliers", "nooutliers")


def is_fleet_requirement(spec: str) -> bool:
    """``nodes>=N``, ``configurations<=N`` or ``no-outliers``: judged on the fleet, not on each node."""
    text = spec.strip().lower()
    return text in NO_OUTLIERS or bool(FLEET_REQUIREMENT.match(text.replace(" ", "")))


def judge_requirements(fleet: Fleet, specs: Iterable[str]) -> None:
    for spec in specs:
        text = spec.strip().lower()
        if text in NO_OUTLIERS:
            outliers = fleet.outliers()
            saw = some_of([f"{o.node} ({o.value})" for o in outliers], 4) if outliers else "none"
            fleet.requirements.append(RequirementResult("no outliers", not outliers, f"outliers: {saw}"))
            continue
        match = FLEET_REQUIREMENT.match(text.replace(" ", ""))
        assert match is not None, spec  # is_fleet_requirement said so
        what, op, n = match.group(1), match.group(2), int(match.group(3))
        have = len(fleet.nodes) if what == "nodes" else len(fleet.classes())
        fleet.requirements.append(RequirementResult(f"{what}{op}{n}", OPS[op](have, n), f"{what}: {have}"))


def pseudonym(name: str) -> str:
    """A stable stand-in for a host name: the same node gets the same one in every run and format."""
    return "node-" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:8]


def configuration(facts: Facts) -> tuple[tuple[str, str], ...]:
    host, python = facts.host, facts.python
    os_name = host.os_name if isinstance(host, HostFacts) and isinstance(host.os_name, str) else "OS unknown"
    py = f"Python {python.version}" if isinstance(python, PythonFacts) else "Python unknown"
    version = torch_version(facts)
    cuda = torch_cuda(facts) if version else ""
    driver_seen = driver_version_seen(facts)
    names = Counter(g.name for g in gpus_seen(facts))
    return (
        ("os", os_name),
        ("python", py),
        ("torch", torch_label(version, cuda)),
        ("driver", f"driver {driver_seen.version}" if driver_seen else "no NVIDIA driver"),
        ("gpus", gpus_label(names)),
    )


def torch_label(version: str, cuda: str) -> str:
    if not version:
        return "no torch"
    return f"torch {version}" + (f" (CUDA {cuda})" if cuda and "+cu" not in version else "")


def gpus_label(names: Counter[str]) -> str:
    return ", ".join(f"{n} × {name}" for name, n in sorted(names.items())) or "no GPU"


def bench_figures(facts: Facts) -> tuple[tuple[str, float, str], ...]:
    """Per GPU model and measurement, the slowest of the node's devices: one slow GPU is what matters."""
    if not isinstance(facts.bench, BenchFacts):
        return ()
    slowest: dict[str, tuple[float, str]] = {}
    for device in facts.bench.devices:
        for m in device.metrics:
            if m.error or not any(m.metric == name and (not dtype or m.dtype == dtype) for name, dtype in MEASURED):
                continue
            what = " ".join(part for part in (device.name, m.metric, m.dtype) if part)
            if what not in slowest or m.value < slowest[what][0]:
                slowest[what] = (m.value, m.unit)
    return tuple((what, value, unit) for what, (value, unit) in sorted(slowest.items()))


@dataclass(frozen=True)
class Judging:
    """How each report is re-judged and named."""

    ignore: tuple[str, ...] = ()
    required: tuple[Check, ...] = ()
    """Per-node requirements (cuda, gpus>=N, ...), judged on each `check` report."""

    @functools.cached_property
    def parts(self) -> serde.SharedParts:
        """The parts of reports loaded so far: a fleet's nodes share most, and each shared part is loaded once."""
        return serde.SharedParts()


def _titled(findings: Iterable[Finding]) -> tuple[NodeFinding, ...]:
    """Secrets never leave a report, in any view (who and where leave only the shared one: ``Fleet.shared``)."""
    return tuple(
        NodeFinding(f.code, f.slug, f.severity.value, redact_value(f.title), redact_value(f.fix_command))
        for f in findings
    )


def _redactor(identity: tuple[str, str, str]) -> Redactor:
    """Who and where a report names, else this machine's (as ``Redactor.for_facts``; read once per run)."""
    here = _here()
    user, home, host = identity
    return Redactor(user or here.user, home or here.home, host or here.host)


def node_of(facts: Facts, where: str, how: Judging = Judging()) -> Node:
    """``where``: the report's path (its file name names the node when the report does not)."""
    from torchdoctor.doctor import judge

    host = facts.host
    name = host.hostname if isinstance(host, HostFacts) and host.hostname and "<" not in host.hostname else ""
    if not name:  # the report's file name, which is the host's when written with -o reports/%h.json
        name = where if where.startswith("-:") else Path(where).stem
    report = judge(facts, how.ignore, origin=where, required=how.required)
    identity = (host.user, host.home, host.hostname) if isinstance(host, HostFacts) else ("", "", "")
    return Node(name, where, configuration(facts), _titled(report.findings), bench_figures(facts), "check", identity)


def dist_nodes(doc: dict[str, Any], where: str, how: Judging = Judging()) -> list[Node]:
    """A `dist` report's hosts, each a node: its ranks' software and GPUs, and the job's findings that name it
    (a finding that names no host is the whole job's, so every host of the job carries it)."""
    from torchdoctor.checks.base import run_checks
    from torchdoctor.distributed.checks import all_dist_checks
    from torchdoctor.distributed.model import ClusterFacts

    try:
        cluster = serde.from_jsonable(ClusterFacts, doc.get("cluster"), "$.cluster")
    except (serde.SnapshotError, RecursionError) as exc:
        raise ReportFileError(f"{where} is not a valid torchdoctor dist report: {exc}") from None
    outcomes = run_checks(cluster, all_dist_checks(), how.ignore)
    findings = [f for o in outcomes for f in o.findings]
    by_host: dict[str, list[Any]] = {}
    for r in cluster.ranks:
        by_host.setdefault(r.host, []).append(r)
    if not by_host:  # no rank reported (the job never formed): its findings still count, under the report's name
        config = tuple((key, "") for key in CONFIG_KEYS)
        return [Node(Path(where).stem, where, config, _titled(findings), (), "dist")]
    nodes = []
    for host, ranks in by_host.items():
        first = ranks[0]
        devices = {r.gpu_uuid or r.gpu_bus_id or str(r.rank): r.gpu_name for r in ranks if r.gpu_name}
        named = [f for f in findings if _names_host(f, host)]
        mine = named or [f for f in findings if not any(_names_host(f, h) for h in by_host)]
        config = (
            ("os", ""),
            ("python", f"Python {first.python}" if first.python else ""),
            ("torch", torch_label(first.torch, first.cuda)),
            ("driver", f"driver {first.driver}" if first.driver else "no NVIDIA driver"),
            ("gpus", gpus_label(Counter(devices.values()))),
        )
        nodes.append(Node(host, where, config, _titled(mine), (), "dist", ("", "", host)))
    return nodes


def _names_host(finding: Finding, host: str) -> bool:
    pattern = re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w-])")
    return any(pattern.search(text) for text in (finding.title, *(f"{e.label} {e.value}" for e in finding.evidence)))


def documents(paths: Iterable[str]) -> Iterator[tuple[str, Report]]:
    """(where, report) for every report: files (read where they are judged), the ``*.json`` files of directories,
    and the documents of ``-`` (JSON lines, or reports back to back); an exception where none can be read."""
    for given in paths:
        if given == "-":
            stream = getattr(sys.stdin, "buffer", None)
            if stream is None:
                yield "-", OSError("standard input is closed")
                continue
            yield from stream_documents(stream)
            continue
        path = Path(given)
        files: list[Path] = [path]
        if path.is_dir():
            files, too_deep = json_files(path)
            if too_deep:
                yield str(path), OSError(f"not read: folders deeper than {MAX_DEPTH} levels ({too_deep[0]}, ...)")
        for file in files:
            yield str(file), file


MAX_DEPTH = 32
"""How deep under a folder given to `fleet` reports are looked for (a job's tree is a few levels)."""


def json_files(root: Path) -> tuple[list[Path], list[str]]:
    """The ``*.json`` files under ``root`` (sorted), walked without recursion and without following links
    into folders (a loop, a 1500-level tree); and the folders left out for being deeper than MAX_DEPTH."""
    found: list[Path] = []
    too_deep: list[str] = []
    pending: list[tuple[Path, int]] = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError:
            continue  # unreadable: as rglob did, it holds no report we can read
        for entry in listed:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir and depth + 1 > MAX_DEPTH:
                too_deep.append(entry.path)
            elif is_dir:
                pending.append((Path(entry.path), depth + 1))
            elif entry.name.endswith(".json"):
                found.append(Path(entry.path))
    return sorted(found), too_deep


CHUNK = 1 << 20
"""How much of a stream is read at a time."""
SPACE = re.compile(r"\s*")
NOT_UTF8 = re.compile("[\udc80-\udcff]")
"""Bytes that are not UTF-8, as the surrogateescape decoder keeps them."""


@dataclass(frozen=True)
class Parsed:
    """A document already parsed from a stream (its text need not be parsed again)."""

    value: Any


Report = Path | str | Parsed | Exception
"""A report as listed: a file not read yet, a document's text, a document parsed, or why there is none."""


def stream_documents(stream: Any) -> Iterator[tuple[str, str | Parsed | Exception]]:
    """(where, text) for each JSON document on a byte stream: JSON lines, or whole reports one after another
    (``cat reports/*.json``, pretty-printed as `check -f json` writes them). ``where`` is "-:LINE", the
    line the document starts on. A broken document is reported and skipped to the next line that starts
    with "{"; memory holds one document (at most ``MAX_REPORT``) and one chunk, never the whole stream."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    text, pos, line, eof = "", 0, 1, False

    def fill() -> None:
        nonlocal text, pos, eof
        text, pos = text[pos:], 0
        raw = stream.read(CHUNK)
        eof = not raw
        text += utf8.decode(raw or b"", final=eof)

    while True:
        blank = SPACE.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches
        line += text.count("\n", pos, blank)
        pos = blank
        if pos >= len(text):
            if eof:
                return
            fill()
            continue
        where = f"-:{line}"
        if text[pos] not in "{[":  # not the start of a JSON document: one line of something else
            while "\n" not in text[pos:] and not eof:
                fill()
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            junk = text[pos:end]
            yield where, ValueError("not a UTF-8 text file" if NOT_UTF8.search(junk) else _not_json(junk))
            pos = end
            continue
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            if not eof and len(text) - pos <= MAX_REPORT:
                fill()  # perhaps the document goes on in the next chunk
                continue
            end = _next_document(text, pos)
            yield where, text[pos:end]  # its reader says what is wrong with it, and where
        except RecursionError:
            end = _next_document(text, pos)
            yield where, ValueError("nested too deeply to be a torchdoctor report")
        else:  # parsed once: the reader takes the value as it is
            yield where, (ValueError("not a UTF-8 text file") if NOT_UTF8.search(text, pos, end) else Parsed(value))
        line += text.count("\n", pos, end)
        pos = end


def _not_json(line: str) -> str:
    """What is wrong with a line that is no JSON document, without quoting it (`env | torchdoctor fleet -`: the
    line may be a secret, and the reason goes into reports made to be shared)."""
    return f"not JSON: a line of {len(line)} characters that starts no JSON document (not quoted here)"


DOCUMENT_START = re.compile(r"\n(?=[{\[])")


def _next_document(text: str, pos: int) -> int:
    """Where the next document may start after a broken one at ``pos``: the next line opening with { or [."""
    found = DOCUMENT_START.search(text, pos + 1)
    return found.end() if found else len(text)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "not a UTF-8 text file"
    return str(exc)


@functools.cache
def _here() -> Redactor:
    return Redactor.for_this_machine()


WHERE_SEPARATOR = ", "
"""Between the reports of a node that both a `check` and a `dist` report named."""


def _hidden_where(where: str) -> str:
    """A report's path with its file name (often the host's: reports/%h.json) as a pseudonym, and no home."""
    if WHERE_SEPARATOR in where:
        return WHERE_SEPARATOR.join(_hidden_where(w) for w in where.split(WHERE_SEPARATOR))
    if where.startswith("-"):
        return where
    path = Path(where)
    return _here().text(str(path.with_name(pseudonym(path.stem) + path.suffix)))


PARALLEL_FROM = 200
"""From this many reports on, they are judged in forked children, one per core (``probes.forked``): fewer take
less time than the forks."""


def gather_fleet(paths: Iterable[str], how: Judging = Judging(), children: int | None = None) -> Fleet:
    """Every report read and judged, in the order given (``children``: how many processes judge them; the
    cores this process may use, by default: the answer is the same for any number)."""
    from torchdoctor.probes.forked import cores, map_forked

    fleet = Fleet()
    found = documents(paths)
    if "-" in paths:  # a stream is judged as it is read, one document in memory at a time
        judged: Iterable[list[Node] | Unreadable] = (judge_report(where, report, how) for where, report in found)
    else:
        listed = list(found)
        many = children if children is not None else cores() if len(listed) >= PARALLEL_FROM else 1
        judged = map_forked(functools.partial(_judge_listed, how=how), listed, many)
    for result in judged:
        fleet.reports += 1
        if isinstance(result, Unreadable):
            fleet.unreadable.append(result)
        else:
            for node in result:
                fleet.add(node)
    return fleet


def _judge_listed(listed: tuple[str, Report], how: Judging) -> list[Node] | Unreadable:
    return judge_report(*listed, how)


def judge_report(where: str, report: Report, how: Judging) -> list[Node] | Unreadable:
    """One report's nodes (a `dist` report names several hosts), or why it cannot be read."""
    from torchdoctor.reportfile import checked_document, facts_from_document, report_document

    try:
        if isinstance(report, Path):
            try:
                report = read_text(report, MAX_REPORT)
            except FileProblem as exc:
                report = exc
        if isinstance(report, Exception):
            raise ReportFileError(_reason(report))
        doc = checked_document(report.value, where) if isinstance(report, Parsed) else report_document(report, where)
        if doc.get("kind") == "dist":
            return dist_nodes(doc, where, how)
        return [node_of(facts_from_document(doc, where, how.parts), where, how)]
    except ReportFileError as exc:
        return Unreadable(where, redact_value(str(exc)))
