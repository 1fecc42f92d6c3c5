"""Cluster-wide findings: pure functions of what every rank reported and what the run measured."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

from torchdoctor.checks.base import Area, Check, DeclaredFn, Fire, Inputs, check, ev
from torchdoctor.distributed.model import ClusterFacts, RankFacts, StepResult
from torchdoctor.distributed.rank import pcie_gbs
from torchdoctor.model import Evidence, Severity, Source, StepStatus

DIST_CHECKS: dict[str, Check] = {}
SHM_MINIMUM = 1024**3
LEFTOVER_NCCL = (
    "NCCL_P2P_DISABLE",
    "NCCL_SHM_DISABLE",
    "NCCL_IB_DISABLE",
    "NCCL_P2P_LEVEL",
    "NCCL_ALGO",
    "NCCL_PROTO",
    "NCCL_NET_GDR_LEVEL",
    "NCCL_MAX_NCHANNELS",
    "NCCL_MIN_NCHANNELS",
    "NCCL_BUFFSIZE",
    "NCCL_NTHREADS",
    "NCCL_CROSS_NIC",
    "NCCL_LAUNCH_MODE",
    "NCCL_NVLS_ENABLE",
    "NCCL_COLLNET_ENABLE",
)
JOIN_STEPS = ("rendezvous", "init_process_group")
LOOPBACKISH = ("lo", "docker", "virbr", "veth", "br-", "cni", "flannel")
ENV = Source.ENV
RUN = Source.DIST
DIST = Source.TORCH  # facts each rank read from its torch


CLUSTER = Inputs({}, "cluster")
"""A `dist` check asks for ``cluster`` and gets the whole :class:`ClusterFacts`; each rank's facts are in it."""


def dist_check(code: str, slug: str, title: str, severity: Severity, why: str) -> Callable[[DeclaredFn], DeclaredFn]:
    return check(code, slug, title, severity, Area.DIST, why, DIST_CHECKS, CLUSTER)


def all_dist_checks() -> tuple[Check, ...]:
    return tuple(sorted(DIST_CHECKS.values(), key=lambda c: c.code))


def _env(rank: RankFacts) -> dict[str, str]:
    return dict(rank.env)


def _ranks(ranks: list[int] | tuple[int, ...]) -> str:
    """ "0-615, 624-1023": runs of consecutive ranks as ranges, so a thousand ranks stay one short line."""
    runs: list[list[int]] = []
    for r in sorted(set(ranks)):
        if runs and r == runs[-1][1] + 1:
            runs[-1][1] = r
        else:
            runs.append([r, r])
    return ", ".join(str(a) if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in runs)


