"""Where this rank comes from (torchrun, Slurm, static variables) and what it knows about its node.

Runs inside every rank, in the user's interpreter, beside torch.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchdoctor.distributed.model import Interface, Launch, RankFacts
from torchdoctor.redact import env_value

DIST_ENV = re.compile(r"^(NCCL_|GLOO_|TORCH_NCCL_|TORCH_DISTRIBUTED_|TORCH_GLOO_|MASTER_|CUDA_VISIBLE_DEVICES$)")


class LaunchError(Exception):
    """The environment does not say which rank this is; the message says what is missing."""


def first_host(nodelist: str) -> str:
    """The first host of a Slurm hostlist: "gpu[07-09,12],cpu01" -> "gpu07"."""
    head = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not head:
        return nodelist
    prefix, ranges = head.group(1), head.group(2)
    if not ranges:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0]


def number(environ: Mapping[str, str], key: str, default: int | None = None, least: int = 0) -> int:
    """An integer launcher variable; anything else is a LaunchError naming the variable."""
    text = environ.get(key)
    if text is None or not text.strip():
        if default is None:
            raise LaunchError(f"{key} is not set")
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise LaunchError(f"{key}={text!r} is not a whole number") from None
    if value < least:
        raise LaunchError(f"{key}={text!r} must be at least {least}")
    return value


def resolve(environ: Mapping[str, str]) -> Launch:
    """The rank, world and rendezvous address from the launcher's variables."""
    if "RANK" in environ and "WORLD_SIZE" in environ:
        launcher = "torchrun" if environ.get("TORCHELASTIC_RUN_ID") else "static"
        rank, world = number(environ, "RANK"), number(environ, "WORLD_SIZE", least=1)
        if rank >= world:
            raise LaunchError(f"RANK={rank} is not below WORLD_SIZE={world}")
        local = number(environ, "LOCAL_RANK", rank)
        local_world = number(environ, "LOCAL_WORLD_SIZE", world, least=1)
        addr = environ.get("MASTER_ADDR", "")
        port_text = environ.get("MASTER_PORT", "")
        if not addr or not port_text.isdigit():
            raise LaunchError("RANK and WORLD_SIZE are set but MASTER_ADDR/MASTER_PORT are not")
        agent = environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
        return Launch(launcher, rank, local, world, local_world, addr, int(port_text), agent)
    if "SLURM_PROCID" in environ and "SLURM_NTASKS" in environ:
        rank, world = number(environ, "SLURM_PROCID"), number(environ, "SLURM_NTASKS", least=1)
        local = number(environ, "SLURM_LOCALID", 0)
        per_node = environ.get("SLURM_NTASKS_PER_NODE", "").split("(")[0]
        local_world = int(per_node) if per_node.isdigit() else world
        addr = environ.get("MASTER_ADDR") or first_host(
            environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST") or ""
        )
        if not addr:
            raise LaunchError("under Slurm without MASTER_ADDR or SLURM_JOB_NODELIST")
        job = environ.get("SLURM_JOB_ID", "0")
        slurm_port = int(job[-4:]) + 15000 if job[-4:].isdigit() else 29500  # Lightning's convention
        return Launch("slurm", rank, local, world, local_world, addr, number(environ, "MASTER_PORT", slurm_port), False)
    raise LaunchError("no RANK/WORLD_SIZE (torchrun) or SLURM_PROCID/SLURM_NTASKS (srun) in the environment")


