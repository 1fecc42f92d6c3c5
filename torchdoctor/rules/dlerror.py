"""The grammar of the dynamic loader's messages, read as facts: which object, which library, which version.

glibc's ``dlerror()`` text is what Python puts in the ImportError of an extension module. Its shapes
(glibc ``elf/dl-version.c``, ``elf/dl-lookup.c``, ``elf/dl-load.c``):

- ``LIB: version `VER' not found (required by OBJ)``: OBJ needs version VER of a library and the copy
  that was loaded, LIB, does not define it. glibc < 2.37 quotes with a backquote, newer ones with ``'``;
  a message pasted into Markdown may have lost its backquotes, so the quotes are optional.
- ``OBJ: undefined symbol: SYM, version VER``: a relocation of OBJ names SYM@VER and nothing loaded
  defines it (``, version VER`` is absent for an unversioned symbol).
- ``NAME: cannot open shared object file: No such file or directory``: nothing on the search path is NAME.

torch's own search is read the same way: before it loads libtorch_cuda, a torch whose CUDA libraries come from the
nvidia-* wheels looks for each of them in every ``sys.path`` entry's ``nvidia/<lib>/lib`` folder and raises
``ValueError: PATTERN not found in the system path [...]`` (torch/__init__.py ``_preload_cuda_deps``) when no wheel
provides it: nothing it searches is PATTERN (``libnvrtc.so.*[0-9].*[0-9]``), a missing library like the loader's.

These name *objects and versions*, the loader's own facts; they never decide a cause on their own.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class LoaderErrorKind(str, enum.Enum):
    MISSING_VERSION = "missing version"
    UNDEFINED_SYMBOL = "undefined symbol"
    MISSING_LIBRARY = "missing library"


@dataclass(frozen=True)
class LoaderError:
    kind: LoaderErrorKind
    library: str = ""
    """The file the loader used that lacks the version (MISSING_VERSION), or the name it could not open."""
    requester: str = ""
    """The object that needed it (the one named in "required by", or whose relocation failed)."""
    version: str = ""
    symbol: str = ""


_QUOTE = "[`'\u2018\u2019\"]"
MISSING_VERSION = re.compile(
    rf"(?P<library>[^\s:'\"]+): version {_QUOTE}?(?P<version>[^\s`'\u2018\u2019\"]+){_QUOTE}? not found "
    r"\(required by (?P<requester>[^)]+)\)"
)
UNDEFINED = re.compile(
    r"(?P<requester>[^\s:'\"]+): undefined symbol: (?P<symbol>[^\s,]+)(?:, version (?P<version>[^\s,)]+))?"
)
CANNOT_OPEN = re.compile(r"(?P<library>[^\s:'\"]+): cannot open shared object file")
TORCH_PRELOAD = re.compile(r"(?P<library>lib[^\s/:'\"]*\.so[^\s:'\"]*) not found in the system path")
"""torch's ``_preload_cuda_deps``: no ``nvidia/<lib>/lib`` folder on ``sys.path`` holds a file matching the pattern."""


def parse(message: str) -> LoaderError | None:
    """The first loader error in ``message`` (an exception's text), or None when it holds none."""
    text = message or ""
    found = MISSING_VERSION.search(text)
    if found:
        return LoaderError(
            LoaderErrorKind.MISSING_VERSION, found["library"], found["requester"].strip(), found["version"]
        )
    found = UNDEFINED.search(text)
    if found:
        return LoaderError(
            LoaderErrorKind.UNDEFINED_SYMBOL, "", found["requester"], found["version"] or "", found["symbol"]
        )
    found = CANNOT_OPEN.search(text) or TORCH_PRELOAD.search(text)
    if found:
        return LoaderError(LoaderErrorKind.MISSING_LIBRARY, found["library"])
    return None


class VersionFamily(str, enum.Enum):
    """Who defines a symbol version, by the name glibc and GCC give their version nodes."""

    GLIBC = "glibc"
    """GLIBC_2.x: the C library, part of the OS (libc.so.6, libm.so.6, libpthread.so.0 ...)."""
    LIBSTDCXX = "libstdc++"
    """GLIBCXX_3.4.x and CXXABI_1.3.x: GCC's C++ runtime, libstdc++.so.6."""
    LIBGCC = "libgcc"
    """GCC_x.y: libgcc_s.so.1."""
    OTHER = "other"
    """A library's own nodes (CUDNN_9, libcublas.so.12, ...)."""


def version_family(version: str) -> VersionFamily:
    if re.match(r"GLIBCXX_|CXXABI_", version):
        return VersionFamily.LIBSTDCXX
    if re.match(r"GLIBC_\d", version):
        return VersionFamily.GLIBC
    if re.match(r"GCC_\d", version):
        return VersionFamily.LIBGCC
    return VersionFamily.OTHER
