"""The one schema of ``compat/*.toml``: what keys each file and each row may have, of which type, and what a
row's ``source`` may cite. Every table is read and checked here, so an error names the file, the row and the
key ("gpus.toml gpu[3]: missing 'capability'"); the modules that build objects from the tables
(``compat/tables.py``, ``bench/peaks.py``) get data that has already passed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class CompatDataError(ValueError):
    """A table that breaks its schema."""


class Kind(Enum):
    """The type of a key's value, named as an error says it."""

    TEXT = "text"
    INT = "an integer"
    NUMBER = "a number"
    BOOL = "true or false"
    TEXTS = "a list of text"
    INTS = "a list of integers"
    TEXT_TABLE = "a table of text"
    TEXTS_TABLE = "a table of lists of text"
    SOURCE = "text citing a key of [sources]"


@dataclass(frozen=True)
class Key:
    kind: Kind
    required: bool = True


def _req(kind: Kind) -> Key:
    return Key(kind)


def _opt(kind: Kind) -> Key:
    return Key(kind, required=False)


Row = Mapping[str, Key]


@dataclass(frozen=True)
class FileSchema:
    """One file: its top-level keys (``as_of`` and ``[sources]`` are always there), its plain tables
    (``[thresholds]``) and its arrays of rows (``[[gpu]]``)."""

    top: Row
    tables: Mapping[str, Row]
    rows: Mapping[str, Row]


_TEXT, _TEXTS = Kind.TEXT, Kind.TEXTS
_SOURCED: Row = {"source": _req(Kind.SOURCE), "confidence": _req(_TEXT)}
_COMPANION: Row = {"version": _req(_TEXT), "torch": _req(_TEXT), "python": _opt(_TEXT), "released_with": _opt(_TEXT)}
DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8")
THRESHOLDS = ("matmul_ok", "matmul_fail", "memory_ok", "memory_fail", "pcie_ok", "clock_ok")

