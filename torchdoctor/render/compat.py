"""Terminal text for `torchdoctor compat` and `torchdoctor recommend`."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torchdoctor.compat.query import Answer
from torchdoctor.compat.recommend import NoFit, Recommendation
from torchdoctor.render.console import hanging, string_console

MAX_ROWS = 60
NARROW = 120
"""Below this width the rows are printed one record per paragraph: a table would split versions mid-token."""
NARROW_ROWS = 24


def bullet(console: Console, text: str) -> None:
    """An indented bullet: whole lines when plain (greppable); at a terminal, wrapped under its text."""
    hanging(console, "  • ", escape(text))


def render_answer(answer: Answer, color: bool = False, width: int = 120) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    for line in answer.answers:
        hanging(console, "• ", escape(line))
    if answer.rows and width < NARROW:
        console.print(f"[bold]Matching torch builds[/] (tables as of {answer.as_of})")
        for row in answer.rows[:NARROW_ROWS]:
            record = (
                f"{row.torch} {row.variant} ({row.platform}): Python {row.python}"
                + (f"; driver >= {row.min_driver}" if row.min_driver else "")
                + (f"; GPU archs {row.archs}" if row.archs else "")
                + (f"; torchvision {row.torchvision}" if row.torchvision else "")
                + (f"; torchaudio {row.torchaudio}" if row.torchaudio else "")
            )
            bullet(console, record)
        if len(answer.rows) > NARROW_ROWS:
            more = len(answer.rows) - NARROW_ROWS
            console.print(f"  ... and {more} more (narrow the query with --torch/--platform, or use --format json)")
        return buf.getvalue()
    if answer.rows:
        table = Table(title=f"Matching torch builds (tables as of {answer.as_of})", title_justify="left")
        for column in ("torch", "platform", "variant", "python", "min driver"):
            table.add_column(column, no_wrap=True)
        table.add_column("GPU archs")  # wrapped between architectures, never inside one
        for column in ("torchvision", "torchaudio"):
            table.add_column(column, no_wrap=True)
        for row in answer.rows[:MAX_ROWS]:
            table.add_row(
                row.torch,
                row.platform,
                row.variant,
                row.python,
                row.min_driver or "-",
                row.archs or "-",
                row.torchvision or "-",
                row.torchaudio or "-",
            )
        console.print(table)
        if len(answer.rows) > MAX_ROWS:
            console.print(f"... and {len(answer.rows) - MAX_ROWS} more rows (narrow the query, or use --format json)")
    return buf.getvalue()


def render_recommendation(rec: Recommendation | NoFit, machine: str, color: bool = False, width: int = 120) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    console.print(f"[bold]For[/] {escape(machine)}")
    if isinstance(rec, NoFit):
        console.print("[bold red]No published torch fits this machine.[/]")
        for reason in rec.reasons[:8]:
            bullet(console, reason)
        if rec.changes:
            console.print("[bold]What would change that:[/]")
            for change in rec.changes:
                bullet(console, change)
        return buf.getvalue()
    console.print(
        f"[bold green]torch {rec.torch}[/] ({escape(rec.variant)})"
        + (f", torchvision {rec.torchvision}" if rec.torchvision else "")
        + (f", torchaudio {rec.torchaudio}" if rec.torchaudio else "")
    )
    # A command is never broken: a pasted first line would run a different install.
    console.print(f"[bold cyan]$ {escape(rec.command)}[/]", soft_wrap=True)
    console.print("[bold]Why:[/]")
    for reason in rec.reasons:
        bullet(console, reason)
    if rec.upgrades:
        console.print("[bold]For something newer:[/]")
        for upgrade in rec.upgrades:
            bullet(console, upgrade)
    console.print("[dim](not run: torchdoctor never installs anything)[/]")
    return buf.getvalue()