@dist_check(
    "TD401",
    "dist-rank-missing",
    "ranks never joined the job",
    Severity.ERROR,
    "The job cannot start until every rank has joined; the ones missing never reached the rendezvous "
    "(not started, started with other MASTER_ADDR/MASTER_PORT/WORLD_SIZE, or blocked by a firewall).",
)
def rank_missing(cluster: ClusterFacts) -> Iterator[Fire]:
    # Joining fails either at our rendezvous or inside init_process_group (the backend's own rendezvous).
    step = next((s for s in cluster.steps if s.name in JOIN_STEPS and s.status == StepStatus.FAILED), None)
    if step is None or (step.name == "init_process_group" and "did not finish" not in step.error):
        return
    arrived = [f"{r.rank}@{r.host}" for r in cluster.ranks]
    if "already in use" in step.error or "EADDRINUSE" in step.error:
        yield Fire(
            (ev(ENV, "MASTER_PORT", str(cluster.launch.master_port)), ev(RUN, "what happened", step.error)),
            "Another process on rank 0's host holds MASTER_PORT (another job, or an earlier run still exiting). "
            "Pick a free port for every rank, or find the holder with the command below.",
            f"ss -ltnp 'sport = :{cluster.launch.master_port}'",
            title=f"MASTER_PORT {cluster.launch.master_port} is already in use on rank 0's host",
        )
        return
    if step.error.startswith("the ranks disagree on WORLD_SIZE"):
        yield Fire(
            (ev(RUN, "what happened", step.error), ev(RUN, "arrived", ", ".join(arrived) or "none")),
            "Start every rank with the same WORLD_SIZE (torchrun: the same --nnodes and --nproc-per-node on "
            "every node).",
            title="the ranks disagree on WORLD_SIZE",
        )
        return
    yield Fire(
        (
            ev(RUN, "missing rank(s)", _ranks(step.missing_ranks) or "unknown"),
            ev(RUN, "arrived", ", ".join(arrived) or "none"),
            ev(
                ENV,
                "rendezvous",
                f"{cluster.launch.master_addr}:{cluster.launch.master_port} via {cluster.launch.launcher}, "
                f"WORLD_SIZE={cluster.world_size}",
            ),
            ev(RUN, "what happened", step.error),
        ),
        "Start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE (torchrun --nnodes/--nproc-per-node "
        "must add up), make MASTER_PORT reachable from every node (firewall, security group), and check the "
        "missing ranks' logs: a rank that crashes before init_process_group looks the same.",
        # Port 0: the launcher picked one (torchrun --standalone) that no rank reported back; nothing to probe.
        f"nc -zv {cluster.launch.master_addr} {cluster.launch.master_port}" if cluster.launch.master_port else "",
        title=f"rank(s) {_ranks(step.missing_ranks)} never joined "
        f"({len(cluster.ranks)} of {cluster.world_size} arrived)",
    )


@dist_check(
    "TD402",
    "dist-collective-timeout",
    "a collective did not finish in time",
    Severity.ERROR,
    "A collective that never completes hangs training until NCCL's watchdog kills it (10 minutes by default). "
    "The side channel shows which ranks never entered it (stuck elsewhere, desynchronised) or never left it "
    "(transport problem: ACS/IOMMU on PCIe, wrong network interface, a firewall between nodes).",
)
def collective_timeout(cluster: ClusterFacts) -> Iterator[Fire]:
    if _died(cluster):
        return  # dist-rank-died says why
    for step in cluster.steps:
        if step.name in JOIN_STEPS or step.status != StepStatus.FAILED or "did not finish" not in step.error:
            continue
        hosts = sorted({r.host for r in cluster.ranks if r.rank in step.missing_ranks})
        yield Fire(
            (
                ev(RUN, "step", step.name),
                ev(RUN, "stuck rank(s)", _ranks(step.missing_ranks)),
                ev(RUN, "what happened", step.error),
                ev(ENV, "backend", cluster.backend),
            )
            + ((ev(Source.PLATFORM, "on host(s)", ", ".join(hosts)),) if hosts else ()),
            "Rerun with NCCL_DEBUG=INFO and TORCH_NCCL_TRACE_BUFFER_SIZE=2000 TORCH_NCCL_DUMP_ON_TIMEOUT=1 to see "
            "where it stops; on PCIe machines check ACS/IOMMU (`sudo lspci -vvv | grep ACSCtl`), and set "
            "NCCL_SOCKET_IFNAME/GLOO_SOCKET_IFNAME to the interface the nodes share.",
            title=f"{step.name} timed out: rank(s) {_ranks(step.missing_ranks)}",
        )


@dist_check(
    "TD403",
    "dist-collective-wrong",
    "a collective returned wrong data or failed",
    Severity.ERROR,
    "Each collective was run on known values (rank-dependent tensors whose exact result is known); a wrong "
    "result or an error means training would silently diverge or crash.",
)
def collective_wrong(cluster: ClusterFacts) -> Iterator[Fire]:
    if _died(cluster):
        return  # dist-rank-died says why
    for step in cluster.steps:
        if (
            step.name in ("rendezvous", "liveness", "terminated")
            or step.status != StepStatus.FAILED
            or "did not finish" in step.error
        ):
            continue
        evidence: tuple[Evidence, ...] = (ev(RUN, "step", step.name), ev(RUN, "result", step.error or "failed"))
        if step.wrong_ranks:
            evidence += (ev(RUN, "on rank(s)", _ranks(step.wrong_ranks)),)
        yield Fire(
            evidence,
            "Check the version findings first (torch/NCCL must match on every rank); then rerun "
            "with NCCL_DEBUG=INFO and TORCH_DISTRIBUTED_DEBUG=DETAIL.",
            title=f"{step.name} on {cluster.backend} failed or returned wrong data",
        )


