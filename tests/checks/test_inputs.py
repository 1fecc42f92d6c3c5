"""A check states its inputs once, as parameters: each is resolved from the facts by its name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import pytest

from tests import factories as f
from torchdoctor.bench.checks import all_bench_checks
from torchdoctor.checks import all_checks
from torchdoctor.checks.base import REQUIREMENTS, Area, Check, Fire, check, ev, run_checks
from torchdoctor.distributed.checks import CLUSTER, all_dist_checks
from torchdoctor.model import (
    CheckStatus,
    Facts,
    GPUFacts,
    HostFacts,
    KernelFacts,
    Severity,
    Source,
    TorchNotInstalled,
    TorchRuntime,
    Unavailable,
)

NO_TORCH = TorchNotInstalled("/usr/bin/python3", "no module named torch")
NO_PROC = Unavailable("kernel", "/proc/driver/nvidia is not readable", "unreadable")


def register(fn: Callable[..., Iterable[Fire]], registry: dict[str, Check] | None = None) -> Check:
    """``fn`` registered as check TD999 in a registry of its own; the Check the runner would run."""
    registry = {} if registry is None else registry
    check("TD999", "test-check", "a test check", Severity.WARNING, Area.DRIVER, "why", registry)(fn)
    return registry["TD999"]


def only(facts: Facts, chk: Check) -> tuple[CheckStatus, str, tuple[str, ...]]:
    (outcome,) = run_checks(facts, [chk])
    return outcome.status, outcome.reason, tuple(e.value for fnd in outcome.findings for e in fnd.evidence)


def module_version(kernel: KernelFacts, facts: Facts) -> Iterator[Fire]:
    same = facts.kernel is kernel
    yield Fire((ev(Source.PROCFS, "module", kernel.module_version), ev(Source.PROCFS, "same", same)), "")


def test_a_parameter_gets_the_fact_it_names_and_facts_gets_all_of_them() -> None:
    chk = register(module_version)
    assert chk.requires == ("kernel",)
    assert only(f.facts(kernel=f.kernel(module_version="570.86.10")), chk) == (
        CheckStatus.FIRED,
        "",
        ("570.86.10", "True"),
    )


def test_a_check_asking_for_an_unavailable_fact_is_skipped_with_its_reason() -> None:
    chk = register(module_version)
    assert only(f.facts(kernel=NO_PROC), chk) == (
        CheckStatus.SKIPPED,
        "needs kernel facts: /proc/driver/nvidia is not readable",
        (),
    )


def test_the_first_unavailable_parameter_in_order_names_the_skip() -> None:
    def both(torch_runtime: TorchRuntime, host: HostFacts) -> Iterator[Fire]:
        yield Fire((), f"{torch_runtime.version} on {host.system}")

    chk = register(both)
    no_host = Unavailable("platform", "uname failed", "error")
    assert chk.requires == ("torch_runtime", "host")
    assert only(f.facts(host=no_host), chk)[:2] == (CheckStatus.SKIPPED, "needs host facts: uname failed")
    assert only(f.facts(host=no_host, torch=NO_TORCH), chk)[:2] == (
        CheckStatus.SKIPPED,
        "needs torch's runtime facts: torch did not import, so its runtime view is unknown",
    )


def test_nvml_gpus_is_the_gpu_list_and_skips_when_nvml_could_not_count_them() -> None:
    def names(nvml_gpus: tuple[GPUFacts, ...]) -> Iterator[Fire]:
        yield Fire((ev(Source.NVML, "GPUs", ", ".join(str(g.name) for g in nvml_gpus)),), "")

    chk = register(names)
    two = f.nvml(f.gpu(0, name="NVIDIA A100"), f.gpu(1, name="NVIDIA H100"))
    assert only(f.facts(nvml=two), chk) == (CheckStatus.FIRED, "", ("NVIDIA A100, NVIDIA H100",))
    uncounted = replace(two, gpu_count=Unavailable("NVML", "nvmlDeviceGetCount: Unknown Error", "Unknown"))
    assert only(f.facts(nvml=uncounted), chk)[:2] == (
        CheckStatus.SKIPPED,
        "needs NVML's GPU facts: NVML could not count the GPUs: nvmlDeviceGetCount: Unknown Error",
    )


def test_a_parameter_that_names_no_fact_is_rejected_when_the_check_is_registered() -> None:
    def typo(kernal: KernelFacts) -> Iterator[Fire]:
        yield from ()

    registry: dict[str, Check] = {}
    with pytest.raises(TypeError, match=r"check TD999 \(typo\): parameter 'kernal' names no fact; use one of: host,"):
        register(typo, registry)
    assert registry == {}


def test_a_star_parameter_is_rejected_when_the_check_is_registered() -> None:
    def anything(*facts: Facts) -> Iterator[Fire]:
        yield from ()

    with pytest.raises(TypeError, match=r"\*facts cannot name a fact"):
        register(anything)


def test_dist_checks_ask_for_the_cluster_and_nothing_else() -> None:
    def per_rank(ranks: tuple[int, ...]) -> Iterator[Fire]:
        yield from ()

    registry: dict[str, Check] = {}
    with pytest.raises(TypeError, match="parameter 'ranks' names no fact; use one of: cluster"):
        check("TD999", "x", "x", Severity.INFO, Area.DIST, "why", registry, CLUSTER)(per_rank)
    assert all(c.requires == () and c.inputs is CLUSTER for c in all_dist_checks())


def test_every_shipped_check_asks_only_for_known_facts() -> None:
    for chk in (*all_checks(), *all_bench_checks()):
        assert set(chk.requires) <= set(REQUIREMENTS), chk.code
    assert all(c.requires == ("bench",) for c in all_bench_checks())
