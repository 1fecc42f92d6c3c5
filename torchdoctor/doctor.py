"""Wire probes, checks and (optionally) smoke tests into one report."""

from __future__ import annotations

import datetime as _dt
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchdoctor import __version__, serde
from torchdoctor.checks import all_checks, run_checks
from torchdoctor.checks.base import Area, Check
from torchdoctor.compat.tables import load_tables
from torchdoctor.derived import nvml_gpus
from torchdoctor.model import (
    BenchFacts,
    DeviceSmoke,
    Facts,
    ProbeTiming,
    Report,
    SmokeFacts,
    ToolInfo,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import gpu_names
from torchdoctor.probes import ProbeOptions, gather
from torchdoctor.smoke.runner import OnMessage, SmokeOptions, SmokeSession, why_absent

SCHEMA_VERSION = 1
TOOL = ToolInfo("torchdoctor", __version__)


class ReportFileError(Exception):
    """A --from file that cannot be read as a torchdoctor report; the message is one line."""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def judge(
    facts: Facts,
    ignore: Iterable[str] = (),
    origin: str = "probed",
    timings: tuple[ProbeTiming, ...] = (),
    only: Area | None = None,
    required: Sequence[Check] = (),
) -> Report:
    """Run the catalogue (or one area of it) and the requirement checks over ``facts``."""
    checks = [c for c in all_checks() if only is None or c.area is only]
    outcomes = run_checks(facts, [*checks, *required], ignore)
    return Report(SCHEMA_VERSION, TOOL, now(), origin, facts, outcomes, timings)


def diagnose(
    options: ProbeOptions,
    ignore: Iterable[str] = (),
    smoke: SmokeOptions | None = None,
    on_message: OnMessage | None = None,
    only: Area | None = None,
    required: Sequence[Check] = (),
) -> Report:
    """Probe this machine, run the smoke tests unless ``smoke`` is None, and judge."""
    # The checks need the compat tables; parse them while the probes wait on their children.
    threading.Thread(target=load_tables, daemon=True, name="load-compat-tables").start()
    if smoke is None or options.quick:
        facts, timings = gather(options, on_message=on_message)
        if smoke is not None:
            facts = replace(facts, smoke=Unavailable("smoke", "--quick does not import torch", "skipped"))
    else:
        try:
            session = SmokeSession(options.python, smoke, on_message)
        except OSError as exc:  # no writable temp directory (a read-only root filesystem)
            facts, timings = gather(options, on_message=on_message)
            why = f"not run: no writable temp directory for the smoke tests ({exc.strerror or exc})"
            facts = replace(facts, smoke=Unavailable("smoke", why, "no_tmp"))
            return judge(facts, ignore, "probed", timings, only, required)
        with session:
            facts, timings = gather(
                options, lambda o: session.torch_with_cpu_smoke(o.timeout), smoke.timeout, on_message
            )
            devices = ([session.cpu] if session.cpu else []) + session.other_devices(facts.torch)
        if only is Area.SMOKE and smoke.device.strip().lower() == "all":
            devices += untested_gpus(facts)  # a smoke run that tested only the CPU must say what it left out
        if devices:
            facts = replace(facts, smoke=SmokeFacts(tuple(devices)))
        else:
            facts = replace(facts, smoke=Unavailable("smoke", "torch did not import, so nothing could run", "no_torch"))
    return judge(facts, ignore, "probed", timings, only, required)


def untested_gpus(facts: Facts) -> list[DeviceSmoke]:
    """NVIDIA GPUs on this machine that torch cannot use, as smoke entries saying why they were not tested."""
    gpus = [g for g in nvml_gpus(facts) if isinstance(g.name, str)]
    torch = facts.torch
    if not gpus or (isinstance(torch, TorchRuntime) and torch.cuda_available):
        return []
    why = why_absent("cuda", torch) if isinstance(torch, TorchRuntime) else "torch did not import"
    names = gpu_names(tuple(gpus))
    return [DeviceSmoke("cuda", names, (), died=f"not tested: {why}")]


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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ReportFileError(f"{path} is not a text file (expected a torchdoctor JSON report)") from None
    return facts_from_text(text, str(path))


def report_document(text: str, where: str) -> dict[str, Any]:
    """One JSON report's document (from `check`, `bench` or `dist`), or why it is not one."""
    try:
        doc = json.loads(text)
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


def facts_from_document(doc: dict[str, Any], where: str) -> Facts:
    if doc.get("kind") == "dist":
        raise ReportFileError(f"{where} is a `dist` report (one job's ranks); read it with `torchdoctor fleet`")
    if "facts" not in doc:
        raise ReportFileError(f"{where} has no 'facts' section")
    try:
        return serde.from_jsonable(Facts, doc["facts"], "$.facts")
    except serde.SnapshotError as exc:
        raise ReportFileError(f"{where} is not a valid torchdoctor report: {exc}") from None
    except RecursionError:
        raise ReportFileError(f"{where} is nested too deeply to be a torchdoctor report") from None


def facts_from_text(text: str, where: str) -> Facts:
    """The facts of one JSON report's text; ``where`` names it in the error (a file, or a line of a stream)."""
    return facts_from_document(report_document(text, where), where)
