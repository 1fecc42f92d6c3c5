"""The probes that depend on no option, started while the command line is still being read.

A live diagnosis waits on the examined interpreter's metadata and on NVML (two children), and reads the
host, the kernel and the environment. Reading the command line takes about as long (typer builds a validator
per option), and none of these depends on an option but the interpreter (``--python``) and NVML's timeout
(``--nvml-timeout``). So as soon as the command is known to be a live one, they start with what the environment
and ``pyproject.toml`` say, each in a thread of its own; the probes then take each one whose inputs equal the
options finally read, and run their own otherwise. One nobody takes (``check --from``, ``--help``, another
``--python``) is killed as the doctor exits (``signals.end_children``), and changed nothing: probes only read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class Started:
    """One probe running in a thread of its own, and the inputs it was started with."""

    def __init__(self, key: Hashable, probe: Callable[[], Any]) -> None:
        self.key = key
        self._probe = probe
        self._outcome: tuple[bool, Any] = (False, RuntimeError("the early probe did not finish"))
        self.seconds = 0.0
        """How long the probe ran (set when it ends)."""
        self._thread = threading.Thread(target=self._run, daemon=True, name="torchdoctor-early-probe")
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        try:
            self._outcome = (True, self._probe())
        except Exception as exc:  # re-raised where it is taken, where a probe's failure is reported
            self._outcome = (False, exc)
        self.seconds = time.monotonic() - began

    def result(self) -> Any:
        """The probe's answer (its own timeout bounds the wait), or what it raised."""
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value


class EarlyProbes:
    """The probes a command started before its options were read; each is taken at most once."""

    def __init__(self) -> None:
        self._started: dict[str, Started] = {}
        self._lock = threading.Lock()
        self.choice: Any = None
        """The interpreter the starter picked (an ``interpreter.PythonChoice``, a layer above this one)."""
        self.ready = threading.Event()

    def start(self, name: str, key: Hashable, probe: Callable[[], Any]) -> None:
        with self._lock:
            self._started[name] = Started(key, probe)

    def take(self, name: str, key: Hashable) -> Started | None:
        """The probe ``name`` if it was started with ``key``; None when it was not, or with other inputs."""
        self.ready.wait()
        with self._lock:
            started = self._started.pop(name, None)
        return started if started is not None and started.key == key else None

    def active_python(self) -> Any:
        """The interpreter the early probes examine (the active environment's), once it is known."""
        self.ready.wait()
        return self.choice


def start_early(starter: Callable[[EarlyProbes], None]) -> EarlyProbes:
    """Run ``starter`` (which picks the interpreter and starts the probes) in a thread: nothing here blocks."""
    early = EarlyProbes()

    def run() -> None:
        try:
            starter(early)
        except Exception:  # the command reads the same things again, and says what is wrong with them
            return
        finally:
            early.ready.set()

    try:
        threading.Thread(target=run, daemon=True, name="torchdoctor-early-start").start()
    except RuntimeError:  # no thread left (ulimit -u): the probes run as they always did
        early.ready.set()
    return early
