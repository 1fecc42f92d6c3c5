# The channel from a child process to the doctor. Imported by the children that run inside the
# TARGET interpreter (by path, from this folder), so: standard library only, Python 2.7 and 3.6+,
# and never an import of torchdoctor.
#
# The parent passes "FD NONCE" in TORCHDOCTOR_CHANNEL: FD is a pipe kept for this purpose only,
# NONCE tags every line of this run. Each message is one line, "NONCE {json}". Nothing torch (or
# anything else in the process) prints on stdout can break or forge it. Where no pipe can be passed
# (Windows), FD is "stdout" and the tagged lines go there among whatever else is printed.
#
# A third field, "FD NONCE LIFE", is the read end of a lifeline: a pipe the doctor holds open and never
# writes. When the doctor dies, whatever kills it (SIGKILL, the OOM killer, a CI runner's hard cancel),
# the kernel closes its end, the read here returns, and this child takes its whole process group
# (DataLoader workers included) down with it.
import json
import os
import signal
import sys
import threading

ENV = "TORCHDOCTOR_CHANNEL"
ON_DOCTOR_DEATH = "kill"
"""What the lifeline does when the doctor dies: "kill" this process group, or "terminate" this process (SIGTERM,
for a launcher that must stop children in sessions of their own first)."""
_fd = None  # the pipe's file descriptor, or None for stdout
_nonce = ""
_opened = False


def open_channel():
    """Take the channel from the environment, and hide it from everything this process starts."""
    global _fd, _nonce, _opened
    if _opened:
        return
    _opened = True
    parts = os.environ.pop(ENV, "").split(" ", 1)
    if len(parts) != 2:
        return
    where, _nonce = parts
    _nonce, _, life = _nonce.partition(" ")
    if life.isdigit():
        _watch_lifeline(int(life))
    if where.isdigit():
        _fd = int(where)
        try:
            import fcntl

            fcntl.fcntl(_fd, fcntl.F_SETFD, fcntl.fcntl(_fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        except Exception:
            pass


def _watch_lifeline(fd):
    """A daemon thread that ends this process group once the doctor's end of the pipe is closed."""

    def watch():
        try:
            while os.read(fd, 1):
                pass  # the doctor never writes; a byte would be a stray, keep waiting for EOF
        except OSError:
            pass
        _die_with_the_doctor()

    thread = threading.Thread(target=watch, name="torchdoctor-lifeline")
    thread.daemon = True
    thread.start()


def _die_with_the_doctor():
    if ON_DOCTOR_DEATH == "terminate":
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        except OSError:
            pass
    try:
        if os.getpgrp() == os.getpid():  # our own group (the doctor starts us in a new session): take it all
            os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    os._exit(137)


def emit(doc):
    open_channel()
    line = _nonce + " " + json.dumps(doc) + "\n"
    if _fd is None:
        sys.stdout.write(line)
        sys.stdout.flush()
        return
    data = line.encode("utf-8")
    while data:
        written = os.write(_fd, data)
        data = data[written:]
