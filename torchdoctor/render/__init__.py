"""One renderer per format, each a pure ``render(report) -> str``.

Every format gets secrets removed (credentials in URLs, token-shaped strings); the formats made
for sharing (Markdown, HTML) also hide the user name, home directory, host name and GPU UUIDs
unless ``redact_identity`` is off (``--no-redact``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a report is rendered: the command line reads the formats before any report exists
    from torchdoctor.model import Report
    from torchdoctor.redact import Redactor


class OutputFormat(str, enum.Enum):
    TERMINAL = "terminal"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    JUNIT = "junit"
    GITHUB = "github"

    @property
    def shared(self) -> bool:
        """Made to be pasted where others read it: identity is hidden by default."""
        return self in (OutputFormat.MARKDOWN, OutputFormat.HTML)


@dataclass(frozen=True)
class RenderOptions:
    verbose: bool = False
    color: bool = False
    width: int = 100
    unicode: bool = True
    redact_identity: bool = True
    redactor: Redactor | None = None
    """Who and where to hide; defaults to this machine's user, home and host."""


def render(report: Report, fmt: OutputFormat, options: RenderOptions = RenderOptions()) -> str:
    from torchdoctor.redact import Redactor, redact_report
    from torchdoctor.visible import sanitized

    identity = None
    if fmt.shared and options.redact_identity:
        identity = options.redactor or Redactor.for_facts(report.facts.host)
    report = redact_report(report, identity)
    if fmt is not OutputFormat.JSON:  # after redaction: a secret is found by its shape, escapes would hide it
        report = sanitized(report)
    if fmt is OutputFormat.TERMINAL:
        from torchdoctor.render import terminal

        return terminal.render(report, options.verbose, options.color, options.width, options.unicode)
    if fmt is OutputFormat.JSON:
        from torchdoctor.render import json as json_render

        return json_render.render(report)
    if fmt is OutputFormat.MARKDOWN:
        from torchdoctor.render import markdown

        return markdown.render(report)
    if fmt is OutputFormat.HTML:
        from torchdoctor.render import html

        return html.render(report)
    if fmt is OutputFormat.JUNIT:
        from torchdoctor.render import junit

        return junit.render(report)
    if fmt is OutputFormat.GITHUB:
        from torchdoctor.render import github

        return github.render(report)
    raise AssertionError(f"unhandled format {fmt}")  # pragma: no cover
