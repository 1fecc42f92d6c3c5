"""Record every command's output, normalized, so two checkouts can be compared case by case.

    python scripts/record_outputs.py OUT_DIR [--repo PATH] [--python-exe PY] [--jobs 3]
    python scripts/record_outputs.py OUT_DIR --reports-from EARLIER_OUT_DIR   # re-judge earlier reports
    python scripts/record_outputs.py --compare DIR_A DIR_B

The real CLI (``<python> -m torchdoctor ...``) runs once per case, with PYTHONPATH=<repo>, NO_COLOR=1,
COLUMNS=80, a fixed PATH, LANG=C.UTF-8, PYTHONHASHSEED=0 and its own HOME, TMPDIR and working directory,
on fake GPU machines (the fake libnvidia-ml.so.1 of tests/fakes under the real bindings) or on none.
Every case writes ``OUT_DIR/cases/<name>.txt``: the command line, exit code, stdout and stderr, with
what varies from run to run replaced by placeholders (see ``normalize``).

The JSON reports that the live cases produce (and a few built from tests/factories.py) are kept,
unnormalized, in ``OUT_DIR/reports/``; the ``--from`` and ``fleet`` cases re-judge them. Recording
"after" a change with ``--reports-from BEFORE_DIR`` re-judges the very same files.

Paths are made the same length in every run, so the terminal wraps them alike: everything runs under
``/tmp/tdg-XXXXXXXX/`` (``<WORK>`` in the files), through the symbolic links ``<WORK>/repo`` (the
checkout) and ``<WORK>/venv`` (the interpreter's environment).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE_REPO = Path(__file__).resolve().parents[1]
FORMATS = ("terminal", "json", "markdown", "html", "junit", "github")
RTX3090 = {"name": "NVIDIA GeForce RTX 3090", "cc": "8.6"}

# name: (driver branch, GPUs, system keys); None: no NVML library at all.
MACHINES: dict[str, tuple[str, list[dict[str, Any]], dict[str, Any]] | None] = {
    "r550-2gpu": ("R550", [{}, RTX3090], {}),
    "r470-old": ("R470", [RTX3090], {}),
    "r535-ecc-lost": ("R535", [{"ecc": "1 1 3", "remap": "0 0 1 0"}, {"handle_error": 15}], {}),
    "no-nvml": None,
}

# Built from tests/factories.py in a child of the checkout: name -> expression over `f`.
FACTORY_REPORTS = {
    "factory-default": "f.facts()",
    "factory-no-gpu": "f.no_gpu()",
    "factory-cpu-container": "f.cpu_container()",
    "factory-mac": "f.no_gpu(host=f.mac())",
    "factory-smoke-failed": "f.facts(smoke=f.smoke_failure('cuda:0', 'train', 'RuntimeError: CUDA error: an illegal "
    "memory access was encountered'))",
    "factory-lost-gpu": "f.facts(nvml=f.nvml(f.gpu(0), f.lost_gpu(1)))",
}
FACTORY_SCRIPT = """
import json, sys
from tests import factories as f
from torchdoctor import serde
import torchdoctor
for name, expr in json.loads(sys.argv[1]).items():
    doc = {"schema_version": 1, "tool": {"name": "torchdoctor", "version": torchdoctor.__version__},
           "created": "2025-01-01T00:00:00+00:00", "origin": "probed", "facts": serde.to_jsonable(eval(expr))}
    with open(name + ".json", "w", encoding="utf-8") as out:
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\\n")
"""


@dataclass
class Case:
    name: str
    args: list[str]
    machine: str | None = None
    """A key of MACHINES (a fake NVML library), or None: no NVML library."""
    report: str = ""
    """Keep stdout as reports/<report>.json (a live JSON report, for the --from and fleet cases)."""
    timeout: float = 180
    phase: int = 1
    """1: live and offline cases; 2: the cases that read phase 1's reports."""
    stdin: str | None = None


@dataclass
class Recording:
    repo: Path
    python: Path
    out: Path
    work: Path
    lib: Any = None
    durations: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- normalization

