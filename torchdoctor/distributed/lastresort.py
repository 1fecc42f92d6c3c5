"""The last resort of a rank that cannot unwind: `exit_hard`, the one place a rank ends at once, and
`TerminationReport`, the thread that takes the launcher's SIGTERM (and, on rank 0, reports first)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


def exit_hard(code: int) -> NoReturn:
    """The last resort, and the only place a rank ends without unwinding.

    Called from a thread of its own when the job is hung (the watchdog: a step overran) or the
    launcher stopped this rank (SIGTERM): the main thread may be stuck inside NCCL or gloo, where no
    exception reaches it and no ``finally`` would run, so the process ends here with ``code``, threads
    and all, once what the report wrote is flushed.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


class TerminationReport:
    """A rank that the launcher stops (SIGTERM: torchrun does when another rank dies) still reports.

    The main thread may be stuck inside a collective, where no Python signal handler runs, so SIGTERM
    is blocked in it (and so in every thread started after) and taken by a thread of its own, which
    calls ``report`` (set by rank 0 once it has something to say) and ends the process (`exit_hard`).
    Create it before any other thread starts (before `import torch`).
    """

    def __init__(self) -> None:
        self.report: Callable[[], int] | None = None
        self.event = threading.Event()
        if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        with contextlib.suppress(ValueError):  # a thread that slipped through still only raises the flag
            signal.signal(signal.SIGTERM, lambda signum, frame: self.event.set())
        threading.Thread(target=self._wait, daemon=True, name="torchdoctor-sigterm").start()

    def _wait(self) -> None:
        while not self.event.is_set():
            if signal.sigtimedwait({signal.SIGTERM}, 0.2) is not None:
                break
        code = 143
        if self.report is not None:
            with contextlib.suppress(Exception):
                code = self.report() or 143
        exit_hard(code)


def watch_parent(interval: float = 0.5) -> None:
    """End this rank when the process that started it (torchrun) is gone: a rank in a session of its own
    outlives a launcher killed with SIGKILL otherwise, until its collective timeout and longer."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        exit_hard(1)

    if parent > 1:
        threading.Thread(target=watch, name="torchdoctor-parent-watch", daemon=True).start()
