"""What a machine said, made safe to show: the one sanitizer every format but JSON gets at the render edge.

A GPU name, a driver version or a host name is whatever a driver, a kernel or a file handed over, and
a report prints it. An escape sequence in it would act on the reader's terminal (ESC[2J clears it, OSC 52
writes the clipboard, OSC 8 hides a link), a control character breaks JUnit's XML (XML 1.0 forbids
most of C0), and a newline forges a line of the report. Here every such character becomes a visible
escape (ESC is shown as ``\\x1b``), and a newline in a single-line field is shown as ``\\n``. Free text
that has lines of its own (an exception's message, a traceback, a finding's why) keeps its newlines.

JSON is left alone: its encoder escapes every control character, and a report read back with
``check --from`` must say what the machine said.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any, TypeVar

T = TypeVar("T")

UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1 (0x9b is CSI, 0x9d OSC)
    "\u2028\u2029"  # line and paragraph separators: a new line to some viewers
    "\u202a-\u202e\u2066-\u2069"  # bidirectional overrides and isolates: text shown out of order
    "\ud800-\udfff\ufffe\uffff]"  # lone surrogates and non-characters: no encoding or XML takes them
)
MULTILINE = frozenset({"message", "detail", "error", "traceback", "why"})
"""Fields of free text with lines of their own (exceptions, tracebacks, explanations): newlines kept."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, multiline: bool = False) -> str:
    """``text`` with every control character shown as an escape; newlines too unless ``multiline``."""
    text = text.replace("\r\n", "\n")
    if not multiline:
        text = text.replace("\n", "\\n")
    return UNSAFE.sub(_escape, text)


def sanitized(value: T, multiline: bool = False) -> T:
    """Every string inside a tree of dataclasses, tuples, lists and dicts (keys too) made visible."""
    if isinstance(value, enum.Enum):  # before str: str-valued enums stay enums
        return value
    if isinstance(value, str):
        return visible(value, multiline)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        raw = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        changes = {name: sanitized(field, name in MULTILINE) for name, field in raw.items()}
        if isinstance(raw.get("fix"), str) and isinstance(raw.get("fix_command"), str):  # a finding
            changes["fix"] = _fix(raw["fix"], raw["fix_command"])
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(sanitized(v, multiline) for v in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [sanitized(v, multiline) for v in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {_key(k): sanitized(v, multiline) for k, v in value.items()}  # type: ignore[return-value]
    return value


COMMAND_LINE = "\n  "
"""How a finding's fix puts its command on a line of its own (checks.base.Check.finding)."""


def _fix(fix: str, command: str) -> str:
    """A finding's fix: its prose, then its command on a line of its own. That line break is the doctor's and
    stays; a newline inside the prose or the command came from the machine and is shown as ``\\n``."""
    if command and fix.endswith(COMMAND_LINE + command):
        return visible(fix[: -len(COMMAND_LINE + command)]) + COMMAND_LINE + visible(command)
    return visible(fix)


def _key(key: Any) -> Any:
    return visible(key) if isinstance(key, str) and not isinstance(key, enum.Enum) else key
