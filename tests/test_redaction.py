"""Reports are made to be shared: secrets planted in the environment and in paths never appear in any
format, and the shared formats hide who and where."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from torchdoctor.redact import Redactor, redact_value
from torchdoctor.render import OutputFormat

GH_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
HF_TOKEN = "hf_" + "abcdefghijklmnopqrstuvwxyzABCD"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI = "sk-" + "proj-abcdefghijklmnopqrstuvwx012345"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PASSWORD = "s3cr3tPassw0rd"
PLAIN = "plainsecretvalue123"
AWS_SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
OPTION_PASSWORD = "optionpass987"
COLON_KEY = "colonkey654"
SECRETS = [GH_TOKEN, HF_TOKEN, AWS_KEY, OPENAI, JWT, PASSWORD, PLAIN, AWS_SECRET, OPTION_PASSWORD, COLON_KEY]

PLANTED = {
    "PYTORCH_CUSTOM_URL": f"https://alice:{PASSWORD}@mirror.example.com/simple",
    "NCCL_DEBUG_FILE": f"/tmp/{GH_TOKEN}/nccl.log",
    "TORCH_HOME": f"/data/{HF_TOKEN}",
    "LD_LIBRARY_PATH": f"/opt/{AWS_KEY}/lib:/usr/lib",
    "PYTHONPATH": f"/x/{OPENAI}",
    "TORCH_EXTENSIONS_DIR": f"/cache/{JWT}",
    "TORCH_API_KEY": PLAIN,
    "TORCH_TOKEN": PLAIN,
    "NCCL_PASSWORD": PLAIN,
    "CUDA_HOME": f"/usr/local/cuda?token={PLAIN}",
    # key names with a prefix, in every form, inside allowlisted values
    "TORCH_SHOW_CPP_STACKTRACES": f"X_PASSWORD={PASSWORD} AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
    "PYTORCH_NVML_BASED_CUDA_CHECK": f"--password {OPTION_PASSWORD} --api-key={PLAIN}",
    "NCCL_SOCKET_IFNAME": f"OPENAI_API_KEY: {COLON_KEY}",
}


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_no_secret_reaches_any_format(fmt: str, tmp_path: Path) -> None:
    cwd = tmp_path / GH_TOKEN / "project"
    cwd.mkdir(parents=True)
    env = dict(os.environ, **PLANTED, NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join([PLANTED["PYTHONPATH"], str(REPO)])
    env.pop("GITHUB_ACTIONS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "torchdoctor", "check", "--quick", "-v", "-f", fmt],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )
    assert proc.stdout or fmt == "github", proc.stderr
    for secret in SECRETS:
        assert secret not in proc.stdout, (fmt, secret)
        assert secret not in proc.stderr, (fmt, secret)
    if fmt in ("markdown", "html"):
        home = os.path.expanduser("~")
        assert home not in proc.stdout or home == "/", "the home directory is hidden in shared formats"


@pytest.mark.parametrize(
    "value, hidden",
    [
        (f"https://bob:{PASSWORD}@host/x", PASSWORD),
        (f"git+https://{GH_TOKEN}@github.com/o/r", GH_TOKEN),
        (f"Bearer {JWT}", JWT),
        (f"key={PLAIN}&x=1", PLAIN),
        (f"/opt/{AWS_KEY}/bin", AWS_KEY),
    ],
)
def test_redact_value(value: str, hidden: str) -> None:
    assert hidden not in redact_value(value)
    assert "<redacted>" in redact_value(value)


@pytest.mark.parametrize(
    "value",
    [
        f"X_PASSWORD={PLAIN}",
        f"AWS_SECRET_ACCESS_KEY={PLAIN}",
        f"OPENAI_API_KEY={PLAIN}",
        f"--password {PLAIN}",
        f"--password={PLAIN}",
        f"--hf-token {PLAIN} --verbose",
        f"api_key: {PLAIN}",
        f"OSError: failed with SECRET={PLAIN} in the environment",
    ],
)
def test_secret_keys_with_or_without_a_prefix_in_every_form(value: str) -> None:
    assert PLAIN not in redact_value(value)


def test_a_secret_quoted_in_an_error_from_the_examined_torch_leaks_nowhere(tmp_path: Path) -> None:
    from tests.conftest import Doctor

    doctor = Doctor(tmp_path)
    doctor.fake_torch(f"raise OSError('cannot load: AWS_SECRET_ACCESS_KEY={AWS_SECRET} --password {OPTION_PASSWORD}')")
    for fmt in OutputFormat:
        proc = doctor.run("check", "--no-smoke", "-v", "-f", fmt.value)
        assert AWS_SECRET not in proc.stdout and OPTION_PASSWORD not in proc.stdout, fmt


def test_ordinary_values_are_kept() -> None:
    for value in (
        "/usr/local/cuda-12.4/lib64",
        "PCI_BUS_ID",
        "0,1",
        "https://download.pytorch.org/whl/cu124",
        "MONKEY=banana",
        "tokenizer=bert",
        "--key-file /etc/x",
        "Key facts: torch 2.5.1",
    ):
        assert redact_value(value) == value


def test_identity_redactor() -> None:
    r = Redactor(user="alice", home="/home/alice", host="node-17")
    text = r.text("/home/alice/venv on node-17 by alice, GPU-12345678-abcd-ef01-2345-6789abcdef01")
    assert text == "~/venv on <host> by <user>, GPU-<redacted>"


def test_a_short_host_name_is_hidden_where_it_is_the_whole_value() -> None:
    """A host called "vm" was printed as `"hostname": "vm"` in Markdown and HTML: free text keeps short
    words (they would hide "vm" in "a vm image"), the host fact itself never does."""
    r = Redactor(user="alice", home="/home/alice", host="vm")
    assert r.text("vm") == "<host>"
    assert r.text("a vm image") == "a vm image"


def test_this_machines_identity_is_known() -> None:
    r = Redactor.for_this_machine()
    assert r.home == os.path.expanduser("~")
    assert r.user in ("", getpass.getuser())


def test_a_report_from_another_machine_hides_that_machines_identity() -> None:
    from dataclasses import replace

    from tests import factories as f
    from torchdoctor.doctor import judge
    from torchdoctor.render import render

    facts = f.facts(
        host=replace(f.host(), hostname="alice-gpu-box", user="alice", home="/home/alice"),
        python=f.python(executable="/home/alice/venv/bin/python", cwd="/home/alice/work/alice-gpu-box"),
    )
    for fmt in (OutputFormat.MARKDOWN, OutputFormat.HTML):
        out = render(judge(facts), fmt)
        assert "/home/alice" not in out and "alice-gpu-box" not in out, fmt
        assert "~/venv/bin/python" in out


@pytest.mark.parametrize("fmt", [OutputFormat.MARKDOWN, OutputFormat.HTML])
def test_a_shared_fix_command_is_printed_only_when_it_still_pastes(fmt: OutputFormat) -> None:
    """~ for the home pastes; `<user>` in a path would be a shell redirection, so that command is left out."""
    from dataclasses import replace

    from tests import factories as f
    from torchdoctor.doctor import judge
    from torchdoctor.redact import LEFT_OUT
    from torchdoctor.render import render

    old_driver = {
        "nvml": f.nvml(f.gpu(), driver="470.82.01", cuda="11.4"),
        "kernel": f.kernel(module_version="470.82.01"),
    }
    host = replace(f.host(), hostname="alice-gpu-box", user="alice", home="/home/alice")
    in_home = render(
        judge(f.facts(host=host, python=f.python(executable="/home/alice/venv/bin/python"), **old_driver)), fmt
    )
    assert "~/venv/bin/python -m pip install --force-reinstall torch==2.5.1" in in_home and LEFT_OUT not in in_home
    elsewhere = render(
        judge(f.facts(host=host, python=f.python(executable="/opt/alice/bin/python"), **old_driver)), fmt
    )
    assert "/opt/&lt;user&gt;/bin/python -m pip" not in elsewhere and "/opt/<user>/bin/python -m pip" not in elsewhere
    assert LEFT_OUT.split(":")[0] in elsewhere


def test_an_environment_value_is_recorded_only_for_a_known_variable_of_its_grammar() -> None:
    from torchdoctor.model import EnvVar
    from torchdoctor.probes.environment import env_var

    assert env_var("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True") == EnvVar(
        "PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"
    )
    assert env_var("NCCL_DEBUG", "INFO").value == "INFO"
    assert env_var("CUDA_VISIBLE_DEVICES", "").value == "", "set but empty is a fact"
    withheld = EnvVar("TORCH_MY_ACCESS_KEY", "", withheld=True)
    assert env_var("TORCH_MY_ACCESS_KEY", "short") == withheld, "an unknown variable: set, value withheld"
    assert env_var("NCCL_DEBUG", "hunter2").withheld, "a known variable whose value does not fit its grammar"
    assert env_var("CUDA_HOME", f"/opt/{GH_TOKEN}").withheld, "fits the grammar, but a secret rule fires"


def test_withheld_values_read_as_unknown() -> None:
    from torchdoctor.model import EnvFacts, EnvVar, Unavailable

    env = EnvFacts((EnvVar("CUDA_VISIBLE_DEVICES", "", withheld=True),), Unavailable("nvcc", "no"))
    assert env.get("CUDA_VISIBLE_DEVICES") is None


def test_nccl_conf_copies_only_known_settings(tmp_path: Path) -> None:
    """A .netrc given as NCCL_CONF_FILE: no line of it is copied; known NCCL settings are."""
    from torchdoctor.distributed.rank import nccl_conf

    conf = tmp_path / "netrc"
    netrc = f"machine pypi.org login alice password {PLAIN}\n"
    conf.write_text(netrc + f"NCCL_DEBUG = WARN\nNCCL_IB_HCA=alice:{PLAIN}@proxy\n")
    assert nccl_conf({"NCCL_CONF_FILE": str(conf)})[-1:] == (f"{conf}: NCCL_DEBUG=WARN",)
    assert not any(PLAIN in line for line in nccl_conf({"NCCL_CONF_FILE": str(conf)}))


def test_the_dist_environment_is_an_allowlist_too() -> None:
    from torchdoctor.distributed.rank import dist_env

    env, withheld = dist_env({"NCCL_P2P_DISABLE": "1", "MASTER_ADDR": "10.0.0.1", "NCCL_SECRET": PLAIN, "HOME": "/x"})
    assert env == (("MASTER_ADDR", "10.0.0.1"), ("NCCL_P2P_DISABLE", "1"))
    assert withheld == ("NCCL_SECRET",)


@pytest.mark.parametrize(
    "value",
    [
        "git+https://github.com/pytorch/vision@v0.20.0",
        "ssh://git@github.com/org/repo",
        "a8d6afb511a69687bbb2b7e88a3cf67917e1697e",
        "undefined symbol: _ZNK3c1010TensorImpl36is_contiguous_nondefault_policy_implENS_12MemoryFormatE",
        "/nix/store/7x9kq3a5w0lzfmb8c1yhd6a2i0r4s3vn-python3-3.11.6/bin/python3",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
        "KeyError: 'weight'",
        "cudaErrorNoKernelImageForDevice",
    ],
)
def test_what_a_report_needs_is_not_taken_for_a_secret(value: str) -> None:
    assert redact_value(value) == value


def test_the_doctors_own_words_are_never_taken_for_a_secret() -> None:
    """Every format redacts the whole report, the checks' own sentences too: none may look like ``KEY: value``.

    "Every smoke step must pass: see the smoke findings." was printed as "must pass: <redacted> the smoke
    findings" (``pass: see`` has a secret's shape), in the terminal as in GitHub annotations.
    """
    from tests import factories as f
    from tests.checks.test_catalogue import CASES
    from torchdoctor.checks.requirements import EXAMPLES, parse
    from torchdoctor.doctor import judge

    broken = f.facts(smoke=f.smoke_failure("cpu", "train", "RuntimeError: loss is nan"))
    reports = [judge(fires) for fires, _ in CASES.values()]
    reports.append(judge(broken, required=[parse(example) for example in EXAMPLES]))
    findings = [finding for report in reports for finding in report.findings]
    assert {finding.slug for finding in findings} >= {*CASES, "require-smoke"}
    for finding in findings:
        for text in (finding.title, finding.why, finding.fix):
            assert redact_value(text) == text, finding.slug
