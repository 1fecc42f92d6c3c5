"""CI policy: --require, --fail-on, --ignore, [tool.torchdoctor], GitHub Actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import factories as f
from tests.test_cli import ENV, write_report
from torchdoctor.checks.base import run_checks
from torchdoctor.checks.requirements import RequirementError, parse
from torchdoctor.cli import app
from torchdoctor.exitcodes import ExitCode
from torchdoctor.model import (
    CheckStatus,
    Facts,
    ImportFailureKind,
    TorchImportFailure,
    TorchNotInstalled,
    Unavailable,
)

runner = CliRunner()
GPU_BOX = f.facts(torch=f.runtime(device_count=2))
CPU_BOX = f.no_gpu()

# requirement: (facts that meet it, facts that do not)
REQUIREMENTS: dict[str, tuple[Facts, Facts]] = {
    "cuda": (GPU_BOX, CPU_BOX),
    "mps": (f.facts(torch=f.cpu_runtime(mps_built=True, mps_available=True)), CPU_BOX),
    "gpus>=2": (GPU_BOX, f.facts()),
    "gpus==1": (f.facts(), GPU_BOX),
    "torch>=2.4": (f.facts(), f.facts(torch=f.runtime(version="2.3.1+cu121"))),
    "torch>=2.5,<2.6": (f.facts(), CPU_BOX),
    # PEP 440 as pip reads it: a source build of 2.6 is not 2.6.0; an installed pre-release meets a range
    "torch==2.6.0": (
        f.facts(torch=f.runtime(version="2.6.0+cu124")),
        f.facts(torch=f.runtime(version="2.6.0a0+git1eba9b3")),
    ),
    "torch>=2.6": (f.facts(torch=f.runtime(version="2.7.0a0+git1eba9b3")), f.facts()),
    "smoke": (f.facts(), f.facts(smoke=f.smoke_failure("cuda:0", "train", "NaN"))),
}


@pytest.mark.parametrize("spec", sorted(REQUIREMENTS))
def test_requirement_met_and_not_met(spec: str) -> None:
    met, unmet = REQUIREMENTS[spec]
    check = parse(spec)
    (ok,) = run_checks(met, [check])
    assert ok.status is CheckStatus.PASSED, ok.findings
    (bad,) = run_checks(unmet, [check])
    assert bad.status is CheckStatus.FIRED
    (finding,) = bad.findings
    assert finding.severity.value == "error" and finding.evidence[0].value.replace(" ", "") == spec.replace(" ", "")


def test_smoke_requirement_when_smoke_did_not_run() -> None:
    (outcome,) = run_checks(f.facts(smoke=Unavailable("smoke", "not run (--no-smoke)", "skipped")), [parse("smoke")])
    assert outcome.status is CheckStatus.FIRED and "--no-smoke" in outcome.findings[0].evidence[1].value


def test_a_requirement_says_what_it_found_in_words_and_no_count_torch_never_gave() -> None:
    """Without torch, `--require cuda` said "found: torch: TorchNotInstalled" (a class name) and `--require
    gpus>=1` "torch.cuda.device_count(): 0", a call that never happened."""
    missing = f.facts(torch=TorchNotInstalled("/usr/bin/python3", "no module named torch"))
    broken = f.facts(torch=TorchImportFailure(ImportFailureKind.UNDEFINED_SYMBOL, "ImportError", "undefined symbol"))
    for facts, said in ((missing, "torch is not installed in /usr/bin/python3"), (broken, "undefined symbol")):
        for spec in ("cuda", "gpus>=1"):
            (outcome,) = run_checks(facts, [parse(spec)])
            (seen,) = [e for e in outcome.findings[0].evidence if e.label != "required"]
            assert seen.label == "found" and said in str(seen.value), (spec, seen)
            assert "Torch" not in str(seen.value), seen


@pytest.mark.parametrize("spec", ["tpu", "gpus>=two", "torch", "torch>>2"])
def test_bad_requirements(spec: str) -> None:
    with pytest.raises(RequirementError):
        parse(spec)


def test_require_on_the_command_line(tmp_path: Path) -> None:
    report = write_report(tmp_path, CPU_BOX)
    result = runner.invoke(app, ["check", "--from", str(report), "--require", "cuda", "-f", "json"], env=ENV)
    assert result.exit_code == ExitCode.FINDINGS
    assert "require-cuda" in {x["slug"] for x in json.loads(result.stdout)["findings"]}
    assert runner.invoke(app, ["check", "--from", str(report), "--require", "warp-drive"], env=ENV).exit_code == 2


def test_pyproject_settings_found_upward_and_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = write_report(tmp_path, f.facts(env=f.env(CUDA_VISIBLE_DEVICES="0,9")))  # one warning
    (tmp_path / "pyproject.toml").write_text('[tool.torchdoctor]\nfail-on = "warning"\nrequire = ["gpus>=1"]\n')
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert runner.invoke(app, ["check", "--from", str(report)], env=ENV).exit_code == ExitCode.FINDINGS
    assert runner.invoke(app, ["check", "--from", str(report), "--fail-on", "error"], env=ENV).exit_code == 0
    (tmp_path / "pyproject.toml").write_text(
        '[tool.torchdoctor]\nignore = ["cuda-visible-devices"]\nrequire = ["gpus>=4"]\n'
    )
    result = runner.invoke(app, ["check", "--from", str(report), "-f", "json"], env=ENV)
    doc = json.loads(result.stdout)
    assert result.exit_code == ExitCode.FINDINGS and [x["slug"] for x in doc["findings"]] == ["require-gpus"]
    assert runner.invoke(app, ["check", "--from", str(report), "--require", "gpus>=1"], env=ENV).exit_code == 0


@pytest.mark.parametrize(
    "content, needle",
    [
        ('[tool.torchdoctor]\nfail-on = "sometimes"\n', "fail-on"),
        ('[tool.torchdoctor]\nignroe = ["x"]\n', "unknown key(s)"),
        ('[tool.torchdoctor]\nrequire = "cuda"\n', "list of strings"),
        ("[tool.torchdoctor\n", "cannot read it as TOML"),
        ("[tool.torchdoctor]\ntimeout = inf\n", "timeout must be a number of seconds"),
        ("[tool.torchdoctor]\nsmoke-timeout = nan\n", "smoke-timeout must be a number of seconds"),
        ("[tool.torchdoctor]\nnvml-timeout = -5\n", "nvml-timeout must be a number of seconds"),
        ("[tool.torchdoctor]\ntimeout = 1e300\n", "timeout must be a number of seconds"),
    ],
)
def test_bad_pyproject_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, needle: str
) -> None:
    report = write_report(tmp_path, f.facts())
    (tmp_path / "pyproject.toml").write_text(content)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check", "--from", str(report)], env=ENV)
    assert result.exit_code == ExitCode.USAGE
    assert needle in result.output


def test_github_actions_annotations_and_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    report = write_report(tmp_path, f.facts(torch=f.cpu_runtime()))
    env = dict(ENV, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    result = runner.invoke(app, ["check", "--from", str(report)], env=env)
    assert "::error title=TD003 torch-cpu-only-build::" in result.stdout
    assert summary.read_text().startswith("### torchdoctor")
    explicit = runner.invoke(app, ["check", "--from", str(report), "-f", "github"], env=ENV)
    assert explicit.stdout.startswith("::error title=TD003")
    summary.unlink()
    out = tmp_path / "r.xml"
    junit = runner.invoke(app, ["check", "--from", str(report), "-f", "junit", "-o", str(out)], env=env)
    assert junit.stdout.count("::error title=TD003") == 1, "annotations whatever -f/-o say, once"
    assert summary.read_text().count("### torchdoctor") == 1
    as_json = runner.invoke(app, ["check", "--from", str(report), "-f", "json"], env=env)
    assert json.loads(as_json.stdout)["tool"]["name"] == "torchdoctor", "stdout keeps the JSON whole"
    assert "::error title=TD003" in as_json.stderr


def test_report_is_check_with_another_name(tmp_path: Path) -> None:
    report = write_report(tmp_path, f.facts())
    result = runner.invoke(app, ["report", "--from", str(report), "-f", "markdown"], env=ENV)
    assert result.exit_code == 0 and result.stdout.startswith("### torchdoctor")
