"""Run a child process with a hard timeout and read the messages it sends.

Children send their messages on a pipe of their own (see ``_channel_child.py``), never on stdout: one
JSON line per message, tagged with a nonce made for this run, each line and the whole bounded in
size and parsed defensively. What the examined torch prints, however broken, cannot end or forge
the conversation; a message that cannot be read is recorded as such, never taken as an answer.

Every child runs in its own process group, killed whole on a timeout (DataLoader workers and other
grandchildren die with it) and when the doctor is interrupted (:func:`kill_everything`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from torchdoctor.rules import limits

CHANNEL_ENV = "TORCHDOCTOR_CHANNEL"
MAX_LINE = 8 * 1024 * 1024
"""The longest message line read; a longer one is recorded as malformed."""
MAX_TOTAL = 64 * 1024 * 1024
"""All messages of one child together."""
TAIL = 64 * 1024
"""How much of a child's stdout and stderr is kept for the report."""
OnMessage = Callable[[dict[str, Any]], None]

_LIVE: dict[int, tuple[subprocess.Popen[Any], bool]] = {}
_TEMP_DIRS: set[str] = set()
_FORKED: set[int] = set()
"""Forked copies of this process (``probes.forked``): not process-group leaders, killed one by one."""
_REGISTRY_LOCK = threading.Lock()
GRACE_SECONDS = 5.0
"""How long a launcher asked to stop gracefully (torchrun) has to stop its own children."""


def working_dir() -> str | None:
    """The working directory for a child: the user's, or None (inherit it) when it has been deleted."""
    try:
        return os.getcwd()
    except OSError:
        return None


def track(proc: subprocess.Popen[Any], graceful: bool = False) -> None:
    """Kill ``proc``'s process group if the doctor is interrupted; ``graceful``: SIGTERM it first.

    torchrun starts each rank in a session of its own, so only torchrun itself can stop them.
    """
    with _REGISTRY_LOCK:
        _LIVE[proc.pid] = (proc, graceful)


def untrack(proc: subprocess.Popen[Any]) -> None:
    with _REGISTRY_LOCK:
        _LIVE.pop(proc.pid, None)


def track_pid(pid: int) -> None:
    """Kill the forked child ``pid`` if the doctor is interrupted."""
    with _REGISTRY_LOCK:
        _FORKED.add(pid)


def untrack_pid(pid: int) -> None:
    with _REGISTRY_LOCK:
        _FORKED.discard(pid)


def track_dir(path: str) -> None:
    with _REGISTRY_LOCK:
        _TEMP_DIRS.add(path)


def untrack_dir(path: str) -> None:
    with _REGISTRY_LOCK:
        _TEMP_DIRS.discard(path)


def kill_everything() -> None:
    """Kill every child's process group and remove every temp dir (the doctor is being interrupted)."""
    with _REGISTRY_LOCK:
        procs = list(_LIVE.values())
        dirs = list(_TEMP_DIRS)
        forked = list(_FORKED)
    for pid in forked:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    gentle = [proc for proc, graceful in procs if graceful]
    for proc in gentle:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM) if sys.platform != "win32" else proc.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for proc in gentle:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc, _ in procs:
        _kill_group(proc, quiet=True)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class ChildResult:
    returncode: int | None
    messages: tuple[dict[str, Any], ...]
    stderr: str
    timed_out: bool
    seconds: float
    start_error: str = ""
    """Why the process could not be started at all ("" when it started)."""
    malformed: tuple[str, ...] = ()
    """Messages that could not be read, each said in a few words."""
    stdout: str = ""
    """The tail of what the child printed on stdout (not part of the conversation)."""
    own_limit: bool = False
    """The doctor could not run it for a limit of its own (no thread, process or descriptor left):
    ``start_error`` says which, and nothing is known about the examined environment."""

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


