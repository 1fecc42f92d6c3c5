"""Reading and writing paths a person names, which are not always regular files.

``check --from`` and ``fleet`` may be handed a FIFO, ``/dev/zero`` or a directory; ``-o`` may name
``/dev/null``, ``/dev/stdout``, a FIFO, a symlink or a read-only file. An input is opened without
blocking, must be a regular file, and is read with a size bound. An output that is a regular file (or
does not exist yet) is replaced atomically; anything else is written in place, never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


class FileProblem(Exception):
    """Why a path cannot be read or written as asked; the message is one line, without the path."""


def kind_of(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_text(path: Path, limit: int) -> str:
    """A regular file's text (UTF-8), at most ``limit`` bytes; never blocks on a FIFO or reads a device forever."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc)) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileProblem(f"it is {kind_of(mode)}, not a report file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileProblem(f"larger than {limit // 2**20} MiB: not a torchdoctor report")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem("not a UTF-8 text file") from None


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``; returns the file written (a symlink's target). See the module's doc."""
    try:
        st = os.stat(path)  # through any symlink: what is really there
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc)) from None
    data = text.encode("utf-8")
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise FileProblem("it is a directory")
        _write_in_place(path, data, st.st_mode)  # /dev/stdout, /dev/null, a FIFO: opened as they are
        return path
    if st is not None and not st.st_mode & 0o222:
        raise FileProblem("it is read-only (make it writable, or write elsewhere)")
    target = Path(os.path.realpath(path)) if path.is_symlink() else path  # replace the file, keep the link
    _replace(target, data, st.st_mode if st is not None else None)
    return target


def _write_in_place(target: Path, data: bytes, mode: int) -> None:
    """A device, FIFO or terminal: open it as it is and write; a FIFO with no reader is said, not waited for."""
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    if stat.S_ISFIFO(mode):
        flags |= getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise FileProblem("it is a FIFO and nothing is reading it") from None
        raise FileProblem(exc.strerror or str(exc)) from None
    try:
        if stat.S_ISFIFO(mode):
            os.set_blocking(fd, True)  # a reader is there: let it take the report at its pace
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def _replace(target: Path, data: bytes, mode: int | None) -> None:
    """A regular file: a temp file beside it (a short name, whatever the target's length), then rename."""
    tmp = target.with_name(f".td-{os.getpid()}-{os.urandom(3).hex()}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise FileProblem(exc.strerror or str(exc)) from None
