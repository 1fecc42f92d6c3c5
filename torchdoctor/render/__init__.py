"""One renderer per format, each a pure ``render(report) -> str``."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from torchdoctor.model import Report


class OutputFormat(str, enum.Enum):
    TERMINAL = "terminal"
    JSON = "json"


@dataclass(frozen=True)
class RenderOptions:
    verbose: bool = False
    color: bool = False
    width: int = 100
    unicode: bool = True


def render(report: Report, fmt: OutputFormat, options: RenderOptions = RenderOptions()) -> str:
    if fmt is OutputFormat.TERMINAL:
        from torchdoctor.render import terminal

        return terminal.render(report, options.verbose, options.color, options.width, options.unicode)
    if fmt is OutputFormat.JSON:
        from torchdoctor.render import json as json_render

        return json_render.render(report)
    raise AssertionError(f"unhandled format {fmt}")  # pragma: no cover
