"""What NumPy's own import errors say about which side is older: the NumPy installed, or the one a module was built
with.

NumPy checks its C interface when an extension (torch's ``_C``) initialises it, and says what it found:

- ``module compiled against API version 0xB but this version of numpy is 0xH`` (and ``ABI version``): the extension
  was built with C-API/ABI B, the NumPy imported has H. B > H: this NumPy is older than the one the module was built
  with (upgrade NumPy); B < H: it is newer, past a break (NumPy 2's ABI under a module built for NumPy 1).
- ``A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x`` and ``_ARRAY_API not found``: NumPy 2
  imported by a module built against NumPy 1.

These are NumPy's messages (numpy/_core/include/numpy/__multiarray_api.h, numpy/_core/_multiarray_umath.py), read
as facts about versions; they name no remedy on their own.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

C_API = re.compile(
    r"module compiled against (?P<what>API|ABI) version (?P<built>0x[0-9a-fA-F]+) "
    r"but this version of numpy is (?P<here>0x[0-9a-fA-F]+)"
)
NUMPY2_UNDER_NUMPY1_BUILD = re.compile(r"compiled using NumPy 1\.x cannot be run in\s+NumPy 2|_ARRAY_API not found")


class Side(str, enum.Enum):
    OLDER = "older"
    """The NumPy installed is older than the one the module was built with."""
    NEWER = "newer"
    """The NumPy installed is newer, past an ABI break (NumPy 2 under a module built for NumPy 1)."""


@dataclass(frozen=True)
class Mismatch:
    side: Side
    built: str = ""
    """The C-API/ABI version the module was built with, as NumPy prints it (``0xb``), where it says."""
    here: str = ""
    """The installed NumPy's, likewise."""
    what: str = ""
    """``API`` or ``ABI``."""


def mismatch(message: str) -> Mismatch | None:
    """Which side of NumPy's C interface ``message`` says is older, or None when it is no NumPy version mismatch."""
    text = message or ""
    found = C_API.search(text)
    if found:
        built, here = int(found["built"], 16), int(found["here"], 16)
        if built != here:
            side = Side.OLDER if built > here else Side.NEWER
            return Mismatch(side, found["built"], found["here"], found["what"])
    if NUMPY2_UNDER_NUMPY1_BUILD.search(text):
        return Mismatch(Side.NEWER)
    return None
