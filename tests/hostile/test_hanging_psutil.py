"""A psutil that never answers (a hung /proc, a broken install) costs its own two facts, said so, not the host."""

from __future__ import annotations

import json

from tests.conftest import Doctor
from tests.hostile.test_environments import no_traceback, run_in
from torchdoctor.rules import timeouts


def test_a_hanging_psutil_loses_only_its_own_facts(doctor: Doctor) -> None:
    site = doctor.tmp_path / "hung_site"
    (site / "psutil").mkdir(parents=True)
    (site / "psutil" / "__init__.py").write_text("import time\ntime.sleep(3600)\n")
    # The doctor's own imports come before PYTHONPATH (a `psutil/` there is the examined environment's), so
    # the hung psutil goes where an installed one is: first on the doctor's own sys.path.
    proc = run_in(doctor, f"sys.path.insert(0, {str(site)!r})", "check", "--quick", "--no-smoke", "-f", "json")
    no_traceback(proc)
    report = json.loads(proc.stdout)
    host = report["facts"]["host"]
    assert host.get("unavailable") is not True, host
    assert host["system"] and host["cpu_logical"], host
    why = f"psutil did not answer within {timeouts.PSUTIL:g} s"
    for name in ("ram_bytes", "cpu_physical"):
        assert host[name]["reason"] == why, host[name]


def test_a_working_psutil_answers(doctor: Doctor) -> None:
    report, proc = doctor.json("--quick", "--no-smoke")
    no_traceback(proc)
    assert isinstance(report["facts"]["host"]["ram_bytes"], int), report["facts"]["host"]["ram_bytes"]
