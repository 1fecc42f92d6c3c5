"""How a fix command quotes what it takes from the machine: one rule, so a pasted command does what it says.

A path, a package name, an environment variable's value: each comes from the examined machine and goes into a
command a person pastes into a POSIX shell. ``/home/ada/my env/bin/python`` unquoted is two words; a venv at
``/tmp/x;touch pwned`` runs a second command. Every interpolated word goes through :func:`quote` (``shlex.quote``:
unchanged when it is only ``[A-Za-z0-9@%+=:,./_-]``, else single-quoted). The constants a command is written
with (``~/.venvs/torch``, ``"$HOME"``) stay as written, so the shell still expands them.
"""

from __future__ import annotations

import shlex

quote = shlex.quote
"""One word of a command, quoted for a POSIX shell when it needs to be."""


def words(*parts: str) -> str:
    """Each part one shell word: ``words("conda", "remove", "-p", prefix)``."""
    return " ".join(quote(p) for p in parts)


def assign(name: str, value: str) -> str:
    """``export NAME=value`` with the value one word."""
    return f"export {name}={quote(value)}"