def single(port: int) -> Launch:
    return Launch("single", 0, 0, 1, 1, "127.0.0.1", port, False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def interfaces() -> tuple[Interface, ...]:
    try:
        import psutil

        addrs = psutil.net_if_addrs()
        return tuple(
            Interface(name, tuple(a.address for a in entries if a.family in (socket.AF_INET, socket.AF_INET6)))
            for name, entries in sorted(addrs.items())
        )
    except Exception:  # psutil missing or the platform refuses: names are still useful
        try:
            return tuple(Interface(name, ()) for _, name in socket.if_nameindex())
        except OSError:
            return ()


NCCL_CONF_LINE = re.compile(r"\s*(NCCL_[A-Z0-9_]+)\s*=\s*(.*?)\s*")
MAX_NCCL_CONF = 1 << 16
"""An nccl.conf is a few lines; more than this is not one."""


def nccl_conf(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The KEY=VALUE lines of /etc/nccl.conf and NCCL_CONF_FILE that set a known NCCL variable to a value of its
    grammar, as "PATH: KEY=VALUE". No other line is copied: the file may be anything (a .netrc)."""
    from torchdoctor.files import FileProblem, read_text

    lines: list[str] = []
    for path in filter(None, ["/etc/nccl.conf", environ.get("NCCL_CONF_FILE")]):
        try:
            text = read_text(Path(path), MAX_NCCL_CONF)
        except FileProblem:
            continue
        for line in text.splitlines():
            setting = NCCL_CONF_LINE.fullmatch(line)
            if setting and env_value(setting.group(1), setting.group(2)) is not None:
                lines.append(f"{path}: {setting.group(1)}={setting.group(2)}")
    return tuple(lines)


def dist_env(environ: Mapping[str, str]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(recorded, withheld): the distributed variables with values the doctor records, and the names of the rest."""
    recorded, withheld = [], []
    for name, value in sorted(environ.items()):
        if DIST_ENV.match(name):
            known = env_value(name, value)
            if known is None:
                withheld.append(name)
            else:
                recorded.append((name, known))
    return tuple(recorded), tuple(withheld)


def shm_bytes() -> int:
    try:
        st = os.statvfs("/dev/shm")
    except (OSError, AttributeError):
        return -1
    return st.f_frsize * st.f_blocks


def _pcie(link: tuple[int, int] | None) -> str:
    return f"gen{link[0]} x{link[1]}" if link else ""


def pcie_gbs(pcie: str) -> float:
    """ "gen4 x16" -> its per-direction bandwidth in GB/s (0 when unknown)."""
    try:
        gen, width = pcie.split()
        return PCIE_LANE_GBS[int(gen[3:])] * int(width[1:])
    except (ValueError, KeyError, IndexError):
        return 0.0


def _bus_id(props: Any) -> str:
    domain, bus, device = (getattr(props, f"pci_{k}_id", None) for k in ("domain", "bus", "device"))
    if bus is None or device is None:
        return ""
    return f"{int(domain or 0):08x}:{int(bus):02x}:{int(device):02x}.0"


# Per-direction bandwidth of one PCIe lane, GB/s (after encoding), by generation.
PCIE_LANE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}


@dataclass(frozen=True)
class NodeView:
    """NVML's view of this node: driver, GPUs in MIG mode, each GPU's maximum PCIe link (by bus id)."""

    driver: str = ""
    mig: set[str] = field(default_factory=set)
    links: dict[str, tuple[int, int]] = field(default_factory=dict)


def gather(torch: Any, launch: Launch, view: NodeView, environ: Mapping[str, str]) -> RankFacts:
    """This rank's facts; call after torch.cuda.set_device(local_rank) when CUDA is used."""
    import platform
    import sys

    dist = torch.distributed
    cuda_count = int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    device, name, uuid, bus = "cpu", "", "", ""
    if cuda_count > launch.local_rank:
        index = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        device, name = f"cuda:{index}", props.name
        uuid = str(getattr(props, "uuid", "") or "")
        if uuid and not uuid.startswith(("GPU-", "MIG-")):
            uuid = f"GPU-{uuid}"
        bus = _bus_id(props)
    nccl = ""
    if torch.version.cuda:
        try:
            nccl = ".".join(str(p) for p in torch.cuda.nccl.version())
        except Exception:
            nccl = ""
    env, withheld = dist_env(environ)
    return RankFacts(
        rank=launch.rank,
        local_rank=launch.local_rank,
        host=socket.gethostname(),
        pid=os.getpid(),
        python=platform.python_version(),
        torch=str(torch.__version__),
        cuda=torch.version.cuda or "",
        nccl=nccl,
        nccl_available=bool(dist.is_available() and dist.is_nccl_available()),
        gloo_available=bool(dist.is_available() and dist.is_gloo_available()),
        driver=view.driver,
        cuda_device_count=cuda_count,
        device=device,
        gpu_name=name,
        gpu_uuid=uuid,
        gpu_bus_id=bus,
        mig=bool(bus and norm_bus(bus) in view.mig),
        pcie=_pcie(view.links.get(norm_bus(bus)) if bus else None),
        cuda_visible_devices=_visible(environ),
        env=env,
        nccl_conf=nccl_conf(environ),
        interfaces=interfaces(),
        shm_bytes=shm_bytes(),
        platform=sys.platform,
        world_size=launch.world_size,
        env_withheld=withheld,
    )


def _visible(environ: Mapping[str, str]) -> str:
    raw = environ.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return "<unset>"
    known = env_value("CUDA_VISIBLE_DEVICES", raw)
    return "<withheld>" if known is None else known


def norm_bus(bus_id: str) -> str:
    """ "00000000:17:00.0", "0000:17:00.0" -> "17:00.0": the part every tool agrees on."""
    return bus_id.strip().lower()[-7:] if bus_id else ""
