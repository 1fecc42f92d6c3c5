"""Time and peak memory of `torchdoctor fleet` over 100, 1,000 and 10,000 captured reports (run by hand).

    .venv/bin/python benchmarks/bench_fleet.py [--sizes 100 1000 10000] [--formats json markdown stdin]

Reports are the test factories' healthy GPU node (about 20 kB of JSON each), one in fifty on another
driver, each with its own GPU UUIDs, temperatures, memory in use and smoke timings (``per_node``); each
size and format is measured in a fresh process (wall time and ru_maxrss: the largest one process, since from 200
reports on the fleet forks one child per core, sharing its pages until they are written; markdown also
turns every host name into its pseudonym; stdin reads the reports back to back from a pipe, as
`cat reports/*.json | torchdoctor fleet -` does, judged in one process as they are read).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_reports(where: Path, count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests import factories as f
    from torchdoctor.doctor import judge
    from torchdoctor.render import OutputFormat, render

    same = render(judge(f.facts(host=f.host(hostname="NODE"))), OutputFormat.JSON)
    older = f.facts(
        host=f.host(hostname="NODE"),
        nvml=f.nvml(f.gpu(), driver="535.104.05"),
        kernel=f.kernel(module_version="535.104.05"),
    )
    other = render(judge(older), OutputFormat.JSON)
    for i in range(count):
        text = (other if i % 50 == 7 else same).replace("NODE", f"node-{i:05d}")
        for was, now in per_node(i):
            assert was in text, was
            text = text.replace(was, now)
        (where / f"node-{i:05d}.json").write_text(text)


def per_node(i: int) -> list[tuple[str, str]]:
    """What differs between real nodes built from one image besides the host name: each GPU's UUID, its
    temperature and memory in use, the smoke tests' timings (so the parts a check reads are not all shared)."""
    return [
        ("GPU-12345670-abcd-ef01-2345", f"GPU-{i:08x}-abcd-ef01-2345"),
        ('"temperature_c": 34', f'"temperature_c": {30 + i % 40}'),
        ('"memory_used": 536870912', f'"memory_used": {536870912 + i * 4096}'),
        ('"seconds": 0.01', f'"seconds": {0.01 + (i % 97) / 1000:.3f}'),
    ]


MEASURE = """
import os, resource, subprocess, sys, time
argv, stdin_of = sys.argv[2:], sys.argv[1]
started = time.perf_counter()
cat = subprocess.Popen(["sh", "-c", f"cat {stdin_of}/*.json"], stdout=subprocess.PIPE) if stdin_of else None
run = subprocess.run(argv, stdin=cat.stdout if cat else None, capture_output=True)
if cat:
    cat.wait()
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss  # the largest one process: the fleet, or one of its forked children (not their sum)
print(seconds, usage.ru_utime + usage.ru_stime, peak, run.returncode, len(run.stdout), os.getloadavg()[0])
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    """Wall time: what a person waits, and what other work on the machine stretches."""
    cpu: float
    """User + system CPU time of the run: close to wall time on a quiet machine, far below it on a busy one."""
    peak_kib: int
    code: int
    out_bytes: int
    load: float
    """The 1-minute load average as the run ended (its own process counts for about 1)."""


def measure(reports: str, fmt: str) -> Run:
    """One `fleet` run, in a process of its own so that the peak and CPU time are this run's
    (RUSAGE_CHILDREN only ever grows)."""
    if fmt == "stdin":  # `cat reports/*.json | torchdoctor fleet -`: whole reports back to back
        argv = [reports, sys.executable, "-m", "torchdoctor", "fleet", "-", "-f", "json"]
    else:
        argv = ["", sys.executable, "-m", "torchdoctor", "fleet", reports, "-f", fmt]
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, cwd=ROOT)
    seconds, cpu, peak, code, size, load = out.stdout.split()
    return Run(float(seconds), float(cpu), int(peak), int(code), int(size), float(load))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--formats", nargs="+", default=["json", "markdown", "stdin"])
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} CPU cores; load average before: {os.getloadavg()[0]:.2f} (quiet: well under {cores})")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_reports(Path(tmp), size)
            for fmt in args.formats:
                r = measure(tmp, fmt)
                print(
                    f"{size:>6} reports, {fmt:>8}: {r.seconds:6.2f} s wall, {r.cpu:6.2f} s CPU, "
                    f"load {r.load:.2f}, peak RSS {r.peak_kib / 1024:.0f} MiB (exit {r.code}, "
                    f"{r.out_bytes / 1024:.0f} KiB out)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
