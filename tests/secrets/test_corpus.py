"""Every secret shape of tests/secrets/shapes.json, planted in every place text can come from (environment
variables, torch's import error, a traceback's source line, NCCL_CONF_FILE, a collective's error, an unreadable
fleet input), rendered in every format: the secret appears nowhere. And the quiet side: a normal report loses
nothing it needs to the redactor."""

from __future__ import annotations

import json
import random
import string
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests import factories as f
from tests.conftest import Doctor
from tests.distributed import factories as d
from torchdoctor import serde
from torchdoctor.checks.base import run_checks
from torchdoctor.cli import app
from torchdoctor.distributed.checks import all_dist_checks
from torchdoctor.distributed.model import DistReport
from torchdoctor.distributed.rank import dist_env, nccl_conf
from torchdoctor.distributed.render import render as render_dist
from torchdoctor.doctor import judge
from torchdoctor.model import EnvVar, ToolInfo
from torchdoctor.probes.environment import allowed, env_var
from torchdoctor.redact import Redactor, redact_report, redact_value
from torchdoctor.render import OutputFormat
from torchdoctor.rules.envvars import KNOWN

_rng = random.Random(23)
OPAQUE = "".join(_rng.choice(string.ascii_letters + string.digits) for _ in range(20)) + "a7Q"
"""<S> in the corpus: an opaque string made here, so that no scanner of this repository flags the corpus."""

CORPUS = json.loads((Path(__file__).parent / "shapes.json").read_text())["shapes"]
SHAPES = [(s["id"], s["text"].replace("<S>", OPAQUE), OPAQUE if "<S>" in s["text"] else s["secret"]) for s in CORPUS]
IDS = [s[0] for s in SHAPES]
NEEDLES = sorted({needle for _, _, needle in SHAPES})
FORMATS = list(OutputFormat)


def leaks(out: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in out]


def test_the_corpus_holds_the_issues_shapes_and_the_scanners_families() -> None:
    sources = " ".join(s["source"] for s in CORPUS)
    assert sum("issue 23" in s["source"] for s in CORPUS) >= 14
    assert "gitleaks" in sources and "detect-secrets" in sources
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("shape_id, text, needle", SHAPES, ids=IDS)
def test_the_redactor_hides_every_shape(shape_id: str, text: str, needle: str) -> None:
    assert needle not in redact_value(text)
    assert needle not in redact_value(f"RuntimeError: failed with {text} in it")  # inside a sentence


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_no_shape_is_recorded_in_any_known_variable(name: str) -> None:
    """The allowlist: a known variable whose value holds a secret is recorded as set, its value withheld."""
    assert allowed(name)
    for _, text, needle in SHAPES:
        var = env_var(name, text)
        assert needle not in json.dumps(serde.to_jsonable(var)), name
        assert var == EnvVar(name, "", withheld=True)


def test_check_in_every_format(tmp_path: Path) -> None:
    """One machine with every shape in unknown and known variables, in torch's import error and on the traceback's
    source line; each format of `check` shows none of them (and does show that torch failed)."""
    doctor = Doctor(tmp_path)
    one_line = " ".join(text.replace("\n", " ") for _, text, _ in SHAPES)
    message = "\n".join(text for _, text, _ in SHAPES)
    doctor.fake_torch(f"MESSAGE = {message!r}\nraise ImportError('fake torch broke: ' + MESSAGE)  # {one_line}\n")
    for i, (_, text, _) in enumerate(SHAPES):
        doctor.env[f"TORCH_SECRET_{i}"] = text
    known = ["PYTORCH_CUDA_ALLOC_CONF", "NCCL_SOCKET_IFNAME", "TORCH_HOME", "NCCL_DEBUG", "MASTER_ADDR", "CC"]
    for name, (_, text, _) in zip(known, SHAPES[: len(known)], strict=True):
        doctor.env[name] = text
    for fmt in FORMATS:
        proc = doctor.run("check", "--no-smoke", "-v", "-f", fmt.value, timeout=120)
        assert proc.stdout or fmt is OutputFormat.GITHUB, proc.stderr
        assert not leaks(proc.stdout) and not leaks(proc.stderr), (fmt, leaks(proc.stdout + proc.stderr))
        if fmt is OutputFormat.JSON:
            doc = json.loads(proc.stdout)
            assert "fake torch broke" in json.dumps(doc["facts"]["torch"])
            variables = {v["name"]: v for v in doc["facts"]["env"]["variables"]}
            assert variables["TORCH_SECRET_0"] == {"name": "TORCH_SECRET_0", "value": "", "withheld": True}


