"""When a probe failed for a reason of the doctor's own, not the examined environment's.

A process limit (``ulimit -u``: "can't start new thread", fork's EAGAIN), a file-descriptor limit
(``ulimit -n``: EMFILE), memory the kernel will not give, or a bug in a probe: the machine was not
examined, so nothing may be concluded from the missing facts, and the report must say so (a finding,
never a quiet "could not check"). The failure is recognised by where it happened and its errno, never
by the words of a message.
"""

from __future__ import annotations

import errno

from torchdoctor.maybe import Unavailable

LIMIT = "limit"
"""Unavailable.code: the doctor ran out of something it needed (processes, threads, descriptors, memory)."""
BUG = "bug"
"""Unavailable.code: a probe raised; a bug in torchdoctor, or an environment it did not foresee."""
OWN_FAILURES = frozenset({LIMIT, BUG})

LIMIT_ERRNOS = frozenset({errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.ENOMEM})
"""fork/pipe/open errors that say the doctor's process ran out of a resource (see fork(2), pipe(2), open(2))."""


def is_limit(exc: BaseException) -> bool:
    """True for an OSError that is one of the doctor's own resource limits."""
    return isinstance(exc, OSError) and exc.errno in LIMIT_ERRNOS


def own_failure(value: object) -> bool:
    """True when ``value`` is an Unavailable fact that the doctor failed to gather for a reason of its own."""
    return isinstance(value, Unavailable) and value.code in OWN_FAILURES
