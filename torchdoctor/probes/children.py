"""Paths of the scripts that run inside the target interpreter.

They are plain files inside the package, run by path (never imported here), so that the
user's interpreter never imports torchdoctor itself.
"""

from __future__ import annotations

from pathlib import Path

PROBES_DIR = Path(__file__).resolve().parent
INTERP_CHILD = PROBES_DIR / "_interp_child.py"
TORCH_CHILD = PROBES_DIR / "_torch_child.py"
SMOKE_DIR = PROBES_DIR.parent / "smoke"
SMOKE_CHILD = SMOKE_DIR / "_smoke_child.py"
