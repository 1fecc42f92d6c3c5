"""Probes gather facts; they never print and never raise for an environment problem.

``gather`` runs every probe at once: the torch child (the slow one: one ``import torch``) and
beside it the interpreter child, the NVML child and the cheap in-process probes.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchdoctor.gpu_facts import NvmlFacts
from torchdoctor.maybe import Maybe, Unavailable
from torchdoctor.rules import limits, timeouts

if TYPE_CHECKING:  # NVML's child imports this package: nothing it does not need (the model is imported in use)
    from torchdoctor.model import Facts, ProbeTiming, SmiFacts, TorchState
    from torchdoctor.probes.early import EarlyProbes

# The probes themselves are imported where they run: NVML's child imports torchdoctor.probes.nvml, and so this
# package, and must not pay for every other probe's imports on the way (it is on `check --quick`'s critical path).


@dataclass(frozen=True)
class ProbeOptions:
    python: str = sys.executable
    timeout: float = timeouts.IMPORT_TORCH
    """Seconds the torch child may take (``import torch`` from a network filesystem is slow)."""
    quick: bool = False
    """Skip the torch child: metadata, NVML and platform facts only."""
    fast_timeout: float = timeouts.FAST_PROBE
    """Seconds for the interpreter-metadata child."""
    nvml_timeout: float = timeouts.NVML
    """Seconds for NVML's child, then nvidia-smi, to read the driver (a hung GPU hangs both)."""
    guard_seconds: float = timeouts.PROBE_GUARD
    """Slack of the outer bound on all probes; every child has its own timeout, this only catches a probe bug."""


TorchProbe = Callable[[ProbeOptions], "TorchState"]
OnMessage = Callable[[dict[str, Any]], None]
MIN_SMI_SECONDS = 2.0


def probe_driver(timeout: float) -> tuple[Maybe[NvmlFacts], Maybe[SmiFacts]]:
    """NVML; and when it cannot tell the driver's version, nvidia-smi, within what is left of ``timeout``."""
    from torchdoctor.probes.nvml import probe_nvml
    from torchdoctor.probes.smi import probe_smi

    started = time.monotonic()
    nvml = probe_nvml(timeout)
    if isinstance(nvml, NvmlFacts) and isinstance(nvml.driver_version, str):
        return nvml, Unavailable("nvidia-smi", "not asked: NVML answered", "not_needed")
    left = timeout - (time.monotonic() - started)
    if left < MIN_SMI_SECONDS:
        return nvml, Unavailable("nvidia-smi", f"not asked: NVML took the whole {timeout:g} s", "skipped")
    return nvml, probe_smi(left)


def _torch_default(options: ProbeOptions) -> TorchState:
    from torchdoctor.probes.torch import probe_torch

    return probe_torch(options.python, options.timeout)[0]


def standalone_probes(
    python: str, fast_timeout: float, nvml_timeout: float
) -> dict[str, tuple[Hashable, Callable[[], Any]]]:
    """The probes that need nothing but the inputs in their keys (the command line starts them early, see
    probes/early.py; ``gather`` runs the ones it was not given). Each imports its module when it runs."""

    def interpreter() -> Any:
        from torchdoctor.probes.interpreter import probe_interpreter

        return probe_interpreter(python, fast_timeout)

    def host() -> Any:
        from torchdoctor.probes.host import probe_host

        return probe_host()

    def kernel() -> Any:
        from torchdoctor.probes.kernel import probe_kernel

        return probe_kernel()

    def env() -> Any:
        from torchdoctor.probes.environment import probe_env

        return probe_env()

    return {
        "interpreter": ((python, fast_timeout), interpreter),
        "nvml": (nvml_timeout, lambda: probe_driver(nvml_timeout)),
        "host": ((), host),
        "kernel": ((), kernel),
        "env": ((), env),
    }


