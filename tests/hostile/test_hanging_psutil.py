"""Physical cores and RAM come from /proc and /sys on Linux, psutil elsewhere; a source that never answers (a hung
/proc, a broken psutil) costs its own two facts, said so, not the host (the /proc case: test_host_kernel.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, Doctor
from tests.hostile.test_environments import no_traceback, run_in


def hung_psutil(where: Path) -> Path:
    site = where / "hung_site"
    (site / "psutil").mkdir(parents=True)
    (site / "psutil" / "__init__.py").write_text("import time\ntime.sleep(3600)\n")
    return site


def test_a_hanging_psutil_loses_only_its_own_facts_where_psutil_is_asked(tmp_path: Path) -> None:
    """A machine without /proc/meminfo (macOS, Windows, a Linux without /proc) asks psutil."""
    site = hung_psutil(tmp_path)
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); from pathlib import Path; "
        "from torchdoctor.probes.host import ask_cores_and_ram; "
        f"print([f.reason for f in ask_cores_and_ram(Path({str(tmp_path)!r}), timeout=1.0)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == str(["psutil did not answer within 1 s"] * 2), out.stderr


def test_on_linux_a_hanging_psutil_costs_nothing(doctor: Doctor) -> None:
    site = hung_psutil(doctor.tmp_path)
    # The doctor's own imports come before PYTHONPATH (a `psutil/` there is the examined environment's), so
    # the hung psutil goes where an installed one is: first on the doctor's own sys.path.
    proc = run_in(doctor, f"sys.path.insert(0, {str(site)!r})", "check", "--quick", "--no-smoke", "-f", "json")
    no_traceback(proc)
    host = json.loads(proc.stdout)["facts"]["host"]
    assert isinstance(host["ram_bytes"], int) and isinstance(host["cpu_physical"], int), host


def test_a_working_machine_answers(doctor: Doctor) -> None:
    report, proc = doctor.json("--quick", "--no-smoke")
    no_traceback(proc)
    assert isinstance(report["facts"]["host"]["ram_bytes"], int), report["facts"]["host"]["ram_bytes"]
