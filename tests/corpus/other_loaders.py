"""The other loaders' facts (torchdoctor.model.OtherLoaderFacts) for a corpus case; replay.py's ``facts_for`` calls it.

``other_loader_facts(case)`` gives TD041-TD045 what the thread shows: the platform (wsl2, jetson, windows), the
GPU's gfx target (``machine.gfx``), L4T (``machine.l4t``), and the loader entries (a Windows DLL named as the
culprit is what its ``needed-by`` DLL imports and the machine lacks; a libcuda.so.1 entry is a WSL copy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from tests.corpus.replay import Case

NOT_STATED_IN_THREAD = "not stated in the thread"
NA = Unavailable("loaders", "does not apply to the thread's machine", "not_applicable")
NOT_STATED = Unavailable("loaders", NOT_STATED_IN_THREAD, "not_stated")


def _wsl(machine: dict[str, Any], loader: list[dict[str, Any]]) -> Maybe[WslFacts]:
    """WSL's facts: ``machine.libcuda_order`` (the libcuda.so.1 copies in the loader's order, ``[]`` for none) where
    the thread shows it, else the loader entries' copies, else the healthy default (the Windows driver's copy)."""
    if machine["platform"] == "wsl1":
        return WslFacts("wsl1", machine.get("kernel", ""), "", False, ())
    if machine["platform"] != "wsl2":
        return NA
    lib_dir = "/usr/lib/wsl/lib"
    driver = f"{lib_dir}/libcuda.so.1"
    copies = tuple(e["path"] for e in loader if e.get("soname") == "libcuda.so.1" and e.get("path")) or (driver,)
    copies = tuple(machine.get("libcuda_order", copies))
    return WslFacts("wsl2", machine.get("kernel", ""), lib_dir, True, copies, driver_libcuda=driver)


def _tegra(machine: dict[str, Any]) -> Maybe[TegraFacts]:
    if machine["platform"] != "jetson":
        return NA
    return TegraFacts(machine.get("l4t", ""), machine.get("model", machine.get("os", "")))


def _rocm(case: Case) -> Maybe[RocmFacts]:
    gfx = case.data["machine"].get("gfx")
    if gfx:
        return RocmFacts(tuple(gfx))
    return NOT_STATED if case.klass == "rocm" else NA


def _dlls(machine: dict[str, Any], loader: list[dict[str, Any]]) -> Maybe[DllFacts]:
    if machine["platform"] != "windows-x86_64":
        return NA
    missing = tuple(  # a culprit DLL the thread gives a path for is there (it failed otherwise), not missing
        e["soname"] for e in loader if e["role"] == "culprit" and e["soname"].lower().endswith(".dll") and not e["path"]
    )
    users = [e["path"] or e["soname"] for e in loader if e["role"] == "needed-by"]
    if not missing:
        return NOT_STATED
    user = users[0] if users else "torch\\lib\\(the DLL the thread names)"
    return DllFacts("torch\\lib", (DllImports(user, missing, missing),))


def other_loader_facts(case: Case) -> OtherLoaderFacts:
    machine, loader = case.data["machine"], case.data.get("loader", [])
    return OtherLoaderFacts(_wsl(machine, loader), _tegra(machine), _rocm(case), _dlls(machine, loader))
