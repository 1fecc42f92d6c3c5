"""Fix texts shared by several checks: "install this torch" comes from the compat tables."""

from __future__ import annotations

from dataclasses import dataclass, replace

from torchdoctor.compat.machine import machine_from_facts
from torchdoctor.compat.recommend import COMPANIONS, Gpu, Machine, NoFit, recommend
from torchdoctor.compat.tables import CompatDataError, Tables, load_tables
from torchdoctor.derived import python_exe, torch_version
from torchdoctor.model import Facts, NvmlFacts, PackagesFacts, SmiFacts, normalize
from torchdoctor.rules import installers
from torchdoctor.rules.index import PYPI
from torchdoctor.rules.shell import quote


@dataclass(frozen=True)
class FixText:
    text: str
    command: str
    variant: str = ""
    """The build the command installs (cu126, cpu, ...), "" when there is no command."""


def named_gpus(facts: Facts, tables: Tables) -> tuple[Gpu, ...]:
    """NVML's GPUs (else nvidia-smi's) whose compute capability the driver did not give, known by their name in
    compat/gpus.toml: the name is the driver's, the capability the table's. (An nvidia-smi older than 510 has no
    compute_cap field; NVML's call can fail on its own.) A name the table does not know says nothing."""
    if isinstance(facts.nvml, NvmlFacts) and facts.nvml.gpus:
        listed = [(g.index, g.name, g.compute_capability) for g in facts.nvml.gpus]
    elif isinstance(facts.smi, SmiFacts):
        listed = [(g.index, g.name, g.compute_capability) for g in facts.smi.gpus]
    else:
        return ()
    unread = [(i, n) for i, n, cc in listed if isinstance(n, str) and n and not (isinstance(cc, str) and cc)]
    known = [(i, n, tables.gpu(n)) for i, n in unread]
    return tuple(Gpu(found[0], f"GPU {i} {n}") for i, n, found in known if found is not None)


def machine_here(facts: Facts, tables: Tables) -> Machine:
    """``machine_from_facts``, with the GPUs whose capability only their name gives (``named_gpus``)."""
    machine = machine_from_facts(facts)
    named = named_gpus(facts, tables)
    return replace(machine, gpus=machine.gpus + named) if named else machine


def install_torch_fix(facts: Facts, reinstall: bool = False) -> FixText:
    """The torch this machine runs (driver, GPUs, Python, platform), as a command.

    A reinstall keeps the installed version when it has a build that runs here; only the companions
    that are installed are pinned beside it.
    """
    try:
        tables = load_tables()
    except CompatDataError as exc:  # pragma: no cover - the tables ship with the package
        return FixText(f"Install torch (the compat tables could not be read: {exc}).", "")
    machine = machine_here(facts, tables)
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
