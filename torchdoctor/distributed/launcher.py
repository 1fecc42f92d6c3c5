"""`torchdoctor dist --nproc N`: start N local ranks through torch's own launcher (torchrun).

The parent never imports torch: it runs `python -m torch.distributed.run --standalone` in the
target interpreter, which starts `python -m torchdoctor dist` once per rank. Rank 0's report is
the output; the exit code is torchrun's (every rank exits with the code rank 0 decided).

When no rank could report (rank 0 died, or was stopped before the rendezvous completed), the
launcher, which survives, still knows who died and when: torchrun's failure table names each rank's
exit code and time, and a state folder of its own (a temp dir, `STATE_ENV`) holds what each rank
knew of itself, whether the job had come together, and whether a report was written.
`after_the_ranks` turns that into the job's facts, for the command to judge and deliver as rank 0
would have.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from torchdoctor import serde
from torchdoctor.children import LAUNCHER_CHILD
from torchdoctor.distributed.model import ClusterFacts, Launch, RankFacts, StepResult
from torchdoctor.model import StepStatus
from torchdoctor.probes.subproc import CHANNEL_ENV, lifeline, track, untrack

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])

STATE_ENV = "TORCHDOCTOR_DIST_STATE"
"""The launcher's temp folder, handed to the ranks it starts: `rank-N.json` (a rank's own facts),
`joined` (the rendezvous completed), `reported` (a rank delivered the report)."""
TERMINATED = (143, -int(signal.SIGTERM))
"""Exit codes of a rank torchrun stopped itself because another one failed."""


@dataclass(frozen=True)
class RankExit:
    """One line of torchrun's failure table."""

    rank: int
    exitcode: int
    """Negative: killed by that signal."""
    time: str
    root: bool
    """torchrun's "Root Cause (first observed failure)"."""

    def said(self) -> str:
        how = f"exited with {self.exitcode}"
        if self.exitcode < 0:
            with contextlib.suppress(ValueError):
                how += f" ({signal.Signals(-self.exitcode).name})"
        return f"rank {self.rank} {how}" + (f" at {self.time}" if self.time else "")


@dataclass(frozen=True)
class Launched:
    """What the launcher knows once torchrun has exited."""

    code: int
    problem: str
    """"" or why the launch itself failed."""
    exits: tuple[RankExit, ...] = ()
    reported: bool = False
    joined: bool = False
    ranks: tuple[tuple[Launch, RankFacts], ...] = ()
    seconds: float = 0.0
    timed_out: bool = False
    """The launcher gave up on the ranks (--timeout) and killed them."""


def mark(state: str, name: str) -> None:
    """A rank leaves word for the launcher (nothing when it was not started by one)."""
    if state:
        with contextlib.suppress(OSError):
            Path(state, name).touch()


def leave_facts(state: str, launch: Launch, me: RankFacts) -> None:
    """A rank leaves what it knows of itself for the launcher, atomically (temp file + rename)."""
    if not state:
        return
    target = Path(state, f"rank-{launch.rank}.json")
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps({"launch": serde.to_jsonable(launch), "facts": serde.to_jsonable(me)}))
        os.replace(tmp, target)


