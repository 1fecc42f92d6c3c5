"""A fact, or why it could not be had: :class:`Unavailable` and ``Maybe[T]``.

Apart from :mod:`torchdoctor.model` (which re-exports them) so that the NVML child, which builds only these
and the GPU facts, does not create every other fact type on its way (it is on `check --quick`'s path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, Union

T = TypeVar("T")


@dataclass(frozen=True)
class Unavailable:
    """A fact that could not be checked, and why."""

    source: str
    reason: str
    code: str = ""
    """Machine-readable cause, e.g. ``not_supported``, ``timeout``, ``LibRmVersionMismatch``."""

    @property
    def not_supported(self) -> bool:
        return self.code == "not_supported"

    def __str__(self) -> str:
        if self.not_supported:
            return "not supported"
        if self.code == "skipped":  # the user asked for it: not a failure to check
            return f"skipped ({self.reason})"
        return f"could not check ({self.source}): {self.reason}"


NOT_SUPPORTED = Unavailable("NVML", "not supported by this GPU or driver", "not_supported")

Maybe = Union[T, Unavailable]  # noqa: UP007 (a runtime alias, read by serde)
