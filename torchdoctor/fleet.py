"""Many machines' JSON reports become one answer: configurations, outliers, and findings across the fleet.

Each report is re-judged with this version's checks (as ``check --from`` does) and reduced at once to a
small ``Node`` (its configuration and its findings' codes), so memory grows with the number of nodes,
never with the size of their reports.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from torchdoctor.checks.base import torch_version
from torchdoctor.checks.compat import torch_cuda
from torchdoctor.model import BenchFacts, Facts, HostFacts, PythonFacts, Severity
from torchdoctor.nvidia import driver_version_seen, gpus_seen

CONFIG_KEYS = ("os", "python", "torch", "driver", "gpus")
"""What makes two nodes the same configuration, in the order a person reads it."""
MAX_REPORT = 64 * 2**20
"""A report's largest size: a real one is tens of kB, so anything past this is read as not a report."""
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


@dataclass(frozen=True)
class Node:
    name: str
    """The node's host name from its report, else the report's file name (or line of a stream)."""
    where: str
    config: tuple[tuple[str, str], ...]
    findings: tuple[NodeFinding, ...]
    bench: tuple[tuple[str, float, str], ...] = ()
    """(GPU model and measurement, the node's slowest device's figure, unit) from its bench facts."""

    @property
    def configuration(self) -> str:
        return ", ".join(value for _, value in self.config)


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


@dataclass
class Fleet:
    nodes: list[Node] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    def classes(self) -> list[tuple[str, list[str]]]:
        """(configuration, node names), largest first."""
        groups: dict[str, list[str]] = {}
        for node in self.nodes:
            groups.setdefault(node.configuration, []).append(node.name)
        return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))

    def outliers(self) -> list[Outlier]:
        """Nodes that differ from the fleet's majority in one part of their configuration."""
        out = []
        for i, key in enumerate(CONFIG_KEYS):
            values = Counter(node.config[i][1] for node in self.nodes)
            if len(values) < 2:
                continue
            (majority, top), (_, second) = values.most_common(2)
            if top == second:  # no majority to differ from: a split fleet, said by its classes
                continue
            out += [
                Outlier(node.name, key, node.config[i][1], majority)
                for node in self.nodes
                if node.config[i][1] != majority
            ]
        return out

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


def pseudonym(name: str) -> str:
    """A stable stand-in for a host name: the same node gets the same one in every run and format."""
    return "node-" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:8]


def configuration(facts: Facts) -> tuple[tuple[str, str], ...]:
    host, python = facts.host, facts.python
    os_name = host.os_name if isinstance(host, HostFacts) and isinstance(host.os_name, str) else "OS unknown"
    py = f"Python {python.version}" if isinstance(python, PythonFacts) else "Python unknown"
    version = torch_version(facts)
    cuda = torch_cuda(facts) if version else ""
    torch = f"torch {version}" + (f" (CUDA {cuda})" if cuda and "+cu" not in version else "") if version else "no torch"
    seen = driver_version_seen(facts)
    driver = f"driver {seen.version}" if seen else "no NVIDIA driver"
    names = Counter(g.name for g in gpus_seen(facts))
    gpus = ", ".join(f"{n} × {name}" for name, n in sorted(names.items())) or "no GPU"
    return (("os", os_name), ("python", py), ("torch", torch), ("driver", driver), ("gpus", gpus))


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


def node_of(facts: Facts, where: str, redact: bool) -> Node:
    from torchdoctor.doctor import judge

    host = facts.host
    name = host.hostname if isinstance(host, HostFacts) and host.hostname and "<" not in host.hostname else ""
    if not name:
        name = where if where.startswith("-:") else Path(where).stem
    report = judge(facts, origin=where)
    findings = tuple(NodeFinding(f.code, f.slug, f.severity.value, f.title) for f in report.findings)
    return Node(pseudonym(name) if redact else name, where, configuration(facts), findings, bench_figures(facts))


def documents(paths: Iterable[str]) -> Iterator[tuple[str, str | Exception]]:
    """(where, text) for every report: files, the ``*.json`` files of directories, and ``-`` (JSON lines)."""
    for given in paths:
        if given == "-":
            stream = getattr(sys.stdin, "buffer", None)
            if stream is None:
                yield "-", OSError("standard input is closed")
                continue
            for number, raw in enumerate(stream, 1):
                if raw.strip():
                    try:
                        yield f"-:{number}", raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        yield f"-:{number}", exc
            continue
        path = Path(given)
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                if file.stat().st_size > MAX_REPORT:
                    raise ValueError(f"larger than {MAX_REPORT // 2**20} MiB: not a torchdoctor report")
                yield str(file), file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                yield str(file), exc


def gather_fleet(paths: Iterable[str], redact: bool = False) -> Fleet:
    from torchdoctor.doctor import ReportFileError, facts_from_text

    fleet = Fleet()
    for where, text in documents(paths):
        if isinstance(text, Exception):
            if isinstance(text, OSError):
                reason = text.strerror or str(text)
            elif isinstance(text, UnicodeDecodeError):
                reason = "not a UTF-8 text file"
            else:
                reason = str(text)
            fleet.unreadable.append(Unreadable(where, reason))
            continue
        try:
            facts = facts_from_text(text, where)
        except ReportFileError as exc:
            fleet.unreadable.append(Unreadable(where, str(exc)))
            continue
        fleet.nodes.append(node_of(facts, where, redact))
    return fleet
