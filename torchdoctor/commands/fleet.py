"""`fleet`: many machines' reports (check, bench, dist) read as one answer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.fleet import Fleet, Judging, gather_fleet, is_fleet_requirement, judge_requirements
from torchdoctor.model import Severity
from torchdoctor.render import OutputFormat, RenderOptions
from torchdoctor.render import fleet as fleet_render
from torchdoctor.result import Result
from torchdoctor.settings import Settings, split_codes


def _terminal(result: FleetResult, options: RenderOptions) -> str:
    return fleet_render.render_fleet(result.found, options.color, options.width)


def _plain(render: Callable[[Fleet], str]) -> Callable[[FleetResult, RenderOptions], str]:
    return lambda result, options: render(result.found)


def _github(result: FleetResult, options: RenderOptions) -> str:
    """Annotations are read by everyone who can see the run: the names the job summary gives (pseudonyms)."""
    return fleet_render.fleet_github(result.shared)


@dataclass(frozen=True)
class FleetResult(Result):
    """The fleet as shown (``found``: pseudonyms when hidden) and as gathered (real names)."""

    found: Fleet
    gathered: Fleet
    hidden: bool
    redact: bool
    fleet_requirements: tuple[str, ...] = ()
    kind: ClassVar[str] = "fleet"
    renderers: ClassVar = {
        OutputFormat.TERMINAL: _terminal,
        OutputFormat.JSON: _plain(fleet_render.fleet_json),
        OutputFormat.MARKDOWN: _plain(fleet_render.fleet_markdown),
        OutputFormat.HTML: _plain(fleet_render.fleet_html),
        OutputFormat.JUNIT: _plain(fleet_render.fleet_junit),
        OutputFormat.GITHUB: _github,
    }
    github_extras: ClassVar[bool] = True

    def severities(self) -> Iterable[Severity]:
        if self.found.broken():
            yield Severity.ERROR
        if self.found.warned():
            yield Severity.WARNING

    @property
    def judged(self) -> bool:
        return bool(self.found.nodes)

    @property
    def afterword(self) -> str:
        return "" if self.found.nodes else "no report could be read"

    def document(self) -> dict[str, Any]:
        return fleet_render.fleet_dict(self.found)

    @functools.cached_property
    def shared(self) -> Fleet:
        """The fleet as others read it (job summary, annotations): pseudonyms, as markdown has them by default."""
        if self.hidden or not self.redact:
            return self.found
        view = self.gathered.shared()
        judge_requirements(view, self.fleet_requirements)
        return view

    def job_summary(self) -> str:
        return fleet_render.fleet_markdown(self.shared)


@dataclass(frozen=True)
class FleetOptions:
    paths: tuple[str, ...]
    settings: Settings
    require: tuple[str, ...] = ()
    hide_hosts: bool = False
    shared_format: bool = False
    """The report is made for sharing (markdown, html): names are hidden unless --no-redact."""


def run_fleet(options: FleetOptions) -> FleetResult:
    from torchdoctor.checks.requirements import RequirementError, parse

    conf = options.settings
    specs = split_codes(list(options.require))
    try:
        per_node = tuple(parse(spec) for spec in specs if not is_fleet_requirement(spec))
    except RequirementError as exc:
        raise Stop(f"{exc} (or, for the fleet: nodes>=N, configurations<=N, no-outliers)", ExitCode.USAGE) from None
    hidden = options.hide_hosts or (options.shared_format and conf.redact)
    gathered = gather_fleet(options.paths, Judging(conf.ignore, per_node))
    fleet_specs = tuple(spec for spec in specs if is_fleet_requirement(spec))
    found = gathered.shared() if hidden else gathered
    judge_requirements(found, fleet_specs)
    return FleetResult(found, gathered, hidden, conf.redact, fleet_specs)
