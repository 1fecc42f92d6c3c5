"""Whole-process wall time of torchdoctor against `import torch` and collect_env, in one run.

    python benchmarks/bench_check.py [--runs 7] [--python PATH]

Run by hand and reported in closing notes; never a timed assertion in the tests. Commands are
interleaved (one round runs each once) so that machine noise hits them alike; medians are reported.
Targets (issues #2 and #4), on the 2-core development machine:
  check --no-smoke  <= 1.15 x import torch, and below collect_env
  check --quick     <= 0.3 s (issue #22: of the doctor's own CPU time, printed apart from its children's)
  check (CPU smoke) <= import torch + 0.5 s, and at or below collect_env
  bench --device cpu < 10 s (issue #13)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CPU: dict[str, list[float]] = {}
"""User + system CPU seconds of each command's process tree, beside its wall time: a loaded machine stretches
wall time far more than CPU time, so the two together say how quiet the machine was."""


GAUGE = "s = 0\nfor i in range(3_000_000):\n    s += i * i\n"
"""A fixed pure-Python loop: its CPU time says how fast this (shared, virtual) machine runs right now."""


def gauge(py: str) -> float:
    """CPU seconds of GAUGE in ``py``, best of three: the same code measured an hour apart differs by a
    quarter on this machine, so each figure is printed beside the gauge taken with it."""
    best = float("inf")
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([py, "-c", GAUGE], check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return best


def timed(argv: list[str], name: str = "") -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(name, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall


SPLIT = """
import os, resource, sys
leave = os._exit
def said(status):
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print("CPU", own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime, file=sys.stderr, flush=True)
    leave(status)
os._exit = said  # the doctor ends with os._exit (no teardown): say the CPU times first
sys.argv = ["torchdoctor", *sys.argv[1:]]
from torchdoctor.__main__ import main
main()
"""
"""`python -m torchdoctor ARGS` that says, as it exits, its own CPU time and its children's (the probes')."""


def split_cpu(py: str, args: list[str], runs: int) -> tuple[float, float]:
    """Median CPU seconds of the doctor itself and of its children (the interpreter and NVML probes)."""
    own, kids = [], []
    for _ in range(runs):
        out = subprocess.run([py, "-c", SPLIT, *args], capture_output=True, text=True, check=False)
        said = [line.split() for line in out.stderr.splitlines() if line.startswith("CPU ")][-1]
        own.append(float(said[1]))
        kids.append(float(said[2]))
    return statistics.median(own), statistics.median(kids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter with torchdoctor (and torch, for the ratios): a venv with the built wheel measures what "
        "users run; this checkout's editable install adds its import hook to every process",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="measure only these (e.g. 'check --quick')")
    args = parser.parse_args()
    py = args.python
    doctor = [py, "-m", "torchdoctor", "check", "--format", "json"]
    commands = {
        "import torch": [py, "-c", "import torch"],
        "collect_env": [py, "-m", "torch.utils.collect_env"],
        "check --no-smoke": [*doctor, "--no-smoke"],
        "check (cpu smoke)": doctor,
        "check --quick": [*doctor, "--quick"],
        "bench --device cpu": [py, "-m", "torchdoctor", "bench", "--device", "cpu", "-f", "json"],
    }
    if args.only:
        commands = {name: argv for name, argv in commands.items() if name in args.only or name == "import torch"}
        commands.setdefault("collect_env", [py, "-m", "torch.utils.collect_env"])
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} before, gauge {gauge(py):.3f} s")
    if subprocess.run([py, "-c", "import torch"], capture_output=True, check=False).returncode != 0:
        print(f"{py} has no torch: only the doctor's commands are measured (its wheel, as a user installs it)")
        commands = {name: argv for name, argv in commands.items() if "torch" not in name and "collect" not in name}
    for argv in commands.values():  # warm the page cache and .pyc files
        timed(argv)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            samples[name].append(timed(argv, name))
    median = {name: statistics.median(values) for name, values in samples.items()}
    base, collect = median.get("import torch"), median.get("collect_env")
    print(f"{'command':<20} {'median s':>9} {'min s':>7} {'CPU s':>7} {'x import torch':>15} {'x collect_env':>14}")
    for name, values in samples.items():
        cpu = statistics.median(CPU[name])
        ratios = f"{median[name] / base:15.2f} {median[name] / collect:14.2f}" if base and collect else ""
        print(f"{name:<20} {median[name]:9.3f} {min(values):7.3f} {cpu:7.3f} {ratios}")
    if "check --quick" in median:
        own, kids = split_cpu(py, ["check", "--format", "json", "--quick"], args.runs)
        print(f"\ncheck --quick CPU: the doctor itself {own:.3f} s, its children {kids:.3f} s (medians)")
    if "check (cpu smoke)" in median and "check --no-smoke" in median:
        smoke_cost = median["check (cpu smoke)"] - median["check --no-smoke"]
        print(f"\nCPU smoke adds {smoke_cost:.3f} s to check")
    print(f"runs={args.runs}, python={py}, load average {os.getloadavg()[0]:.2f} after, gauge {gauge(py):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