def _dist_report(tmp_path: Path) -> DistReport:
    conf = tmp_path / "nccl.conf"
    conf.write_text("\n".join(["NCCL_DEBUG=INFO", "NCCL_P2P_DISABLE=1", *(text for _, text, _ in SHAPES)]) + "\n")
    environ = {f"NCCL_SECRET_{i}": text for i, (_, text, _) in enumerate(SHAPES)}
    environ |= {f"TORCH_DISTRIBUTED_X{i}": text for i, (_, text, _) in enumerate(SHAPES)}
    environ |= {"MASTER_ADDR": SHAPES[3][1], "NCCL_CONF_FILE": str(conf), "NCCL_SOCKET_IFNAME": SHAPES[0][1]}
    env, withheld = dist_env(environ)
    lines = nccl_conf(environ)
    assert lines[-2:] == (f"{conf}: NCCL_DEBUG=INFO", f"{conf}: NCCL_P2P_DISABLE=1"), "known settings are kept"
    assert "MASTER_ADDR" in withheld and "NCCL_SECRET_0" in withheld
    error = "all_reduce failed: " + " ".join(text for _, text, _ in SHAPES)
    ranks = (d.rank(0, env=env, env_withheld=withheld, nccl_conf=lines), d.rank(1))
    cluster = replace(d.failed("all_reduce", error), ranks=ranks)
    outcomes = run_checks(cluster, all_dist_checks())
    return DistReport(1, ToolInfo("torchdoctor", "0"), "2026-11-27T00:00:00+00:00", cluster, outcomes)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dist_in_every_format(fmt: OutputFormat, tmp_path: Path) -> None:
    out = render_dist(_dist_report(tmp_path), fmt, redactor=Redactor("ada", "/home/ada", "node-a"))
    assert not leaks(out), leaks(out)
    if fmt is OutputFormat.JSON:
        assert "NCCL_P2P_DISABLE=1" in out  # the leftover-switch check still sees the conf's known setting


@pytest.mark.parametrize("fmt", FORMATS)
def test_fleet_in_every_format(fmt: OutputFormat) -> None:
    """`env | torchdoctor fleet -`: lines that are no report, and a report whose field holds a secret."""
    lines = [text for _, text, _ in SHAPES]
    broken = [{"tool": {"name": "torchdoctor"}, "schema_version": 1, "facts": {"host": text}} for text in lines]
    stream = "\n".join(lines + [json.dumps(b) for b in broken]) + "\n"
    for extra in ([], ["--no-redact"]):
        result = CliRunner().invoke(app, ["fleet", "-", "-f", fmt.value, *extra], input=stream, env={"NO_COLOR": "1"})
        assert not leaks(result.output), (extra, leaks(result.output))
        if fmt is OutputFormat.JSON:
            assert len(json.loads(result.stdout)["unreadable"]) >= len(lines)


# ---------------------------------------------------------------------------------------------- quiet


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    serde_value = serde.to_jsonable(value)

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(serde_value)
    return out


def test_a_normal_report_loses_nothing_to_the_redactor() -> None:
    """Paths, versions, build hashes, UUIDs, index URLs and every fix command of the checks' own catalogue
    survive: ``redact_report`` without identity changes no string of a report with findings."""
    nvml, kernel = f.nvml(f.gpu(), driver="470.82.01", cuda="11.4"), f.kernel(module_version="470.82.01")
    env = f.env(
        CUDA_VISIBLE_DEVICES="0,9",
        LD_LIBRARY_PATH="/usr/local/cuda-12.4/lib64:/opt/conda/lib",
        PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True,roundup_power2_divisions:[256:1,512:2,>:8]",
    )
    report = judge(f.facts(env=env, nvml=nvml, kernel=kernel))
    assert report.findings
    before, after = _strings(report), _strings(redact_report(report))
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == []


def test_the_machines_own_report_loses_nothing(tmp_path: Path) -> None:
    """This machine's real report (real torch, this interpreter's paths and packages): no string is redacted."""
    doctor = Doctor(tmp_path)
    proc = doctor.run("check", "--no-smoke", "-f", "json", "--no-redact", timeout=120)
    doc = json.loads(proc.stdout)
    texts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(doc)
    assert len(texts) > 100
    assert "<redacted>" not in proc.stdout, [t for t in texts if "<redacted>" in t][:5]


@pytest.mark.parametrize(
    "value",
    [
        "0,1",
        "GPU-12345678-abcd-ef01-2345-6789abcdef01",
        "/usr/local/cuda-12.4/lib64:/home/alice/.venv/lib/python3.11/site-packages/nvidia/cudnn/lib",
        "expandable_segments:True,max_split_size_mb:128",
        "eth0,ib0",
        "^docker,lo",
        "INFO",
        "7.0;7.5;8.0+PTX",
        ":4096:8",
        "10.0.0.5",
    ],
)
def test_ordinary_values_of_known_variables_are_recorded(value: str) -> None:
    from torchdoctor.redact import env_value

    names = [n for n in KNOWN if env_value(n, value) == value]
    assert names, value