Q = '(?P<q>"|&quot;|&#34;)'  # a JSON key's quote, also as html writes it
P = r"(?P=q)"
PLACEHOLDERS: list[tuple[re.Pattern[str], str]] = [
    # JSON: the report's creation time, durations, pids, measured figures, the rendezvous port.
    (re.compile(rf"{Q}(created|timestamp|started|finished){P}: {P}.*?{P}"), r"\g<q>\2\g<q>: \g<q><time>\g<q>"),
    (re.compile(rf"{Q}(seconds|elapsed|duration|\w+_seconds){P}: -?\d[\d.eE+-]*"), r"\g<q>\2\g<q>: <s>"),
    (re.compile(rf"{Q}(pid|master_port){P}: \d+"), r"\g<q>\2\g<q>: <\2>"),
    (re.compile(rf"{Q}(value|\w+_gbs){P}: -?\d[\d.eE+-]*"), r"\g<q>\2\g<q>: <x>"),
    # -v's table of facts: a duration's row.
    (re.compile(r"(seconds +│ )\d+(?:\.\d+)? *│"), r"\1<s> │"),
    # junit: the suite's timestamp and the measured times (a check's time="0" is kept).
    (re.compile(r'\btimestamp="[^"]*"'), 'timestamp="<time>"'),
    (re.compile(r'\btime="\d+\.\d+"'), 'time="<s>"'),
    # ISO and human timestamps anywhere (markdown/html headers).
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?(UTC|Z|[+-]\d{2}:?\d{2}))?"), "<time>"),
    # Measured figures in text: bandwidth, FLOP/s, latency.
    (
        re.compile(
            r"\b\d+(?:[.,]\d+)?(?:e[+-]?\d+)?(\s?)(?:[kMGTP]i?B/s|[kMGTP]?FLOP/s|[kMGTP]?FLOPS|"
            r"[kMGT]?bit/s|us|µs|ns)(?![\w/])"
        ),
        r"<n>\1<unit>",
    ),
    # Durations in text: "in 0.42 s", "(12.3 ms)", "1.5s".
    (re.compile(r"\b\d+(?:\.\d+)?(\s?)(?:ms|s|sec|seconds)\b"), r"<dur>\1s"),
    # pids in text.
    (re.compile(r"\b(pid|PID|process) \d+\b"), r"\1 <pid>"),
    # Crash files, temporary names, the fake library's folder (named by a hash of its source).
    (re.compile(r"torchdoctor-crash-[\w.-]+"), "torchdoctor-crash-<id>"),
    (re.compile(r"\btmp[a-z0-9_]{8}\b"), "tmp<id>"),
    (re.compile(r"\b(torchdoctor|td)[-_]([a-z]+[-_])?[a-z0-9_]{8}\b"), r"\1-<tmp>"),
    (re.compile(r"<WORK>/lib/[0-9a-f]{12}\b"), "<WORK>/lib/<hash>"),
    # Ports of a local rendezvous.
    (re.compile(r"\b(127\.0\.0\.1|localhost|0\.0\.0\.0):\d{2,5}\b"), r"\1:<port>"),
]
WORK_DIR = re.compile(r"/tmp/tdg-[a-z0-9_]{8}(?![\w])")
MEASURED_ARRAYS = re.compile(rf"{Q}(window|copy_gbs|samples){P}: \[")


