"""Turn the model's dataclasses into JSON-ready values and back.

The reverse direction is what ``check --from FILE`` stands on, so it is strict: anything that
does not fit the declared type raises :class:`SnapshotError` naming the path of the bad value.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Union

from torchdoctor.maybe import Unavailable


class SnapshotError(ValueError):
    """A document that is not a torchdoctor report (or not this version's)."""


MAX_INT_DIGITS = 64
"""The longest integer a report holds (bytes, clocks, PIDs need 20 digits); Python refuses over 4300 anyway."""


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise SnapshotError(f"it holds an integer of {digits} digits (a report's have at most {MAX_INT_DIGITS})")
    return int(text)


def loads(text: str) -> Any:
    """Parse JSON whose integers a report could hold; longer ones raise SnapshotError (not Python's limit)."""
    return json.loads(text, parse_int=_bounded_int)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Unavailable):
        return {"unavailable": True, "source": value.source, "reason": value.reason, "code": value.code}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        kind = getattr(type(value), "KIND", None)
        if kind is not None:
            out["type"] = kind
        for f in dataclasses.fields(value):
            out[f.name] = to_jsonable(getattr(value, f.name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(tp: Any, data: Any, path: str = "$") -> Any:
    """Rebuild a value of type ``tp`` (a dataclass, a union, ...) from what ``to_jsonable`` made."""
    return _load(tp, data, path)


class SharedParts:
    """The fields of one dataclass as many documents hold them (a fleet's reports): a field whose JSON equals one
    loaded before is that same object, loaded once. Up to ``keep`` values a field; a field that fills them and is
    seldom found again (a host's own facts) is then loaded as it comes, without working out its key."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self.values: dict[str, dict[str, Any]] = {}
        self.found: dict[str, int] = {}

    def load(self, cls: type, data: Any, path: str) -> Any:
        """``from_jsonable(cls, data, path)``: the same value and the same errors."""
        return _load_dataclass(cls, data, path, _fields(cls), self._field)

    def _field(self, tp: Any, value: Any, where: str) -> Any:
        known = self.values.setdefault(where, {})
        found = self.found.get(where, 0)
        if len(known) >= self.keep and found < len(known):  # different in (nearly) every document
            return _load(tp, value, where)
        text = json.dumps(value, separators=(",", ":"))
        loaded = known.get(text, known)
        if loaded is not known:
            self.found[where] = found + 1
            return loaded
        loaded = _load(tp, value, where)
        if len(known) < self.keep:
            known[text] = loaded
        return loaded


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, type, required) of each field of a dataclass: worked out once per class."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
    )


@functools.cache
def _shape(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    return typing.get_origin(tp), typing.get_args(tp)


def _fail(path: str, expected: str, data: Any) -> SnapshotError:
    shown = repr(data)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return SnapshotError(f"{path}: expected {expected}, found {shown}")


Loader = Callable[[Any, str], Any]
"""(data, path) -> the value: one type's reader, worked out once per type (``_loader``)."""
SIMPLE = (str, int, bool)


def _load(tp: Any, data: Any, path: str) -> Any:
    if type(data) is tp and tp in SIMPLE:  # the common case, first
        return data
    return _loader(tp)(data, path)


def _lazy(tp: Any) -> Loader:
    """``tp``'s loader, looked up on first use (a type may name itself, or one not yet worked out)."""
    found: list[Loader] = []

    def load(data: Any, path: str) -> Any:
        if not found:
            found.append(_loader(tp))
        return found[0](data, path)

    return load


@functools.cache
def _loader(tp: Any) -> Loader:
    """One branch per kind of type, in the order ``_load`` always took them."""
    origin, args = _shape(tp)
    if origin is Union or origin is types.UnionType:
        return _union_loader(args)
    if origin is tuple:
        return _tuple_loader(_lazy(args[0]))
    if origin is dict:
        return _dict_loader(_lazy(args[1]))
    if tp is Unavailable:
        return _unavailable
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_loader(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_loader(tp)
    if tp is float:
        return _float
    if tp in SIMPLE:
        return _simple_loader(tp)
    if tp is type(None):
        return _none
    if tp is Any:
        return lambda data, path: data
    return lambda data, path: _raise(_fail(path, f"a value of type {tp!r}", data))


def _raise(exc: Exception) -> Any:
    raise exc


def _tuple_loader(item: Loader) -> Loader:
    def load(data: Any, path: str) -> Any:
        if not isinstance(data, list):
            raise _fail(path, "a list", data)
        return tuple(item(value, f"{path}[{i}]") for i, value in enumerate(data))

    return load


def _dict_loader(value_of: Loader) -> Loader:
    def load(data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            raise _fail(path, "an object", data)
        return {str(k): value_of(v, f"{path}.{k}") for k, v in data.items()}

    return load


def _unavailable(data: Any, path: str) -> Unavailable:
    if not (isinstance(data, dict) and data.get("unavailable") is True):
        raise _fail(path, "an 'unavailable' object", data)
    return Unavailable(str(data.get("source", "")), str(data.get("reason", "")), str(data.get("code", "")))


def _enum_loader(tp: type[enum.Enum]) -> Loader:
    def load(data: Any, path: str) -> Any:
        try:
            return tp(data)
        except ValueError:
            raise _fail(path, f"one of {[m.value for m in tp]}", data) from None

    return load


def _float(data: Any, path: str) -> float:
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if data is None:  # how a NaN or an infinity is written (JSON has no such numbers)
        return math.nan
    raise _fail(path, "a number", data)


def _simple_loader(tp: type) -> Loader:
    def load(data: Any, path: str) -> Any:
        if type(data) is tp:
            return data
        raise _fail(path, f"a {tp.__name__}", data)

    return load


def _none(data: Any, path: str) -> None:
    if data is None:
        return None
    raise _fail(path, "null", data)


def _dataclass_loader(cls: type) -> Loader:
    found: list[tuple[tuple[str, Loader, bool], ...]] = []

    def load(data: Any, path: str) -> Any:
        if not found:  # two threads may both work it out; both use the first
            found.append(tuple((name, _lazy(hint), required) for name, hint, required in _fields(cls)))
        return _load_dataclass(cls, data, path, found[0])

    return load


def _load_dataclass(
    cls: type, data: Any, path: str, fields: Iterable[tuple[str, Any, bool]], load: Callable[..., Any] | None = None
) -> Any:
    """``fields``: (name, its loader, or its type for ``load(type, value, path)``, required)."""
    if not isinstance(data, dict):
        raise _fail(path, f"an object ({cls.__name__})", data)
    kind = getattr(cls, "KIND", None)
    if kind is not None and data.get("type") != kind:
        raise _fail(f"{path}.type", repr(kind), data.get("type"))
    kwargs = {}
    for name, how, required in fields:
        if name in data:
            where = f"{path}.{name}"
            kwargs[name] = how(data[name], where) if load is None else load(how, data[name], where)
        elif required:
            raise SnapshotError(f"{path}: missing field '{name}'")
    return cls(**kwargs)


def _union_loader(members: tuple[Any, ...]) -> Loader:
    simple = tuple(m for m in members if m in (*SIMPLE, type(None)))
    # the first class member whose KIND is the document's "type" (a member with no KIND: one with no "type")
    tags = {getattr(m, "KIND", None): m for m in reversed(members) if isinstance(m, type)}
    tagged = {kind: _lazy(m) for kind, m in tags.items()}
    tried = tuple(_lazy(m) for m in members if m is not Unavailable)
    has_unavailable = Unavailable in members
    expected = " or ".join(_name(m) for m in members)

    def load(data: Any, path: str) -> Any:
        if type(data) in simple:
            return data
        if isinstance(data, dict):
            if has_unavailable and data.get("unavailable") is True:
                return _unavailable(data, path)
            tag = data.get("type")
            by_tag = tagged.get(tag) if tag is None or isinstance(tag, str) else None
            if by_tag is not None:
                return by_tag(data, path)
        errors: list[SnapshotError] = []
        for member in tried:
            try:
                return member(data, path)
            except SnapshotError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else _fail(path, expected, data)

    return load


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", repr(tp))
