"""The spinner on stderr that says what the doctor is waiting for (only on a terminal, never in CI)."""

from __future__ import annotations

import os
import sys
from typing import Any


class LiveProgress:
    """A spinner on stderr (only when it is a terminal) that says what the doctor is waiting for."""

    def __init__(self, target: str, quick: bool = False) -> None:
        self.target = target
        self.status: Any = None
        self.waiting = {"NVML (the NVIDIA driver)"} | (set() if quick else {"import torch"})
        self.phase = ""

    def __enter__(self) -> LiveProgress:
        isatty = getattr(sys.stderr, "isatty", None)  # None when stderr is closed (2>&-)
        if isatty is not None and isatty() and not os.environ.get("CI"):
            from rich.console import Console

            sizes = ("COLUMNS", "LINES")  # rich reads them with int(); "²" passes isdigit() and crashes it
            environ = {k: v for k, v in os.environ.items() if k not in sizes or (v.isascii() and v.isdigit())}
            console = Console(stderr=True, _environ=environ)
            self.status = console.status(self.text())
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def text(self) -> str:
        parts = [self.phase] if self.phase else []
        if self.waiting:
            parts.append(f"waiting for {' and '.join(sorted(self.waiting))}")
        return f"examining {self.target}: {'; '.join(parts) or 'judging'} ..."

    def __call__(self, message: dict[str, Any]) -> None:
        done = message.get("probe_done")
        if done == "nvml":
            self.waiting.discard("NVML (the NVIDIA driver)")
        elif done == "torch" or "torch" in message:
            self.waiting.discard("import torch")
        if "smoke_start" in message:
            start = message["smoke_start"]
            self.phase = f"smoke {start.get('device')}: {start.get('step')}"
        if self.status is not None:
            self.status.update(self.text())
