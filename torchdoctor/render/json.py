"""The versioned JSON document (schema: torchdoctor/render/report.schema.json)."""

from __future__ import annotations

import json

from torchdoctor.model import Report
from torchdoctor.reportfile import report_to_dict


def render(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"
