"""The side channel every rank shares (a TCPStore) and the watchdog that ends a stuck rank.

The store still answers when NCCL is stuck, so rank 0 can say which ranks never arrived, never
entered a collective or never finished it.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

from torchdoctor.distributed.model import Launch

PREFIX = "torchdoctor/"


def key(*parts: object) -> str:
    return PREFIX + "/".join(str(p) for p in parts)


class StoreLost(Exception):
    """The store stopped answering: its host (rank 0, under a static launch) is gone."""


class SideChannel:
    def __init__(self, store: Any, rank: int, world: int) -> None:
        self.store = store
        self.rank = rank
        self.world = world
        self.lost = ""
        """Why the store stopped answering ("" while it answers)."""
        self.lost_at = 0.0
        """When (time.time()) it first did not."""
        self.ended = False
        """Rank 0 has published its exit code: the store going away from then on is the job's end, not a death."""

    def _lose(self, exc: Exception) -> StoreLost:
        if not self.lost:
            text = str(exc).strip()
            self.lost = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
            self.lost_at = time.time()
        return StoreLost(self.lost)

    def put(self, *parts: object, value: str = "1") -> None:
        try:
            self.store.set(key(*parts), value)
        except Exception as exc:
            raise self._lose(exc) from None

    def has(self, *parts: object) -> bool:
        try:
            return bool(self.store.check([key(*parts)]))
        except Exception as exc:  # the store's host is gone: nothing more will arrive
            self._lose(exc)
            return False

    def get(self, *parts: object) -> str:
        try:
            return bytes(self.store.get(key(*parts))).decode()
        except Exception as exc:
            raise self._lose(exc) from None

    def ranks_with(self, *parts: object) -> list[int]:
        return [r for r in range(self.world) if self.has(*parts, r)]

    def wait_for(self, *parts: object, deadline: float, poll: float = 0.05) -> list[int]:
        """Wait until every rank set key parts/<rank>, or the deadline; returns the missing ranks."""
        while True:
            missing = [r for r in range(self.world) if not self.has(*parts, r)]
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(poll)

    def waitkey(self, *parts: object, deadline: float, poll: float = 0.05) -> str | None:
        """The key's value once it is set; None at the deadline, or at once when the store is gone."""
        while time.monotonic() < deadline and not self.lost:
            if self.has(*parts):
                return self.get(*parts)
            time.sleep(poll)
        return None


class StoreTimeout(Exception):
    """The store accepted the connection (or did not refuse it) but never answered."""


def connect(torch: Any, launch: Launch, timeout: float) -> Any:
    """The side channel's store, within ``timeout`` even when its address accepts and never answers."""
    hosts_it = launch.rank == 0 and not launch.agent_store
    box: dict[str, Any] = {}

    def make() -> None:
        try:
            box["store"] = torch.distributed.TCPStore(
                launch.master_addr,
                launch.master_port,
                None,
                hosts_it,
                datetime.timedelta(seconds=timeout),
                wait_for_workers=False,
            )
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=make, daemon=True, name="torchdoctor-store")
    thread.start()
    thread.join(timeout + 2)
    if thread.is_alive():
        raise StoreTimeout(f"no answer from the store within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["store"]


def reachable(addr: str, port: int, timeout: float = 3.0) -> str:
    import socket

    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return f"{addr}:{port} accepts TCP connections"
    except OSError as exc:
        return f"{addr}:{port} refused or unreachable ({exc})"


class Watchdog:
    """Ends the process when a step overruns: the main thread may be stuck inside NCCL/gloo."""

    def __init__(self, on_timeout: Callable[[str], None], total_deadline: float) -> None:
        self.on_timeout = on_timeout
        self.total_deadline = total_deadline
        self.lock = threading.Lock()
        self.step = ""
        self.deadline = 0.0
        self.thread = threading.Thread(target=self._loop, daemon=True, name="torchdoctor-watchdog")
        self.thread.start()

    def arm(self, step: str, seconds: float) -> None:
        with self.lock:
            self.step, self.deadline = step, time.monotonic() + seconds

    def disarm(self) -> None:
        with self.lock:
            self.step = ""

    def _loop(self) -> None:
        while True:
            time.sleep(0.05)
            with self.lock:
                step, deadline = self.step, self.deadline
            now = time.monotonic()
            if step and now > deadline:
                self.on_timeout(step)
                return
            if now > self.total_deadline:
                self.on_timeout(step or "the whole run")
                return


class Heartbeat:
    """Each rank ticks a counter on the side channel; rank 0 watches every rank's counter.

    A rank killed mid-run (OOM killer, a crash, its node going down) stops ticking: rank 0 names it
    as dead instead of reporting every collective after it as wrong. The other ranks' heartbeat is also
    the first to find the store gone (``on_lost``, set once the run can report it), and it looks now and
    then for rank 0's exit code, so a rank stuck elsewhere knows that rank 0 has reported before it goes.
    """

    EXIT_EVERY = 4
    """Ticks between looks for rank 0's exit code (a rank other than 0)."""

    def __init__(self, side: SideChannel, interval: float = 0.25, grace: float = 2.0) -> None:
        self.side = side
        self.on_lost: Callable[[], None] | None = None
        self.interval = interval
        self.grace = grace
        self.lock = threading.Lock()
        self.seen: dict[int, tuple[str, float]] = {}
        """rank → (its last counter, when it last changed) — kept by rank 0."""
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="torchdoctor-heartbeat")
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _loop(self) -> None:
        count = 0
        side = self.side
        while not self.stopped.is_set():
            count += 1
            try:
                side.put("alive", side.rank, value=str(count))
                if side.rank == 0:
                    self._sample()
                elif count % self.EXIT_EVERY == 0 and not side.ended and side.has("exit"):
                    side.ended = True
            except Exception:  # the store is gone: the run reports it, from here when it can
                if self.on_lost is not None and not self.stopped.is_set() and not side.ended:
                    self.on_lost()
                return
            self.stopped.wait(self.interval)

    def _sample(self) -> None:
        now = time.monotonic()
        for r in range(self.side.world):
            if r == self.side.rank or not self.side.has("alive", r):
                continue
            value = self.side.get("alive", r)
            with self.lock:
                last = self.seen.get(r)
                if last is None or last[0] != value:
                    self.seen[r] = (value, now)

    def dead(self) -> list[int]:
        """Ranks whose counter has not moved for ``grace`` seconds (and that have not said goodbye)."""
        now = time.monotonic()
        with self.lock:
            stale = [r for r, (_, changed) in self.seen.items() if now - changed > self.grace]
        return sorted(r for r in stale if not self.side.has("finished", r))

    def settle(self) -> list[int]:
        """Dead ranks, after waiting long enough for a rank that just died to be noticed."""
        deadline = time.monotonic() + self.grace + 2 * self.interval
        while time.monotonic() < deadline:
            if self.dead():
                break
            time.sleep(self.interval)
        return self.dead()
