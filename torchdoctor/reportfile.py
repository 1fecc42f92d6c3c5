"""The report file format: the versioned JSON document of a report, and reading one back.

Below the checks and the renderers (next to the model): `render/json.py` writes it, `check --from`
and `fleet` read it, and none of them needs the doctor that made it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from pathlib import Path
from typing import Any

from torchdoctor import __version__, serde
from torchdoctor.model import BenchFacts, Facts, Report, ToolInfo

MAX_REPORT = 64 * 2**20
"""A report's largest size: a real one is tens of kB, so anything past this is read as not a report."""
SCHEMA_VERSION = 1
"""The version of every JSON document torchdoctor writes (check, smoke, bench, dist, fleet, compat, recommend)."""
TOOL = ToolInfo("torchdoctor", __version__)


class ReportFileError(Exception):
    """A --from file that cannot be read as a torchdoctor report; the message is one line."""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def report_to_dict(report: Report) -> dict[str, Any]:
    doc = serde.to_jsonable(report)
    findings = [serde.to_jsonable(f) for f in report.findings]
    doc["findings"] = findings
    doc["summary"] = report.summary()
    doc["smoke"] = doc["facts"]["smoke"]
    if isinstance(report.facts.bench, BenchFacts):
        doc["bench"] = doc["facts"]["bench"]
    order = [
        "schema_version",
        "kind",
        "tool",
        "created",
        "origin",
        "summary",
        "findings",
        "smoke",
        "bench",
        "checks",
        "facts",
        "timings",
    ]
    return {k: doc[k] for k in order if k in doc} | {k: v for k, v in doc.items() if k not in order}


def load_facts(path: Path) -> Facts:
    """The facts of a JSON report captured elsewhere (``check --from``)."""
    from torchdoctor.files import FileProblem, read_text

    try:
        text = read_text(path, MAX_REPORT)
    except FileProblem as exc:
        raise ReportFileError(f"cannot read {path}: {exc}") from None
    return facts_from_text(text, str(path))


def report_document(text: str, where: str) -> dict[str, Any]:
    """One JSON report's document (from `check`, `bench` or `dist`), or why it is not one."""
    try:
        doc = serde.loads(text)
    except serde.SnapshotError as exc:
        raise ReportFileError(f"{where} is not a torchdoctor report: {exc}") from None
    except RecursionError:
        raise ReportFileError(f"{where} is nested too deeply to be a torchdoctor report") from None
    except json.JSONDecodeError as exc:
        raise ReportFileError(
            f"{where} is not JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}); expected a torchdoctor "
            "report made with `torchdoctor check --format json`"
        ) from None
    return checked_document(doc, where)


def checked_document(doc: Any, where: str) -> dict[str, Any]:
    """A parsed JSON value that is a torchdoctor report of this schema, or why it is not one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("tool"), dict) or doc["tool"].get("name") != "torchdoctor":
        raise ReportFileError(f"{where} is JSON but not a torchdoctor report (no tool.name = 'torchdoctor')")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportFileError(f"{where} has report schema_version {version!r}; this torchdoctor reads {SCHEMA_VERSION}")
    return doc


def facts_from_document(doc: dict[str, Any], where: str, seen: serde.SharedParts | None = None) -> Facts:
    """``seen``: parts already loaded from other reports (:class:`serde.SharedParts`), for `fleet`."""
    if doc.get("kind") == "dist":
        raise ReportFileError(f"{where} is a `dist` report (one job's ranks); read it with `torchdoctor fleet`")
    if "facts" not in doc:
        raise ReportFileError(f"{where} has no 'facts' section")
    try:
        if seen is None:
            return serde.from_jsonable(Facts, doc["facts"], "$.facts")
        return seen.load(Facts, doc["facts"], "$.facts")
    except serde.SnapshotError as exc:
        raise ReportFileError(f"{where} is not a valid torchdoctor report: {exc}") from None
    except RecursionError:
        raise ReportFileError(f"{where} is nested too deeply to be a torchdoctor report") from None


def facts_from_text(text: str, where: str) -> Facts:
    """The facts of one JSON report's text; ``where`` names it in the error (a file, or a line of a stream)."""
    return facts_from_document(report_document(text, where), where)


JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
"""What the JSON encoder leaves raw with ensure_ascii off and a terminal or a decoder chokes on (C1's CSI and
OSC, lone surrogates); outside strings a JSON text is ASCII, so these are escaped inside strings only."""


def finite(value: Any) -> Any:
    """A JSON value with every NaN and infinity made null: JSON has no such numbers (RFC 8259, section 6)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(doc: Any) -> str:
    """The one JSON writer of every document: no NaN or Infinity (``allow_nan=False`` guards it), nothing raw
    that a terminal acts on; indented, one newline at the end."""
    text = json.dumps(finite(doc), indent=2, ensure_ascii=False, allow_nan=False)
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def header(kind: str) -> dict[str, Any]:
    """The head of every JSON document torchdoctor writes: what it is, which schema, who made it and when."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "tool": {"name": TOOL.name, "version": TOOL.version},
        "created": now(),
    }
