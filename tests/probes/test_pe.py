"""The stdlib PE reader, on a tiny PE32+ image built here byte by byte (the layout of Microsoft's PE Format spec)."""

from __future__ import annotations

import struct

import pytest

from torchdoctor.probes import pe

SECTION_RVA, SECTION_RAW = 0x1000, 0x200


def tiny_pe(imports: list[str], delayed: list[str]) -> bytes:
    """A PE32+ with one section holding an import table, a delay-import table and their names."""
    body = bytearray(0x200)
    names_at = 0x100
    name_rvas = []
    for name in [*imports, *delayed]:
        name_rvas.append(SECTION_RVA + names_at)
        body[names_at : names_at + len(name) + 1] = name.encode() + b"\0"
        names_at += len(name) + 1
    for i, rva in enumerate(name_rvas[: len(imports)]):  # 20-byte descriptors, name RVA at +12
        struct.pack_into("<IIIII", body, 20 * i, 0, 0, 0, rva, 0)
    delay_at = 0x80
    for i, rva in enumerate(name_rvas[len(imports) :]):  # 32-byte descriptors, name RVA at +4
        struct.pack_into("<IIIIIIII", body, delay_at + 32 * i, 1, rva, 0, 0, 0, 0, 0, 0)
    header = bytearray(SECTION_RAW)
    header[:2] = b"MZ"
    struct.pack_into("<I", header, 0x3C, 0x40)
    header[0x40:0x44] = b"PE\0\0"
    opt_size = 112 + 16 * 8
    struct.pack_into("<HHIIIHH", header, 0x44, 0x8664, 1, 0, 0, 0, opt_size, 0x2022)
    opt = 0x58
    struct.pack_into("<H", header, opt, 0x20B)
    struct.pack_into("<I", header, opt + 108, 16)  # NumberOfRvaAndSizes
    struct.pack_into("<II", header, opt + 112 + 8 * 1, SECTION_RVA, 20 * (len(imports) + 1))
    struct.pack_into("<II", header, opt + 112 + 8 * 13, SECTION_RVA + delay_at, 32 * (len(delayed) + 1))
    section = opt + opt_size
    header[section : section + 8] = b".idata\0\0"
    struct.pack_into("<IIII", header, section + 8, len(body), SECTION_RVA, len(body), SECTION_RAW)
    return bytes(header + body)


def test_reads_imports_then_delay_imports() -> None:
    image = tiny_pe(["VCRUNTIME140.dll", "c10.dll"], ["libomp140.x86_64.dll"])
    assert pe.imports(image) == ("VCRUNTIME140.dll", "c10.dll", "libomp140.x86_64.dll")


def test_reads_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fbgemm.dll"
    path.write_bytes(tiny_pe(["MSVCP140.dll"], []))
    assert pe.read_imports(str(path)) == ("MSVCP140.dll",)


@pytest.mark.parametrize("data", [b"", b"\x7fELF" + bytes(64), tiny_pe(["a.dll"], [])[:0x90]])
def test_not_a_pe_or_cut_short_is_an_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(pe.PEError):
        pe.imports(data)