class _Conversation:
    """What one child has said so far, read by a thread as it arrives."""

    def __init__(self, nonce: str, on_message: OnMessage | None, first_key: str | None) -> None:
        self.tag = nonce.encode() + b" "
        self.on_message = on_message
        self.first_key = first_key
        self.messages: list[dict[str, Any]] = []
        self.malformed: list[str] = []
        self.first_arrived: float | None = None
        self.total = 0

    def read(self, stream: IO[bytes], tagged_only: bool) -> None:
        """Read lines until EOF; ``tagged_only``: other lines are ordinary output (stdout), not errors."""
        while True:
            try:
                line = stream.readline(MAX_LINE + 1)
            except (OSError, ValueError):
                return
            if not line:
                return
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                self._skip_rest(stream)
                self.malformed.append(f"a message longer than {MAX_LINE // 1024 // 1024} MiB")
                continue
            if not line.startswith(self.tag):
                if not tagged_only and line.strip():
                    self.malformed.append("a line without this run's tag")
                continue
            self.total += len(line)
            if self.total > MAX_TOTAL:
                self.malformed.append(f"more than {MAX_TOTAL // 1024 // 1024} MiB of messages")
                return
            self._take(line[len(self.tag) :])

    def _skip_rest(self, stream: IO[bytes]) -> None:
        while True:
            chunk = stream.readline(MAX_LINE)
            if not chunk or chunk.endswith(b"\n"):
                return

    def _take(self, payload: bytes) -> None:
        try:
            value = json.loads(payload.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError) as exc:
            self.malformed.append(f"a message that is not JSON ({type(exc).__name__})")
            return
        if not isinstance(value, dict):
            self.malformed.append("a message that is not a JSON object")
            return
        self.messages.append(value)
        if self.first_key is not None and self.first_key in value and self.first_arrived is None:
            self.first_arrived = time.monotonic()
        if self.on_message is not None:
            with contextlib.suppress(Exception):  # a display problem must not lose the result
                self.on_message(value)


def _tail(stream: IO[bytes], sink: list[bytes]) -> None:
    """Drain ``stream`` (so the child never blocks on a full pipe), keeping its last bytes."""
    kept = b""
    while True:
        try:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        except (OSError, ValueError):
            break
        if not chunk:
            break
        kept = (kept + chunk)[-TAIL:]
    sink.append(kept)


def lifeline() -> tuple[int, int]:
    """A pipe for a child to watch: (the read end to pass it, the end the doctor holds and never writes).

    When the doctor dies, however, the kernel closes the held end; the child's watcher (children/
    _channel_child.py) sees end-of-file and ends its process group. The caller closes the read end once
    the child has started and the held end once the child is gone.
    """
    read, held = os.pipe()
    os.set_inheritable(held, False)
    return read, held


def run_child(
    argv: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    on_message: OnMessage | None = None,
    first: tuple[str, float] | None = None,
    after_first: float | None = None,
) -> ChildResult:
    """Run ``argv`` for at most ``timeout`` seconds.

    ``on_message`` sees each message as it arrives (live progress). ``first=(key, seconds)`` also
    kills the child if no message with ``key`` has arrived within ``seconds`` (the torch child must
    report torch's facts within the import timeout); ``after_first`` then bounds what follows it (the
    CPU smoke tests run after those facts, in the same child).
    """
    started = time.monotonic()
    nonce = secrets.token_hex(12)
    child_env = dict(os.environ if env is None else env)
    popen_kwargs: dict[str, Any] = {}
    read_fd = write_fd = life_read = life_write = -1
    try:
        if sys.platform != "win32":
            popen_kwargs["start_new_session"] = True
            read_fd, write_fd = os.pipe()
            life_read, life_write = lifeline()
            popen_kwargs["pass_fds"] = (write_fd, life_read)
            child_env[CHANNEL_ENV] = f"{write_fd} {nonce} {life_read}"
        else:  # pragma: no cover - Windows only
            popen_kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
            child_env[CHANNEL_ENV] = f"stdout {nonce}"
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            cwd=cwd,
            **popen_kwargs,
        )
    except (OSError, ValueError) as exc:
        _close_fds(read_fd, write_fd, life_read, life_write)
        return _not_started(started, str(exc), limits.is_limit(exc))
    if life_read >= 0:
        os.close(life_read)
    track(proc)
    conversation = _Conversation(nonce, on_message, first[0] if first else None)
    out_tail: list[bytes] = []
    err_tail: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None
    readers = [threading.Thread(target=_tail, args=(proc.stderr, err_tail), daemon=True)]
    channel: IO[bytes] | None = None
    if write_fd >= 0:
        os.close(write_fd)
        channel = os.fdopen(read_fd, "rb")
        readers.append(threading.Thread(target=conversation.read, args=(channel, False), daemon=True))
        readers.append(threading.Thread(target=_tail, args=(proc.stdout, out_tail), daemon=True))
    else:  # pragma: no cover - Windows only
        readers.append(threading.Thread(target=conversation.read, args=(proc.stdout, True), daemon=True))
    try:
        for reader in readers:
            reader.start()
    except RuntimeError as exc:  # Thread.start: no thread left to read the child (ulimit -u)
        return _abandon(proc, readers, channel, life_write, started, exc)
    timed_out = _wait(proc, started, timeout, conversation, first, after_first)
    if timed_out:
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a child that ignores SIGKILL
            proc.wait(timeout=5)
    else:
        # The child is gone; grandchildren it left behind (DataLoader workers) must not outlive it.
        _kill_group(proc, quiet=True)
    untrack(proc)
    if life_write >= 0:
        os.close(life_write)
    for reader in readers:
        reader.join(timeout=2)  # a daemon that escaped the group may hold a pipe: do not wait for it
    _close_streams(proc, readers, channel)
    return ChildResult(
        proc.returncode,
        tuple(conversation.messages),
        b"".join(err_tail).decode("utf-8", errors="replace"),
        timed_out,
        time.monotonic() - started,
        malformed=tuple(conversation.malformed),
        stdout=b"".join(out_tail).decode("utf-8", errors="replace"),
    )