NOT_COLLECTIVES = ("rendezvous", "liveness", "terminated")


def _died(cluster: ClusterFacts) -> StepResult | None:
    step = cluster.step("liveness")
    return step if step is not None and step.status == StepStatus.FAILED else None


@dist_check(
    "TD413",
    "dist-rank-died",
    "a rank died during the run",
    Severity.ERROR,
    "A rank that stops mid-run (killed by the OOM killer or a scheduler, crashed, or its node lost) takes "
    "every collective after it down with it: the other ranks see errors or hang. The side channel's heartbeat "
    "says which rank it was, so the other failures are not mistaken for wrong data.",
)
def rank_died(cluster: ClusterFacts) -> Iterator[Fire]:
    died = _died(cluster)
    if died is None:
        return
    failed_after = [
        s.name for s in cluster.steps if s.status == StepStatus.FAILED and s.name not in ("liveness", "terminated")
    ]
    hosts = sorted({r.host for r in cluster.ranks if r.rank in died.missing_ranks})
    evidence: tuple[Evidence, ...] = (
        ev(RUN, "dead rank(s)", _ranks(died.missing_ranks)),
        ev(RUN, "what happened", died.error),
    )
    if failed_after:
        evidence += (ev(RUN, "failed because of it", ", ".join(failed_after)),)
    if hosts:
        evidence += (ev(Source.PLATFORM, "on host(s)", ", ".join(hosts)),)
    yield Fire(
        evidence,
        "Look at the dead rank's own log and at the kernel log on its host (`sudo dmesg | grep -iE "
        "'killed process|out of memory|Xid'`): the OOM killer, a GPU fault or the scheduler ends ranks "
        "without a word.",
        title=f"rank(s) {_ranks(died.missing_ranks)} died during the run",
    )


@dist_check(
    "TD414",
    "dist-run-terminated",
    "the launcher stopped the run before it finished",
    Severity.ERROR,
    "torchrun (or a scheduler) sent SIGTERM before every step ran: a run cut short proves nothing about the "
    "steps it did not reach. torchrun does this when another rank fails.",
)
def run_terminated(cluster: ClusterFacts) -> Iterator[Fire]:
    step = cluster.step("terminated")
    if step is None or _died(cluster):
        return  # no SIGTERM, or dist-rank-died names the cause
    yield Fire(
        (ev(RUN, "what happened", step.error),),
        "Look at the other ranks' and the launcher's logs for the rank that failed first, then run again.",
    )


def _differs(cluster: ClusterFacts, field: str) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = defaultdict(list)
    for r in cluster.ranks:
        seen[str(getattr(r, field))].append(r.rank)
    return dict(seen) if len(seen) > 1 else {}


@dist_check(
    "TD404",
    "dist-version-mismatch",
    "ranks run different torch / CUDA / NCCL / driver versions",
    Severity.ERROR,
    "Every rank must run the same torch, CUDA and NCCL (and nodes should share a driver): a mismatch hangs or "
    "corrupts collectives in ways that are hard to trace back.",
)
def version_mismatch(cluster: ClusterFacts) -> Iterator[Fire]:
    for field, label in (
        ("torch", "torch"),
        ("cuda", "CUDA"),
        ("nccl", "NCCL"),
        ("driver", "NVIDIA driver"),
        ("python", "Python"),
    ):
        groups = _differs(cluster, field)
        if not groups:
            continue
        yield Fire(
            tuple(
                ev(DIST, f"{label} {value or '(none)'}", f"rank(s) {_ranks(ranks)}") for value, ranks in groups.items()
            ),
            "Run every node from the same image or environment; compare `torchdoctor check -f json` across nodes.",
            title=f"{label} differs across ranks",
            severity=Severity.WARNING if field in ("driver", "python") else None,
        )


