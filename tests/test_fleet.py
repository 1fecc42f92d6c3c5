"""`torchdoctor fleet`: many captured reports become one answer, with planted differences named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import factories as f
from torchdoctor.cli import app
from torchdoctor.doctor import judge
from torchdoctor.exitcodes import ExitCode
from torchdoctor.fleet import Fleet
from torchdoctor.model import Facts
from torchdoctor.render import OutputFormat, render

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "120", "CI": "1"}


def report_json(facts: Facts) -> str:
    return render(judge(facts), OutputFormat.JSON)


def node(name: str, **kw: object) -> Facts:
    return f.facts(host=f.host(hostname=name), **kw)  # type: ignore[arg-type]


def write_fleet(root: Path) -> None:
    for i in range(10):
        (root / f"gpu-{i:02d}.json").write_text(report_json(node(f"gpu-{i:02d}")))
    (root / "gpu-10.json").write_text(
        report_json(
            node("gpu-10", nvml=f.nvml(f.gpu(), driver="535.104.05"), kernel=f.kernel(module_version="535.104.05"))
        )
    )
    (root / "gpu-11.json").write_text(report_json(node("gpu-11", nvml=f.nvml(f.gpu(remap_failed=True)))))
    (root / "gpu-12.json").write_text('{"tool": {"name": "torchdoctor"}, "schema_ver')
    (root / "notes.json").write_text('{"hello": "world"}')


def test_a_fleet_names_the_node_on_another_driver_the_broken_gpu_and_the_unreadable_reports(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    result = runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV)
    assert result.exit_code == ExitCode.FINDINGS, result.output
    doc = json.loads(result.stdout)
    assert doc["nodes"] == 12
    assert doc["classes"][0]["count"] == 11 and "driver 550.54.15" in doc["classes"][0]["configuration"]
    assert doc["outliers"] == [
        {"node": "gpu-10", "key": "driver", "value": "driver 535.104.05", "majority": "driver 550.54.15"}
    ]
    remap = [x for x in doc["findings"] if x["nodes"] == ["gpu-11"] and x["severity"] == "error"]
    assert remap, doc["findings"]
    unreadable = {Path(u["where"]).name: u["reason"] for u in doc["unreadable"]}
    assert set(unreadable) == {"gpu-12.json", "notes.json"}
    assert "is not JSON" in unreadable["gpu-12.json"] and "not a torchdoctor report" in unreadable["notes.json"]
    text = runner.invoke(app, ["fleet", str(tmp_path)], env=ENV).stdout
    assert "Broken: 1 of 12 nodes with errors, from 14 reports (2 could not be read), 2 configurations" in text
    assert "gpu-10: driver 535.104.05 (the majority: driver 550.54.15)" in text
    assert "Traceback" not in text


def test_identical_healthy_nodes_from_a_stream_of_json_lines_are_one_configuration_and_exit_0() -> None:
    lines = "".join(report_json(node(f"cpu-{i}")).replace("\n", "") + "\n" for i in range(3))
    result = runner.invoke(app, ["fleet", "-", "-f", "json"], input=lines, env=ENV)
    assert result.exit_code == ExitCode.OK, result.output
    doc = json.loads(result.stdout)
    assert [c["count"] for c in doc["classes"]] == [3]
    assert doc["outliers"] == [] and doc["findings"] == [] and doc["unreadable"] == []
    assert sorted(doc["node_configurations"]) == ["cpu-0", "cpu-1", "cpu-2"]


def test_hidden_hosts_get_stable_pseudonyms_that_still_tell_outliers_apart(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    first = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--hide-hosts"], env=ENV).stdout)
    again = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--hide-hosts"], env=ENV).stdout)
    assert first | {"created": ""} == again | {"created": ""}
    (outlier,) = first["outliers"]
    assert outlier["node"].startswith("node-") and "gpu-" not in json.dumps(first["node_configurations"])
    assert len(first["node_configurations"]) == 12


def test_a_fleet_of_no_readable_report_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["fleet", str(tmp_path / "missing.json")], env=ENV)
    assert result.exit_code == ExitCode.FINDINGS
    assert "missing.json: No such file or directory" in result.stdout


def test_fail_on_warning_fails_a_fleet_with_an_outlier_and_never_does_not(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"n{i}.json").write_text(report_json(node(f"n{i}")))
    other_os = f.facts(host=f.host(hostname="n3", os_name="Rocky Linux 9.4"))
    (tmp_path / "n3.json").write_text(report_json(other_os))
    assert runner.invoke(app, ["fleet", str(tmp_path)], env=ENV).exit_code == ExitCode.OK  # an outlier is no error
    assert runner.invoke(app, ["fleet", str(tmp_path), "--fail-on", "warning"], env=ENV).exit_code == ExitCode.FINDINGS
    assert runner.invoke(app, ["fleet", str(tmp_path), "--fail-on", "never"], env=ENV).exit_code == ExitCode.OK


def test_require_nodes_fails_a_fleet_with_fewer_reports_than_expected(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"n{i}.json").write_text(report_json(node(f"n{i}")))
    short = runner.invoke(app, ["fleet", str(tmp_path), "--require", "nodes>=3"], env=ENV)
    assert short.exit_code == ExitCode.FINDINGS, short.output
    assert "nodes>=3 (nodes: 2)" in short.stdout and "1 requirement not met" in short.stdout
    assert runner.invoke(app, ["fleet", str(tmp_path), "--require", "nodes >= 2"], env=ENV).exit_code == ExitCode.OK


def test_a_node_whose_gpu_is_slower_than_the_fleets_median_is_named_and_the_others_are_not(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.bench import factories as b
    from torchdoctor.model import BenchMetric

    for i in range(4):
        (tmp_path / f"n{i}.json").write_text(report_json(replace(b.facts(), host=f.host(hostname=f"n{i}"))))
    slow_device = b.device(BenchMetric("matmul", "bf16", 600.0, "TFLOP/s"), BenchMetric("memory", "", 3000.0, "GB/s"))
    slow = replace(b.facts(slow_device), host=f.host(hostname="n4"))
    (tmp_path / "n4.json").write_text(report_json(slow))
    (tmp_path / "n5.json").write_text(report_json(node("n5")))  # never benched: not compared
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    assert doc["slow"] == [
        {"node": "n4", "what": f"{b.H100} matmul bf16", "value": 600.0, "median": 798.0, "unit": "TFLOP/s"}
    ]
    warned = runner.invoke(app, ["fleet", str(tmp_path), "--fail-on", "warning"], env=ENV)
    assert (
        warned.exit_code == ExitCode.FINDINGS and "n4: NVIDIA H100 80GB HBM3 matmul bf16 600 TFLOP/s" in warned.stdout
    )


def test_bench_figures_of_two_nodes_are_too_few_to_call_one_slow(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.bench import factories as b
    from torchdoctor.model import BenchMetric

    (tmp_path / "a.json").write_text(report_json(replace(b.facts(), host=f.host(hostname="a"))))
    slow_device = b.device(BenchMetric("matmul", "bf16", 600.0, "TFLOP/s"))
    (tmp_path / "b.json").write_text(report_json(replace(b.facts(slow_device), host=f.host(hostname="b"))))
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    assert doc["slow"] == []


def test_garbage_in_the_stream_and_on_disk_is_listed_never_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "latin1.json").write_bytes(b'{"caf\xe9": 1}')
    (tmp_path / "ok.json").write_text(report_json(node("ok")))
    stream = b"\xff\xfe not text\n" + report_json(node("streamed")).replace("\n", "").encode() + b"\n"
    result = runner.invoke(app, ["fleet", str(tmp_path), "-", "-f", "json"], input=stream, env=ENV)
    doc = json.loads(result.stdout)
    assert sorted(doc["node_configurations"]) == ["ok", "streamed"]
    reasons = {Path(u["where"]).name: u["reason"] for u in doc["unreadable"]}
    assert "nested too deeply" in reasons["deep.json"]
    assert reasons["latin1.json"] == "not a UTF-8 text file" and reasons["-:1"] == "not a UTF-8 text file"
    assert result.exit_code == ExitCode.FINDINGS


def dist_report_json(hosts: dict[str, str]) -> str:
    """A `dist` run over ``hosts`` (host -> its driver), two A100 ranks on each."""
    from dataclasses import replace

    from tests.distributed import factories as d
    from torchdoctor.checks.base import run_checks
    from torchdoctor.distributed.checks import all_dist_checks
    from torchdoctor.distributed.model import DistReport
    from torchdoctor.distributed.render import render as dist_render
    from torchdoctor.reportfile import SCHEMA_VERSION, TOOL

    ranks = [
        replace(
            d.rank(2 * n + local), host=host, driver=driver, local_rank=local, device=f"cuda:{local}",
            gpu_name="NVIDIA A100-SXM4-80GB", gpu_uuid=f"GPU-{n:04d}{local:04d}-aaaa-bbbb-cccc-dddddddddddd",
        )
        for n, (host, driver) in enumerate(hosts.items())
        for local in range(2)
    ]  # fmt: skip
    cluster = d.cluster(*ranks, launch=replace(d.LAUNCH, world_size=len(ranks)), peer=())
    report = DistReport(
        SCHEMA_VERSION, TOOL, "2026-11-29T00:00:00+00:00", cluster, run_checks(cluster, all_dist_checks())
    )
    return dist_render(report, OutputFormat.JSON)


def test_a_dist_report_adds_its_hosts_and_merges_with_their_check_reports(tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text(
        dist_report_json({"gpu-00": "550.54.15", "gpu-01": "550.54.15", "gpu-02": "535.104.05"})
    )
    (tmp_path / "gpu-00.json").write_text(report_json(node("gpu-00", nvml=f.nvml(f.gpu(0), f.gpu(1)))))
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    assert doc["unreadable"] == [] and doc["nodes"] == 3
    configs = doc["node_configurations"]
    assert configs["gpu-00"]["os"] == "Ubuntu 24.04.1 LTS"  # from its check report: dist knows no OS
    assert configs["gpu-02"] == {
        "os": "",
        "python": "Python 3.11.9",
        "torch": "torch 2.5.1+cu124",
        "driver": "driver 535.104.05",
        "gpus": "2 × NVIDIA A100-SXM4-80GB",
    }
    assert doc["outliers"] == [
        {"node": "gpu-02", "key": "driver", "value": "driver 535.104.05", "majority": "driver 550.54.15"}
    ]
    (mismatch,) = [x for x in doc["findings"] if x["slug"] == "dist-version-mismatch"]
    assert mismatch["title"] == "NVIDIA driver differs across ranks" and mismatch["count"] == 3  # the job's, on each
    assert mismatch["fixes"] == []  # it prints no command, so the fleet shows none
    assert doc["duplicates"] == {}


def test_a_host_reported_twice_is_counted_once_and_named(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"n{i}.json").write_text(report_json(node(f"n{i}")))
    (tmp_path / "n1-again.json").write_text(report_json(node("n1")))
    result = runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV)
    doc = json.loads(result.stdout)
    assert doc["nodes"] == 3 and result.exit_code == ExitCode.OK
    assert {k: [Path(w).name for w in v] for k, v in doc["duplicates"].items()} == {"n1": ["n1-again.json", "n1.json"]}
    warned = runner.invoke(app, ["fleet", str(tmp_path), "--fail-on", "warning"], env=ENV)
    assert warned.exit_code == ExitCode.FINDINGS and "Reported more than once" in warned.stdout


def test_fleet_requirements_no_outliers_and_one_configuration(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    result = runner.invoke(
        app,
        ["fleet", str(tmp_path), "-f", "json", "--require", "no-outliers", "--require", "configurations<=3"],
        env=ENV,
    )
    reqs = json.loads(result.stdout)["requirements"]
    assert reqs == [
        {"requirement": "no outliers", "met": False, "saw": "outliers: gpu-10 (driver 535.104.05)"},
        {"requirement": "configurations<=3", "met": True, "saw": "configurations: 2"},
    ]
    one = runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--require", "configurations==1"], env=ENV)
    assert json.loads(one.stdout)["requirements"] == [
        {"requirement": "configurations==1", "met": False, "saw": "configurations: 2"}
    ]
    for i in range(3):
        (tmp_path / "same" / "x").mkdir(parents=True, exist_ok=True)
        (tmp_path / "same" / f"s{i}.json").write_text(report_json(node(f"s{i}")))
    met = runner.invoke(app, ["fleet", str(tmp_path / "same"), "--require", "no outliers,configurations==1"], env=ENV)
    assert met.exit_code == ExitCode.OK and "[✓] no outliers (outliers: none)" in met.stdout


def test_a_node_requirement_is_judged_on_every_nodes_report(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--require", "gpus>=2"], env=ENV).stdout)
    (unmet,) = [x for x in doc["findings"] if x["slug"] == "require-gpus"]
    assert unmet["count"] == 12 and unmet["severity"] == "error"
    met = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--require", "gpus>=1"], env=ENV).stdout)
    assert not [x for x in met["findings"] if x["slug"] == "require-gpus"]
    bad = runner.invoke(app, ["fleet", str(tmp_path), "--require", "gpus>>2"], env=ENV)
    assert bad.exit_code == ExitCode.USAGE and "nodes>=N" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_shared_formats_hide_host_names_behind_the_same_pseudonyms_unless_no_redact(tmp_path: Path, fmt: str) -> None:
    from torchdoctor.fleet import pseudonym

    write_fleet(tmp_path)
    (tmp_path / "gpu-03-again.json").write_text(report_json(node("gpu-03")))  # a duplicate names its files
    shared = runner.invoke(app, ["fleet", str(tmp_path), "-f", fmt], env=ENV).stdout
    assert not re.search(r"gpu-\d", shared), shared
    assert pseudonym("gpu-10") in shared and pseudonym("gpu-11") in shared  # the outlier and the broken node
    assert pseudonym("gpu-12") + ".json" in shared  # an unreadable report's file name is the host's too
    plain = runner.invoke(app, ["fleet", str(tmp_path), "-f", fmt, "--no-redact"], env=ENV).stdout
    assert "gpu-10" in plain and pseudonym("gpu-10") not in plain


def test_junit_has_a_case_per_node_requirement_and_unreadable_report(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from tests.render.junit_schemas import assert_valid_junit

    write_fleet(tmp_path)
    result = runner.invoke(app, ["fleet", str(tmp_path), "-f", "junit", "--require", "nodes>=20"], env=ENV)
    assert_valid_junit(result.stdout)
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("15", "2", "2")
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert failed == {"gpu-11", "nodes>=20"}
    outlier = next(c for c in suite.iter("testcase") if c.get("name") == "gpu-10")
    assert "outlier: driver 535.104.05" in (outlier.findtext("system-out") or "")


def test_github_annotations_name_findings_outliers_and_unreadable_reports(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    args = ["fleet", str(tmp_path), "-f", "github", "--no-redact"]
    lines = runner.invoke(app, args, env=ENV).stdout.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines), lines
    assert any(line.startswith("::warning title=fleet outlier%3A driver::gpu-10") for line in lines)
    assert sum(line.startswith("::error title=2 reports could not be read::") for line in lines) == 1
    assert any(line.startswith("::error") and "on 1 node: gpu-11" in line for line in lines)


def test_a_healthy_fleet_says_so_in_every_format(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"n{i}.json").write_text(report_json(node(f"n{i}")))
    for fmt in ("terminal", "markdown", "html"):
        result = runner.invoke(app, ["fleet", str(tmp_path), "-f", fmt], env=ENV)
        healthy = "Healthy: 2 nodes from 2 reports, 1 configuration, 0 outliers, 0 errors"
        assert result.exit_code == ExitCode.OK and healthy in result.stdout
    assert runner.invoke(app, ["fleet", str(tmp_path), "-f", "github"], env=ENV).stdout == ""


def test_output_percent_h_is_this_hosts_name_so_one_command_serves_every_node(tmp_path: Path) -> None:
    import socket

    (tmp_path / "n0.json").write_text(report_json(node("n0")))
    target = tmp_path / "out"
    target.mkdir()
    result = runner.invoke(app, ["fleet", str(tmp_path / "n0.json"), "-f", "json", "-o", str(target / "%h.json")])
    assert result.exit_code == ExitCode.OK, result.output
    assert [p.name for p in target.iterdir()] == [socket.gethostname().split(".")[0] + ".json"]


def test_check_from_a_dist_report_points_to_fleet(tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text(dist_report_json({"a": "550.54.15"}))
    result = runner.invoke(app, ["check", "--from", str(tmp_path / "job.json")], env=ENV)
    assert result.exit_code == ExitCode.COULD_NOT_RUN and "read it with `torchdoctor fleet`" in result.output


def test_many_nodes_left_on_an_old_driver_are_one_outlier_line(tmp_path: Path) -> None:
    for i in range(30):
        old = i % 6 == 0
        nvml = f.nvml(f.gpu(), driver="535.104.05" if old else "550.54.15")
        kernel = f.kernel(module_version="535.104.05" if old else "550.54.15")
        (tmp_path / f"n{i:02d}.json").write_text(report_json(node(f"n{i:02d}", nvml=nvml, kernel=kernel)))
    text = runner.invoke(app, ["fleet", str(tmp_path)], env=ENV).stdout
    assert text.startswith("Works, with differences: 30 nodes from 30 reports, 2 configurations, 5 outliers")
    outliers = text.split("Outliers\n", 1)[1].split("Findings")[0]
    assert outliers.splitlines() == [
        "  • 5 nodes (n00, n06, n12, n18, n24): driver 535.104.05 (the majority: driver 550.54.15)"
    ]
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    assert [o["node"] for o in doc["outliers"]] == ["n00", "n06", "n12", "n18", "n24"]  # JSON keeps each node
    markdown = runner.invoke(app, ["fleet", str(tmp_path), "-f", "markdown"], env=ENV).stdout
    assert markdown.count("| driver | driver 535.104.05 |") == 1


def test_a_dist_job_where_no_rank_reported_still_brings_its_findings(tmp_path: Path) -> None:
    doc = json.loads(dist_report_json({"a": "550.54.15"}))
    doc["cluster"]["ranks"] = []
    doc["cluster"]["steps"][0] = {**doc["cluster"]["steps"][0], "status": "failed", "error": "did not finish"}
    doc["cluster"]["steps"][0]["missing_ranks"] = [0, 1]
    (tmp_path / "job-17.json").write_text(json.dumps(doc))
    out = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    assert out["unreadable"] == [] and out["nodes"] == 1
    (missing,) = [x for x in out["findings"] if x["slug"] == "dist-rank-missing"]
    assert missing["nodes"] == ["job-17"]


def test_a_findings_fix_is_shown_once_for_nodes_that_share_it_and_per_variant_where_they_differ(
    tmp_path: Path,
) -> None:
    old_driver = {
        "nvml": f.nvml(f.gpu(), driver="470.82.01", cuda="11.4"),
        "kernel": f.kernel(module_version="470.82.01"),
    }
    for i in range(5):
        python = f.python(executable="/opt/conda/bin/python") if i == 4 else f.python()
        (tmp_path / f"old-{i}.json").write_text(report_json(node(f"old-{i}", python=python, **old_driver)))
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    (too_old,) = [x for x in doc["findings"] if x["slug"] == "driver-too-old"]
    assert [(x["command"].split()[0], x["nodes"]) for x in too_old["fixes"]] == [
        ("/home/ada/venv/bin/python", 4),
        ("/opt/conda/bin/python", 1),
    ]
    text = runner.invoke(app, ["fleet", str(tmp_path)], env={**ENV, "COLUMNS": "60"}).stdout
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("$ ")]
    assert commands == [f"$ {x['command']}" for x in too_old["fixes"]]  # whole, at 60 columns: pasteable
    assert "fix on 4 nodes (old-0, old-1, old-2, old-3):" in text and "fix on old-4:" in text
    (tmp_path / "old-4.json").unlink()
    lines = runner.invoke(app, ["fleet", str(tmp_path), "-f", "github", "--no-redact"], env=ENV).stdout.splitlines()
    assert any(
        "driver-too-old" in line and "%0Afix: /home/ada/venv/bin/python -m pip install" in line for line in lines
    )


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_a_stream_of_whole_pretty_printed_reports_is_read_like_json_lines(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cat reports/*.json | torchdoctor fleet -`: reports one after another, as `check -f json` writes them."""
    import io

    from torchdoctor import fleet as fleet_module

    monkeypatch.setattr(fleet_module, "CHUNK", chunk)  # 7 bytes: every document straddles many reads
    first, broken, deep, last = (
        report_json(node("a")),
        '{"tool": {"name": "torchdoctor"}, "schema_ver\n',
        "[" * 5000 + "]" * 5000 + "\n",
        report_json(node("b")),
    )
    stream = (first + "\n" + "hello\n" + broken + deep + last).encode() + b"\xff\n" + first.replace("\n", "").encode()
    found = list(fleet_module.stream_documents(io.BytesIO(stream)))
    lines = first.count("\n") + 1
    assert [w for w, _ in found] == [
        "-:1",
        f"-:{lines + 1}",
        f"-:{lines + 2}",
        f"-:{lines + 3}",
        f"-:{lines + 4}",
        f"-:{lines + 4 + last.count(chr(10))}",
        f"-:{lines + 5 + last.count(chr(10))}",
    ]
    Parsed = fleet_module.Parsed
    texts = [
        t.value if isinstance(t, Parsed) else t if isinstance(t, str) else f"{type(t).__name__}: {t}" for _, t in found
    ]
    assert texts[0] == json.loads(first)
    assert texts[1] == "ValueError: not JSON: a line of 5 characters that starts no JSON document (not quoted here)"
    assert texts[2].startswith('{"tool"') and texts[2].endswith("schema_ver\n")  # handed on: its reader says why
    assert texts[3] == "ValueError: nested too deeply to be a torchdoctor report"
    assert texts[4] == json.loads(last)
    assert texts[5] == "ValueError: not a UTF-8 text file"
    assert texts[6] == json.loads(first)


