"""GitHub Actions: ::error/::warning workflow annotations, and a Markdown job summary."""

from __future__ import annotations

from typing import Protocol

from torchdoctor.model import Finding, Severity


class HasFindings(Protocol):
    """A check report or a dist report: annotations need only the findings."""

    @property
    def findings(self) -> tuple[Finding, ...]: ...


LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: HasFindings) -> str:
    """The annotations, one workflow command per finding."""
    lines = []
    for f in sorted(report.findings, key=lambda f: -f.severity.rank):
        saw = "; ".join(f"{e.label}: {e.value}" for e in f.evidence)
        message = f"{f.title}\nsaw: {saw}\nfix: {f.fix}"
        lines.append(f"::{LEVEL[f.severity]} title={escape_property(f'{f.code} {f.slug}')}::{escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")
