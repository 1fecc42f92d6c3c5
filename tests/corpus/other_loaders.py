"""The other loaders' facts (torchdoctor.model.OtherLoaderFacts) for a corpus case, for replay.py to call.

``facts_for(case)`` in replay.py leaves ``other_loaders`` at its default; ``replace(facts, other_loaders=
other_loader_facts(case))`` gives TD041-TD045 what the thread shows: the platform (wsl2, jetson, windows), the
GPU's gfx target (``machine.gfx``), L4T (``machine.l4t``), and the loader entries (a Windows DLL named as the
culprit is what its ``needed-by`` DLL imports and the machine lacks; a libcuda.so.1 entry is a WSL copy).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from typing import Any

from tests.corpus import replay as r
from torchdoctor.doctor import judge
from torchdoctor.model import (
    DllFacts,
    DllImports,
    Maybe,
    OtherLoaderFacts,
    RocmFacts,
    TegraFacts,
    Unavailable,
    WslFacts,
)

NA = Unavailable("loaders", "does not apply to the thread's machine", "not_applicable")
NOT_STATED = Unavailable("loaders", r.NOT_STATED, "not_stated")


def _wsl(machine: dict[str, Any], loader: list[dict[str, Any]]) -> Maybe[WslFacts]:
    if machine["platform"] != "wsl2":
        return NA
    copies = tuple(e["path"] for e in loader if e.get("soname") == "libcuda.so.1" and e.get("path"))
    return WslFacts("wsl2", machine.get("kernel", ""), "/usr/lib/wsl/lib", True, copies)


def _tegra(machine: dict[str, Any]) -> Maybe[TegraFacts]:
    if machine["platform"] != "jetson":
        return NA
    return TegraFacts(machine.get("l4t", ""), machine.get("model", machine.get("os", "")))


def _rocm(case: r.Case) -> Maybe[RocmFacts]:
    gfx = case.data["machine"].get("gfx")
    if gfx:
        return RocmFacts(tuple(gfx))
    return NOT_STATED if case.klass == "rocm" else NA


def _dlls(machine: dict[str, Any], loader: list[dict[str, Any]]) -> Maybe[DllFacts]:
    if machine["platform"] != "windows-x86_64":
        return NA
    missing = tuple(e["soname"] for e in loader if e["role"] == "culprit" and e["soname"].lower().endswith(".dll"))
    users = [e["path"] or e["soname"] for e in loader if e["role"] == "needed-by"]
    if not missing:
        return NOT_STATED
    user = users[0] if users else "torch\\lib\\(the DLL the thread names)"
    return DllFacts("torch\\lib", (DllImports(user, missing, missing),))


def other_loader_facts(case: r.Case) -> OtherLoaderFacts:
    machine, loader = case.data["machine"], case.data.get("loader", [])
    return OtherLoaderFacts(_wsl(machine, loader), _tegra(machine), _rocm(case), _dlls(machine, loader))


def main() -> int:
    """The score with the other loaders' facts replayed too (what replay.py gives once it calls this)."""
    outcomes = []
    for case in r.load_cases():
        facts = replace(r.facts_for(case), other_loaders=other_loader_facts(case))
        result, reason = r.score(judge(facts), case.verdict, case.data["machine"].get("torch", ""))
        outcomes.append(r.Outcome(case, result, reason, (), ()))
    print(r.table(outcomes))
    if "-v" in sys.argv:
        for o in outcomes:
            print(f"{o.case.name}: {o.score.value} ({o.reason})")
    print(Counter(o.score.value for o in outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
