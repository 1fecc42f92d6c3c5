"""GPU identity: which entry of a table a GPU is, from its name as NVML (or torch) or a person writes it.

One rule for every table keyed by GPU name: the compute capabilities (``compat/gpus.toml``) and the datasheet
peaks (``compat/gpu_peaks.toml``). Names are compared as words, ignoring case, punctuation and the words
"NVIDIA", "GeForce" and "Tesla" ("NVIDIA A100-SXM4-80GB" is "a100 sxm4 80gb"); the most specific entry (the
longest name) is tried first.

A datasheet figure belongs to one model, so for those the GPU's name must be the entry's name: "NVIDIA H200
NVL" is not the "H200" (SXM), "RTX 4090 D" not the "RTX 4090", and a variant the table does not list gets no
figure rather than its bigger sibling's. A compute capability belongs to a family, so there a name only has to
appear in the GPU's name ("RTX 4090 D" is an Ada 8.9 like the "RTX 4090"): ``family=True``.

NVML's PCI device ID would tell SKUs apart where names do not, but the facts do not carry it yet and no row
cites one, so identity is by name alone.
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


def identify(
    gpu_name: str, entries: Iterable[tuple[T, Iterable[str]]], *, family: bool = False
) -> tuple[T, str] | None:
    """The entry ``gpu_name`` is, and the entry's name that said so; None when no entry is this GPU.

    ``entries`` are (entry, its names) in table order; of equally specific names the first wins.
    """
    wanted = normalize(gpu_name)
    best: tuple[int, T, str] | None = None
    for entry, names in entries:
        for name in names:
            n = normalize(name)
            if n and _names(wanted, n, family) and (best is None or len(n) > best[0]):
                best = (len(n), entry, name)
    return (best[1], best[2]) if best else None
