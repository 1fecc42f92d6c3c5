"""Every kind of JSON document torchdoctor writes carries the common head and validates against its shipped schema."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from tests import factories as f
from tests.bench import factories as bf
from tests.distributed import factories as df
from tests.test_cli import ENV, write_report
from torchdoctor.checks.base import Area, run_checks
from torchdoctor.cli import app
from torchdoctor.commands.bench import ReportResult
from torchdoctor.commands.dist import DistResult
from torchdoctor.distributed.checks import all_dist_checks
from torchdoctor.distributed.model import DistReport
from torchdoctor.doctor import judge
from torchdoctor.render import OutputFormat
from torchdoctor.reportfile import SCHEMA_VERSION, TOOL, now
from torchdoctor.result import Result

runner = CliRunner()
KINDS = ("check", "smoke", "bench", "dist", "fleet", "compat", "recommend", "explain", "catalogue")
SCHEMA_OF = {"check": "report", "smoke": "report", "bench": "report"}


def schema(kind: str) -> dict[str, Any]:
    """The schema as the installed package ships it."""
    name = f"{SCHEMA_OF.get(kind, kind)}.schema.json"
    return json.loads(files("torchdoctor.render").joinpath(name).read_text(encoding="utf-8"))


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    assert doc["schema_version"] == SCHEMA_VERSION and doc["tool"]["name"] == "torchdoctor" and doc["created"]
    jsonschema.Draft202012Validator(schema(doc["kind"]), format_checker=jsonschema.FormatChecker()).validate(doc)
    return doc


def cli_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "-f", "json"], env=ENV)
    assert result.exit_code in (0, 1), result.output
    return valid(json.loads(result.stdout))


def test_every_kind_has_a_schema_and_every_result_class_a_kind() -> None:
    import torchdoctor.commands.compat
    import torchdoctor.commands.explain
    import torchdoctor.commands.fleet
    import torchdoctor.commands.recommend  # noqa: F401

    for kind in KINDS:
        assert schema(kind)["type"] == "object"
    kinds = {cls.kind for cls in Result.__subclasses__() if isinstance(cls.__dict__.get("kind"), str)}
    assert kinds == {"dist", "fleet", "compat", "recommend", "explain", "catalogue"}


def test_reports_of_check_smoke_and_bench() -> None:
    check = ReportResult(judge(f.facts()))
    smoke = ReportResult(judge(f.facts(smoke=f.smoke(f.device_smoke())), only=Area.SMOKE))
    bench = ReportResult(replace(judge(bf.facts(bf.device())), kind="bench"))
    assert [valid(r.document())["kind"] for r in (check, smoke, bench)] == ["check", "smoke", "bench"]
    assert json.loads(check.render(OutputFormat.JSON)) | {"created": ""} == check.document() | {"created": ""}


def test_a_dist_report() -> None:
    cluster = df.cluster(df.rank(0), df.rank(1))
    report = DistReport(SCHEMA_VERSION, TOOL, now(), cluster, run_checks(cluster, all_dist_checks()))
    doc = valid(DistResult(report).document())
    assert list(doc)[:4] == ["schema_version", "kind", "tool", "created"]
    assert valid(json.loads(DistResult(report).render(OutputFormat.JSON)))["kind"] == "dist"


def test_fleet_compat_recommend_explain_and_the_catalogue(tmp_path: Path) -> None:
    write_report(tmp_path, f.facts())
    assert cli_json("fleet", str(tmp_path))["nodes"] == 1
    assert cli_json("compat", "--torch", "2.5.1")["rows"]
    assert cli_json("compat", "--torch", "9.9")["rows"] == []
    fits = cli_json("recommend", "--driver", "550.54.15", "--gpu", "H100", "--python-version", "3.12")
    assert fits["fits"] is True and fits["command"]
    no_fit = cli_json("recommend", "--driver", "390.48", "--gpu", "H100", "--python-version", "3.12")
    assert no_fit["fits"] is False and no_fit["changes"]
    assert cli_json("explain", "TD004")["slug"] == "cuda-unavailable"
    assert len(cli_json("check", "--list")["checks"]) > 40


@pytest.mark.parametrize("fmt", ["markdown", "html", "junit", "github"])
def test_an_answer_has_no_report_formats_and_says_so(fmt: str) -> None:
    result = runner.invoke(app, ["check", "--list", "-f", fmt], env=ENV)
    assert result.exit_code == 2 and "has no" in result.output and "terminal, json" in result.output
