"""Run a child process with a hard timeout and read the JSON lines it prints.

Children print protocol lines as ``@@torchdoctor@@ {json}``; anything else on stdout (a library
that prints on import) is ignored. On a timeout the whole process group is killed, so
DataLoader workers and other grandchildren die with it, and what was printed so far is kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MARKER = "@@torchdoctor@@ "
OnMessage = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ChildResult:
    returncode: int | None
    messages: tuple[dict[str, Any], ...]
    stderr: str
    timed_out: bool
    seconds: float
    start_error: str = ""
    """Why the process could not be started at all ("" when it started)."""

    @property
    def signal_name(self) -> str:
        """The signal that killed the child, e.g. SIGSEGV, or ""."""
        if self.timed_out or self.returncode is None or self.returncode >= 0:
            return ""
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    def first(self, key: str) -> dict[str, Any] | None:
        for message in self.messages:
            if key in message:
                return message
        return None

    def stderr_tail(self, lines: int = 12) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


def run_child(
    argv: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    on_message: OnMessage | None = None,
    first: tuple[str, float] | None = None,
) -> ChildResult:
    """Run ``argv`` for at most ``timeout`` seconds.

    ``on_message`` sees each protocol line as it arrives (live progress). ``first=(key, seconds)``
    also kills the child if no message with ``key`` has arrived within ``seconds``: the torch
    child must report torch's facts within the import timeout, whatever runs after them.
    """
    started = time.monotonic()
    popen_kwargs: dict[str, Any] = {}
    if sys.platform != "win32":
        popen_kwargs["start_new_session"] = True
    else:  # pragma: no cover - Windows only
        popen_kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            **popen_kwargs,
        )
    except OSError as exc:
        return ChildResult(None, (), "", False, time.monotonic() - started, start_error=str(exc))
    messages: list[dict[str, Any]] = []
    err_chunks: list[str] = []
    # Set when the message named by `first` arrives, or when stdout closes (the child is gone).
    arrived = threading.Event()

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = parse_line(line)
            if message is None:
                continue
            messages.append(message)
            if first is not None and first[0] in message:
                arrived.set()
            if on_message is not None:
                with contextlib.suppress(Exception):  # a display problem must not lose the result
                    on_message(message)
        arrived.set()

    def read_stderr() -> None:
        assert proc.stderr is not None
        err_chunks.append(proc.stderr.read())

    readers = [threading.Thread(target=read_stdout, daemon=True), threading.Thread(target=read_stderr, daemon=True)]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        if first is not None and not arrived.wait(min(first[1], timeout)):
            raise subprocess.TimeoutExpired(argv, first[1])
        proc.wait(timeout=max(0.0, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a child that ignores SIGKILL
            proc.wait(timeout=5)
    else:
        # The child is gone; grandchildren it left behind (DataLoader workers) must not outlive it.
        _kill_group(proc, quiet=True)
    for reader in readers:
        reader.join(timeout=5)
    return ChildResult(
        proc.returncode,
        tuple(messages),
        "".join(err_chunks),
        timed_out,
        time.monotonic() - started,
    )


def _kill_group(proc: subprocess.Popen[str], quiet: bool = False) -> None:
    try:
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        elif not quiet:  # pragma: no cover - Windows only
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        if not quiet:
            proc.kill()


def parse_line(line: str) -> dict[str, Any] | None:
    if not line.startswith(MARKER):
        return None
    try:
        value = json.loads(line[len(MARKER) :])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    start_error: str = ""


def run_command(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> CommandResult:
    """Run an external program (nvcc, nvidia-smi) in its own process group; on timeout kill the group.

    A wrapper script's grandchildren die with it instead of being orphaned.
    """
    popen_kwargs: dict[str, Any] = {}
    if sys.platform != "win32":
        popen_kwargs["start_new_session"] = True
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            **popen_kwargs,
        )
    except OSError as exc:
        return CommandResult(None, "", "", False, start_error=str(exc))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipes open and ignores the kill
            out, err = "", ""
        return CommandResult(proc.returncode, out or "", err or "", True)
    _kill_group(proc, quiet=True)
    return CommandResult(proc.returncode, out, err, False)
