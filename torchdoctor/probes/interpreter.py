"""The target interpreter and its installed packages, read from package metadata only."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Union

from torchdoctor.children import INTERP_CHILD
from torchdoctor.maybe import Maybe, Unavailable
from torchdoctor.probes.subproc import run_child, working_dir
from torchdoctor.rules import limits

if TYPE_CHECKING:
    from torchdoctor.model import PackagesFacts, PythonFacts


def probe_interpreter(python: str, timeout: float) -> tuple[Maybe[PythonFacts], Maybe[PackagesFacts]]:
    # The child first, the fact types after: started early, this runs while the command line is read, and the
    # child must not wait for the model's classes to be created (see probes/early.py).
    result = run_child([python, str(INTERP_CHILD)], timeout, env=dict(os.environ), cwd=working_dir())
    if result.start_error:
        code = limits.LIMIT if result.own_limit else "start"
        gone = Unavailable("python", f"could not run {python}: {result.start_error}", code)
        return gone, gone
    message = result.first("python")
    if message is None:
        if result.malformed:
            why = f"the interpreter's answer could not be read: {'; '.join(result.malformed[:3])}"
        elif result.timed_out:
            why = f"the interpreter did not answer within {timeout:g} s"
        else:
            why = f"the interpreter exited with status {result.returncode}: {result.stderr_tail(3)}"
        code = "protocol" if result.malformed else ("timeout" if result.timed_out else "child")
        gone = Unavailable("python", why, code)
        return gone, gone
    from torchdoctor.model import PackagesFacts, PythonFacts

    return _load(PythonFacts, message["python"], "python"), _load(PackagesFacts, message["packages"], "packages")


def _load(cls: type, data: Any, name: str) -> Any:
    from torchdoctor import serde

    try:
        return serde.from_jsonable(Union[cls, Unavailable], data)  # noqa: UP007
    except serde.SnapshotError as exc:
        return Unavailable("python", f"unexpected {name} facts from the interpreter: {exc}", "protocol")
