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
from collections.abc import Callable
from typing import Any, Union

from torchdoctor.model import Unavailable


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


def from_jsonable_shared(cls: type, data: Any, path: str, seen: dict[tuple[str, str], Any], keep: int = 256) -> Any:
    """``from_jsonable`` of a dataclass whose fields repeat across many documents (a fleet's reports): a field
    whose JSON equals one loaded before (``seen``, filled up to ``keep`` entries) is that same object, loaded
    once. Its value and its errors are ``from_jsonable``'s."""

    def load(tp: Any, value: Any, where: str) -> Any:
        key = (where, json.dumps(value, separators=(",", ":")))
        found = seen.get(key, seen)
        if found is seen:
            found = _load(tp, value, where)
            if len(seen) < keep:
                seen[key] = found
        return found

    return _load_dataclass(cls, data, path, load)


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


def _load(tp: Any, data: Any, path: str) -> Any:
    if type(data) is tp and tp in (str, int, bool):  # the common case, first
        return data
    origin, args = _shape(tp)
    if origin is Union or origin is types.UnionType:
        return _load_union(args, data, path)
    if origin is tuple:
        if not isinstance(data, list):
            raise _fail(path, "a list", data)
        return tuple(_load(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if origin is dict:
        _, value_tp = args
        if not isinstance(data, dict):
            raise _fail(path, "an object", data)
        return {str(k): _load(value_tp, v, f"{path}.{k}") for k, v in data.items()}
    if tp is Unavailable:
        if not (isinstance(data, dict) and data.get("unavailable") is True):
            raise _fail(path, "an 'unavailable' object", data)
        return Unavailable(str(data.get("source", "")), str(data.get("reason", "")), str(data.get("code", "")))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _load_dataclass(tp, data, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise _fail(path, f"one of {[m.value for m in tp]}", data) from None
    if tp is float:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
        if data is None:  # how a NaN or an infinity is written (JSON has no such numbers)
            return math.nan
        raise _fail(path, "a number", data)
    if tp in (str, int, bool):
        if type(data) is tp:
            return data
        raise _fail(path, f"a {tp.__name__}", data)
    if tp is type(None):
        if data is None:
            return None
        raise _fail(path, "null", data)
    if tp is Any:
        return data
    raise _fail(path, f"a value of type {tp!r}", data)


def _load_dataclass(cls: type, data: Any, path: str, load: Callable[[Any, Any, str], Any] | None = None) -> Any:
    if not isinstance(data, dict):
        raise _fail(path, f"an object ({cls.__name__})", data)
    kind = getattr(cls, "KIND", None)
    if kind is not None and data.get("type") != kind:
        raise _fail(f"{path}.type", repr(kind), data.get("type"))
    kwargs = {}
    for name, hint, required in _fields(cls):
        if name in data:
            kwargs[name] = (load or _load)(hint, data[name], f"{path}.{name}")
        elif required:
            raise SnapshotError(f"{path}: missing field '{name}'")
    return cls(**kwargs)


def _load_union(members: tuple[Any, ...], data: Any, path: str) -> Any:
    if type(data) in members and type(data) in (str, int, bool, type(None)):
        return data
    if isinstance(data, dict):
        if data.get("unavailable") is True and Unavailable in members:
            return _load(Unavailable, data, path)
        tagged = [m for m in members if isinstance(m, type) and getattr(m, "KIND", None) == data.get("type")]
        if tagged:
            return _load(tagged[0], data, path)
    errors: list[SnapshotError] = []
    for member in members:
        if member is Unavailable:
            continue
        try:
            return _load(member, data, path)
        except SnapshotError as exc:
            errors.append(exc)
    raise errors[0] if len(errors) == 1 else _fail(path, " or ".join(_name(m) for m in members), data)


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", repr(tp))