def normalize(text: str, work: str | None = None, measuring: bool = False) -> str:
    """``text`` with what varies run to run replaced by placeholders.

    ``work`` (this recording's ``/tmp/tdg-XXXXXXXX``) becomes ``<WORK>``. ``measuring``: the output of
    bench or dist, whose figures are measurements: in JSON, the measured arrays go; in other text,
    every decimal number, and the alignment that their widths move (runs of spaces and table rules).
    """
    if work:
        text = text.replace(work, "<WORK>")
    text = WORK_DIR.sub("<WORK>", text)  # also an earlier recording's, in the reports it re-judges
    for pattern, repl in PLACEHOLDERS:
        text = pattern.sub(repl, text)
    text = _measured_arrays(text)
    text = re.sub(r" +<dur>", " <dur>", text)  # right-aligned durations: their width moves the padding
    if measuring and not text.lstrip().startswith("{"):
        text = re.sub(r"(?<![\w.<])\d+\.\d+(?![\w.])", "<x>", text)
        text = re.sub(r"(?<![\w.<])\d+(\.\d+)?\s?%", "<pct>", text)
        text = re.sub(r"(?<=\S) {2,}", " ", text)
        text = re.sub(r"([━─═])\1+", r"\1", text)
    if measuring:  # bench's repeats per sample are fitted to the time it has
        text = re.sub(r"median of (\d+) x \d+", r"median of \1 x <n>", text)
    return text


def _measured_arrays(text: str) -> str:
    """JSON arrays of measurements (a bench window, copy bandwidths) as ``[<x>]``, however nested."""
    out, pos = [], 0
    for match in MEASURED_ARRAYS.finditer(text):
        if match.start() < pos:
            continue
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(text)):
            depth += {"[": 1, "]": -1}.get(text[end], 0)
            if depth == 0:
                break
        out.append(text[pos : match.end()] + "<x>]")
        pos = end + 1
    return "".join(out) + text[pos:]


# ---------------------------------------------------------------- the cases


def cases() -> list[Case]:
    out: list[Case] = []
    a = "r550-2gpu"
    for fmt in FORMATS:  # the smoke section in every format: the --from cases of reports/r550-2gpu.json
        smoke = [] if fmt in ("terminal", "json") else ["--no-smoke"]
        out.append(Case(f"check-{a}-{fmt}", ["check", "-f", fmt, *smoke], a, report=a if fmt == "json" else ""))
    out += [
        Case(f"check-{a}-quick", ["check", "--quick"], a),
        Case(f"check-{a}-quick-json", ["check", "--quick", "-f", "json"], a, report=f"{a}-quick"),
        Case(f"check-{a}-no-smoke", ["check", "--no-smoke"], a),
        Case(f"check-{a}-verbose", ["check", "-v"], a),
        Case(f"report-{a}-markdown-no-redact", ["report", "--no-smoke", "-f", "markdown", "--no-redact"], a),
        Case(f"check-{a}-require", ["check", "--no-smoke", "--require", "cuda", "--require", "gpus>=4"], a),
        Case(f"check-{a}-ignore-fail-on", ["check", "--quick", "--ignore", "TD016", "--fail-on", "never"], a),
        Case(f"smoke-{a}-cpu", ["smoke", "--device", "cpu"], a),
        Case(f"bench-{a}-cpu", ["bench", "--device", "cpu", "--seconds", "1"], a),
        Case(f"bench-{a}-cpu-json", ["bench", "--device", "cpu", "--seconds", "1", "-f", "json"], a),
        Case("dist-nproc2-gloo", ["dist", "--nproc", "2", "--backend", "gloo"], "no-nvml", timeout=120),
    ]
    for m in ("r470-old", "r535-ecc-lost", "no-nvml"):
        out += [
            Case(f"check-{m}-terminal", ["check", "--no-smoke"], m),
            Case(f"check-{m}-json", ["check", "--no-smoke", "-f", "json"], m, report=m),
            Case(f"check-{m}-verbose", ["check", "--no-smoke", "-v"], m),
            Case(f"check-{m}-quick", ["check", "--quick"], m),
        ]
    out.append(Case("check-no-nvml-smoke", ["check"], "no-nvml"))
    out.append(Case("recommend-r470-old-live", ["recommend"], "r470-old"))
    out.append(Case("recommend-r550-2gpu-live-json", ["recommend", "-f", "json"], "r550-2gpu"))
    for args in (
        ["--torch", "2.5.1"],
        ["--torch", "2.5.1", "--python-version", "3.13", "--platform", "windows-x86_64"],
        ["--gpu", "RTX 5090"],
        ["--driver", "470.82.01"],
        ["--torch", "9.9"],
        ["--torch", "2.5.1", "--gpu", "RTX 5090", "--driver", "550.54.15", "-f", "json"],
        ["--torch", "2.4", "--torchvision", "0.20.0"],
        ["--cuda", "cu126", "--platform", "macos-arm64"],
    ):
        out.append(Case("compat" + slug(args), ["compat", *args]))
    for args in (
        ["--driver", "550.54.15", "--gpu", "H100", "--python-version", "3.12", "--platform", "linux-x86_64"],
        ["--python-version", "3.14.1"],
        ["--python-version", "3.15t"],
        ["--gpu", "RTX 4090"],
        ["--driver", "470.82.01", "--gpu", "RTX 3090", "--python-version", "3.11", "-f", "json"],
    ):
        out.append(Case("recommend" + slug(args), ["recommend", *args], "no-nvml"))
    out += [
        Case("explain-TD004", ["explain", "TD004"]),
        Case("explain-cuda-device-order", ["explain", "cuda-device-order"]),
        Case("explain-nosuch", ["explain", "nosuch"]),
        Case("check-list", ["check", "--list"]),
        Case("version", ["--version"]),
        Case("help", ["--help"]),
        Case("no-args", []),
    ]
    for cmd in ("check", "report", "smoke", "bench", "explain", "dist", "compat", "fleet", "recommend"):
        out.append(Case(f"help-{cmd}", [cmd, "--help"]))
    return out


