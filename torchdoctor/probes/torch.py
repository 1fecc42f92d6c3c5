"""torch's own view of the machine, from a child running the target interpreter.

The child is run the way the user runs Python: their environment, PYTHONPATH, site and user
site (no ``-I``/``-S``), from their working directory, since it diagnoses what *their*
``import torch`` does. The parent process never imports torch.
"""

from __future__ import annotations

import os

from torchdoctor import serde
from torchdoctor.children import CHILDREN_DIR, TORCH_CHILD
from torchdoctor.model import ImportFailureKind, TorchImportFailure, TorchState, Unavailable
from torchdoctor.probes.subproc import ChildResult, OnMessage, run_child, working_dir
from torchdoctor.rules import limits

EXIT_GRACE = 2.0


def torch_argv(python: str, smoke_cpu: bool = False, smoke_args: tuple[str, ...] = ()) -> list[str]:
    argv = [python, str(TORCH_CHILD)]
    if smoke_cpu:
        argv += ["--smoke-cpu", str(CHILDREN_DIR), *smoke_args]
    return argv


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def interpret(result: ChildResult, timeout: float) -> TorchState:
    """Turn what the child printed (or how it died) into torch facts."""
    if result.own_limit:
        return Unavailable("torch", f"the doctor could not run its torch child: {result.start_error}", limits.LIMIT)
    if result.start_error:
        return Unavailable("torch", f"could not start the target interpreter: {result.start_error}", "start")
    message = result.first("torch")
    if message is not None:
        try:
            return serde.from_jsonable(TorchState, message["torch"])
        except serde.SnapshotError as exc:
            return Unavailable("torch", f"the torch child printed something unexpected: {exc}", "protocol")
    if result.malformed:
        return Unavailable(
            "torch", f"the torch child's answer could not be read: {'; '.join(result.malformed[:3])}", "protocol"
        )
    started_import = result.first("stage") is not None
    where = "during `import torch`" if started_import else "before it could import torch"
    if result.timed_out:
        return TorchImportFailure(
            ImportFailureKind.TIMEOUT,
            "Timeout",
            f"`import torch` did not finish within {timeout:g} s",
            f"the child was killed after {result.seconds:.1f} s {where}",
        )
    if result.signal_name:
        return TorchImportFailure(
            ImportFailureKind.CRASH,
            result.signal_name,
            f"the Python process was killed by {result.signal_name} {where}",
            result.stderr_tail(),
        )
    return TorchImportFailure(
        ImportFailureKind.OTHER,
        "ChildExited",
        f"the torch child exited with status {result.returncode} {where} and printed no result",
        result.stderr_tail(),
    )


def probe_torch(
    python: str,
    timeout: float,
    smoke_args: tuple[str, ...] | None = None,
    smoke_seconds: float = 0.0,
    on_message: OnMessage | None = None,
) -> tuple[TorchState, ChildResult]:
    """torch's facts; with ``smoke_args`` the same child then runs the CPU smoke tests.

    torch's facts must arrive within ``timeout`` (the import), whatever runs after them.
    """
    argv = torch_argv(python, smoke_cpu=smoke_args is not None, smoke_args=smoke_args or ())
    result = run_child(
        argv,
        timeout + smoke_seconds,
        env=child_env(),
        cwd=working_dir(),
        on_message=on_message,
        first=("torch", timeout),
        # the CPU smoke tests get their own bound once torch's facts are in (and a moment to exit)
        after_first=smoke_seconds + EXIT_GRACE if smoke_args is not None else None,
    )
    return interpret(result, timeout), result
