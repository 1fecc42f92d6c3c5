"""Fix texts shared by several checks: "install this torch" comes from the compat tables."""

from __future__ import annotations

from dataclasses import dataclass

from torchdoctor.checks.base import python_exe
from torchdoctor.compat.machine import machine_from_facts
from torchdoctor.compat.recommend import NoFit, recommend
from torchdoctor.compat.tables import CompatDataError, load_tables
from torchdoctor.model import Facts


@dataclass(frozen=True)
class FixText:
    text: str
    command: str


def install_torch_fix(facts: Facts, reinstall: bool = False) -> FixText:
    """The newest torch this machine runs (driver, GPUs, Python, platform), as a command."""
    try:
        tables = load_tables()
    except CompatDataError as exc:  # pragma: no cover - the tables ship with the package
        return FixText(f"Install torch (the compat tables could not be read: {exc}).", "")
    machine = machine_from_facts(facts)
    rec = recommend(tables, machine, python_exe(facts))
    if isinstance(rec, NoFit):
        return FixText(
            "No published torch fits this machine: "
            + "; ".join(rec.reasons[:3])
            + (". What would change it: " + "; ".join(rec.changes) if rec.changes else ""),
            "",
        )
    verb = "Reinstall" if reinstall else "Install"
    text = f"{verb} torch {rec.torch} ({rec.variant}): " + "; ".join(rec.reasons) + "."
    if rec.upgrades:
        text += " For something newer: " + "; ".join(rec.upgrades) + "."
    command = rec.command.replace(" install ", " install --force-reinstall ", 1) if reinstall else rec.command
    return FixText(text, command)