@dist_check(
    "TD405",
    "dist-gpu-count-mismatch",
    "nodes see different numbers of GPUs",
    Severity.WARNING,
    "torchrun accepts nodes with different local world sizes, so a node with a missing GPU (fallen off the bus, "
    "a CUDA_VISIBLE_DEVICES typo) does not fail fast; code that assumes `rank // gpus_per_node` breaks.",
)
def gpu_count_mismatch(cluster: ClusterFacts) -> Iterator[Fire]:
    per_host: dict[str, int] = {}
    for r in cluster.ranks:
        per_host[r.host] = r.cuda_device_count
    if len(set(per_host.values())) > 1:
        yield Fire(
            tuple(ev(DIST, host, f"{n} CUDA device(s)") for host, n in sorted(per_host.items())),
            "Find the node with fewer GPUs (nvidia-smi -L, dmesg for Xid 79) or fix its CUDA_VISIBLE_DEVICES.",
        )


@dist_check(
    "TD406",
    "dist-duplicate-gpu",
    "two ranks share one GPU",
    Severity.ERROR,
    "NCCL refuses two ranks on one GPU ('Duplicate GPU detected'), and gloo runs them slowly on the same memory: "
    "usually set_device(LOCAL_RANK) is missing, or more processes than GPUs were started.",
)
def duplicate_gpu(cluster: ClusterFacts) -> Iterator[Fire]:
    owners: dict[str, list[int]] = defaultdict(list)
    for r in cluster.ranks:
        key = r.gpu_uuid or (f"{r.host}/{r.gpu_bus_id}" if r.gpu_bus_id else "")
        if key:
            owners[key].append(r.rank)
    for gpu, ranks in owners.items():
        if len(ranks) > 1:
            yield Fire(
                (ev(DIST, "GPU", gpu), ev(DIST, "used by ranks", _ranks(ranks))),
                "Call torch.cuda.set_device(int(os.environ['LOCAL_RANK'])) before init_process_group, and start "
                "at most one process per GPU (--nproc-per-node <= visible GPUs).",
                title=f"ranks {_ranks(ranks)} share one GPU",
            )