def from_cases(reports: list[str]) -> list[Case]:
    out: list[Case] = []
    for rep in reports:
        fmts = FORMATS if not rep.startswith("factory-") else ("terminal", "json", "markdown")
        for fmt in fmts:
            out.append(Case(f"from-{rep}-{fmt}", ["check", "--from", f"reports/{rep}.json", "-f", fmt], phase=2))
    out += [Case(f"fleet-{fmt}", ["fleet", "reports", "-f", fmt], phase=2) for fmt in FORMATS]
    out += [
        Case("fleet-hide-hosts", ["fleet", "reports", "--hide-hosts"], phase=2),
        Case("fleet-fail-on-warning", ["fleet", "reports", "--fail-on", "warning"], phase=2),
        Case("fleet-require", ["fleet", "reports", "--require", "nodes>=20", "--require", "cuda"], phase=2),
        Case("fleet-markdown-no-redact", ["fleet", "reports", "-f", "markdown", "--no-redact"], phase=2),
        Case("fleet-stdin", ["fleet", "-"], phase=2, stdin="reports/r470-old.json"),
        Case("from-missing-file", ["check", "--from", "reports/nosuch.json"], phase=2),
    ]
    return out


def slug(args: list[str]) -> str:
    text = "-".join(a.lstrip("-") for a in args if a not in ("-f",))
    return "-" + re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


# ---------------------------------------------------------------- running


