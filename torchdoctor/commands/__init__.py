"""One module per command: options in, a :class:`~torchdoctor.result.Result` out.

The command line (`torchdoctor/cli.py`) parses arguments into options and calls ``run``; it never holds
a command's logic. Nothing here prints a report or exits: a command that cannot go on raises
:class:`~torchdoctor.exitcodes.Stop`.
"""
