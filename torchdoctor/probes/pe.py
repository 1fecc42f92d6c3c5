"""The DLLs a Windows PE file imports, read from its import and delay-import tables without loading it.

A small reader of the documented format (Microsoft's "PE Format" specification: the DOS header's e_lfanew,
the COFF header, the optional header's data directories 1 (imports) and 13 (delay imports), the section
table to map an RVA to a file offset). Standard library only, so the doctor can read a Windows wheel's DLLs
on any OS. A file that is not a PE image, or is cut short, raises :class:`PEError`.
"""

from __future__ import annotations

import struct

MAX_IMPORTS = 256
IMPORT_DIR, DELAY_IMPORT_DIR = 1, 13
PE32, PE32_PLUS = 0x10B, 0x20B


class PEError(ValueError):
    """Not a PE image, or a damaged one."""


def _u16(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<H", data, at)[0])


def _u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<I", data, at)[0])


def _sections(data: bytes, at: int, count: int) -> list[tuple[int, int, int, int]]:
    """(virtual address, virtual size, raw size, raw offset) of each section."""
    out = []
    for i in range(count):
        base = at + 40 * i
        out.append((_u32(data, base + 12), _u32(data, base + 8), _u32(data, base + 16), _u32(data, base + 20)))
    return out


def _offset(sections: list[tuple[int, int, int, int]], rva: int) -> int:
    for va, vsize, rsize, raw in sections:
        if va <= rva < va + max(vsize, rsize):
            return raw + rva - va
    raise PEError(f"RVA {rva:#x} is in no section")


def _name(data: bytes, at: int) -> str:
    end = data.find(b"\0", at)
    if end < 0:
        raise PEError("an unterminated DLL name")
    return data[at:end].decode("ascii", errors="replace")


def _names(data: bytes, sections: list[tuple[int, int, int, int]], rva: int, size: int, name_at: int) -> list[str]:
    """Names of a (delay-)import table whose descriptors are ``size`` bytes with the name RVA at ``name_at``."""
    names: list[str] = []
    if rva == 0:
        return names
    at = _offset(sections, rva)
    while len(names) < MAX_IMPORTS:
        descriptor = data[at : at + size]
        if len(descriptor) < size:
            raise PEError("the import table runs past the end of the file")
        if descriptor == bytes(size):
            break
        names.append(_name(data, _offset(sections, _u32(descriptor, name_at))))
        at += size
    return names


def imports(data: bytes) -> tuple[str, ...]:
    """The DLLs ``data`` (a PE image's bytes) imports, then those it delay-loads, in table order."""
    try:
        if data[:2] != b"MZ":
            raise PEError("no MZ header")
        pe = _u32(data, 0x3C)
        if data[pe : pe + 4] != b"PE\0\0":
            raise PEError("no PE signature")
        coff = pe + 4
        count, opt_size = _u16(data, coff + 2), _u16(data, coff + 16)
        opt = coff + 20
        magic = _u16(data, opt)
        if magic not in (PE32, PE32_PLUS):
            raise PEError(f"unknown optional header magic {magic:#x}")
        dirs = opt + (112 if magic == PE32_PLUS else 96)
        ndirs = _u32(data, dirs - 4)
        sections = _sections(data, opt + opt_size, count)
        found = []
        if ndirs > IMPORT_DIR:
            found += _names(data, sections, _u32(data, dirs + 8 * IMPORT_DIR), 20, 12)
        if ndirs > DELAY_IMPORT_DIR:
            found += _names(data, sections, _u32(data, dirs + 8 * DELAY_IMPORT_DIR), 32, 4)
        return tuple(found)
    except struct.error as exc:
        raise PEError(f"cut short: {exc}") from exc


def read_imports(path: str) -> tuple[str, ...]:
    with open(path, "rb") as fh:
        return imports(fh.read())
