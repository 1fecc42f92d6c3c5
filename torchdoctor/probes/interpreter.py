"""The target interpreter and its installed packages, read from package metadata only."""

from __future__ import annotations

import os
from typing import Any, Union

from torchdoctor import serde
from torchdoctor.model import Maybe, PackagesFacts, PythonFacts, Unavailable
from torchdoctor.probes.children import INTERP_CHILD
from torchdoctor.probes.subproc import run_child


def probe_interpreter(python: str, timeout: float) -> tuple[Maybe[PythonFacts], Maybe[PackagesFacts]]:
    result = run_child([python, str(INTERP_CHILD)], timeout, env=dict(os.environ), cwd=os.getcwd())
    if result.start_error:
        gone = Unavailable("python", f"could not run {python}: {result.start_error}", "start")
        return gone, gone
    message = result.first("python")
    if message is None:
        if result.timed_out:
            why = f"the interpreter did not answer within {timeout:g} s"
        else:
            why = f"the interpreter exited with status {result.returncode}: {result.stderr_tail(3)}"
        gone = Unavailable("python", why, "timeout" if result.timed_out else "child")
        return gone, gone
    return _load(PythonFacts, message["python"], "python"), _load(PackagesFacts, message["packages"], "packages")


def _load(cls: type, data: Any, name: str) -> Any:
    try:
        return serde.from_jsonable(Union[cls, Unavailable], data)  # noqa: UP007
    except serde.SnapshotError as exc:
        return Unavailable("python", f"unexpected {name} facts from the interpreter: {exc}", "protocol")