def gather(
    options: ProbeOptions,
    torch_probe: TorchProbe | None = None,
    torch_extra_seconds: float = 0.0,
    on_message: OnMessage | None = None,
    early: EarlyProbes | None = None,
) -> tuple[Facts, tuple[ProbeTiming, ...]]:
    """Run all probes concurrently.

    ``torch_probe`` lets ``check`` share the torch child with the CPU smoke tests, which may run
    ``torch_extra_seconds`` beyond the import timeout. ``on_message`` hears ``{"probe_done": name}``
    as each probe ends (the progress line says what is still awaited). ``early``: the standalone probes
    the command line started before its options were read; each is taken when its inputs are these.
    """
    from torchdoctor.model import ProbeTiming
    from torchdoctor.probes.loader import probe_loader
    from torchdoctor.probes.other_loaders import probe_other_loaders

    torch_probe = torch_probe or _torch_default
    results: dict[str, Any] = {}
    took: dict[str, float] = {}  # the early probes' own durations, which the timings report
    interpreted = threading.Event()

    def standalone(name: str, key: Hashable, probe: Callable[[], Any]) -> Callable[[], Any]:
        def job() -> Any:
            try:
                started = early.take(name, key) if early is not None else None
                if started is None:
                    return probe()
                try:
                    return started.result()
                finally:
                    took[name] = started.seconds
            finally:
                if name == "interpreter":
                    interpreted.set()

        return job

    def loader() -> Any:  # needs torch's folder, which the interpreter child finds without importing torch
        if not interpreted.wait(options.fast_timeout + options.guard_seconds):
            return Unavailable("loader", "the interpreter probe did not finish", "timeout")
        interp = results.get("interpreter", Unavailable("loader", "the interpreter probe gave nothing", "bug"))
        return probe_loader(interp[1] if isinstance(interp, tuple) else interp, options.python)

    def other_loaders() -> Any:  # WSL, Tegra, KFD, and on Windows torch's DLLs (which need torch's folder)
        interpreted.wait(options.fast_timeout + options.guard_seconds)
        interp = results.get("interpreter", Unavailable("loaders", "the interpreter probe gave nothing", "bug"))
        return probe_other_loaders(interp[1] if isinstance(interp, tuple) else interp)

    alone = standalone_probes(options.python, options.fast_timeout, options.nvml_timeout)
    jobs: dict[str, Callable[[], Any]] = {name: standalone(name, *alone[name]) for name in ("interpreter",)}
    jobs |= {"loader": loader, "loaders": other_loaders}
    jobs |= {name: standalone(name, *alone[name]) for name in ("nvml", "host", "kernel", "env")}
    if options.quick:  # the loader's facts explain a failed `import torch`, which --quick does not attempt
        del jobs["loader"]
        results["loader"] = Unavailable("loader", "--quick does not import torch", "skipped")
    else:
        jobs["torch"] = lambda: torch_probe(options)
    slowest_other = max(options.fast_timeout, options.nvml_timeout)
    bound = options.timeout + torch_extra_seconds + slowest_other + options.guard_seconds
    timings = _run_jobs(jobs, results, bound, on_message)
    for name, seconds in took.items():  # a probe started early: how long it ran, not how long it was waited for
        if name in timings:
            timings[name] = ProbeTiming(name, round(seconds, 4), timings[name].ok)
    return _facts_of(results), tuple(timings[n] for n in jobs if n in timings)


def _run_jobs(
    jobs: dict[str, Callable[[], Any]], results: dict[str, Any], bound: float, on_message: OnMessage | None
) -> dict[str, ProbeTiming]:
    """Each job in a thread of its own (in turn, here, when no thread can start), all within ``bound`` seconds."""
    from torchdoctor.model import ProbeTiming

    timings: dict[str, ProbeTiming] = {}

    def run(name: str, job: Callable[[], Any]) -> None:
        started = time.monotonic()
        try:
            results[name] = job()
            ok = True
        except Exception as exc:  # a probe bug (or a limit of the doctor's own) must not take the doctor down
            code = limits.LIMIT if limits.is_limit(exc) else limits.BUG
            results[name] = Unavailable(name, f"the {name} probe failed: {type(exc).__name__}: {exc}", code)
            ok = False
        timings[name] = ProbeTiming(name, round(time.monotonic() - started, 4), ok)
        if on_message is not None:
            with contextlib.suppress(Exception):  # a display problem must not lose the result
                on_message({"probe_done": name})

    threads = [threading.Thread(target=run, args=item, daemon=True, name=f"probe-{item[0]}") for item in jobs.items()]
    for t, item in zip(threads, jobs.items(), strict=True):
        try:
            t.start()
        except RuntimeError:  # no thread left (ulimit -u): run it here, in turn; its children keep their timeouts
            run(*item)
    # Every child has its own timeout; this outer bound only guards against a probe bug.
    deadline = time.monotonic() + bound
    for t in threads:
        if t.ident is not None:
            t.join(max(0.0, deadline - time.monotonic()))
    for name in jobs:
        results.setdefault(name, Unavailable(name, f"the {name} probe did not finish", "timeout"))
    return timings


def _facts_of(results: dict[str, Any]) -> Facts:
    """The probes' results as one Facts."""
    from torchdoctor.model import Facts, LoaderFacts

    interp = results["interpreter"]
    python, packages = interp if isinstance(interp, tuple) else (interp, interp)
    torch: TorchState = results["torch"] if "torch" in results else Unavailable("torch", "--quick", "skipped")
    driver = results["nvml"]
    nvml, smi = driver if isinstance(driver, tuple) else (driver, driver)
    loader_facts = results["loader"]
    if isinstance(loader_facts, LoaderFacts):  # not run by --quick: its module is imported only when it ran
        from torchdoctor.probes.loader import with_lookups

        try:  # which copies define the symbol the import failed on: a few more files read, after the fact
            loader_facts = with_lookups(loader_facts, torch)
        except Exception as exc:  # a probe bug must not take the doctor down
            loader_facts = Unavailable("loader", f"the symbol lookup failed: {type(exc).__name__}: {exc}", "bug")
    return Facts(
        host=results["host"],
        python=python,
        packages=packages,
        nvml=nvml,
        kernel=results["kernel"],
        torch=torch,
        env=results["env"],
        smi=smi,
        loader=loader_facts,
        other_loaders=results["loaders"],
    )