SCHEMAS: Mapping[str, FileSchema] = {
    "releases": FileSchema(
        top={
            "numpy2_since": _req(_TEXT),
            "numpy2_source": _req(Kind.SOURCE),
            "macos_arm64_since": _req(_TEXT),
            "macos_arm64_source": _req(Kind.SOURCE),
        },
        tables={},
        rows={
            "release": {
                "torch": _req(_TEXT),
                "patches": _req(_TEXTS),
                "date": _req(_TEXT),
                "python": _req(_TEXT),
                "python_experimental": _opt(_TEXTS),
                "free_threaded": _opt(_TEXTS),
                "free_threaded_patches": _opt(Kind.TEXTS_TABLE),
                "python_only_on": _opt(Kind.TEXTS_TABLE),
                "cuda": _req(Kind.TEXTS_TABLE),
                "rocm": _opt(_TEXTS),
                "pypi": _req(Kind.TEXT_TABLE),
                "glibc": _req(_TEXT),
                "macos_x86_64": _req(Kind.BOOL),
                "mps_min_macos": _opt(_TEXT),
                "macos_arm64_min": _opt(_TEXT),
                "macos_arm64_min_by_python": _opt(Kind.TEXT_TABLE),
                "pytorch_index_only": _opt(Kind.TEXTS_TABLE),
                "cudnn": _opt(_TEXT),
                "nccl": _opt(_TEXT),
                **_SOURCED,
            }
        },
    ),
    "arches": FileSchema(
        top={},
        tables={},
        rows={
            "sass": {
                "code": _req(Kind.INT),
                "exclude": _opt(Kind.INTS),
                "only": _opt(Kind.INTS),
                "exclude_below_cuda": _opt(_TEXT),
            },
            "build": {
                "torch": _req(_TEXT),
                "variants": _req(_TEXTS),
                "platforms": _req(_TEXTS),
                "sm": _req(Kind.INTS),
                "ptx": _req(Kind.BOOL),
                **_SOURCED,
            },
        },
    ),
    "drivers": FileSchema(
        top={},
        tables={},
        rows={
            "major": {
                "cuda": _req(_TEXT),
                "mvc": _req(Kind.BOOL),
                "linux": _req(_TEXT),
                "windows": _req(_TEXT),
                **_SOURCED,
            },
            "toolkit": {
                "cuda": _req(_TEXT),
                "linux": _req(_TEXT),
                "windows": _req(_TEXT),
                "source": _req(Kind.SOURCE),
                "confidence": _opt(_TEXT),
            },
        },
    ),
    "companions": FileSchema(
        top={},
        tables={},
        rows={"torchvision": {**_COMPANION, **_SOURCED}, "torchaudio": {**_COMPANION, **_SOURCED}},
    ),
    "gpus": FileSchema(
        top={},
        tables={},
        rows={
            "gpu": {
                "capability": _req(_TEXT),
                "architecture": _req(_TEXT),
                "names": _req(_TEXTS),
                "pci_device_ids": _opt(_TEXTS),
                "min_cuda": _opt(_TEXT),
                "min_cuda_source": _opt(Kind.SOURCE),
                "min_cuda_confidence": _opt(_TEXT),
                **_SOURCED,
            }
        },
    ),
    "gpu_peaks": FileSchema(
        top={},
        tables={"thresholds": {name: _req(Kind.NUMBER) for name in THRESHOLDS}},
        rows={
            "gpu": {
                "names": _req(_TEXTS),
                "pci_device_ids": _opt(_TEXTS),
                **{dtype: _opt(Kind.NUMBER) for dtype in DTYPES},
                "mem_gbs": _req(Kind.NUMBER),
                "unverified": _opt(_TEXTS),
                **_SOURCED,
            }
        },
    ),
    "loaders": FileSchema(  # ROCm gfx overrides, DLL providers, broken wheels, Jetson (compat/loaders.py)
        top={},
        tables={"jetson": {"index": _req(_TEXT), "guide": _req(_TEXT), **_SOURCED}},
        rows={
            "hsa_override": {"gfx": _req(_TEXTS), "value": _req(_TEXT), "works": _req(Kind.BOOL), **_SOURCED},
            "dll_provider": {"dlls": _req(_TEXTS), "provider": _req(_TEXT), **_SOURCED},
            "broken_windows": {
                "torch": _req(_TEXT),
                "dll": _req(_TEXT),
                "needed_by": _req(_TEXT),
                "fixed_in": _req(_TEXT),
                **_SOURCED,
            },
            "broken_linux": {"torch": _req(_TEXT), "library": _req(_TEXT), "fixed_in": _opt(_TEXT), **_SOURCED},
        },
    ),
}

# ---------------------------------------------------------------------- sources

_KEY = r"[A-Z0-9]+(?:-[A-Z0-9]+)*"
_OPENING_KEY = re.compile(rf"({_KEY})(?=$|[\s(),;:])")
_LISTED_KEY = re.compile(rf"({_KEY})(?:\s*\(.*)?")


def _key_shaped(word: str) -> bool:
    return any(c.isalpha() for c in word)


def cited_keys(source: str) -> tuple[str, ...]:
    """The ``[sources]`` keys a source text opens with.

    A source opens with the key it cites ("NV-RN Table 3", "LIT (T4 datasheet); ...", "REG: ...") and may
    list more, each bare or with a note in brackets ("MLE-ACC, LIT, TITAN (...)", "NV-RN Table 2, NV-MVC,
    PT-123456"), up to the first ";" or the first item that is not a key. A source in words ("assumed equal
    to ...", "pytorch.org/audio/2.0.0 installation page") cites none; a capitalised word where a key stands
    ("L4 spec listing") is taken for one.
    """
    head = source.split(";", 1)[0].strip()
    first = _OPENING_KEY.match(head)
    if first is None or not _key_shaped(first.group(1)):
        return ()
    keys = [first.group(1)]
    for item in head.split(",")[1:]:
        listed = _LISTED_KEY.fullmatch(item.strip())
        if listed is None or not _key_shaped(listed.group(1)):
            break
        keys.append(listed.group(1))
    return tuple(keys)


