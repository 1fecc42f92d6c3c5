"""``maybe.record`` behaves as ``dataclass(frozen=True)`` does: the same equality, hash and repr, frozen, and
``dataclasses`` still sees a dataclass (serde, replace and fields rely on it)."""

from __future__ import annotations

import dataclasses

import pytest

from torchdoctor.maybe import Unavailable, record


@record
class Shared:
    name: str
    sizes: tuple[int, ...] = ()
    left: object = None


@dataclasses.dataclass(frozen=True)
class Generated:
    name: str
    sizes: tuple[int, ...] = ()
    left: object = None


@record
class Empty:
    pass


@pytest.mark.parametrize(
    "args",
    [("a",), ("a", (1, 2)), ("a", (), Unavailable("x", "y")), ("é\n", (3,), {"k": 1})],
)
def test_it_compares_hashes_and_shows_as_a_frozen_dataclass_does(args: tuple[object, ...]) -> None:
    one, two, twin = Shared(*args), Shared(*args), Generated(*args)  # type: ignore[arg-type]
    assert one == two
    assert (one != two) is False  # __ne__ follows __eq__
    assert repr(one) == repr(twin).replace("Generated", "Shared")
    if not isinstance(args[-1], dict):  # a dict field is not hashable, as with a dataclass
        assert hash(one) == hash(two) == hash(twin)
    assert one != Shared("other", *args[1:])  # type: ignore[arg-type]
    assert one != twin and (one == args) is False  # another class is never equal, not even with the same fields


def test_it_is_frozen_and_still_a_dataclass() -> None:
    one = Shared("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.name = "b"  # type: ignore[misc]
    assert dataclasses.is_dataclass(one) and [f.name for f in dataclasses.fields(one)] == ["name", "sizes", "left"]
    assert dataclasses.replace(one, name="b") == Shared("b")
    assert Empty() == Empty() and hash(Empty()) == hash(()) and repr(Empty()) == "Empty()"
