"""Where a result's text goes: stdout or ``-o FILE``, and GitHub Actions' annotations and job summary.

The one writer: every command's report leaves through :func:`deliver`. stdout carries the report only;
what is said to the person (a file was written, a problem writing) goes to stderr through :func:`say`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from torchdoctor.exitcodes import ExitCode, Stop
from torchdoctor.render import OutputFormat

if TYPE_CHECKING:
    from torchdoctor.render import RenderOptions
    from torchdoctor.result import Result


@dataclass(frozen=True)
class OutputOptions:
    """``-f``, ``-o``, ``-v`` and ``--redact``: how a result is shown, whatever the command."""

    fmt: OutputFormat = OutputFormat.TERMINAL
    output: Path | None = None
    verbose: bool = False
    redact: bool = True


def say(message: str) -> None:
    """One line on stderr, whatever its encoding; a closed stderr loses the line, not the run."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        encoding = sys.stderr.encoding or "utf-8"
        sys.stderr.write(encoded(message, encoding).decode(encoding, errors="replace") + "\n")
        sys.stderr.flush()


def use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def terminal_width() -> int:
    """The terminal's width (COLUMNS first, as shells and rich read it), kept within 60-140; 100 when unknown."""
    columns = os.environ.get("COLUMNS", "")
    try:
        width = int(columns) if columns.isascii() and columns.isdigit() else os.get_terminal_size().columns
    except OSError:
        return 100
    return max(60, min(width, 140))


def render_options(out: OutputOptions) -> RenderOptions:
    """Colour, width and characters for a terminal when the report goes to stdout; plain and 100 wide to a file."""
    from torchdoctor.render import RenderOptions

    to_terminal = out.output is None
    return RenderOptions(
        verbose=out.verbose,
        color=to_terminal and use_color(),
        width=terminal_width() if to_terminal else 100,
        unicode=(getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") in ("utf8", "utf16")
        or not to_terminal,
        redact_identity=out.redact,
    )


def deliver(result: Result, out: OutputOptions) -> None:
    """Render ``result`` as asked, write it, and inside GitHub Actions add its annotations and job summary."""
    emit(result.render(out.fmt, render_options(out)), out.output)
    if result.github_extras and os.environ.get("GITHUB_ACTIONS") == "true":
        github_outputs(out.fmt, out.output, result.annotations, result.job_summary)
    if result.afterword:
        say(f"torchdoctor: {result.afterword}")


def emit(text: str, output: Path | None) -> None:
    """Write the report: to stdout (also for ``-o -``) in its own encoding, else to ``output`` (see files.py)."""
    if output is None or str(output) == "-":
        write_stdout(text)
        return
    from torchdoctor.files import FileProblem, write_text

    output = output_path(output)
    try:
        written = write_text(output, text)
    except FileProblem as exc:
        raise Stop(f"cannot write {output}: {exc}") from None
    if written.is_file():  # not said for /dev/null, a FIFO or a terminal
        say(f"torchdoctor: report written to {output}")


def output_path(output: Path) -> Path:
    """``%h`` in -o is this host's name (short), so one command line serves every node: ``-o reports/%h.json``."""
    if "%" not in str(output):
        return output
    import socket

    host = socket.gethostname().split(".")[0] or "localhost"
    return Path(re.sub(r"%([h%])", lambda m: host if m.group(1) == "h" else "%", str(output)))


ASCII = str.maketrans(
    {
        "×": "x",
        "•": "*",
        "·": "-",
        "…": "...",
        "—": "-",
        "–": "-",
        "→": "->",
        "≥": ">=",
        "≤": "<=",
        "°": "",
        "✓": "ok",
        "✗": "x",
        "█": "#",
        "░": ".",
        "✅": "[ok]",
        "❌": "[x]",
        "⚠": "!",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
    }
)
"""What the characters torchdoctor writes become where the terminal's encoding has not got them (an ASCII
locale): readable stand-ins, not '?'."""


def encoded(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``; where it cannot be, the ASCII stand-ins first, and '?' only for the rest."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.translate(ASCII).encode(encoding, errors="replace")
    except LookupError:  # an encoding Python does not know
        return text.translate(ASCII).encode("ascii", errors="replace")


def write_stdout(text: str) -> None:
    """Characters the terminal cannot show become ASCII stand-ins (else '?'); a closed, full or vanished stdout
    stops the run."""
    stream = sys.stdout
    try:
        if stream is None:
            raise OSError("stdout is closed")
        encoding = stream.encoding or "utf-8"
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(encoded(text, encoding))
            buffer.flush()
        else:
            stream.write(encoded(text, encoding).decode(encoding, errors="replace"))
            stream.flush()
    except (OSError, ValueError) as exc:  # EPIPE, ENOSPC (/dev/full), EBADF, "I/O operation on closed file"
        with contextlib.suppress(OSError, ValueError):
            # stdout must not be flushed again at exit: point it at nothing
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        why = "the reader went away" if isinstance(exc, BrokenPipeError) else (getattr(exc, "strerror", None) or exc)
        raise Stop(f"could not write the report to stdout: {why}", ExitCode.OUTPUT_FAILED) from None


def github_outputs(
    fmt: OutputFormat, output: Path | None, annotations: Callable[[], str], summary: Callable[[], str]
) -> None:
    """Annotations (unless -f github already printed them) and the Markdown job summary.

    Annotations go to stdout when it carries a person's report (or nothing), to stderr when it carries
    a machine-readable one (the runner reads workflow commands on both).
    """
    if fmt is not OutputFormat.GITHUB:
        text = annotations()
        if output is None and fmt is not OutputFormat.TERMINAL:
            say(text.rstrip("\n"))
        elif text:
            write_stdout(text)
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(summary() + "\n")
        except OSError as exc:
            say(f"torchdoctor: cannot append to GITHUB_STEP_SUMMARY ({exc})")
