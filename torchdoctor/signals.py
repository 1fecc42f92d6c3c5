"""Ctrl-C, SIGTERM and SIGHUP end the doctor cleanly: every child's process group killed, one line said."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

SIGNAL_NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)"}
if hasattr(signal, "SIGHUP"):
    SIGNAL_NAMES[signal.SIGHUP] = "hung up (SIGHUP)"


def end_children() -> None:
    """Kill every child's process group and remove the temp dirs: on a signal, and as the doctor exits (a
    probe started early that no command took, as after ``check --from`` or ``--help``, ends with it)."""
    subproc = sys.modules.get("torchdoctor.probes.subproc")  # not imported yet: no child was started
    kill_everything = getattr(subproc, "kill_everything", None)
    if kill_everything is not None:
        kill_everything()


def _on_signal(signum: int, frame: object) -> None:
    """Kill every child's process group, remove temp dirs, say so in one line, exit 128 + the signal."""
    end_children()
    with contextlib.suppress(Exception):
        sys.stderr.write(f"torchdoctor: {SIGNAL_NAMES.get(signal.Signals(signum), 'stopped')}\n")
        sys.stderr.flush()
    os._exit(128 + signum)


def install_signal_handlers() -> None:
    """The handlers, and the signals unblocked: a mask is inherited, and a parent that blocked SIGTERM (a rank's
    last-resort thread, a supervisor) would leave the doctor deaf to it, and its children too."""
    for signum in SIGNAL_NAMES:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or not allowed here
            signal.signal(signum, _on_signal)
    if hasattr(signal, "pthread_sigmask"):  # after the handlers: one pending while blocked comes to ours
        with contextlib.suppress(ValueError, OSError):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, set(SIGNAL_NAMES))
