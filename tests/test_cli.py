"""The typer app driven in-process (CliRunner) with fixed width and no colour, plus --from round trips."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import factories as f
from tests.checks.test_catalogue import CASES
from torchdoctor import __version__, serde
from torchdoctor.cli import app
from torchdoctor.doctor import judge
from torchdoctor.exitcodes import ExitCode
from torchdoctor.model import Facts, ImportFailureKind, TorchImportFailure
from torchdoctor.reportfile import report_to_dict

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "100", "CI": "1"}


def write_report(tmp_path: Path, facts: Facts) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_to_dict(judge(facts))))
    return path


def test_version() -> None:
    result = runner.invoke(app, ["--version"], env=ENV)
    assert result.exit_code == 0 and result.stdout.strip() == f"torchdoctor {__version__}"


def test_list_and_explain() -> None:
    listing = runner.invoke(app, ["check", "--list"], env=ENV)
    assert listing.exit_code == 0
    assert "TD004  cuda-unavailable" in listing.stdout
    explained = runner.invoke(app, ["explain", "cuda-unavailable"], env=ENV)
    assert explained.exit_code == 0 and "TD004 cuda-unavailable (error, PyTorch)" in explained.stdout
    unknown = runner.invoke(app, ["explain", "TD999"], env=ENV)
    assert unknown.exit_code == ExitCode.USAGE
    suggested = re.findall(r"\b[Tt][Dd]\d{3}\b", unknown.output.split("did you mean", 1)[1])
    assert suggested and all(code.startswith("TD") for code in suggested), unknown.output  # as `--list` spells them
    near = runner.invoke(app, ["explain", "gpu-lsot"], env=ENV)
    assert near.exit_code == ExitCode.USAGE and "did you mean gpu-lost" in near.output


def test_explain_knows_every_code_a_report_can_show() -> None:
    from torchdoctor.commands.explain import catalogue

    for chk in catalogue():
        assert runner.invoke(app, ["explain", chk.code], env=ENV).exit_code == 0, chk.code


def test_bare_torchdoctor_takes_checks_options() -> None:
    from torchdoctor.cli import default_to_check

    assert default_to_check(["-v", "-f", "json"]) == ["check", "-v", "-f", "json"]
    assert default_to_check(["--no-smoke"]) == ["check", "--no-smoke"]
    assert default_to_check(["--version"]) == ["--version"] and default_to_check(["-h"]) == ["-h"]
    assert default_to_check(["compat", "--torch", "2.5"]) == ["compat", "--torch", "2.5"]
    assert runner.invoke(app, ["explain", "-h"], env=ENV).exit_code == 0


def test_from_a_healthy_report_exits_0(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--from", str(write_report(tmp_path, f.facts()))], env=ENV)
    assert result.exit_code == ExitCode.OK, result.stdout
    assert "no problems found" in result.stdout


def test_from_a_broken_machine_names_the_cause_and_the_fix(tmp_path: Path) -> None:
    facts = f.facts(torch=f.cpu_runtime(), nvml=f.nvml(f.gpu(name="NVIDIA GeForce RTX 4090", compute_capability="8.9")))
    result = runner.invoke(app, ["check", "--from", str(write_report(tmp_path, facts))], env=ENV)
    assert result.exit_code == ExitCode.FINDINGS
    out = result.stdout
    assert "[✗] PyTorch" in out
    assert "a CPU-only torch on a machine with an NVIDIA GPU" in out
    assert "$ /home/ada/venv/bin/python -m pip install --force-reinstall torch==" in out
    assert "--index-url https://download.pytorch.org/whl/cu" in out


def test_json_document_shape(tmp_path: Path) -> None:
    facts = f.facts(python=f.python(bits=32))
    result = runner.invoke(app, ["check", "--from", str(write_report(tmp_path, facts)), "-f", "json"], env=ENV)
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["tool"] == {"name": "torchdoctor", "version": __version__}
    (finding,) = [x for x in doc["findings"] if x["slug"] == "python-32bit"]
    assert set(finding) >= {"code", "slug", "severity", "title", "evidence", "why", "fix", "fix_command"}
    assert finding["evidence"][0]["source"] == "python"
    statuses = {c["status"] for c in doc["checks"]}
    assert statuses <= {"passed", "fired", "skipped", "ignored"}
    assert doc["summary"]["errors"] == 1
    assert "smoke" in doc and "facts" in doc


def test_from_round_trip_keeps_every_fact(tmp_path: Path) -> None:
    facts = f.facts(torch=TorchImportFailure(ImportFailureKind.CRASH, "SIGSEGV", "killed", "tail"))
    doc = report_to_dict(judge(facts))
    assert serde.from_jsonable(Facts, json.loads(json.dumps(doc))["facts"]) == facts


def test_ignore_and_fail_on(tmp_path: Path) -> None:
    report = write_report(tmp_path, f.facts(env=f.env(CUDA_VISIBLE_DEVICES="0,9")))  # a warning only
    assert runner.invoke(app, ["check", "--from", str(report)], env=ENV).exit_code == ExitCode.OK
    strict = runner.invoke(app, ["check", "--from", str(report), "--fail-on", "warning"], env=ENV)
    assert strict.exit_code == ExitCode.FINDINGS
    ignored = runner.invoke(
        app, ["check", "--from", str(report), "--fail-on", "warning", "--ignore", "cuda-visible-devices"], env=ENV
    )
    assert ignored.exit_code == ExitCode.OK
    never = runner.invoke(
        app,
        ["check", "--from", str(write_report(tmp_path, f.facts(python=f.python(bits=32)))), "--fail-on", "never"],
        env=ENV,
    )
    assert never.exit_code == ExitCode.OK


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = runner.invoke(
        app, ["check", "--from", str(write_report(tmp_path, f.facts())), "-f", "json", "-o", str(out)], env=ENV
    )
    assert result.exit_code == 0
    assert json.loads(out.read_text())["tool"]["name"] == "torchdoctor"
    bad = runner.invoke(
        app,
        ["check", "--from", str(write_report(tmp_path, f.facts())), "-o", str(tmp_path / "missing" / "x.json")],
        env=ENV,
    )
    assert bad.exit_code == ExitCode.COULD_NOT_RUN


def test_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["check", "--fail-on", "sometimes"], env=ENV).exit_code == ExitCode.USAGE
    assert runner.invoke(app, ["check", "--python", "/no/such/python"], env=ENV).exit_code == ExitCode.USAGE
    assert runner.invoke(app, ["smoke", "--device", "tpu"], env=ENV).exit_code == ExitCode.USAGE
    assert runner.invoke(app, ["compat", "--gpu", "Voodoo 3"], env=ENV).exit_code == ExitCode.USAGE


def test_verbose_shows_every_fact_and_skip_reasons(tmp_path: Path) -> None:
    facts = f.facts(nvml=f.no_gpu().nvml)
    result = runner.invoke(app, ["check", "--from", str(write_report(tmp_path, facts)), "-v"], env=ENV)
    assert "host.glibc" in result.stdout and "2.39" in result.stdout
    assert "could not check" in result.stdout


def test_compat_json_answers() -> None:
    result = runner.invoke(
        app,
        ["compat", "--torch", "2.5.1", "--torchvision", "0.20.1", "--platform", "linux-x86_64", "-f", "json"],
        env=ENV,
    )
    doc = json.loads(result.stdout)
    assert any("0.20.1 is right" in a for a in doc["answers"])
    assert {r["variant"] for r in doc["rows"]} == {"cu118", "cu121", "cu124", "cpu"}


@pytest.mark.parametrize(
    "args, fits",
    [
        (["--gpu", "RTX 5090", "--driver", "570.86.10"], True),
        (["--gpu", "RTX 5090", "--driver", "550.54.15"], False),  # R550 predates Blackwell
        (["--platform", "macos-x86_64", "--python-version", "3.13"], False),
    ],
)
def test_recommend_json(args: list[str], fits: bool) -> None:
    result = runner.invoke(app, ["recommend", *args, "-f", "json"], env=ENV)
    doc = json.loads(result.stdout)
    assert doc["fits"] is fits
    assert result.exit_code == (ExitCode.OK if fits else ExitCode.FINDINGS)
    if fits:
        assert set(doc) >= {"torch", "variant", "index_url", "command", "reasons"}
        assert doc["variant"] == "cu128" and doc["command"].endswith(
            "--index-url https://download.pytorch.org/whl/cu128"
        )


def test_recommend_for_a_described_mac_takes_its_macos_version() -> None:
    args = ["recommend", "--platform", "macos-arm64", "--python-version", "3.12", "-f", "json"]
    old = json.loads(runner.invoke(app, [*args, "--macos", "13.6"], env=ENV).stdout)
    assert old["torch"] == "2.11.0" and "macOS 13.6" in old["machine"]
    assert json.loads(runner.invoke(app, [*args, "--macos", "14.5"], env=ENV).stdout)["torch"].startswith("2.15.")
    wrong = runner.invoke(app, [*args, "--macos", "fourteen"], env=ENV)
    assert wrong.exit_code == ExitCode.USAGE and "--macos" in wrong.output


@pytest.mark.parametrize("slug", sorted(CASES))
def test_every_check_fires_through_from(slug: str, tmp_path: Path) -> None:
    """The same verdicts from a report captured elsewhere: facts -> JSON -> `check --from`."""
    firing, quiet = CASES[slug]
    fired = runner.invoke(app, ["check", "--from", str(write_report(tmp_path, firing)), "-f", "json"], env=ENV)
    assert slug in {x["slug"] for x in json.loads(fired.stdout)["findings"]}
    calm = runner.invoke(app, ["check", "--from", str(write_report(tmp_path, quiet)), "-f", "json"], env=ENV)
    assert slug not in {x["slug"] for x in json.loads(calm.stdout)["findings"]}


def test_the_catalogue_lists_and_explains_dist_checks_too() -> None:
    listing = runner.invoke(app, ["check", "--list"], env=ENV)
    assert "TD406  dist-duplicate-gpu" in listing.stdout and "TD303  require-gpus" in listing.stdout
    explained = runner.invoke(app, ["explain", "TD406"], env=ENV)
    assert explained.exit_code == 0 and "two ranks share one GPU" in explained.stdout


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("columns", ["80", "140"])
@pytest.mark.parametrize("color", ["", "1"], ids=["piped", "terminal"])
def test_recommend_never_breaks_its_command(columns: str, color: str) -> None:
    env = {**ENV, "COLUMNS": columns, "FORCE_COLOR": color, "NO_COLOR": "" if color else "1"}
    result = runner.invoke(app, ["recommend", "--gpu", "RTX 4090", "--driver", "550.54.15"], env=env)
    lines = ANSI.sub("", result.stdout).splitlines()
    command = [line for line in lines if line.startswith("$ ")]
    assert len(command) == 1, result.stdout
    assert command[0].endswith("--index-url https://download.pytorch.org/whl/cu126"), result.stdout


@pytest.mark.parametrize("columns", ["80", "140"])
@pytest.mark.parametrize("color", ["", "1"], ids=["piped", "terminal"])
def test_compat_never_splits_a_version_or_a_platform(columns: str, color: str) -> None:
    env = {**ENV, "COLUMNS": columns, "FORCE_COLOR": color, "NO_COLOR": "" if color else "1"}
    text = ANSI.sub("", runner.invoke(app, ["compat", "--gpu", "RTX 5090"], env=env).stdout)
    words = {w.strip("();:│┃") for w in text.split()}
    for token in ("linux-x86_64", "580.65.06", ">=3.11,<3.16", "525.60.13"):
        assert token in words, (token, text)


def test_at_an_80_column_terminal_compat_records_wrap_under_their_bullet() -> None:
    env = {**ENV, "COLUMNS": "80", "FORCE_COLOR": "1", "NO_COLOR": ""}
    text = ANSI.sub("", runner.invoke(app, ["compat", "--gpu", "RTX 5090"], env=env).stdout)
    lines = text.splitlines()
    records = [i for i, line in enumerate(lines) if line.startswith("  • ")]
    assert len(records) > 3
    for i in records:  # each record here takes two lines: the second continues under the text
        assert lines[i + 1].startswith("    ") and lines[i + 1].strip(), lines[i : i + 2]
        assert max(len(lines[i]), len(lines[i + 1])) <= 80


def test_installed_with_pipx_the_doctor_examines_the_python_on_path_not_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchdoctor import interpreter as cli

    assert cli.own_tool_environment("/home/ada/.local/share/pipx/venvs/torchdoctor")
    assert cli.own_tool_environment("/home/ada/.local/share/uv/tools/torchdoctor")
    assert not cli.own_tool_environment("/home/ada/venv")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.setattr(cli.sys, "prefix", "/home/ada/.local/share/pipx/venvs/torchdoctor")
    choice = cli.active_python()
    assert choice.path != sys.executable or not choice.note
    assert "the Python on PATH" in choice.note


def test_python_means_an_interpreter_everywhere_and_a_version_is_python_version() -> None:
    as_version = runner.invoke(app, ["recommend", "--python-version", "3.13t", "-f", "json"], env=ENV)
    assert as_version.exit_code in (0, 1) and json.loads(as_version.stdout)["machine"]
    not_a_version = runner.invoke(app, ["compat", "--python-version", "/usr/bin/python3"], env=ENV)
    assert not_a_version.exit_code == ExitCode.USAGE and "--python-version" in not_a_version.output
    bad_seconds = runner.invoke(app, ["check", "--timeout", "nan", "--from", "x.json"], env=ENV)
    assert bad_seconds.exit_code == ExitCode.USAGE
    assert "<float range>" not in runner.invoke(app, ["check", "-h"], env=ENV).stdout


def test_compat_exits_1_when_an_answer_is_no_and_lists_only_the_formats_it_honours() -> None:
    wrong = runner.invoke(app, ["compat", "--torch", "2.5.1", "--torchvision", "0.19.1"], env=ENV)
    assert wrong.exit_code == ExitCode.FINDINGS and "is NOT right" in wrong.stdout
    right = runner.invoke(app, ["compat", "--torch", "2.5.1", "--torchvision", "0.20.1", "-f", "json"], env=ENV)
    assert right.exit_code == ExitCode.OK
    for command in ("compat", "recommend"):
        assert runner.invoke(app, [command, "-f", "html"], env=ENV).exit_code == ExitCode.USAGE
        assert "terminal or json" in runner.invoke(app, [command, "-h"], env=ENV).stdout


def _active_python_in(venv: Path, path: list[Path], extra: list[Path]) -> list[str]:
    """``active_python()`` as the venv's own interpreter runs it (torchdoctor from this checkout), nothing active."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = {
        "PATH": ":".join(map(str, path)),
        "PYTHONPATH": ":".join(map(str, [root, *extra])),
        "HOME": str(venv.parent),
    }
    code = "from torchdoctor.interpreter import active_python\nc = active_python()\nprint(c.path)\nprint(c.note)"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_installed_as_the_readme_says_the_doctor_examines_the_python_on_path_not_its_own(tmp_path: Path) -> None:
    """The README's first command: `python3 -m venv ~/.torchdoctor && ... ~/.torchdoctor/bin/torchdoctor check`.

    That venv holds torchdoctor and no torch: examined, it said "torch is not installed" and offered to
    install torch into the doctor's own environment. Its bin/ is on PATH too (where a user puts it to
    type `torchdoctor`), and is passed over.
    """
    import subprocess

    venv = tmp_path / ".torchdoctor"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    users = tmp_path / "usr" / "bin"
    users.mkdir(parents=True)
    (users / "python3").symlink_to(sys.executable)
    path, note = _active_python_in(venv, [venv / "bin", users], [])
    assert path == str(users / "python3")
    assert str(venv) in note and "--python" in note
    # A virtual environment that has torch is one somebody trains in: it is examined, nothing said.
    (tmp_path / "site" / "torch").mkdir(parents=True)
    (tmp_path / "site" / "torch" / "__init__.py").write_text("")
    path, *note = _active_python_in(venv, [venv / "bin", users], [tmp_path / "site"])
    assert path == str(venv / "bin" / "python") and not "".join(note)


def test_the_command_list_at_80_columns_cuts_no_summary() -> None:
    """click cuts a command's summary to the width left (about 65 characters at 80 columns) with '...': each
    command has a short summary that fits, and its own --help keeps the whole first sentence."""
    out = runner.invoke(app, ["--help"], env={**ENV, "COLUMNS": "80"}).stdout
    listed = out[out.index("Commands:") :].splitlines()[1:]
    names = [line.split()[0] for line in listed if line.strip()]
    assert names == ["check", "report", "smoke", "bench", "explain", "dist", "compat", "fleet", "recommend"], out
    assert not [line for line in listed if "..." in line or "…" in line or len(line) > 80], out
    assert "(or a captured report with" in runner.invoke(app, ["check", "--help"], env={**ENV, "COLUMNS": "80"}).stdout
