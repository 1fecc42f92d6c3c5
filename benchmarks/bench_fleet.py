"""Time and peak memory of `torchdoctor fleet` over 100, 1,000 and 10,000 captured reports (run by hand).

    .venv/bin/python benchmarks/bench_fleet.py [--sizes 100 1000 10000]

Reports are the test factories' healthy GPU node (about 20 kB of JSON each), one in fifty on another
driver; each size is measured in a fresh process (wall time and ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_reports(where: Path, count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests import factories as f
    from torchdoctor.doctor import judge
    from torchdoctor.render import OutputFormat, render

    same = render(judge(f.facts(host=f.host(hostname="NODE"))), OutputFormat.JSON)
    older = f.facts(host=f.host(hostname="NODE"), nvml=f.nvml(f.gpu(), driver="535.104.05"))
    other = render(judge(older), OutputFormat.JSON)
    for i in range(count):
        (where / f"node-{i:05d}.json").write_text((other if i % 50 == 7 else same).replace("NODE", f"node-{i:05d}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    args = parser.parse_args()
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_reports(Path(tmp), size)
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "torchdoctor", "fleet", tmp, "-f", "json"], capture_output=True, cwd=ROOT
            )
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            print(
                f"{size:>6} reports: {seconds:6.2f} s, peak RSS {max(peak, before) / 1024:.0f} MiB "
                f"(exit {run.returncode}, {len(run.stdout) / 1024:.0f} KiB of JSON)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
