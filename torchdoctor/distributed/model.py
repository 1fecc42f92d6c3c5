"""What each rank reports, and what the cluster run measured."""

from __future__ import annotations

from dataclasses import dataclass, field

from torchdoctor.model import CheckOutcome, Finding, StepStatus, ToolInfo


@dataclass(frozen=True)
class Launch:
    """How this process was started and where its rank comes from."""

    launcher: str
    """torchrun, slurm, static (RANK/WORLD_SIZE set by hand) or single (world of one)."""
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    master_addr: str
    master_port: int
    agent_store: bool
    """torchrun's agent hosts the TCPStore (workers are its clients)."""


@dataclass(frozen=True)
class Interface:
    name: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class RankFacts:
    rank: int
    local_rank: int
    host: str
    pid: int
    python: str
    torch: str
    cuda: str
    """torch.version.cuda ("" for a CPU build)."""
    nccl: str
    """The NCCL linked into torch, or ""."""
    nccl_available: bool
    gloo_available: bool
    driver: str
    cuda_device_count: int
    device: str
    """The device this rank uses: cuda:N after set_device(LOCAL_RANK), or cpu."""
    gpu_name: str
    gpu_uuid: str
    gpu_bus_id: str
    mig: bool
    pcie: str
    """The GPU's maximum PCIe link from NVML ("gen4 x16"), or ""."""
    cuda_visible_devices: str
    """"<unset>" when not set."""
    env: tuple[tuple[str, str], ...]
    """NCCL_* / GLOO_* / TORCH_NCCL_* / TORCH_DISTRIBUTED_* / MASTER_* variables whose values the doctor records: known
    variables whose values fit their grammar (``rules.envvars``); the others are in ``env_withheld``."""
    nccl_conf: tuple[str, ...]
    """"PATH: KEY=VALUE" settings of /etc/nccl.conf or NCCL_CONF_FILE, known NCCL variables only (no other line)."""
    interfaces: tuple[Interface, ...]
    shm_bytes: int
    """-1 when unknown."""
    platform: str
    world_size: int = 0
    """The WORLD_SIZE this rank was started with (0: not recorded)."""
    env_withheld: tuple[str, ...] = ()
    """Names of such variables that are set but whose values are not recorded (unknown, or not fitting the grammar)."""


@dataclass(frozen=True)
class StepResult:
    name: str
    status: StepStatus
    seconds: float
    error: str = ""
    missing_ranks: tuple[int, ...] = ()
    """Ranks that did not arrive (rendezvous) or did not enter/finish (a collective)."""
    wrong_ranks: tuple[int, ...] = ()
    """Ranks whose result was not the known value."""


@dataclass(frozen=True)
class BandwidthSample:
    bytes: int
    seconds: float
    algbw_gbs: float
    busbw_gbs: float


@dataclass(frozen=True)
class PeerAccess:
    host: str
    devices: tuple[str, ...]
    matrix: tuple[tuple[bool, ...], ...]
    copy_gbs: tuple[tuple[float, ...], ...]
    """Device-to-device copy bandwidth (decimal GB/s), -1 on the diagonal."""


@dataclass(frozen=True)
class ClusterFacts:
    launch: Launch
    backend: str
    world_size: int
    ranks: tuple[RankFacts, ...]
    """The ranks that reported, ordered by rank."""
    steps: tuple[StepResult, ...]
    bandwidth: tuple[BandwidthSample, ...] = ()
    control_bandwidth: tuple[BandwidthSample, ...] = ()
    """gloo control run beside an nccl run."""
    peer: tuple[PeerAccess, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted({r.host for r in self.ranks}))


@dataclass(frozen=True)
class DistReport:
    schema_version: int
    tool: ToolInfo
    created: str
    cluster: ClusterFacts
    checks: tuple[CheckOutcome, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for c in self.checks for f in c.findings)
