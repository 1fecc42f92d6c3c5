"""A pure function over many items, spread over forked copies of this process (one per core, Linux only).

``fleet`` judges thousands of reports, each on its own: the work divides by item, and the answer must be the one
a single process gives. Each child takes every n-th item, works through its share and sends the results back
pickled on a pipe of its own; the parent puts them back in the items' order. Nothing is shared between the
children but what the fork copied.

The doctor never dies of the disease, nor of its helpers: a child that dies (killed, out of memory), exits
non-zero or sends what cannot be read has its share worked out again in this process, as if it had never been
started; a fork that fails leaves the rest to this process too. The children are killed with the doctor
(``subproc.kill_everything`` on Ctrl-C or SIGTERM), and ignore the terminal's Ctrl-C themselves so that only the
doctor's one line says it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from torchdoctor.probes import subproc

T = TypeVar("T")
R = TypeVar("R")

STOPPING = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
"""The signals that stop the doctor (``signals.py``): held while a child is forked and not yet tracked."""
MAX_CHILDREN = 8
"""At most this many children: each holds its own share's loaded parts (``serde.SharedParts``) in memory."""


def cores() -> int:
    """The cores this process may run on (its affinity mask, as ``taskset`` or a batch scheduler set it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        with contextlib.suppress(OSError):
            return len(affinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Linux only (macOS's system libraries are not safe across fork, and Python itself spawns there; Windows has
    none), and only a process of one thread: a lock another thread holds stays held in the child forever."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def map_forked(work: Callable[[T], R], items: Sequence[T], children: int) -> list[R]:
    """``[work(item) for item in items]``, with the items shared out between ``children`` forked processes when
    there are two or more (and fork is safe here); else, and for any share a child did not return, here.

    ``work`` must not depend on which process runs it, and its results must pickle."""
    children = min(children, MAX_CHILDREN, len(items))
    if children < 2 or not can_fork():
        return [work(item) for item in items]
    shares = [list(range(k, len(items), children)) for k in range(children)]
    started: dict[int, tuple[int, int]] = {}  # read end -> (share, pid)
    results: list[R | None] = [None] * len(items)
    undone: list[int] = []
    for k, share in enumerate(shares):
        forked = _fork(work, [items[i] for i in share])
        if forked is None:
            undone.append(k)
        else:
            started[forked[0]] = (k, forked[1])
    for k, answer in _collect(started, shares).items():
        if answer is None:
            undone.append(k)
            continue
        for i, result in zip(shares[k], answer, strict=True):
            results[i] = result
    for k in sorted(undone):
        for i in shares[k]:
            results[i] = work(items[i])
    return results  # type: ignore[return-value]  # every place is filled: by its child, or here


def _fork(work: Callable[[T], R], share: list[T]) -> tuple[int, int] | None:
    """(read end, pid) of a child working through ``share``; None when no child could be started."""
    try:
        read, write = os.pipe()
    except OSError:
        return None
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)  # a Ctrl-C now waits until the child is tracked
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory: this process does the share
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # pragma: no cover - the child's side runs in the forked process (tests see its results)
        os.close(read)
        _child(work, share, write, held)
    os.close(write)
    subproc.track_pid(pid)
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return read, pid


def _child(work: Callable[[T], R], share: list[T], write: int, held: Iterable[int]) -> None:
    """Work through the share and send the results; never return into the parent's program."""
    status = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C reaches the group: the parent says it
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        data = pickle.dumps([work(item) for item in share], protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write, view) :]
        status = 0
    finally:
        os._exit(status)  # no teardown, no buffers of the parent's flushed twice


def _collect(started: dict[int, tuple[int, int]], shares: list[list[int]]) -> dict[int, list[Any] | None]:
    """Each share's results, read from every child's pipe at once (a child blocks once its pipe is full); None
    for a share whose child died, failed or sent something that does not unpickle."""
    received: dict[int, bytearray] = {fd: bytearray() for fd in started}
    with selectors.DefaultSelector() as selector:
        for fd in started:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                chunk = _read(key.fd)
                if chunk:
                    received[key.fd] += chunk
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    answers: dict[int, list[Any] | None] = {}
    for fd, (k, pid) in started.items():
        answer = _answer(received[fd]) if _exited_cleanly(pid) else None
        answers[k] = answer if answer is not None and len(answer) == len(shares[k]) else None
    return answers


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except OSError:
        return b""


def _exited_cleanly(pid: int) -> bool:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return False
    finally:
        subproc.untrack_pid(pid)
    return os.waitstatus_to_exitcode(status) == 0


def _answer(data: bytes | bytearray) -> list[Any] | None:
    try:
        answer = pickle.loads(data)
    except Exception:  # truncated or garbled: the share is done again here
        return None
    return answer if isinstance(answer, list) else None
