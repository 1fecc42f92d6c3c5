"""The versioned JSON document (schema: torchdoctor/render/report.schema.json)."""

from __future__ import annotations

from torchdoctor.model import Report
from torchdoctor.reportfile import json_text, report_to_dict


def render(report: Report) -> str:
    return json_text(report_to_dict(report))
