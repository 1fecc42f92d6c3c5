"""The corpus of real cases runs in the suite: every case is well formed, replays, and is scored.

The score itself is not asserted (the loader engine of issue 19 is being built); tests/corpus/README.md
records it. What must hold today: no case makes a check fail internally, and every case gets a score.
"""

from __future__ import annotations

import re

import pytest

from tests.corpus import replay as r

CASES = r.load_cases()
REQUIRED = ("source", "title", "class", "confirmed_cause", "confirmed_fix", "machine", "import_error", "runtime")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_well_formed(case: r.Case) -> None:
    data = case.data
    assert re.fullmatch(r"\d{3}-[a-z0-9.-]+", case.name)
    assert all(key in data for key in REQUIRED), [k for k in REQUIRED if k not in data]
    assert data["source"].startswith("https://")
    assert data["class"] in r.CLASSES
    assert data["machine"]["platform"] in r.PLATFORMS
    assert data["machine"].get("installer", "unknown") in r.INSTALLERS
    assert (data["import_error"] is None) != (data["runtime"] is None), "a case shows an import error or a runtime"
    if data["import_error"]:
        assert data["import_error"]["exc_type"] and data["import_error"]["message"]
    assert all(e["role"] in r.ROLES and e["installed_by"] in (*r.INSTALLERS, "none") for e in data.get("loader", []))
    verdict = case.verdict
    assert verdict["cause"] in r.CAUSE_SIGNS
    assert verdict["fix_kind"] in r.FIX_SIGNS
    assert {"culprit_file", "culprit_dir"} <= set(verdict)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_replays_and_is_scored(case: r.Case) -> None:
    outcome = r.replay(case)
    assert outcome.internal_errors == ()
    assert isinstance(outcome.score, r.Score) and outcome.reason


def test_sources_are_unique() -> None:
    sources = [c.data["source"] for c in CASES]
    assert len(sources) == len(set(sources))


def test_table_counts_every_case() -> None:
    outcomes = [r.replay(c) for c in CASES]
    last = r.table(outcomes).splitlines()[-1]
    assert last.startswith(f"| **all** | {len(CASES)} |")
    assert sum(int(n) for n in last.strip("| ").split(" | ")[2:]) == len(CASES)


def test_the_child_classifier_is_read_from_the_child() -> None:
    """The replay classifies messages with the torch child's own function, not a copy that could drift."""
    assert r.import_kind("ModuleNotFoundError", "No module named 'x'").value == "missing Python module"
    assert r.import_kind("ImportError", "libfoo.so.1: cannot open shared object file").value == "missing shared library"


def _case(name: str) -> r.Case:
    return next(c for c in CASES if c.name.startswith(name))


def test_a_path_built_from_the_executables_rpath_is_an_rpath_candidate() -> None:
    loader = r.facts_for(_case("062")).loader
    (res,) = loader.resolutions  # type: ignore[union-attr]
    assert [(c.via.value, c.entry) for c in res.candidates] == [("RPATH", "$ORIGIN/../lib")]


def test_no_gpu_stands_in_for_a_cpu_torch_whose_thread_names_none() -> None:
    assert isinstance(r.facts_for(_case("062")).nvml, r.Unavailable)  # aarch64 PyPI torch: the CPU build
    assert not isinstance(r.facts_for(_case("055")).nvml, r.Unavailable)  # a cpu-only-build case has a GPU


def test_torchs_requires_dist_comes_from_the_registry_for_a_pypi_release() -> None:
    (torch,) = r.facts_for(_case("009")).packages.named("torch")  # type: ignore[union-attr]
    assert any(req.startswith("nvidia-cudnn-cu12") for req in torch.requires)
