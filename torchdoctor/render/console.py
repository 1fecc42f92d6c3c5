"""The one way a renderer makes a rich Console: into a string, coloured only when asked."""

from __future__ import annotations

import io

from rich.console import Console


def string_console(buf: io.StringIO, color: bool, width: int) -> Console:
    """Plain text (no ANSI, no wrapping of long lines) unless ``color``: logs and pipes stay greppable."""
    return Console(
        file=buf,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        soft_wrap=not color,
        emoji=False,
    )