def _close_fds(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def _not_started(started: float, why: str, own_limit: bool) -> ChildResult:
    return ChildResult(None, (), "", False, time.monotonic() - started, start_error=why, own_limit=own_limit)


def _close_streams(proc: subprocess.Popen[Any], readers: list[threading.Thread], channel: IO[bytes] | None) -> None:
    """Close the pipes whose reader is done (unclosed ones are a ResourceWarning under ``-W error``).

    A pipe still held by a grandchild that escaped the group stays open: closing a stream another
    thread is reading would wait for that read.
    """
    if any(reader.is_alive() for reader in readers):
        return
    for stream in (proc.stdout, proc.stderr, channel):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _abandon(
    proc: subprocess.Popen[Any],
    readers: list[threading.Thread],
    channel: IO[bytes] | None,
    life_write: int,
    started: float,
    exc: Exception,
) -> ChildResult:
    """The child started but no thread could be started to read it: kill it and say why."""
    _kill_group(proc)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    untrack(proc)
    _close_fds(life_write)
    for reader in readers:
        if reader.ident is not None:  # the ones that did start end at EOF, now the child is dead
            reader.join(timeout=2)
    _close_streams(proc, readers, channel)
    return _not_started(started, f"no thread could be started to read it ({exc})", own_limit=True)


def _wait(
    proc: subprocess.Popen[Any],
    started: float,
    timeout: float,
    conversation: _Conversation,
    first: tuple[str, float] | None,
    after_first: float | None,
) -> bool:
    """Wait for the child to exit (not for its pipes to close); True if a bound ran out first."""
    deadline = started + timeout
    while True:
        try:
            proc.wait(timeout=0.02)
            return False
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if first is not None:
            arrived = conversation.first_arrived
            if arrived is None and now >= started + first[1]:
                return True
            if arrived is not None and after_first is not None:
                deadline = min(deadline, arrived + after_first)
        if now >= deadline:
            return True


def _kill_group(proc: subprocess.Popen[Any], quiet: bool = False) -> None:
    try:
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        elif not quiet:  # pragma: no cover - Windows only
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        if not quiet:
            proc.kill()


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    start_error: str = ""
    own_limit: bool = False
    """It could not start for a limit of the doctor's own (see :attr:`ChildResult.own_limit`)."""


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
        return CommandResult(None, "", "", False, start_error=str(exc), own_limit=limits.is_limit(exc))
    track(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipes open and ignores the kill
            out, err = "", ""
        untrack(proc)
        return CommandResult(proc.returncode, out or "", err or "", True)
    _kill_group(proc, quiet=True)
    untrack(proc)
    return CommandResult(proc.returncode, out, err, False)