def _read_state(state: Path) -> tuple[tuple[Launch, RankFacts], ...]:
    out = []
    for path in sorted(state.glob("rank-*.json")):
        try:
            data = json.loads(path.read_text())
            out.append((serde.from_jsonable(Launch, data["launch"]), serde.from_jsonable(RankFacts, data["facts"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return tuple(sorted(out, key=lambda pair: pair[0].rank))


def torchrun_argv(python: str, nproc: int, forwarded: list[str], log_dir: str = "") -> list[str]:
    """torchrun's command line; ``log_dir`` is where its logs go instead of a ``torchelastic_*`` folder it
    makes in TMPDIR and never removes (``--log_dir``, spelt so since torch 1.9; ``--log-dir`` is newer)."""
    return [
        python,
        str(LAUNCHER_CHILD),  # torchrun itself, tied to the doctor's lifeline
        "--standalone",
        f"--nproc-per-node={nproc}",
        *([f"--log_dir={log_dir}"] if log_dir else []),
        "-m",
        "torchdoctor",
        "dist",
        *forwarded,
    ]


def rank_env(python: str, env: dict[str, str]) -> dict[str, str]:
    """The ranks' environment: another environment's interpreter is let find this torchdoctor (PYTHONPATH's
    other entries first).

    Environments are told apart by the interpreter's path, not the file it links to: two virtual environments
    made from one Python link to the same binary, and only the doctor's own has torchdoctor installed.
    """
    env = dict(env)
    env.setdefault("OMP_NUM_THREADS", "1")
    if Path(python).absolute() != Path(sys.executable).absolute():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH", ""), PACKAGE_PARENT]))
    return env


def launch_local(python: str, nproc: int, forwarded: list[str], timeout: float) -> Launched:
    """Run the local ranks; what the launcher knows after (exit code, who died, whether anyone reported)."""
    env = rank_env(python, dict(os.environ))
    with tempfile.TemporaryDirectory(prefix="torchdoctor-dist-") as state:
        env[STATE_ENV] = state
        started = time.monotonic()
        logs = Path(state) / "torchrun-logs"  # removed with the state folder
        code, problem, said = _torchrun(torchrun_argv(python, nproc, forwarded, str(logs)), env, timeout)
        folder = Path(state)
        return Launched(
            1 if code == 124 else code,
            problem,
            torchrun_failures(said),
            (folder / "reported").exists(),
            (folder / "joined").exists(),
            _read_state(folder),
            round(time.monotonic() - started, 3),
            code == 124,
        )


def _torchrun(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, list[str]]:
    """torchrun's exit code, "" or why it failed, and the last lines it said on stderr."""
    life_read, held = lifeline()
    env = {**env, CHANNEL_ENV: f"none - {life_read}"}  # no channel: only the lifeline
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            start_new_session=True,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            pass_fds=(life_read,),
        )
    except OSError as exc:
        os.close(held)
        return 3, f"cannot run {argv[0]}: {exc}", []
    finally:
        os.close(life_read)
    try:
        return _wait_for_torchrun(proc, timeout)
    finally:
        os.close(held)


def _wait_for_torchrun(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, list[str]]:
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
        return 124, f"the local ranks did not finish within {timeout:g} s and were killed", said
    finally:
        untrack(proc)
    reader.join(timeout=5)
    if code != 0 and not any(line.startswith("torchdoctor:") for line in said):
        return code, f"the local ranks failed (exit {code}){failed_ranks(said)}", said
    return code, "", said


def torchrun_failures(lines: list[str]) -> tuple[RankExit, ...]:
    """Each rank in torchrun's failure table: its exit code, when, and whether it failed first."""
    out: list[RankExit] = []
    root, when = False, ""
    for line in lines:
        text = line.strip()
        if text.startswith("Root Cause"):
            root = True
        field, _, value = text.partition(":")
        field, value = field.strip(), value.strip()
        if field == "time":
            when = value
        elif field == "rank" and value.split()[0].isdigit():
            out.append(RankExit(int(value.split()[0]), 0, when, root))
        elif field == "exitcode" and out and value.split()[0].lstrip("-").isdigit():
            out[-1] = replace(out[-1], exitcode=int(value.split()[0]))
    return tuple(out)


def after_the_ranks(launched: Launched, nproc: int, backend: str = "auto") -> ClusterFacts | None:
    """The job's facts as the launcher saw them, when the ranks failed and none of them reported."""
    if launched.reported or launched.code == 0 or not (launched.exits or launched.timed_out):
        return None  # a report was written, nothing failed, or nothing is known of the ranks (torchrun itself failed)
    dead = [e for e in launched.exits if e.root] or [e for e in launched.exits if e.exitcode not in TERMINATED]
    dead = dead or list(launched.exits)
    gone = tuple(sorted({e.rank for e in dead}))
    stopped = [e.said() for e in launched.exits if e.rank not in gone]
    error = ", ".join(e.said() for e in dead) or launched.problem
    error += f"; torchrun then stopped the others ({', '.join(stopped)})" if stopped else ""
    if not launched.exits:  # no failure table: the launcher itself gave up on them (--timeout)
        step = StepResult("terminated", StepStatus.FAILED, launched.seconds, launched.problem or error)
    elif launched.joined:
        step = StepResult("liveness", StepStatus.FAILED, 0.0, f"{error} (seen by the launcher)", missing_ranks=gone)
    else:
        step = StepResult(
            "rendezvous",
            StepStatus.FAILED,
            launched.seconds,
            f"{error}, before the rendezvous completed (seen by the launcher)",
            missing_ranks=gone,
        )
    ranks = tuple(facts for _, facts in launched.ranks if launched.joined or facts.rank not in gone)
    launch = next((lc for lc, _ in launched.ranks), None)
    launch = (
        replace(launch, rank=0, local_rank=0)
        if launch is not None
        else Launch("torchrun", 0, 0, nproc, nproc, "127.0.0.1", 0, True)
    )
    return ClusterFacts(launch, backend, nproc, ranks, (step,), seconds=launched.seconds)


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
