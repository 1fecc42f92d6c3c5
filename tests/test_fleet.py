"""`torchdoctor fleet`: many captured reports become one answer, with planted differences named."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests import factories as f
from torchdoctor.cli import app
from torchdoctor.doctor import judge
from torchdoctor.exitcodes import ExitCode
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
    (root / "gpu-10.json").write_text(report_json(node("gpu-10", nvml=f.nvml(f.gpu(), driver="535.104.05"))))
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
    assert "Fleet: 12 nodes from 14 reports (2 could not be read)" in text
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
    assert first == again
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


def test_nodes_fails_a_fleet_with_fewer_reports_than_expected(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"n{i}.json").write_text(report_json(node(f"n{i}")))
    short = runner.invoke(app, ["fleet", str(tmp_path), "--nodes", "3"], env=ENV)
    assert short.exit_code == ExitCode.FINDINGS and "2 nodes' reports read, 3 expected" in short.output
    assert runner.invoke(app, ["fleet", str(tmp_path), "--nodes", "2"], env=ENV).exit_code == ExitCode.OK


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