def test_cat_reports_into_fleet_reads_every_node(tmp_path: Path) -> None:
    stream = "".join(report_json(node(f"n{i}")) for i in range(3))  # pretty-printed, back to back
    result = runner.invoke(app, ["fleet", "-", "-f", "json"], input=stream, env=ENV)
    doc = json.loads(result.stdout)
    assert result.exit_code == ExitCode.OK and doc["unreadable"] == []
    assert sorted(doc["node_configurations"]) == ["n0", "n1", "n2"]


def test_in_github_actions_fleet_annotates_and_writes_a_summary_with_pseudonyms_even_from_stdin(
    tmp_path: Path,
) -> None:
    from torchdoctor.fleet import pseudonym

    summary = tmp_path / "summary.md"
    stream = report_json(node("runner-a")) + report_json(
        node("runner-b", nvml=f.nvml(f.gpu(remap_failed=True)))
    )  # back to back, as `cat` gives them
    outside = runner.invoke(
        app,
        ["fleet", "-", "-f", "json"],
        input=stream,
        env={**ENV, "GITHUB_ACTIONS": "false", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert "::error" not in outside.stderr and not summary.exists()  # not in GitHub Actions: the report alone
    env = {**ENV, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = runner.invoke(app, ["fleet", "-", "-f", "json"], input=stream, env=env)
    assert json.loads(result.stdout)["nodes"] == 2  # the JSON on stdout keeps the host names
    assert "runner-b" in result.stdout
    assert "::error title=TD017 gpu-ecc-errors::" in result.stderr  # annotations beside machine-readable stdout
    text = summary.read_text()
    assert text.startswith("### torchdoctor fleet: Broken") and pseudonym("runner-b") in text
    assert "runner-" not in text


def test_the_shared_view_keeps_a_fix_that_pastes_and_drops_one_that_would_not(tmp_path: Path) -> None:
    old_driver = {
        "nvml": f.nvml(f.gpu(), driver="470.82.01", cuda="11.4"),
        "kernel": f.kernel(module_version="470.82.01"),
    }
    homes = {
        "in-home": (f.host(hostname="in-home", user="alice", home="/home/alice"), "/home/alice/venv/bin/python"),
        "elsewhere": (f.host(hostname="elsewhere", user="alice", home="/home/alice"), "/opt/alice/env/bin/python"),
    }
    for name, (host, python) in homes.items():
        facts = f.facts(host=host, python=f.python(executable=python), **old_driver)
        (tmp_path / f"{name}.json").write_text(report_json(facts))
    plain = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    (too_old,) = [x for x in plain["findings"] if x["slug"] == "driver-too-old"]
    assert sorted(x["command"].split()[0] for x in too_old["fixes"]) == [
        "/home/alice/venv/bin/python",
        "/opt/alice/env/bin/python",
    ]
    shared = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--hide-hosts"], env=ENV).stdout)
    (too_old,) = [x for x in shared["findings"] if x["slug"] == "driver-too-old"]
    assert [x["command"].split()[0] for x in too_old["fixes"]] == ["~/venv/bin/python"]  # `<user>` would redirect


def old_driver_nodes(root: Path) -> None:
    """Five nodes on a driver too old for their torch; old-4's Python is elsewhere, so its fix differs."""
    old_driver = {
        "nvml": f.nvml(f.gpu(), driver="470.82.01", cuda="11.4"),
        "kernel": f.kernel(module_version="470.82.01"),
    }
    for i in range(5):
        python = f.python(executable="/opt/conda/bin/python") if i == 4 else f.python()
        (root / f"old-{i}.json").write_text(report_json(node(f"old-{i}", python=python, **old_driver)))


def test_each_fix_variant_names_its_nodes_in_every_format_as_pseudonyms_where_shared(tmp_path: Path) -> None:
    from torchdoctor.fleet import pseudonym

    old_driver_nodes(tmp_path)
    doc = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json"], env=ENV).stdout)
    (too_old,) = [x for x in doc["findings"] if x["slug"] == "driver-too-old"]
    assert [(x["nodes"], x["which"]) for x in too_old["fixes"]] == [
        (4, ["old-0", "old-1", "old-2", "old-3"]),
        (1, ["old-4"]),
    ]
    hidden = json.loads(runner.invoke(app, ["fleet", str(tmp_path), "-f", "json", "--hide-hosts"], env=ENV).stdout)
    (too_old,) = [x for x in hidden["findings"] if x["slug"] == "driver-too-old"]
    assert too_old["fixes"][1]["which"] == [pseudonym("old-4")]
    for fmt in ("markdown", "html"):  # shared: pseudonyms
        text = runner.invoke(app, ["fleet", str(tmp_path), "-f", fmt], env=ENV).stdout
        assert f"on {pseudonym('old-4')}:" in text and "old-4" not in text, fmt
    text = runner.invoke(app, ["fleet", str(tmp_path)], env=ENV).stdout
    assert "fix on old-4:" in text
    github = runner.invoke(app, ["fleet", str(tmp_path), "-f", "github"], env=ENV).stdout
    (annotation,) = [line for line in github.splitlines() if "driver-too-old" in line]
    assert "the fix differs between nodes: see the job summary" in annotation and "pip install" not in annotation


def test_in_github_actions_the_annotations_name_nodes_as_the_job_summary_does(tmp_path: Path) -> None:
    from torchdoctor.fleet import pseudonym

    write_fleet(tmp_path)
    summary = tmp_path / "summary.md"
    env = {**ENV, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = runner.invoke(app, ["fleet", str(tmp_path)], env=env)
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations and summary.exists()
    for real in ("gpu-10", "gpu-11"):
        assert pseudonym(real) in summary.read_text() and real not in summary.read_text()
        assert any(pseudonym(real) in line for line in annotations), annotations
        assert not any(real in line for line in annotations), annotations


def many_findings_fleet() -> Fleet:
    """40 nodes, each with its own error code and a GPU-numbered title, ten of them on drivers of their own."""
    from torchdoctor.fleet import Fleet, Node, NodeFinding

    fleet = Fleet(reports=40)
    for i in range(40):
        config = (("os", "Linux"), ("python", "3.12"), ("torch", "2.13"), ("driver", f"driver {500 + max(0, i - 29)}"))
        findings = (
            NodeFinding(f"TD9{i % 25:02d}", f"problem-{i % 25}", "error", f"problem {i % 25}"),
            NodeFinding("TD017", "gpu-ecc-errors", "error", f"GPU {i % 8} has memory errors", "sudo true"),
            NodeFinding("TD050", "w", "warning", f"warning on GPU {i % 8}"),
        )
        fleet.add(Node(f"n{i:02d}", f"n{i:02d}.json", (*config, ("gpus", "8 × H100")), findings))
    return fleet


def test_github_annotations_are_grouped_and_at_most_ten_of_each_level_with_the_rest_in_the_summary() -> None:
    from torchdoctor.render.fleet import ANNOTATIONS, fleet_github

    lines = fleet_github(many_findings_fleet()).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == ANNOTATIONS and "see the job summary" in errors[-1]
    assert errors[-1].startswith("::error title=17 more errors::")  # 26 codes: 9 shown, 17 in the summary
    (ecc,) = [line for line in errors if "TD017" in line]
    assert "(and 7 similar findings) on 40 nodes" in ecc  # 8 titles (one per GPU) are one annotation
    assert len(warnings) == 2  # one per finding code (TD050) and one per kind of outlier (driver)


def test_the_headline_says_how_many_nodes_are_broken_and_how_many_warned() -> None:
    fleet = many_findings_fleet()
    assert fleet.verdict().startswith("Broken: 40 of 40 nodes with errors, from 40 reports")
    from torchdoctor.fleet import CONFIG_KEYS, Fleet, Node, NodeFinding

    warned = Fleet(reports=3)
    for i in range(3):
        findings = (NodeFinding("TD050", "w", "warning", "a warning"),) if i == 0 else ()
        warned.add(Node(f"n{i}", f"n{i}.json", tuple((key, "same") for key in CONFIG_KEYS), findings))
    assert warned.verdict().startswith("Works, with warnings: 1 of 3 nodes with warnings, from 3 reports")


def _reread(reports: list[Facts]) -> list[Facts]:
    """Each report as fleet reads it back: parts equal to another report's are loaded once (the same object)."""
    from torchdoctor.fleet import Judging
    from torchdoctor.reportfile import facts_from_document, report_document

    how = Judging()
    return [facts_from_document(report_document(report_json(x), "r"), "r", how.parts) for x in reports]


def test_fleet_shares_the_parts_reports_have_in_common_and_keeps_the_rest_their_own() -> None:
    one, two = _reread([node("a"), node("b", nvml=f.nvml(f.gpu(temperature_c=80)))])
    assert one.packages is two.packages and one.kernel is two.kernel
    assert one.host is not two.host and one.nvml is not two.nvml
    assert one.host.hostname == "a" and two.host.hostname == "b"  # type: ignore[union-attr]


def test_reports_judged_in_forked_children_give_the_answer_one_process_gives(tmp_path: Path) -> None:
    """Checks, a dist report, a host reported twice and unreadable files, judged by one process and by three
    forked children: the same fleet, node for node in the same order, and the same report in every format."""
    from torchdoctor.fleet import gather_fleet
    from torchdoctor.render import fleet as fleet_render

    write_fleet(tmp_path)
    (tmp_path / "job.json").write_text(dist_report_json({"gpu-03": "550.54.15", "dgx-9": "535.104.05"}))
    (tmp_path / "gpu-01-again.json").write_text((tmp_path / "gpu-01.json").read_text())
    paths = [str(tmp_path)]
    alone, forked = gather_fleet(paths, children=1), gather_fleet(paths, children=3)
    assert alone.reports == forked.reports == 16
    assert [n.name for n in alone.nodes] == [n.name for n in forked.nodes] and alone == forked
    for render_as in (fleet_render.fleet_json, fleet_render.fleet_markdown, fleet_render.fleet_junit):
        assert re.sub(r'"created": "[^"]*"', "", render_as(alone)) == re.sub(
            r'"created": "[^"]*"', "", render_as(forked)
        )
