"""The checks and `recommend` give one answer to "does this build run here", over a grid of machines.

For each installed build (every CUDA build of a few releases) on machines that vary driver, GPU, Python
and glibc: a compat check fires exactly when ``build_problems`` names its kind of problem, and the fix
it prints installs a build that ``build_problems`` finds nothing wrong with.
"""

from __future__ import annotations

import itertools
import re

from tests import factories as f
from torchdoctor.checks.compat import driver_too_old, glibc_too_old, gpu_arch_unsupported, python_unsupported
from torchdoctor.checks.fixes import install_torch_fix
from torchdoctor.compat.machine import machine_from_facts
from torchdoctor.compat.recommend import build_problems
from torchdoctor.compat.tables import load_tables
from torchdoctor.model import Unavailable

QUICK = Unavailable("torch", "skipped: --quick", "skipped")
RELEASES = ("2.5.1", "2.7.1", "2.9.1", "2.13.0")
DRIVERS = ("470.82.01", "525.60.13", "550.54.15", "580.65.06")
GPUS = (("NVIDIA Tesla P100-PCIE-16GB", "6.0"), ("NVIDIA GeForce RTX 4090", "8.9"), ("NVIDIA GeForce RTX 5090", "12.0"))
PYTHONS = ("3.9.18", "3.11.9", "3.14.0")
GLIBCS = ("2.27", "2.35")


def machines() -> list[tuple[str, str, tuple[str, str], str, str]]:
    tables = load_tables()
    builds = [
        (version, variant)
        for version in RELEASES
        for variant in tables.release(version).cuda["linux-x86_64"]  # type: ignore[union-attr]
    ]
    grid = list(itertools.product(builds, DRIVERS, GPUS, PYTHONS, GLIBCS))
    return [(v, variant, gpu, driver, f"{py}|{glibc}") for (v, variant), driver, gpu, py, glibc in grid[::7]]


def test_each_check_fires_exactly_when_build_problems_names_its_kind_and_its_fix_runs_here() -> None:
    tables = load_tables()
    checked = fired = fixed = 0
    for version, variant, (name, cc), driver, py_glibc in machines():
        python, glibc = py_glibc.split("|")
        interpreter, host = f.python(version=python), f.host(glibc=glibc)
        facts = f.facts(
            torch=QUICK,
            python=interpreter,
            host=host,
            packages=f.packages(f.dist("torch", f"{version}+{variant}"), f.dist("numpy", "2.1.3")),
            nvml=f.nvml(f.gpu(name=name, compute_capability=cc), driver=driver),
            kernel=f.kernel(module_version=driver),
        )
        release = tables.release(version)
        assert release is not None
        kinds = {p.kind for p in build_problems(tables, release, variant, machine_from_facts(facts))}
        where = f"torch {version}+{variant}, driver {driver}, {name}, Python {python}, glibc {glibc}: {kinds}"
        fires = {
            "glibc": bool(list(glibc_too_old(host, facts))),
            "python": bool(list(python_unsupported(interpreter, facts))),
        }
        if not kinds & {
            "platform",
            "glibc",
            "macos",
            "python",
        }:
            fires["driver"] = bool(list(driver_too_old(facts)))
            fires["arch"] = bool(list(gpu_arch_unsupported(facts)))
            assert fires["driver"] == bool(kinds & {"gpu-driver", "driver"}), where
            assert fires["arch"] == ("arch" in kinds), where
        assert fires["glibc"] == ("glibc" in kinds), where
        assert fires["python"] == ("python" in kinds), where
        checked += 1
        if any(fires.values()):
            fired += 1
            fix = install_torch_fix(facts, reinstall=True)
            pinned = re.search(r"torch==(\S+)", fix.command)
            if pinned is None:  # nothing fits: the fix says why instead of a command
                assert fix.text.startswith("No published torch fits this machine"), (where, fix.text)
                continue
            chosen = tables.release(pinned.group(1))
            assert chosen is not None, fix.command
            after = build_problems(tables, chosen, fix.variant, machine_from_facts(facts))
            assert after == [], (where, fix.command, after)
            fixed += 1
    # the grid holds machines where the build runs, where it does not, and fixes that install
    assert checked > 80 and 0 < fired < checked and fixed > 20, (checked, fired, fixed)
