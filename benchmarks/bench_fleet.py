"""Time and peak memory of `torchdoctor fleet` over 100, 1,000 and 10,000 captured reports (run by hand).

    .venv/bin/python benchmarks/bench_fleet.py [--sizes 100 1000 10000] [--formats json markdown stdin]

Reports are the test factories' healthy GPU node (about 20 kB of JSON each), one in fifty on another
driver; each size and format is measured in a fresh process (wall time and ru_maxrss; markdown also
turns every host name into its pseudonym; stdin reads the reports back to back from a pipe, as
`cat reports/*.json | torchdoctor fleet -` does).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
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
        (where / f"node-{i:05d}.json").write_text((other if i % 50 == 7 else same).replace("NODE", f"node-{i:05d}"))


MEASURE = """
import resource, subprocess, sys, time
argv, stdin_of = sys.argv[2:], sys.argv[1]
started = time.perf_counter()
cat = subprocess.Popen(["sh", "-c", f"cat {stdin_of}/*.json"], stdout=subprocess.PIPE) if stdin_of else None
run = subprocess.run(argv, stdin=cat.stdout if cat else None, capture_output=True)
if cat:
    cat.wait()
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the larger of cat and the fleet: the fleet
print(seconds, peak, run.returncode, len(run.stdout))
"""


def measure(reports: str, fmt: str) -> tuple[float, int, int, int]:
    """Wall time, peak RSS (KiB), exit status and output size of one `fleet` run, in a process of its own
    so that the peak is this run's (RUSAGE_CHILDREN only ever grows)."""
    if fmt == "stdin":  # `cat reports/*.json | torchdoctor fleet -`: whole reports back to back
        argv = [reports, sys.executable, "-m", "torchdoctor", "fleet", "-", "-f", "json"]
    else:
        argv = ["", sys.executable, "-m", "torchdoctor", "fleet", reports, "-f", fmt]
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, cwd=ROOT)
    seconds, peak, code, size = out.stdout.split()
    return float(seconds), int(peak), int(code), int(size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--formats", nargs="+", default=["json", "markdown", "stdin"])
    args = parser.parse_args()
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_reports(Path(tmp), size)
            for fmt in args.formats:
                seconds, peak, code, out = measure(tmp, fmt)
                print(
                    f"{size:>6} reports, {fmt:>8}: {seconds:6.2f} s, peak RSS {peak / 1024:.0f} MiB "
                    f"(exit {code}, {out / 1024:.0f} KiB out)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
