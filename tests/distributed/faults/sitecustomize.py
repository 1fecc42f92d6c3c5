"""Faults for dist's tests, injected from outside the product.

The tests put this folder first on PYTHONPATH, so every Python process they start (torchrun, the
doctor, each rank) runs this file first. With DIST_FAULT="RANK:STEP:stall" that rank stops just
before it would enter STEP (it never says it entered: the job hangs on it); with "RANK:STEP:die" it
SIGKILLs itself there (a rank lost mid-run: the OOM killer, a crash). STEP may also be a key the rank
puts before any step, "facts": it dies once rank 0 has put its own (rank 0 is waiting on it in the
rendezvous, which never completes); rank 0 dies there once rank 1 has put its own (rank 1 is waiting
for rank 0's go). Without DIST_FAULT it does nothing.
"""

from __future__ import annotations

import os


def _inject(rank: str, step: str, how: str) -> None:
    import signal
    import time

    from torchdoctor.distributed.sidechannel import SideChannel

    put = SideChannel.put

    def faulty_put(self: SideChannel, *parts: object, value: str = "1") -> None:
        if parts in (("enter", step, int(rank)), (step, int(rank))):
            if parts[0] == step:  # before any step: once the other is there too (rank 0, or rank 1), waiting on it
                other = 0 if int(rank) != 0 else 1
                deadline = time.monotonic() + 60
                while not self.has(step, other) and time.monotonic() < deadline:
                    time.sleep(0.05)
            if how == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
        put(self, *parts, value=value)

    SideChannel.put = faulty_put  # type: ignore[method-assign]


if os.environ.get("DIST_FAULT"):
    _inject(*os.environ["DIST_FAULT"].split(":"))
