"""`python -m torchdoctor` and the `torchdoctor` command: signal handlers first, then everything else.

Ctrl-C while the command line's own modules are still importing must end as cleanly as Ctrl-C later:
the handlers go in before typer, rich or any probe is imported.
"""

from __future__ import annotations


def main() -> None:
    from torchdoctor.signals import install_signal_handlers

    install_signal_handlers()
    from torchdoctor.cli import main as run

    run()


if __name__ == "__main__":
    main()
