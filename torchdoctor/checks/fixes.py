"""Fix texts shared by several checks: "install this torch" comes from the compat tables."""

from __future__ import annotations

from dataclasses import dataclass

from torchdoctor.compat.machine import machine_from_facts
from torchdoctor.compat.recommend import COMPANIONS, NoFit, recommend
from torchdoctor.compat.tables import CompatDataError, load_tables
from torchdoctor.derived import python_exe, torch_version
from torchdoctor.model import Facts, PackagesFacts, normalize
from torchdoctor.rules import installers
from torchdoctor.rules.index import PYPI
from torchdoctor.rules.shell import quote


@dataclass(frozen=True)
class FixText:
    text: str
    command: str
    variant: str = ""
    """The build the command installs (cu126, cpu, ...), "" when there is no command."""


def install_torch_fix(facts: Facts, reinstall: bool = False) -> FixText:
    """The torch this machine runs (driver, GPUs, Python, platform), as a command.

    A reinstall keeps the installed version when it has a build that runs here; only the companions
    that are installed are pinned beside it.
    """
    try:
        tables = load_tables()
    except CompatDataError as exc:  # pragma: no cover - the tables ship with the package
        return FixText(f"Install torch (the compat tables could not be read: {exc}).", "")
    machine = machine_from_facts(facts)
    installed = facts.packages.distributions if isinstance(facts.packages, PackagesFacts) else ()
    names = {normalize(d.name) for d in installed}
    companions = tuple(c for c in COMPANIONS if c in names)
    keep = torch_version(facts) if reinstall else ""
    rec = recommend(tables, machine, python_exe(facts), keep=keep, companions=companions)
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
    url = "" if rec.index_url == PYPI else f" --index-url {quote(rec.index_url)}"
    args = "install " + ("--force-reinstall " if reinstall else "") + " ".join(map(quote, rec.packages)) + url
    spoken = installers.command(facts, args)
    text += f" {spoken.note}" if spoken.note else ""
    return FixText(text, spoken.command, rec.variant)
