"""The README's sample output, from a real run: this checkout's CLI and its CPU-only torch on a fake GPU
machine (the fake libnvidia-ml.so.1 of tests/fakes under the real NVML bindings: driver R550, one RTX 4090),
at 80 columns, plain text. Paste what it prints over the README's sample.

    .venv/bin/python scripts/readme_sample.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RTX4090 = {"name": "NVIDIA GeForce RTX 4090", "cc": "8.9", "memory": f"{24 * 1024**3} {600 * 1024**2}"}


def sample() -> str:
    sys.path.insert(0, str(ROOT))
    from tests.fakes.nvml_lib import FakeNvmlLibrary, Machine

    with tempfile.TemporaryDirectory(prefix="torchdoctor-sample-") as tmp:
        lib = FakeNvmlLibrary(Path(tmp) / "lib")
        env = {**os.environ, **lib.env(Machine("R550", [RTX4090]), Path(tmp))}
        env.update(COLUMNS="80", PYTHONPATH=str(ROOT))  # a terminal in colour wraps (plain text never does) ...
        env.pop("NO_COLOR", None)
        text = at_a_terminal([sys.executable, "-m", "torchdoctor"], env, tmp)
    text = text.replace(str(Path(sys.prefix)), "~/venv").replace(str(Path.home()), "~")
    return "$ torchdoctor\n" + text


def at_a_terminal(argv: list[str], env: dict[str, str], cwd: str) -> str:
    """stdout of ``argv`` on an 80-column pseudo-terminal (wrapped as a person sees it), stderr discarded."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 80, 0, 0))
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(leader)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # ... and the colours go
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


if __name__ == "__main__":
    print(sample(), end="")