def load_nvml_lib(repo: Path) -> Any:
    spec = importlib.util.spec_from_file_location("td_fake_nvml_lib", repo / "tests" / "fakes" / "nvml_lib.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def environment(rec: Recording, case_dir: Path, machine: str | None) -> dict[str, str]:
    home, tmp = case_dir / "home", case_dir / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(rec.work / "repo"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_COLOR": "1",
        "COLUMNS": "80",
        "LINES": "50",
    }
    for var in ("USER", "LOGNAME"):
        if var in os.environ:
            env[var] = os.environ[var]
    spec = MACHINES.get(machine) if machine else None
    if spec is not None:
        branch, gpus, system = spec
        nvml = load_nvml_lib(rec.repo)
        lib = nvml.FakeNvmlLibrary(rec.work / "lib")
        env.update(lib.env(nvml.Machine(branch, gpus, system), case_dir))
    return env


def interpreter(rec: Recording) -> str:
    """The interpreter as seen through <WORK>/venv when it lives in a virtual environment."""
    return (
        str(rec.work / "venv" / rec.python.relative_to(venv_root(rec.python)))
        if venv_root(rec.python)
        else str(rec.python)
    )


def venv_root(python: Path) -> Path | None:
    for parent in python.parents:
        if (parent / "pyvenv.cfg").exists():
            return parent
    return None


EXAMINES = {"check", "report", "smoke", "bench", "dist", "recommend"}


def examines(args: list[str]) -> bool:
    """Whether the command examines an interpreter (then it gets ``--python <WORK>/venv/bin/python``)."""
    if not args or args[0] not in EXAMINES or {"--from", "--help", "--list"} & set(args):
        return False
    return args[0] != "recommend" or args[1:] in ([], ["-f", "json"])  # recommend's assumed machines examine none


def run_case(rec: Recording, case: Case) -> str:
    case_dir = rec.work / "cases" / case.name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    env = environment(rec, case_dir, case.machine)
    py = interpreter(rec)
    args = list(case.args)
    if examines(args):
        args += ["--python", py]
    argv = [py, "-m", "torchdoctor", *args]
    stdin = (rec.work / case.stdin).read_bytes() if case.stdin else None
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv, input=stdin, capture_output=True, env=env, cwd=rec.work, timeout=case.timeout, check=False
        )
        code, stdout, stderr = str(proc.returncode), proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, stdout, stderr = f"timeout after {case.timeout:g} s", exc.stdout or b"", exc.stderr or b""
    rec.durations[case.name] = time.monotonic() - started
    out_text, err_text = stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
    if case.report:
        for where in (rec.work / "reports", rec.out / "reports"):
            (where / f"{case.report}.json").write_text(out_text, encoding="utf-8")
    measuring = bool(args) and args[0] in ("bench", "dist")
    work = str(rec.work)
    shown = " ".join(["python", "-m", "torchdoctor", *(_quote(a) for a in args)])
    machine = case.machine or "-"
    body = (
        f"$ {normalize(shown, work)}\n"
        f"# machine: {machine}{'' if case.stdin is None else f'; stdin: {case.stdin}'}\n"
        f"# exit: {code}\n"
        f"# ---- stdout\n{normalize(out_text, work, measuring)}"
        f"{'' if out_text.endswith(chr(10)) or not out_text else chr(10)}"
        f"# ---- stderr\n{normalize(err_text, work, measuring)}"
        f"{'' if err_text.endswith(chr(10)) or not err_text else chr(10)}"
    )
    (rec.out / "cases" / f"{case.name}.txt").write_text(body, encoding="utf-8")
    shutil.rmtree(case_dir, ignore_errors=True)
    return f"{case.name}: exit {code} ({rec.durations[case.name]:.1f} s)"


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./:=<>,+@%-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


