"""A fact, or why it could not be had: :class:`Unavailable` and ``Maybe[T]``.

Apart from :mod:`torchdoctor.model` (which re-exports them) so that the NVML child, which builds only these
and the GPU facts, does not create every other fact type on its way (it is on `check --quick`'s path).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar, Union

T = TypeVar("T")
C = TypeVar("C", bound=type)

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[T], T]:
        return lambda decorator: decorator


@dataclass_transform(frozen_default=True)
def record(cls: C) -> C:
    """``@dataclass(frozen=True)`` with ``__eq__``, ``__hash__`` and ``__repr__`` shared by every fact type.

    dataclasses compiles each method of each class from source text as the class is made, at every start of the
    doctor (about half a millisecond a class); these three do the same for every fact type, so they are written
    once, here, doing what the generated ones do: compare (only with an object of the same class) and hash the
    fields as a tuple, in order, and show them as ``Name(field=value, ...)``.
    """
    made: Any = dataclass(frozen=True, eq=False, repr=False)(cls)
    names = tuple(f.name for f in fields(made))
    made.__record_fields__ = names
    made.__record_values__ = operator.attrgetter(*names) if len(names) > 1 else _one_or_none(names)
    for name, method in (("__eq__", _eq), ("__hash__", _hash), ("__repr__", _repr)):
        if name not in cls.__dict__:
            setattr(made, name, method)
    return cls


def _one_or_none(names: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    if not names:
        return lambda obj: ()
    getter = operator.attrgetter(names[0])
    return lambda obj: (getter(obj),)


def _eq(self: Any, other: object) -> bool:
    cls: Any = self.__class__
    values = cls.__record_values__
    if other.__class__ is cls:
        return bool(values(self) == values(other))
    return NotImplemented


def _hash(self: Any) -> int:
    cls: Any = self.__class__
    return hash(cls.__record_values__(self))


def _repr(self: Any) -> str:
    cls: Any = self.__class__
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in cls.__record_fields__)
    return f"{cls.__qualname__}({shown})"


@record
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
