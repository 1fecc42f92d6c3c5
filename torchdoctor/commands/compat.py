"""`compat`: compatibility questions answered from the tables alone (offline; this machine is not examined)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from torchdoctor.compat.query import Answer
from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.model import Severity
from torchdoctor.render import RenderOptions
from torchdoctor.reportfile import header
from torchdoctor.result import Result, answer_renderers


def _terminal(result: CompatResult, options: RenderOptions) -> str:
    from torchdoctor.render.compat import render_answer

    return render_answer(result.answer, options.color, options.width)


@dataclass(frozen=True)
class CompatResult(Result):
    answer: Answer
    kind: ClassVar[str] = "compat"
    renderers: ClassVar = answer_renderers(_terminal)

    def severities(self) -> Iterable[Severity]:
        """A negative answer ("not compatible") or no build at all that matches fails the run."""
        return (Severity.ERROR,) if self.answer.negative or not self.answer.rows else ()

    def document(self) -> dict[str, Any]:
        return {**header(self.kind), **self.answer.to_json()}


@dataclass(frozen=True)
class CompatOptions:
    torch: str = ""
    python_version: str = ""
    driver: str = ""
    cuda: str = ""
    gpus: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    torchvision: str = ""
    torchaudio: str = ""


def run_compat(options: CompatOptions) -> CompatResult:
    import platform as platform_module

    from torchdoctor.compat.machine import check_platform, parse_python, platform_key, resolve_gpu
    from torchdoctor.compat.query import Query, answer
    from torchdoctor.compat.tables import load_tables

    tables = load_tables()
    try:
        platforms = tuple(check_platform(p) for p in options.platforms) or (
            platform_key(platform_module.system(), platform_module.machine()),
        )
        gpus = tuple(resolve_gpu(tables, g, i) for i, g in enumerate(options.gpus))
        if options.python_version:
            parse_python(options.python_version)  # a usage error, not an internal one, when it is not a version
        query = Query(
            options.torch,
            options.python_version,
            options.driver,
            options.cuda,
            gpus,
            platforms,
            options.torchvision,
            options.torchaudio,
        )
        return CompatResult(answer(tables, query))
    except ValueError as exc:
        raise Stop(str(exc), ExitCode.USAGE) from None
