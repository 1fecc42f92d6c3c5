"""Version strings, compared the one way: PEP 440 with ``packaging``.

A version that does not parse is "could not tell": ``older`` and ``at_least`` then answer False (no
finding is made from it), and ``release`` raises ``InvalidVersion`` for a caller that needs to know.
"""

from __future__ import annotations

import functools
import re

from packaging.version import InvalidVersion, Version

__all__ = [
    "InvalidVersion",
    "at_least",
    "base_version",
    "cuda_series",
    "cuda_variant",
    "driver_version_key",
    "local_tag",
    "older",
    "release",
    "series",
]


@functools.lru_cache(maxsize=1024)
def _parse(version: str) -> Version | None:
    """Parsed once per string (a fleet's checks ask about the same few versions on every node)."""
    try:
        return Version(version)
    except InvalidVersion:
        return None


def base_version(version: str) -> str:
    """The release without pre/post/dev/local parts: "2.5.1+cu124" -> "2.5.1"; unparsable: all before "+"."""
    parsed = _parse(version)
    return parsed.base_version if parsed is not None else version.split("+")[0]


def local_tag(version: str) -> str:
    """The local part: "2.5.1+cu124" -> "cu124"; "" when there is none."""
    return version.split("+", 1)[1] if "+" in version else ""


def series(version: str) -> str:
    """The major.minor series: "2.5.1+cu124" -> "2.5"; "" when the version does not parse."""
    parsed = _parse(version)
    return f"{parsed.major}.{parsed.minor}" if parsed is not None else ""


def release(version: str) -> Version:
    """The release part of ``version`` as a ``Version`` to compare ("2.5.1+cu124" -> 2.5.1).

    Raises ``InvalidVersion`` when it does not parse; the caller decides what that means.
    """
    return Version(base_version(version))


def older(have: str, need: str) -> bool:
    """``have < need``; False when ``need`` is empty or either does not parse (we cannot tell)."""
    if not need:
        return False
    a, b = _parse(have), _parse(need)
    return a is not None and b is not None and a < b


def at_least(have: str, minimum: str) -> bool:
    """``have >= minimum``; False when either does not parse (we cannot tell)."""
    a, b = _parse(have), _parse(minimum)
    return a is not None and b is not None and a >= b


def driver_version_key(version: str) -> tuple[int, ...]:
    """An NVIDIA driver version as numbers to sort by ("550.54.15" -> (550, 54, 15)); () when it has none.

    Driver versions are not PEP 440 ("535.104.05" keeps its zero), so they compare by their numbers.
    """
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def cuda_series(cuda: str) -> str:
    """A CUDA version as the major.minor a wheel is built for: "10.0.130" -> "10.0", "12.6" -> "12.6".

    ``torch.version.cuda`` carries the toolkit's patch level in old builds ("9.0.176", "10.0.130"); a
    build's variant and every table name the series. "" when ``cuda`` is not a version.
    """
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)*\s*", cuda)
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else ""


def cuda_variant(cuda: str) -> str:
    """The wheel variant of a CUDA version: "12.6" -> "cu126", "10.0.130" -> "cu100"; "" when not a version."""
    found = cuda_series(cuda)
    return "cu" + found.replace(".", "") if found else ""
