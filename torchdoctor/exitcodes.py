"""Documented exit codes (README "Exit codes")."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    """No finding at or above the --fail-on threshold."""
    FINDINGS = 1
    """At least one finding at or above the threshold (default: an error)."""
    USAGE = 2
    """Bad command line or options."""
    COULD_NOT_RUN = 3
    """The doctor could not do its job: an unreadable --from file, an unwritable -o path."""
    OUTPUT_FAILED = 4
    """The report could not be written to stdout: closed, full, or a reader that went away."""


class Stop(Exception):
    """A command cannot go on (a usage error, an unreadable input, an unwritable output).

    Raised anywhere below the command line; the command line says ``message`` in one line on stderr and
    exits with ``code``. Nothing else in the package exits.
    """

    def __init__(self, message: str, code: ExitCode = ExitCode.COULD_NOT_RUN) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
