# The channel from a child process to the doctor. Imported by the children that run inside the
# TARGET interpreter (by path, from this folder), so: standard library only, Python 2.7 and 3.6+,
# and never an import of torchdoctor.
#
# The parent passes "FD NONCE" in TORCHDOCTOR_CHANNEL: FD is a pipe kept for this purpose only,
# NONCE tags every line of this run. Each message is one line, "NONCE {json}". Nothing torch (or
# anything else in the process) prints on stdout can break or forge it. Where no pipe can be passed
# (Windows), FD is "stdout" and the tagged lines go there among whatever else is printed.
import json
import os
import sys

ENV = "TORCHDOCTOR_CHANNEL"
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
    if where.isdigit():
        _fd = int(where)
        try:
            import fcntl

            fcntl.fcntl(_fd, fcntl.F_SETFD, fcntl.fcntl(_fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        except Exception:
            pass


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