def factory_reports(rec: Recording) -> None:
    env = environment(rec, rec.work / "cases" / "_factories", None)
    proc = subprocess.run(
        [interpreter(rec), "-c", FACTORY_SCRIPT, json.dumps(FACTORY_REPORTS)],
        cwd=rec.work / "reports",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:  # a checkout whose factories moved: record without them (or use --reports-from)
        print(f"warning: no reports from tests/factories.py:\n{proc.stderr}", file=sys.stderr)
    for name in FACTORY_REPORTS:
        if (rec.work / "reports" / f"{name}.json").exists():
            shutil.copy(rec.work / "reports" / f"{name}.json", rec.out / "reports" / f"{name}.json")


def record(rec: Recording, jobs: int, only: re.Pattern[str] | None, reports_from: Path | None) -> int:
    (rec.out / "cases").mkdir(parents=True, exist_ok=True)
    (rec.out / "reports").mkdir(parents=True, exist_ok=True)
    (rec.work / "reports").mkdir(parents=True, exist_ok=True)
    (rec.work / "repo").symlink_to(rec.repo)
    root = venv_root(rec.python)
    if root:
        (rec.work / "venv").symlink_to(root)
    nvml = load_nvml_lib(rec.repo)
    for spec in MACHINES.values():  # build every branch's library once, before the pool races for it
        if spec:
            nvml.build(rec.work / "lib", nvml.BRANCHES[spec[0]].hidden)
    phase1 = [c for c in cases() if only is None or only.search(c.name)]
    started = time.monotonic()
    run_pool(rec, phase1, jobs)
    if reports_from:  # judge an earlier recording's very reports
        for src in sorted((reports_from / "reports").glob("*.json")):
            shutil.copy(src, rec.work / "reports" / src.name)
            shutil.copy(src, rec.out / "reports" / src.name)
    else:
        factory_reports(rec)
    names = sorted(p.stem for p in (rec.work / "reports").glob("*.json"))
    phase2 = [c for c in from_cases(names) if only is None or only.search(c.name)]
    run_pool(rec, phase2, jobs)
    total = len(phase1) + len(phase2)
    slowest = sorted(rec.durations.items(), key=lambda kv: -kv[1])[:5]
    print(f"recorded {total} cases into {rec.out} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print("slowest: " + ", ".join(f"{n} {s:.1f} s" for n, s in slowest), file=sys.stderr)
    return 0


def run_pool(rec: Recording, todo: list[Case], jobs: int) -> None:
    # The slow ones first, so the pool ends together.
    todo = sorted(todo, key=slowness)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for line in pool.map(lambda c: run_case(rec, c), todo):
            print(line, file=sys.stderr)


def slowness(case: Case) -> int:
    if "--help" in case.args or not case.args:
        return 3
    if case.args[0] in ("dist", "bench", "smoke"):
        return 0
    if case.args[0] in ("check", "report") and not {"--no-smoke", "--quick", "--from", "--list"} & set(case.args):
        return 1
    return 2


# ---------------------------------------------------------------- comparing


def compare(a: Path, b: Path) -> int:
    files_a = {p.name: p for p in sorted((a / "cases").glob("*.txt"))}
    files_b = {p.name: p for p in sorted((b / "cases").glob("*.txt"))}
    differing = only_a = only_b = 0
    for name in sorted(files_a.keys() | files_b.keys()):
        if name not in files_b:
            only_a += 1
            print(f"only in {a}: {name}")
            continue
        if name not in files_a:
            only_b += 1
            print(f"only in {b}: {name}")
            continue
        text_a = files_a[name].read_text(encoding="utf-8").splitlines(keepends=True)
        text_b = files_b[name].read_text(encoding="utf-8").splitlines(keepends=True)
        if text_a != text_b:
            differing += 1
            sys.stdout.writelines(difflib.unified_diff(text_a, text_b, f"{a.name}/{name}", f"{b.name}/{name}"))
    same = len(files_a.keys() & files_b.keys()) - differing
    print(
        f"{same} identical, {differing} differing, {only_a} only in {a}, {only_b} only in {b} "
        f"({len(files_a)} vs {len(files_b)} cases)"
    )
    return 0 if differing == only_a == only_b == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path, help="the folder to record into (emptied first)")
    parser.add_argument("--repo", type=Path, default=HERE_REPO, help="the checkout to run [this script's]")
    parser.add_argument("--python-exe", type=Path, default=Path(sys.executable), help="the interpreter [this one]")
    parser.add_argument("--jobs", type=int, default=3, help="cases at once [3]")
    parser.add_argument("--only", help="a regular expression: record only the cases whose names match")
    parser.add_argument("--reports-from", type=Path, help="re-judge this earlier recording's reports/")
    parser.add_argument("--keep-work", action="store_true", help="keep /tmp/tdg-* (to debug a case)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"), help="diff two recordings")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.out is None:
        parser.error("give an output folder, or --compare DIR_A DIR_B")
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    python = Path(os.path.abspath(args.python_exe))
    work = Path(tempfile.mkdtemp(prefix="tdg-", dir="/tmp"))  # always /tmp/tdg-XXXXXXXX: the same length
    assert WORK_DIR.fullmatch(str(work)), work
    rec = Recording(args.repo.resolve(), python, out, work)
    only = re.compile(args.only) if args.only else None
    try:
        return record(rec, args.jobs, only, args.reports_from.resolve() if args.reports_from else None)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
