"""`python -m torchdoctor` and the `torchdoctor` command: signal handlers first, then everything else.

Ctrl-C while the command line's own modules are still importing must end as cleanly as Ctrl-C later:
the handlers go in before typer, rich or any probe is imported.
"""

from __future__ import annotations

from typing import NoReturn


def own_imports_first() -> None:
    """Look for the doctor's own dependencies (typer, rich, packaging, ...) where they are installed first.

    PYTHONPATH and the working directory are the examined environment's, not the doctor's: a `rich/`
    folder there must not replace the rich it runs on. They move to the end of this process's sys.path
    (still there for anything only they hold); the children that examine the environment keep them.
    torchdoctor itself is already imported, and its own modules are found from its package folder.
    """
    import contextlib
    import os
    import sys

    theirs = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    with contextlib.suppress(OSError):  # a deleted working directory
        theirs.add(os.getcwd())

    def is_theirs(entry: str) -> bool:
        try:
            return os.path.abspath(entry or os.curdir) in theirs
        except OSError:  # a deleted working directory: '' cannot be made absolute
            return entry == ""

    sys.path[:] = [p for p in sys.path if not is_theirs(p)] + [p for p in sys.path if is_theirs(p)]


def main() -> None:
    own_imports_first()
    from torchdoctor.signals import install_signal_handlers

    install_signal_handlers()
    import sys

    from torchdoctor.commands.early import start_for

    try:
        early = start_for(sys.argv[1:])  # a live command's probes run while typer is imported and reads the options
    except Exception:  # the command runs its probes itself, and says what went wrong with them
        early = None
    try:
        from torchdoctor.cli import main as run
    except OSError as exc:  # its own modules unreadable (no descriptor left, a vanished install): said in one line
        from torchdoctor.signals import end_children

        end_children()
        print(f"torchdoctor: could not start: {exc}", file=sys.stderr)
        leave(3)  # ExitCode.COULD_NOT_RUN
    try:
        run(early)
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def leave(code: object) -> NoReturn:
    """End the program with ``code`` (as ``sys.exit`` takes it) once what it said is flushed, without the
    interpreter's teardown: freeing some 240 modules took 0.03-0.05 s of every run, after the answer was out.

    Everything the doctor opens is closed where it is written (``-o``, the job summary), its children are ended by
    the command line (``signals.end_children``), and it registers no exit handler of its own.
    """
    import os
    import sys

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): said on stderr, status 1, as the interpreter would
        print(code, file=sys.stderr)
        status = 1
    from torchdoctor.exitcodes import ExitCode

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, or gone with its reader: nothing more to say
            status = status or int(ExitCode.OUTPUT_FAILED)
    os._exit(status)


if __name__ == "__main__":
    main()