# ---------------------------------------------------------------------- checking


def _fits(value: Any, kind: Kind) -> bool:
    def text(v: Any) -> bool:
        return isinstance(v, str)

    def integer(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def texts(v: Any) -> bool:
        return isinstance(v, list) and all(text(x) for x in v)

    if kind in (Kind.TEXT, Kind.SOURCE):
        return text(value)
    if kind is Kind.INT:
        return integer(value)
    if kind is Kind.NUMBER:
        return integer(value) or isinstance(value, float)
    if kind is Kind.BOOL:
        return isinstance(value, bool)
    if kind is Kind.TEXTS:
        return texts(value)
    if kind is Kind.INTS:
        return isinstance(value, list) and all(integer(x) for x in value)
    if kind is Kind.TEXT_TABLE:
        return isinstance(value, dict) and all(text(v) for v in value.values())
    return isinstance(value, dict) and all(texts(v) for v in value.values())  # TEXTS_TABLE


def _check_keys(table: Mapping[str, Any], schema: Row, where: str, sources: Mapping[str, Any]) -> None:
    for key in table:
        if key not in schema:
            raise CompatDataError(f"{where}: unknown key '{key}'")
    for key, spec in schema.items():
        if key not in table:
            if spec.required:
                raise CompatDataError(f"{where}: missing '{key}'")
            continue
        value = table[key]
        if not _fits(value, spec.kind):
            raise CompatDataError(f"{where}: '{key}' must be {spec.kind.value}, got {value!r}")
        if spec.kind is Kind.SOURCE:
            for cited in cited_keys(value):
                if cited not in sources:
                    raise CompatDataError(f"{where}: '{key}' cites '{cited}', which is not a key of [sources]")


def check(name: str, raw: Mapping[str, Any], label: str = "") -> None:
    """Raise CompatDataError, naming the file (``label``, else ``{name}.toml``), the row and the key, unless the
    table ``raw`` read from ``compat/{name}.toml`` fits its schema."""
    label = label or f"{name}.toml"
    schema = SCHEMAS[name]
    sources = raw.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise CompatDataError(f"{label}: missing '[sources]'")
    for key, text in sources.items():
        if not isinstance(text, str):
            raise CompatDataError(f"{label} [sources]: '{key}' must be text, got {text!r}")
    top = {k: v for k, v in raw.items() if k not in ("sources", *schema.tables, *schema.rows)}
    _check_keys(top, {"as_of": _req(Kind.TEXT), **schema.top}, label, sources)
    for table, row_schema in schema.tables.items():
        value = raw.get(table)
        if not isinstance(value, dict):
            raise CompatDataError(f"{label}: missing '[{table}]'")
        _check_keys(value, row_schema, f"{label} {table}", sources)
    for array, row_schema in schema.rows.items():
        rows = raw.get(array, [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CompatDataError(f"{label}: '{array}' must be rows ([[{array}]])")
        for i, row in enumerate(rows):
            _check_keys(row, row_schema, f"{label} {array}[{i}]", sources)


def read(directory: Path, name: str) -> dict[str, Any]:
    """``{directory}/{name}.toml`` as parsed TOML, not yet checked (a file that is missing or is not TOML is a
    CompatDataError naming it)."""
    path = directory / f"{name}.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CompatDataError(f"{path}: {exc}") from exc


def load(directory: Path, name: str) -> dict[str, Any]:
    """``{directory}/{name}.toml``, read and checked against its schema (errors name its path)."""
    raw = read(directory, name)
    check(name, raw, str(directory / f"{name}.toml"))
    return raw
