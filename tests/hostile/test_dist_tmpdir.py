"""`dist --nproc` leaves nothing in TMPDIR: torchrun's logs go to a folder the launcher makes and removes."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.distributed.test_dist_runs import env, run_json


def test_dist_nproc_leaves_tmpdir_empty(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    argv = [sys.executable, "-m", "torchdoctor", "dist", "--nproc", "2", "-f", "json", "--max-mib", "1"]
    report, code = run_json(argv, env(TMPDIR=str(tmpdir)))
    assert code == 0, report["findings"]
    assert report["cluster"]["world_size"] == 2
    assert sorted(p.name for p in tmpdir.iterdir()) == []  # no torchelastic_*, no torchdoctor-dist-*
