"""The one fail-on policy: from what a command found to its exit code."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

from torchdoctor.exitcodes import ExitCode

if TYPE_CHECKING:
    from torchdoctor.model import Severity


class FailOn(str, enum.Enum):
    """``--fail-on``: the least severe finding that fails the run."""

    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"


def exit_code(severities: Iterable[Severity], fail_on: FailOn = FailOn.ERROR, judged: bool = True) -> ExitCode:
    """FINDINGS when something at or above ``fail_on`` was found, or when nothing could be judged at all
    (``judged`` false: a fleet of which no report could be read fails even under ``--fail-on never``)."""
    from torchdoctor.model import Severity

    if not judged:
        return ExitCode.FINDINGS
    if fail_on is FailOn.NEVER:
        return ExitCode.OK
    threshold = Severity.ERROR.rank if fail_on is FailOn.ERROR else Severity.WARNING.rank
    if any(s.rank >= threshold for s in severities):
        return ExitCode.FINDINGS
    return ExitCode.OK
