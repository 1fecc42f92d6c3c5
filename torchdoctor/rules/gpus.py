"""GPU identity: which entry of a table a GPU is, from its name as NVML (or torch) or a person writes it.

One rule for every table keyed by GPU name: the compute capabilities (``compat/gpus.toml``) and the datasheet
peaks (``compat/gpu_peaks.toml``). Names are compared as words, ignoring case, punctuation and the words
"NVIDIA", "GeForce" and "Tesla" ("NVIDIA A100-SXM4-80GB" is "a100 sxm4 80gb"); the most specific entry (the
longest name) is tried first.

A datasheet figure belongs to one model, so for those the GPU's name must be the entry's name: "NVIDIA H200
NVL" is not the "H200" (SXM), "RTX 4090 D" not the "RTX 4090", and a variant the table does not list gets no
figure rather than its bigger sibling's. A compute capability belongs to a family, so there a name only has to
appear in the GPU's name ("RTX 4090 D" is an Ada 8.9 like the "RTX 4090"): ``family=True``.

Where NVML gives the PCI device ID (``GPUFacts.pci_device_id``, "10de:2335") and an entry lists its IDs
(``pci_device_ids``, cited from the PCI ID repository), the ID decides too: an entry whose IDs do not include the
GPU's is not this model (an "H200" named part with the H200 NVL's ID gets no SXM figures), and an entry with
both the name and the ID is more specific than one with the name alone. For a family, an ID match alone
suffices. An entry with no IDs is matched by name, as before; a GPU whose ID is unknown, by name alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

_VENDOR_WORDS = ("nvidia", "geforce", "tesla")


def normalize(name: str) -> str:
    """ "NVIDIA GeForce RTX 4090" -> "rtx 4090": lower case, without vendor words, words split on punctuation."""
    n = name.lower()
    for word in _VENDOR_WORDS:
        n = n.replace(word, " ")
    n = re.sub(r"[^a-z0-9.]+", " ", n)
    return " ".join(n.split())


def _names(wanted: str, entry_name: str, family: bool) -> bool:
    if family:
        return f" {entry_name} " in f" {wanted} "
    return entry_name == wanted


def pci_key(pci_id: str) -> str:
    """ "10DE:2335", "0x233510de" -> "10de:2335" (vendor:device, as pci.ids writes it); "" when not an ID."""
    text = pci_id.strip().lower()
    if re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{4}", text):
        return text
    combined = re.fullmatch(r"(?:0x)?([0-9a-f]{4})([0-9a-f]{4})", text)  # NVML: device << 16 | vendor
    return f"{combined.group(2)}:{combined.group(1)}" if combined else ""


def identify(
    gpu_name: str,
    entries: Iterable[tuple[T, Iterable[str], Iterable[str]]],
    *,
    family: bool = False,
    pci_device_id: str = "",
) -> tuple[T, str] | None:
    """The entry ``gpu_name`` (with this PCI ``pci_device_id``, "" when unknown) is, and the entry's name that
    said so; None when no entry is this GPU.

    ``entries`` are (entry, its names, its PCI device IDs) in table order; the most specific wins (ID and name,
    then the longest name); of equally specific ones the first.
    """
    wanted = normalize(gpu_name)
    pci = pci_key(pci_device_id)
    best: tuple[tuple[bool, int], T, str] | None = None
    for entry, names, ids in entries:
        listed = {pci_key(i) for i in ids}
        id_match = bool(pci) and pci in listed
        if pci and listed and not id_match and not family:
            continue  # another SKU of the same name
        names = tuple(names)
        for name in names:
            n = normalize(name)
            if n and _names(wanted, n, family) and (best is None or (id_match, len(n)) > best[0]):
                best = ((id_match, len(n)), entry, name)
        if id_match and family and names and (best is None or best[0] < (True, 0)):
            best = ((True, 0), entry, names[0])
    return (best[1], best[2]) if best else None