@dist_check(
    "TD407",
    "dist-low-bandwidth",
    "collective bandwidth is far below what the links give",
    Severity.WARNING,
    "NCCL should move data at least as fast as gloo over TCP, and close to the device-to-device copy rate within "
    "a node; far less points at P2P disabled (ACS/IOMMU, NCCL_P2P_DISABLE), traffic through the CPU, or the wrong "
    "network interface.",
)
def low_bandwidth(cluster: ClusterFacts) -> Iterator[Fire]:
    if cluster.backend != "nccl" or not cluster.bandwidth:
        return
    best = max(cluster.bandwidth, key=lambda s: s.bytes)
    if cluster.control_bandwidth:
        control = max(cluster.control_bandwidth, key=lambda s: s.bytes)
        if best.busbw_gbs < control.busbw_gbs:
            yield Fire(
                (
                    ev(RUN, f"nccl busbw at {best.bytes // 1024**2} MiB", f"{best.busbw_gbs:.2f} GB/s"),
                    ev(RUN, f"gloo busbw at {control.bytes // 1024**2} MiB", f"{control.busbw_gbs:.2f} GB/s"),
                ),
                "Rerun with NCCL_DEBUG=INFO and look at the transport lines (P2P/IPC, SHM, NET/IB, NET/Socket); "
                "remove leftover NCCL_* switches and check ACS.",
                title="NCCL is slower than gloo",
            )
            return
    copies = [v for p in cluster.peer for row in p.copy_gbs for v in row if v > 0]
    if len(cluster.hosts) == 1 and copies:
        reference = sorted(copies)[len(copies) // 2]
        if best.busbw_gbs < 0.5 * reference:
            yield Fire(
                (
                    ev(RUN, f"all_reduce busbw at {best.bytes // 1024**2} MiB", f"{best.busbw_gbs:.1f} GB/s"),
                    ev(RUN, "median device-to-device copy", f"{reference:.1f} GB/s"),
                ),
                "Within one node all_reduce busbw should reach most of the copy bandwidth: check "
                "NCCL_P2P_DISABLE/NCCL_P2P_LEVEL, ACS/IOMMU, and `nvidia-smi topo -m`.",
                "nvidia-smi topo -m",
            )
            return
    links = [(r.pcie, pcie_gbs(r.pcie)) for r in cluster.ranks if pcie_gbs(r.pcie) > 0]
    if len(cluster.hosts) == 1 and links:
        pcie, rate = min(links, key=lambda x: x[1])
        if best.busbw_gbs < 0.5 * rate:
            yield Fire(
                (
                    ev(RUN, f"all_reduce busbw at {best.bytes // 1024**2} MiB", f"{best.busbw_gbs:.1f} GB/s"),
                    ev(Source.NVML, "slowest GPU link", f"PCIe {pcie} = {rate:.1f} GB/s per direction"),
                ),
                "Even GPUs that talk only through the PCIe link should reach about three quarters of its rate; less "
                "than half points at P2P disabled or traffic bouncing through the CPU: check ACS/IOMMU, "
                "NCCL_P2P_DISABLE and `nvidia-smi topo -m`.",
                "nvidia-smi topo -m",
            )


@dist_check(
    "TD408",
    "dist-nccl-env",
    "leftover NCCL debug switches",
    Severity.WARNING,
    "NCCL's tuning and debugging variables (NCCL_P2P_DISABLE, NCCL_IB_DISABLE, NCCL_ALGO, ...) 'should not be "
    "used in production nor retained in scripts': left set they silently force slow paths or cause hangs.",
)
def nccl_env(cluster: ClusterFacts) -> Iterator[Fire]:
    found: dict[str, set[str]] = defaultdict(set)
    for r in cluster.ranks:
        env = _env(r)
        for name in LEFTOVER_NCCL:
            if name in env:
                found[f"{name}={env[name]}"].add(r.host)
        for line in r.nccl_conf:
            if any(name in line for name in LEFTOVER_NCCL):
                found[line].add(r.host)
    if found:
        names = sorted({k.split("=")[0].split(": ")[-1] for k in found})
        yield Fire(
            tuple(ev(ENV, setting, ", ".join(sorted(hosts))) for setting, hosts in sorted(found.items())),
            "Unset them unless you know this machine needs them (NCCL_P2P_DISABLE=1 is the documented "
            "workaround for ACS hangs: fix ACS instead); check /etc/nccl.conf and NCCL_CONF_FILE too.",
            "unset " + " ".join(n for n in names if n.startswith("NCCL_")),
        )


@dist_check(
    "TD409",
    "dist-nccl-unavailable",
    "NCCL is not available",
    Severity.ERROR,
    "NCCL is the backend for CUDA tensors; builds for Windows and macOS, CPU builds and some source builds have "
    "none ('Distributed package doesn't have NCCL built in').",
)
def nccl_unavailable(cluster: ClusterFacts) -> Iterator[Fire]:
    without = [r for r in cluster.ranks if not r.nccl_available]
    gpus = [r for r in cluster.ranks if r.device.startswith("cuda")]
    if not without or not (gpus or cluster.backend == "nccl"):
        return
    yield Fire(
        (
            ev(DIST, "no NCCL on rank(s)", _ranks([r.rank for r in without])),
            ev(DIST, "platform / torch", f"{without[0].platform} / {without[0].torch}"),
            ev(ENV, "backend used", cluster.backend),
        ),
        "Use backend='gloo' on this platform (Windows, macOS), or a Linux CUDA build of torch (WSL 2 on Windows).",
        severity=Severity.ERROR if cluster.backend == "nccl" else Severity.WARNING,
    )


@dist_check(
    "TD410",
    "dist-mig-nccl",
    "NCCL over MIG instances",
    Severity.WARNING,
    "MIG slices have no CUDA P2P, NVLink or IPC between them and NCCL's topology assumes one GPU per PCI device: "
    "NCCL across MIG instances errors or hangs; it is not supported.",
)
def mig_nccl(cluster: ClusterFacts) -> Iterator[Fire]:
    mig = [r for r in cluster.ranks if r.mig]
    if mig:
        yield Fire(
            (ev(Source.NVML, "MIG on rank(s)", _ranks([r.rank for r in mig])), ev(ENV, "backend", cluster.backend)),
            "Use one process per MIG instance without collectives between them, gloo for functional tests, or "
            "disable MIG (nvidia-smi -mig 0) for multi-GPU training.",
            severity=Severity.ERROR if cluster.backend == "nccl" else None,
        )


def _names(spec: str) -> list[tuple[str, bool]]:
    """NCCL_SOCKET_IFNAME syntax: comma list of prefixes, '^' excludes, '=' means exact."""
    out = []
    for item in spec.lstrip("^").split(","):
        item = item.strip()
        if item:
            out.append((item.lstrip("="), item.startswith("=") or spec.startswith("=")))
    return out


@dist_check(
    "TD411",
    "dist-socket-ifname",
    "the socket interface cannot reach other nodes",
    Severity.WARNING,
    "gloo and NCCL's bootstrap pick a network interface; one that names no interface fails ('Unable to find "
    "address'), and a node with only loopback/docker interfaces cannot talk to other nodes.",
)
def socket_ifname(cluster: ClusterFacts) -> Iterator[Fire]:
    for r in cluster.ranks:
        names = [i.name for i in r.interfaces]
        env = _env(r)
        for var in ("GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME"):
            spec = env.get(var)
            if not spec or spec.startswith("^") or not names:
                continue
            bad = [n for n, exact in _names(spec) if not any(x == n or (not exact and x.startswith(n)) for x in names)]
            if var == "GLOO_SOCKET_IFNAME":
                bad = [n for n in spec.split(",") if n.strip() and n.strip() not in names]
            if bad:
                yield Fire(
                    (ev(ENV, var, spec), ev(Source.PLATFORM, f"interfaces on {r.host}", ", ".join(names))),
                    f"Set {var} to an interface that exists on every node (gloo needs exact names; NCCL takes "
                    "prefixes).",
                    f"export {var}={next((n for n in names if not n.startswith(LOOPBACKISH)), 'eth0')}",
                    title=f"{var}={spec} names no interface on {r.host}",
                )
        if len(cluster.hosts) > 1 and names and all(n.startswith(LOOPBACKISH) for n in names):
            yield Fire(
                (ev(Source.PLATFORM, f"interfaces on {r.host}", ", ".join(names)),),
                "This node has only loopback/bridge interfaces: run the container with host networking or give "
                "it a routable interface.",
                title=f"{r.host} has no routable interface",
            )


@dist_check(
    "TD412",
    "dist-shm-small",
    "/dev/shm is small for NCCL and DataLoader",
    Severity.WARNING,
    "NCCL's shared-memory transport and DataLoader workers live in /dev/shm; Docker's 64 MB default gives "
    "'failed to extend /dev/shm' warnings, crashes or a fall back to slower paths.",
)
def shm_small(cluster: ClusterFacts) -> Iterator[Fire]:
    small = {r.host: r.shm_bytes for r in cluster.ranks if 0 < r.shm_bytes < SHM_MINIMUM}
    if small:
        yield Fire(
            tuple(
                ev(Source.PLATFORM, f"/dev/shm on {host}", f"{size / 1024**2:.0f} MiB")
                for host, size in sorted(small.items())
            ),
            "Give containers more shared memory (--shm-size=8g or --ipc=host; Kubernetes: an emptyDir with "
            "medium: Memory on /dev/shm).",
            "docker run --shm-size=8g --ulimit memlock=-1 ...",
        )
