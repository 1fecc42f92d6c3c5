"""Loading many reports' facts at once (`fleet`): shared parts are one object; values and errors as ever."""

from __future__ import annotations

import json

import pytest

from tests import factories as f
from torchdoctor import serde
from torchdoctor.model import Facts


def _doc(**kw: object) -> dict[str, object]:
    return json.loads(json.dumps(serde.to_jsonable(f.facts(**kw))))  # type: ignore[arg-type, no-any-return]


def test_shared_parts_are_loaded_once_and_equal_what_from_jsonable_loads() -> None:
    shared = serde.SharedParts()
    docs = [_doc(host=f.host(hostname=f"n{i}")) for i in range(3)]
    loaded = [shared.load(Facts, d, "$.facts") for d in docs]
    assert loaded == [serde.from_jsonable(Facts, d, "$.facts") for d in docs]
    assert loaded[0].packages is loaded[2].packages and loaded[0].host is not loaded[2].host


def test_a_part_unlike_any_before_stops_being_keyed_once_it_fills_its_room() -> None:
    shared = serde.SharedParts(keep=2)
    docs = [_doc(host=f.host(hostname=f"n{i}")) for i in range(5)]
    loaded = [shared.load(Facts, d, "$.facts") for d in docs]
    assert [x.host.hostname for x in loaded] == ["n0", "n1", "n2", "n3", "n4"]  # type: ignore[union-attr]
    assert len(shared.values["$.facts.host"]) == 2 and loaded[4].python is loaded[0].python


@pytest.mark.parametrize(
    "broken",
    [
        lambda d: d.pop("host"),
        lambda d: d["nvml"].update(gpus="none"),
        lambda d: d["nvml"]["gpus"][0].update(temperature_c="hot"),
        lambda d: d.update(torch={"type": "nonsense"}),
        lambda d: d.update(torch=[1]),
    ],
)
def test_a_broken_part_fails_as_from_jsonable_says(broken: object) -> None:
    doc = _doc()
    broken(doc)  # type: ignore[operator]
    with pytest.raises(serde.SnapshotError) as plain:
        serde.from_jsonable(Facts, doc, "$.facts")
    with pytest.raises(serde.SnapshotError) as shared:
        serde.SharedParts().load(Facts, doc, "$.facts")
    assert str(shared.value) == str(plain.value)
