"""`explain CODE` and `check --list`: the catalogue of checks, one or all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torchdoctor.checks.base import Check
from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.render import RenderOptions
from torchdoctor.reportfile import header
from torchdoctor.result import Result, answer_renderers


def catalogue() -> list[Check]:
    """Every check with a fixed code: `check`'s catalogue, the requirements, then `bench`'s and `dist`'s."""
    from torchdoctor.checks import every_check

    return every_check()


def entry(chk: Check) -> dict[str, Any]:
    return {
        "code": chk.code,
        "slug": chk.slug,
        "severity": chk.severity.value,
        "area": chk.area.value,
        "title": chk.title,
        "why": chk.why,
        "requires": list(chk.requires),
    }


def _list_text(result: CatalogueResult, options: RenderOptions) -> str:
    lines = []
    for c in result.checks:
        title = c.title if not c.slug.startswith("require-") else f"--require not met ({c.title})"
        lines.append(f"{c.code}  {c.slug:<26} {c.severity.value:<8} {title}")
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class CatalogueResult(Result):
    """`check --list`: every check, a line each."""

    checks: tuple[Check, ...]
    kind: ClassVar[str] = "catalogue"
    renderers: ClassVar = answer_renderers(_list_text)

    def document(self) -> dict[str, Any]:
        return {**header(self.kind), "checks": [entry(c) for c in self.checks]}


def _explain_text(result: ExplainResult, options: RenderOptions) -> str:
    chk = result.check
    text = f"{chk.code} {chk.slug} ({chk.severity.value}, {chk.area.value})\n{chk.title}\n\n{chk.why}\n"
    if chk.requires:
        text += "\nNeeds facts: " + ", ".join(chk.requires) + "\n"
    return text


@dataclass(frozen=True)
class ExplainResult(Result):
    """`explain CODE`: what one check looks at and why it matters."""

    check: Check
    kind: ClassVar[str] = "explain"
    renderers: ClassVar = answer_renderers(_explain_text)

    def document(self) -> dict[str, Any]:
        return {**header(self.kind), **entry(self.check)}


def run_list() -> CatalogueResult:
    return CatalogueResult(tuple(catalogue()))


def run_explain(code: str) -> ExplainResult:
    from torchdoctor.checks import find

    checks = catalogue()
    chk = find(code, checks)
    if chk is None:
        import difflib

        names = {n.lower(): n for c in checks for n in (c.slug, c.code)}  # matched without case, said as listed
        near = [names[n] for n in difflib.get_close_matches(code.strip().lower(), names, n=3, cutoff=0.6)]
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise Stop(f"no check named {code!r}{hint}; `torchdoctor check --list` lists them", ExitCode.USAGE)
    return ExplainResult(chk)
