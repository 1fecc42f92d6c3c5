"""Run a child process with a hard timeout and read the JSON lines it prints.

Children print protocol lines as ``@@torchdoctor@@ {json}``; anything else on stdout (a library
that prints on import) is ignored. On a timeout the whole process group is killed, so
DataLoader workers and other grandchildren die with it, and what was printed so far is kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

MARKER = "@@torchdoctor@@ "


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
) -> ChildResult:
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
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that ignores SIGKILL
            out, err = "", ""
    return ChildResult(
        proc.returncode,
        tuple(parse_messages(out or "")),
        err or "",
        timed_out,
        time.monotonic() - started,
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows only
            proc.kill()
    except (ProcessLookupError, PermissionError):
        proc.kill()


def parse_messages(stdout: str) -> list[dict[str, Any]]:
    messages = []
    for line in stdout.splitlines():
        if not line.startswith(MARKER):
            continue
        try:
            value = json.loads(line[len(MARKER) :])
        except ValueError:
            continue
        if isinstance(value, dict):
            messages.append(value)
    return messages
