"""ELF files read without loading them (pyelftools): what an object needs, where it looks, what it defines.

Every reader takes a path and never raises for a bad file: a file pyelftools cannot parse comes back with
its ``problem`` set ("could not check"), because a truncated or foreign file on LD_LIBRARY_PATH is exactly
what the doctor is there to find.
"""

from __future__ import annotations

import os
import struct

from torchdoctor.model import SharedObject, SymbolLookup, Unavailable, VersionNeed

NO_OWNER = Unavailable("provenance", "not looked up", "not_looked_up")
READ_ERRORS = (OSError, ValueError, KeyError, IndexError, struct.error, AssertionError, UnicodeDecodeError)


def _elftools_errors() -> tuple[type[BaseException], ...]:
    from elftools.common.exceptions import ELFError

    return (ELFError, *READ_ERRORS)


def identity(path: str) -> tuple[int, int, int] | None:
    """(ELF class, byte order, machine) from the header; None for a file that is not ELF.

    The loader skips a candidate of another class or machine and keeps looking (ld.so's open_verify).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack(order + "H", head[18:20])
    return head[4], head[5], machine


def _failed(path: str, problem: str) -> SharedObject:
    return SharedObject(path, "", (), (), (), (), (), 0, 0.0, NO_OWNER, problem)


def read_object(path: str) -> SharedObject:
    """One shared object's dynamic section and version sections."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        return _failed(path, f"cannot stat: {exc.strerror or exc}")
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError as exc:  # pyelftools is a dependency; a broken install is still not a crash
        return _failed(path, f"pyelftools is not importable: {exc}")
    errors = _elftools_errors()
    try:
        with open(path, "rb") as fh:
            return _parse(ELFFile(fh), path, stat.st_size, stat.st_mtime)
    except errors as exc:
        return _failed(path, f"not a readable ELF file ({type(exc).__name__}: {exc})")


STRING_TAGS = {"DT_NEEDED": "needed", "DT_SONAME": "soname", "DT_RPATH": "rpath", "DT_RUNPATH": "runpath"}


def _sections(elf: object, types: tuple[str, ...]) -> list[object]:
    """The sections of these types, building no other (a big library's hash tables take seconds to build)."""
    from elftools.common.exceptions import ELFError

    found = []
    for i in range(elf.num_sections()):  # type: ignore[attr-defined]
        try:
            found.append(elf.get_section(i, type=types))  # type: ignore[attr-defined]
        except ELFError as exc:
            if "Unexpected section type" not in str(exc):
                raise
    return found


def _parse(elf: object, path: str, size: int, mtime: float) -> SharedObject:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection

    soname, needed, rpath, runpath = "", [], [], []
    requires: list[VersionNeed] = []
    defines: list[str] = []
    for section in _sections(elf, ("SHT_DYNAMIC", "SHT_GNU_verneed", "SHT_GNU_verdef")):
        if isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                kind = tag.entry.d_tag
                if kind not in STRING_TAGS:
                    continue
                value = str(getattr(tag, STRING_TAGS[kind]))  # pyelftools names each string tag's attribute
                if kind == "DT_NEEDED":
                    needed.append(value)
                elif kind == "DT_SONAME":
                    soname = value
                elif kind == "DT_RPATH":
                    rpath += [p for p in value.split(":") if p]
                else:
                    runpath += [p for p in value.split(":") if p]
        elif isinstance(section, GNUVerNeedSection):
            for need, auxes in section.iter_versions():
                requires.append(VersionNeed(str(need.name), tuple(aux.name for aux in auxes)))
        elif isinstance(section, GNUVerDefSection):
            for verdef, auxes in section.iter_versions():
                if not verdef.entry["vd_flags"] & 0x1:  # VER_FLG_BASE names the file itself, not a version
                    defines.extend(aux.name for aux in list(auxes)[:1])
    return SharedObject(
        path,
        soname,
        tuple(needed),
        tuple(rpath),
        tuple(runpath),
        tuple(requires),
        tuple(defines),
        size,
        mtime,
        NO_OWNER,
    )


def lookup_symbol(path: str, symbol: str, version: str) -> SymbolLookup:
    """Does ``path`` define ``symbol`` (at ``version`` when one is given) in its dynamic symbol table?"""
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError as exc:
        return SymbolLookup(symbol, version, path, Unavailable("ELF", f"pyelftools is not importable: {exc}"))
    try:
        with open(path, "rb") as fh:
            return SymbolLookup(symbol, version, path, _defines_symbol(ELFFile(fh), symbol, version))
    except _elftools_errors() as exc:
        return SymbolLookup(symbol, version, path, Unavailable("ELF", f"{type(exc).__name__}: {exc}", "unreadable"))


def _defines_symbol(elf: object, symbol: str, version: str) -> bool:
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerSymSection

    dynsym = elf.get_section_by_name(".dynsym")  # type: ignore[attr-defined]
    if dynsym is None:
        return False
    names: dict[int, str] = {}
    versym = None
    for section in _sections(elf, ("SHT_GNU_verdef", "SHT_GNU_versym")):
        if isinstance(section, GNUVerDefSection):
            for verdef, auxes in section.iter_versions():
                names[verdef.entry["vd_ndx"]] = next(iter(auxes)).name
        elif isinstance(section, GNUVerSymSection):
            versym = section
    for index, sym in enumerate(dynsym.iter_symbols()):
        if sym.name != symbol or sym["st_shndx"] == "SHN_UNDEF":
            continue
        if not version or versym is None:
            return True
        ndx = versym.get_symbol(index)["ndx"]
        ndx = ndx if isinstance(ndx, int) else 0
        if names.get(ndx & 0x7FFF) == version:
            return True
    return False


CACHE_MAGIC = b"glibc-ld.so.cache1.1"
CACHE_HEADER = 48
CACHE_ENTRY = 24


def read_ld_cache(path: str = "/etc/ld.so.cache") -> dict[str, tuple[str, ...]]:
    """ld.so.cache (the new format, glibc >= 2.3): library name → paths, in the cache's order.

    glibc ``sysdeps/generic/dl-cache.h``: a 48-byte header (magic, nlibs, len_strings, ...), then nlibs
    entries of (int32 flags, uint32 key, uint32 value, uint32 osversion, uint64 hwcap); key and value
    are offsets of NUL-terminated strings from the start of that header. {} when it cannot be read.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(64 << 20)
    except OSError:
        return {}
    start = data.find(CACHE_MAGIC)
    if start < 0 or len(data) < start + CACHE_HEADER:
        return {}
    (nlibs,) = struct.unpack_from("<I", data, start + len(CACHE_MAGIC))
    out: dict[str, list[str]] = {}
    for i in range(min(nlibs, 100_000)):
        at = start + CACHE_HEADER + i * CACHE_ENTRY
        if at + CACHE_ENTRY > len(data):
            break
        _flags, key, value = struct.unpack_from("<iII", data, at)
        name, where = _cstring(data, start + key), _cstring(data, start + value)
        if name and where:
            out.setdefault(name, []).append(where)
    return {k: tuple(v) for k, v in out.items()}


def _cstring(data: bytes, at: int) -> str:
    end = data.find(b"\0", at)
    if at >= len(data) or end < 0:
        return ""
    return data[at:end].decode("utf-8", "replace")
