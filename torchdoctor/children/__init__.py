"""The scripts that run inside the examined interpreter, all in this one folder.

They are plain files run by path (never imported by the doctor), standard library and torch only,
Python 3.8 compatible, and they never import torchdoctor: the user's interpreter must not need it.
Being in one folder, they find each other (``_channel_child``, ``_smoke_child``) by that folder alone.
"""

from __future__ import annotations

from pathlib import Path

CHILDREN_DIR = Path(__file__).resolve().parent
INTERP_CHILD = CHILDREN_DIR / "_interp_child.py"
TORCH_CHILD = CHILDREN_DIR / "_torch_child.py"
SMOKE_CHILD = CHILDREN_DIR / "_smoke_child.py"
BENCH_CHILD = CHILDREN_DIR / "_bench_child.py"
CHANNEL_CHILD = CHILDREN_DIR / "_channel_child.py"
LAUNCHER_CHILD = CHILDREN_DIR / "_launcher_child.py"
