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
