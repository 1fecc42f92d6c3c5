"""The one way a renderer makes a rich Console: into a string, coloured only when asked."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text


def string_console(buf: io.StringIO, color: bool, width: int) -> Console:
    """Plain text (no ANSI, no wrapping of long lines) unless ``color``: logs and pipes stay greppable."""
    return Console(
        file=buf,
        width=width,
        height=25,  # with both given, rich never reads COLUMNS/LINES itself (a COLUMNS of "²" would crash it)
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        soft_wrap=not color,
        emoji=False,
    )


def hanging(console: Console, prefix: str, markup: str) -> None:
    """``prefix`` then ``markup``; at a terminal, wrapped lines continue under the text, not under the prefix.

    Plain output (a pipe, a log) keeps whole lines, so nothing is split for grep or a paste.
    """
    if console.soft_wrap:
        console.print(prefix + markup)
        return
    head = Text.from_markup(prefix)
    grid = Table.grid()
    grid.add_column(width=head.cell_len, no_wrap=True)
    grid.add_column()
    grid.add_row(head, Text.from_markup(markup))
    console.print(grid)
