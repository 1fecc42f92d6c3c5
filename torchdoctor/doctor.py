"""Wire probes, checks and (optionally) smoke tests into one report."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace

from torchdoctor.checks import all_checks, run_checks
from torchdoctor.checks.base import Area, Check
from torchdoctor.compat.tables import load_tables
from torchdoctor.derived import nvml_gpus
from torchdoctor.model import DeviceSmoke, Facts, ProbeTiming, Report, SmokeFacts, TorchRuntime, Unavailable
from torchdoctor.nvidia import gpu_names
from torchdoctor.probes import ProbeOptions, gather
from torchdoctor.probes.early import EarlyProbes
from torchdoctor.reportfile import SCHEMA_VERSION, TOOL, now
from torchdoctor.smoke.runner import OnMessage, SmokeOptions, SmokeSession, why_absent


def judge(
    facts: Facts,
    ignore: Iterable[str] = (),
    origin: str = "probed",
    timings: tuple[ProbeTiming, ...] = (),
    only: Area | None = None,
    required: Sequence[Check] = (),
) -> Report:
    """Run the catalogue (or one area of it) and the requirement checks over ``facts``."""
    checks = [c for c in all_checks() if only is None or c.area is only]
    outcomes = run_checks(facts, [*checks, *required], ignore)
    kind = "smoke" if only is Area.SMOKE else "check"
    return Report(SCHEMA_VERSION, TOOL, now(), origin, facts, outcomes, timings, kind)


def diagnose(
    options: ProbeOptions,
    ignore: Iterable[str] = (),
    smoke: SmokeOptions | None = None,
    on_message: OnMessage | None = None,
    only: Area | None = None,
    required: Sequence[Check] = (),
    early: EarlyProbes | None = None,
) -> Report:
    """Probe this machine, run the smoke tests unless ``smoke`` is None, and judge.

    ``early``: probes the command line started before its options were read, taken where they fit.
    """
    # The checks need the compat tables; parse them while the probes wait on their children.
    with contextlib.suppress(RuntimeError):  # no thread left (ulimit -u): the checks load them when needed
        threading.Thread(target=load_tables, daemon=True, name="load-compat-tables").start()
    if smoke is None or options.quick:
        facts, timings = gather(options, on_message=on_message, early=early)
        if smoke is not None:
            facts = replace(facts, smoke=Unavailable("smoke", "--quick does not import torch", "skipped"))
    else:
        try:
            session = SmokeSession(options.python, smoke, on_message)
        except OSError as exc:  # no writable temp directory (a read-only root filesystem)
            facts, timings = gather(options, on_message=on_message, early=early)
            why = f"not run: no writable temp directory for the smoke tests ({exc.strerror or exc})"
            facts = replace(facts, smoke=Unavailable("smoke", why, "no_tmp"))
            return judge(facts, ignore, "probed", timings, only, required)
        with session:
            facts, timings = gather(
                options, lambda o: session.torch_with_cpu_smoke(o.timeout), smoke.timeout, on_message, early
            )
            devices = ([session.cpu] if session.cpu else []) + session.other_devices(facts.torch)
        if only is Area.SMOKE and smoke.device.strip().lower() == "all":
            devices += untested_gpus(facts)  # a smoke run that tested only the CPU must say what it left out
        if devices:
            facts = replace(facts, smoke=SmokeFacts(tuple(devices)))
        else:
            facts = replace(facts, smoke=Unavailable("smoke", "torch did not import, so nothing could run", "no_torch"))
    return judge(facts, ignore, "probed", timings, only, required)


def untested_gpus(facts: Facts) -> list[DeviceSmoke]:
    """NVIDIA GPUs on this machine that torch cannot use, as smoke entries saying why they were not tested."""
    gpus = [g for g in nvml_gpus(facts) if isinstance(g.name, str)]
    torch = facts.torch
    if not gpus or (isinstance(torch, TorchRuntime) and torch.cuda_available):
        return []
    why = why_absent("cuda", torch) if isinstance(torch, TorchRuntime) else "torch did not import"
    names = gpu_names(tuple(gpus))
    return [DeviceSmoke("cuda", names, (), died=f"not tested: {why}")]
