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
import threading
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
        proc = subprocess.Popen(
            torchrun_argv(python, nproc, forwarded),
            env=env,
            start_new_session=True,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        return 3, f"cannot run {python}: {exc}"
    track(proc, graceful=True)  # Ctrl-C on the doctor: torchrun stops every rank, then its group is killed
    said: list[str] = []
    reader = threading.Thread(target=_relay, args=(proc, said), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait()
        return 1, f"the local ranks did not finish within {timeout:g} s and were killed"
    finally:
        untrack(proc)
    reader.join(timeout=5)
    if code != 0 and not any(line.startswith("torchdoctor:") for line in said):
        return code, f"the local ranks failed (exit {code}){failed_ranks(said)}"
    return code, ""


def failed_ranks(lines: list[str]) -> str:
    """': rank 1 exited with -9' from torchrun's failure table, or "" when it printed none."""
    ranks = [line.split(":", 1)[1].strip().split()[0] for line in lines if line.strip().startswith("rank ")]
    codes = [line.split(":", 1)[1].strip().split()[0] for line in lines if line.strip().startswith("exitcode")]
    pairs = [f"rank {r} exited with {c}" for r, c in zip(ranks, codes, strict=False)]
    return ": " + ", ".join(pairs) if pairs else ""


def _relay(proc: subprocess.Popen[str], said: list[str]) -> None:
    """Pass the ranks' own one-line messages through; torchrun's tracebacks (ChildFailedError) stay here."""
    assert proc.stderr is not None
    for line in proc.stderr:
        said.append(line.rstrip("\n"))
        del said[:-200]
        if line.startswith("torchdoctor:"):
            sys.stderr.write(line)
            sys.stderr.flush()
