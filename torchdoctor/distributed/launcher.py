"""`torchdoctor dist --nproc N`: start N local ranks through torch's own launcher (torchrun).

The parent never imports torch: it runs `python -m torch.distributed.run --standalone` in the
target interpreter, which starts `python -m torchdoctor dist` once per rank. Rank 0's report is
the output; the exit code is torchrun's (every rank exits with the code rank 0 decided).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from torchdoctor.probes.subproc import track, untrack

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def torchrun_argv(python: str, nproc: int, forwarded: list[str]) -> list[str]:
    return [
        python,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "torchdoctor",
        "dist",
        *forwarded,
    ]


def launch_local(python: str, nproc: int, forwarded: list[str], timeout: float) -> tuple[int, str]:
    """Run the local ranks; returns (exit code, "" or why the launch itself failed)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if Path(python).resolve() != Path(sys.executable).resolve():
        # Another interpreter: let it find torchdoctor (its own packages still come first).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH", ""), PACKAGE_PARENT]))
    try:
        proc = subprocess.Popen(torchrun_argv(python, nproc, forwarded), env=env, start_new_session=True)
    except OSError as exc:
        return 3, f"cannot run {python}: {exc}"
    track(proc, graceful=True)  # Ctrl-C on the doctor: torchrun stops every rank, then its group is killed
    try:
        return proc.wait(timeout=timeout), ""
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait()
        return 1, f"the local ranks did not finish within {timeout:g} s and were killed"
    finally:
        untrack(proc)
