"""Keep secrets out of every report.

``redact_value`` is applied to every environment value the doctor records, whatever the output
format: credentials inside URLs and strings shaped like well-known tokens never leave the
machine. ``Redactor`` additionally hides who and where (user name, home directory, host name,
GPU UUIDs and serials) in the formats meant for sharing.
"""

from __future__ import annotations

import dataclasses
import enum
import getpass
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

HIDDEN = "<redacted>"

URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/\s:@]+(?::[^/\s@]*)?)@")
TOKEN_SHAPES = re.compile(
    r"\b("
    r"gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|hf_[A-Za-z0-9]{20,}"  # Hugging Face
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWT
    r")"
)
SECRET_WORD = (
    r"(?:password|passwd|pwd|passphrase|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"key|auth|credentials?|session[_-]?id|sig|signature)"
)
SECRET_NAME = rf"(?:[A-Za-z0-9]+[_.-])*{SECRET_WORD}"
"""A key that names a secret, with or without a prefix: password, X_PASSWORD, AWS_SECRET_ACCESS_KEY, api-key."""
KEY_VALUE_SECRET = re.compile(rf"(?i)(?<![\w-])({SECRET_NAME})(=|:[ \t]*)(?!<redacted>)([^\s&;,'\"]+)")
"""KEY=value and KEY: value."""
OPTION_SECRET = re.compile(rf"(?i)(?<![\w-])(--?{SECRET_NAME})([ \t]+|=)(?!<redacted>)([^\s&;,'\"-][^\s&;,'\"]*)")
"""--password value, --api-key=value."""


def redact_value(value: str) -> str:
    value = URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{HIDDEN}@", value)
    value = TOKEN_SHAPES.sub(HIDDEN, value)
    value = OPTION_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", value)
    return KEY_VALUE_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", value)


PLACEHOLDER = re.compile(r"<(user|host|redacted)>")
"""What redaction puts in place of a name or a secret."""


def pasteable(command: str) -> bool:
    """Whether a command still runs as printed after redaction: ~ for the home does, but a placeholder does not
    (``<user>`` is a shell redirection), so a shared report leaves such a command out."""
    return not PLACEHOLDER.search(command)


LEFT_OUT = (
    "its command is left out here: redaction put a placeholder in it; `torchdoctor check` on that machine prints it"
)

GPU_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")


@dataclass(frozen=True)
class Redactor:
    """Hides identity in text meant to be shared (Markdown, HTML)."""

    user: str
    home: str
    host: str

    @classmethod
    def for_this_machine(cls) -> Redactor:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = ""
        return cls(user=user, home=os.path.expanduser("~"), host=socket.gethostname())

    @classmethod
    def for_facts(cls, host: object) -> Redactor:
        """The identity recorded in a report's host facts (it may come from another machine), else this one's."""
        here = cls.for_this_machine()
        return cls(
            user=getattr(host, "user", "") or here.user,
            home=getattr(host, "home", "") or here.home,
            host=getattr(host, "hostname", "") or here.host,
        )

    def text(self, value: str) -> str:
        value = redact_value(value)
        if self.home and len(self.home) > 1:
            value = value.replace(self.home, "~")
        value = GPU_UUID.sub(lambda m: f"{m.group(1)}-<redacted>", value)
        if self.host and len(self.host) > 2:
            value = re.sub(rf"\b{re.escape(self.host)}\b", "<host>", value)
        if self.user and len(self.user) > 2 and self.user not in {"root", "user"}:
            value = re.sub(rf"\b{re.escape(self.user)}\b", "<user>", value)
        return value


def map_strings(value: T, fn: Callable[[str], str]) -> T:
    """Apply ``fn`` to every string inside a tree of frozen dataclasses, tuples and dicts."""
    if isinstance(value, enum.Enum):  # before str: str-valued enums stay enums
        return value
    if isinstance(value, str):
        return fn(value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: map_strings(getattr(value, f.name), fn) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(map_strings(v, fn) for v in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}  # type: ignore[return-value]
    return value


def redact_report(report: T, identity: Redactor | None = None) -> T:
    """Secrets out of every string of a report; with ``identity``, also who and where."""
    fn = identity.text if identity is not None else redact_value
    return map_strings(report, fn)
