"""Terminal text for `torchdoctor compat` and `torchdoctor recommend`."""

from __future__ import annotations

import io

from rich.markup import escape
from rich.table import Table

from torchdoctor.compat.query import Answer
from torchdoctor.compat.recommend import NoFit, Recommendation
from torchdoctor.render.console import string_console

MAX_ROWS = 60


def render_answer(answer: Answer, color: bool = False, width: int = 120) -> str:
    buf = io.StringIO()
    console = string_console(buf, color, width)
    for line in answer.answers:
        console.print(f"• {escape(line)}")
    if answer.rows:
        table = Table(title=f"Matching torch builds (tables as of {answer.as_of})", title_justify="left")
        for column in (
            "torch",
            "platform",
            "variant",
            "python",
            "min driver",
            "GPU archs",
            "torchvision",
            "torchaudio",
        ):
            table.add_column(column, overflow="fold")
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
            console.print(f"  • {escape(reason)}")
        if rec.changes:
            console.print("[bold]What would change that:[/]")
            for change in rec.changes:
                console.print(f"  • {escape(change)}")
        return buf.getvalue()
    console.print(
        f"[bold green]torch {rec.torch}[/] ({escape(rec.variant)})"
        + (f", torchvision {rec.torchvision}" if rec.torchvision else "")
        + (f", torchaudio {rec.torchaudio}" if rec.torchaudio else "")
    )
    console.print(f"[bold cyan]$ {escape(rec.command)}[/]")
    console.print("[bold]Why:[/]")
    for reason in rec.reasons:
        console.print(f"  • {escape(reason)}")
    if rec.upgrades:
        console.print("[bold]For something newer:[/]")
        for upgrade in rec.upgrades:
            console.print(f"  • {escape(upgrade)}")
    console.print("[dim](not run: torchdoctor never installs anything)[/]")
    return buf.getvalue()
