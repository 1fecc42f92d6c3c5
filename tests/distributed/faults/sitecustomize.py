"""Faults for dist's tests, injected from outside the product.

The tests put this folder first on PYTHONPATH, so every Python process they start (torchrun, the
doctor, each rank) runs this file first. With DIST_FAULT="RANK:STEP:stall" that rank stops just
before it would enter STEP (it never says it entered: the job hangs on it); with "RANK:STEP:die" it
SIGKILLs itself there (a rank lost mid-run: the OOM killer, a crash). Without DIST_FAULT it does nothing.
"""

from __future__ import annotations

import os


def _inject(rank: str, step: str, how: str) -> None:
    import signal
    import time

    from torchdoctor.distributed.sidechannel import SideChannel

    put = SideChannel.put

    def faulty_put(self: SideChannel, *parts: object, value: str = "1") -> None:
        if parts == ("enter", step, int(rank)):
            if how == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
        put(self, *parts, value=value)

    SideChannel.put = faulty_put  # type: ignore[method-assign]


if os.environ.get("DIST_FAULT"):
    _inject(*os.environ["DIST_FAULT"].split(":"))
