"""The one shape every command's result has: findings, a versioned document, and ``render(format, options)``.

A command takes options and returns a :class:`Result`; :mod:`torchdoctor.output` turns it into text, a
file and GitHub Actions extras, and :mod:`torchdoctor.policy` into an exit code. Each kind of result
names the renderer of each format it has in one table, :attr:`Result.renderers`; :meth:`Result.render`
is the one dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.model import Finding, Severity
from torchdoctor.render import OutputFormat, RenderOptions
from torchdoctor.reportfile import json_text
from torchdoctor.visible import sanitized

Renderer = Callable[[Any, RenderOptions], str]


class Result:
    """What a command found. Subclasses set :attr:`kind` and :attr:`renderers`, and give a document."""

    kind: ClassVar[str] = ""
    """The document's ``kind``: check, smoke, bench, dist, fleet, compat, recommend, explain, catalogue."""
    renderers: ClassVar[Mapping[OutputFormat, Renderer]] = {}
    github_extras: ClassVar[bool] = False
    redacts: ClassVar[bool] = False
    """Its renderers take secrets out of the text, then make it visible themselves (in that order: a secret
    is found by its shape, which a newline shown as an escape would hide from the redactor)."""
    """Inside GitHub Actions, also annotate the run and append to the job summary (whatever -f and -o say)."""

    @property
    def findings(self) -> tuple[Finding, ...]:
        return ()

    def severities(self) -> Iterable[Severity]:
        """What the fail-on policy weighs: the findings' severities unless a kind says otherwise."""
        return (f.severity for f in self.findings)

    @property
    def judged(self) -> bool:
        """False when there was nothing to judge (the policy fails that whatever --fail-on says)."""
        return True

    @property
    def afterword(self) -> str:
        """A line for stderr after the report is out ("" for none)."""
        return ""

    def document(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} has no document")

    def render(self, fmt: OutputFormat, options: RenderOptions | None = None) -> str:
        renderer = self.renderers.get(fmt)
        if renderer is None:
            have = ", ".join(f.value for f in self.renderers)
            raise Stop(f"`{self.kind}` has no {fmt.value} format (it has: {have})", ExitCode.USAGE)
        plain = fmt is OutputFormat.JSON or self.redacts  # JSON escapes for itself, losing nothing
        subject = self if plain else sanitized(self)
        return renderer(subject, options or RenderOptions())

    def annotations(self) -> str:
        """GitHub Actions workflow commands, one per finding."""
        return self.render(OutputFormat.GITHUB)

    def job_summary(self) -> str:
        """The Markdown appended to GitHub's job summary: read by others, so identity is hidden."""
        return self.render(OutputFormat.MARKDOWN, RenderOptions())


def answer_renderers(terminal: Renderer) -> dict[OutputFormat, Renderer]:
    """An answer (not a machine's report) has two formats: its terminal text and its document as JSON."""
    return {OutputFormat.TERMINAL: terminal, OutputFormat.JSON: lambda result, options: json_text(result.document())}
