"""Findings that judge the installed versions against the compat tables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from packaging.version import InvalidVersion, Version

from torchdoctor.checks.base import Area, Fire, Skip, TorchSeen, check, ev
from torchdoctor.checks.fixes import install_torch_fix
from torchdoctor.compat.machine import machine_from_facts, torch_cuda
from torchdoctor.compat.recommend import (
    Gpu,
    arch_problem,
    cuda_driver_problem,
    gpu_driver_need_problem,
    release_problems,
)
from torchdoctor.compat.tables import (
    Tables,
    cc_int,
    cc_str,
    load_tables,
)
from torchdoctor.derived import CAPABILITY, odd_capability, torch_version
from torchdoctor.model import (
    Facts,
    HostFacts,
    NvmlFacts,
    PackagesFacts,
    PythonFacts,
    Severity,
    Source,
    TorchImportFailure,
    TorchRuntime,
    Unavailable,
)
from torchdoctor.nvidia import driver_version_seen, gpus_seen
from torchdoctor.rules import numpyabi
from torchdoctor.rules.index import index_option, pip
from torchdoctor.rules.shell import quote
from torchdoctor.rules.versions import (
    at_least,
    base_version,
    cuda_series,
    cuda_variant,
    local_tag,
    older,
    release,
    series,
)


def _known_release(tables: Tables, version: str) -> bool:
    return tables.release(version) is not None


@check(
    "TD101",
    "driver-too-old",
    "the NVIDIA driver is too old for this torch",
    Severity.ERROR,
    Area.COMPAT,
    "A torch wheel bundles its CUDA runtime; the driver must support that CUDA version (the same major, via "
    "minor-version compatibility) or CUDA fails with 'The NVIDIA driver on your system is too old'.",
)
def driver_too_old(facts: Facts) -> Iterator[Fire]:
    cuda = torch_cuda(facts)
    gpus = gpus_seen(facts)
    if not cuda and not gpus:
        return
    seen = driver_version_seen(facts)
    if seen is None:
        nvml = facts.nvml
        raise Skip(f"needs the driver's version: {nvml.reason if isinstance(nvml, Unavailable) else 'unknown'}")
    tables = load_tables()
    by_label = {f"GPU {g.index} {g.name}": g for g in gpus if CAPABILITY.fullmatch(g.compute_capability)}
    machine = replace(
        machine_from_facts(facts),
        driver=seen.version,
        gpus=tuple(Gpu(cc_int(g.compute_capability), label) for label, g in by_label.items()),
    )
    # the same questions, in the same functions, as recommend's "does this build run here"
    too_old = gpu_driver_need_problem(tables, machine)
    if too_old is not None:  # a driver branch that does not know the chip: nothing runs, whatever torch
        gpu = by_label[too_old.gpus[0].label]
        yield Fire(
            (
                ev(gpu.source, "GPU", f"GPU {gpu.index} {gpu.name} (sm_{gpu.compute_capability.replace('.', '')})"),
                ev(seen.source, "driver", seen.version),
                ev(Source.COMPAT, *too_old.rule),
            ),
            f"This driver branch predates the {too_old.needed_by} architecture: update the NVIDIA driver to "
            f"{too_old.need} or newer (a current branch is better). No build of torch can help before that.",
            title=f"driver {seen.version} is too old for {gpu.name}",
        )
        return
    if not cuda:
        return
    problem = cuda_driver_problem(tables, cuda_variant(cuda), machine)
    if problem is None:
        return
    if problem.unknown:
        raise Skip(f"no driver requirement known for CUDA {cuda}")
    supports = ""
    if seen.source is Source.NVML and isinstance(facts.nvml, NvmlFacts):
        supports = f" (supports CUDA {facts.nvml.cuda_driver_version})"
    fix = install_torch_fix(facts, reinstall=True)
    yield Fire(
        (
            ev(Source.TORCH, "torch", f"{torch_version(facts)} (CUDA {cuda})"),
            ev(seen.source, "driver", f"{seen.version}{supports}"),
            ev(Source.COMPAT, *problem.rule),
        ),
        f"Update the NVIDIA driver to {problem.need} or newer, or use a torch this driver runs. {fix.text}",
        fix.command,
    )


def _gpu_ccs(facts: Facts) -> list[tuple[int, str]]:
    gpus = [(cc_int(g.compute_capability), f"GPU {g.index} ({g.name})") for g in gpus_seen(facts)]
    if not gpus and isinstance(facts.torch, TorchRuntime):
        gpus = [(cc_int(d.capability), f"GPU {d.index} ({d.name})") for d in facts.torch.devices]
    return gpus


@check(
    "TD102",
    "gpu-arch-unsupported",
    "this torch has no kernels for the GPU",
    Severity.ERROR,
    Area.COMPAT,
    "Each torch build carries machine code for a list of GPU architectures (plus, sometimes, PTX that newer "
    "GPUs can compile). A GPU outside the list fails at the first kernel with 'no kernel image is available "
    "for execution on the device', even though torch.cuda.is_available() is True.",
)
def gpu_arch_unsupported(facts: Facts) -> Iterator[Fire]:
    odd = odd_capability(facts)
    if odd:
        raise Skip(f"could not check: {odd}")
    gpus = _gpu_ccs(facts)
    if not gpus:
        return
    tables = load_tables()
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        if not torch.cuda:
            return
        sm = tuple(int(a[3:]) for a in torch.arch_list if a.startswith("sm_") and a[3:].isdigit())
        ptx = tuple(int(a[8:]) for a in torch.arch_list if a.startswith("compute_") and a[8:].isdigit())
        source, listed = Source.TORCH, " ".join(torch.arch_list)
        if not sm and not ptx:
            raise Skip("torch reported no architecture list")
        cuda = cuda_series(torch.cuda)
        covered = lambda cc: any(tables.sass_runs(c, cc, cuda) for c in sm) or any(cc >= p for p in ptx)  # noqa: E731
    else:  # no runtime view (import failed, or --quick): the wheel's +cuXYZ tag and the tables
        version = torch_version(facts)
        cuda = torch_cuda(facts)
        if not version and isinstance(torch, Unavailable):
            raise Skip(f"needs torch facts: {torch.reason}")
        if not version or not cuda:
            return
        problem = arch_problem(tables, version, cuda_variant(cuda), machine_from_facts(facts))
        if problem is not None and problem.unknown:
            raise Skip(f"the tables do not know the architectures of torch {version}")
        source, listed = Source.COMPAT, problem.rule[1] if problem else ""
        uncovered = {g.cc for g in problem.gpus} if problem else set()
        covered = lambda cc: cc not in uncovered  # noqa: E731
    missing = [(cc, label) for cc, label in gpus if not covered(cc)]
    if not missing:
        return
    fix = install_torch_fix(facts, reinstall=True)
    evidence = [ev(source, "torch is built for", listed)]
    evidence += [ev(Source.NVML, label, f"compute capability {cc_str(cc)} (sm_{cc})") for cc, label in missing]
    yield Fire(
        tuple(evidence),
        fix.text,
        fix.command,
        title=f"{_this_torch(facts)} has no kernels for " + ", ".join(lbl for _, lbl in missing),
    )


def _this_torch(facts: Facts) -> str:
    """``torch 2.5.1``, or ``this torch`` where its version could not be read."""
    version = torch_version(facts)
    return f"torch {version}" if version else "this torch"


@check(
    "TD103",
    "python-unsupported",
    "no torch wheel for this Python",
    Severity.ERROR,
    Area.COMPAT,
    "torch publishes wheels for a range of Python versions per release; outside it pip finds no torch "
    "('from versions: none') or an old one, and a torch forced in does not work.",
)
def python_unsupported(python: PythonFacts, facts: Facts) -> Iterator[Fire]:
    tables = load_tables()
    version = torch_version(facts)
    flavour = "free-threaded " if python.free_threaded else ""
    if version and _known_release(tables, version):
        release = tables.release(version)
        assert release is not None
        problems = release_problems(tables, release, machine_from_facts(facts), patch=version)
        problem = next((p for p in problems if p.kind == "python"), None)
        if problem is None:
            return
        fix = install_torch_fix(facts, reinstall=True)
        yield Fire(
            (ev(Source.PYTHON, "Python", f"{flavour}{python.version}"), ev(Source.COMPAT, *problem.rule)),
            fix.text,
            fix.command,
        )
        return
    if version:
        return  # unknown torch: torch-unknown-version speaks
    if any(r.supports_python(python.version, python.free_threaded) for r in tables.releases):
        return
    newest = tables.newest()
    yield Fire(
        (
            ev(Source.PYTHON, "Python", f"{flavour}{python.version}"),
            ev(Source.COMPAT, f"newest torch {newest.torch} supports", newest.python_range),
        ),
        f"Use a Python in torch's supported range (e.g. {newest.python_range}) in a new environment.",
        title=f"no torch release has wheels for {flavour}Python {python.version}",
    )


def _companion_problems(tables: Tables, facts: Facts, package: str, tv_version: str, torch_v: str) -> list[str]:
    problems = []
    row = tables.companion(package, tv_version)
    if row is not None and release(torch_v) not in row.torch:
        problems.append(f"{package} {tv_version} is built for torch {row.torch}")
    python = facts.python.version if isinstance(facts.python, PythonFacts) else ""
    if row is not None and not row.runs_on(python):
        problems.append(f"{package} {tv_version} does not support Python {python} (Requires-Python {row.python})")
    torch_tag, comp_tag = local_tag(torch_v), local_tag(tv_version)
    if torch_tag.startswith("cu") and comp_tag.startswith("cu") and torch_tag != comp_tag:
        same_major = torch_tag[:4] == comp_tag[:4]
        lenient = package == "torchaudio" and at_least(base_version(tv_version), "2.11.1")
        if not (same_major and lenient):
            problems.append(f"{package} is a {comp_tag} build, torch a {torch_tag} build")
    return problems


@check(
    "TD104",
    "companion-mismatch",
    "torchvision/torchaudio not built for this torch",
    Severity.ERROR,
    Area.COMPAT,
    "Before their stable-ABI releases torchvision and torchaudio link against exactly one torch release and "
    "CUDA: a mismatch fails with 'operator torchvision::nms does not exist' or an undefined symbol.",
)
def companion_mismatch(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    torch_v = torch_version(facts) or packages.version_of("torch")
    if not torch_v:
        return
    tables = load_tables()
    for package in ("torchvision", "torchaudio"):
        installed = packages.version_of(package)
        if not installed:
            continue
        problems = _companion_problems(tables, facts, package, installed, torch_v)
        if not problems:
            continue
        python = facts.python.version if isinstance(facts.python, PythonFacts) else ""
        right = tables.companion_for(package, torch_v, python)
        index = index_option(local_tag(torch_v))
        command = pip(facts, f"install {quote(f'{package}=={right.version}')}{index}") if right else ""
        fix = (
            f"Install the {package} made for torch {torch_v}: {right.version}, from the same index as torch."
            if right
            else f"Reinstall torch and {package} together, from the same index."
        )
        yield Fire(
            (
                ev(Source.METADATA, "torch", torch_v),
                ev(Source.METADATA, package, installed),
                *(ev(Source.COMPAT, "problem", p) for p in problems),
            ),
            fix,
            command,
            title=f"{package} {installed} does not match torch {torch_v}",
        )


@check(
    "TD105",
    "numpy-abi",
    "NumPy 2 with a torch built against NumPy 1",
    Severity.ERROR,
    Area.COMPAT,
    "Extensions compiled against NumPy 1.x cannot use NumPy 2's C API: torch prints 'A module that was "
    "compiled using NumPy 1.x cannot be run in NumPy 2.x' and tensor.numpy()/from_numpy fail.",
)
def numpy_abi(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    numpy = packages.version_of("numpy")
    torch = facts.torch
    warned = [w for w in getattr(torch, "warnings", ()) if _numpy2_under_numpy1_build(w)]
    if not numpy and not warned:  # torch's own warning is the fact where NumPy's version is not known
        return
    if isinstance(torch, TorchImportFailure) and torch.kind.value == "NumPy ABI":
        return  # torch-import-failed already names it
    tables = load_tables()
    version = torch_version(facts)
    evidence = [ev(Source.METADATA, "numpy", numpy or "installed, version not known")]
    try:
        old_torch = bool(version) and release(version) < Version(tables.numpy2_since)
        numpy2 = bool(numpy) and Version(numpy).major >= 2
    except InvalidVersion:
        if not warned:
            return
        old_torch = numpy2 = False
    if warned:
        evidence.append(ev(Source.TORCH, "torch warned", warned[0][:300]))
    elif old_torch and numpy2:
        evidence.append(
            ev(
                Source.COMPAT,
                f"torch {version}",
                f"built against NumPy 1 (NumPy 2 from torch {tables.numpy2_since})",
            )
        )
    else:
        return
    yield Fire(
        tuple(evidence),
        "Install NumPy 1, or upgrade torch (>= "
        + tables.numpy2_since
        + ") and any extension to builds made for NumPy 2.",
        pip(facts, 'install "numpy<2"'),
    )


def _numpy2_under_numpy1_build(warning: str) -> bool:
    found = numpyabi.mismatch(warning)
    return found is not None and found.side is numpyabi.Side.NEWER


@check(
    "TD106",
    "mps-macos-too-old",
    "macOS is too old for this torch's MPS",
    Severity.WARNING,
    Area.COMPAT,
    "Each torch release needs a minimum macOS for the MPS backend (12.3 up to 2.4, 13.0 from 2.5, 14.0 from "
    "2.10); below it torch.backends.mps.is_available() is False.",
)
def mps_macos_too_old(host: HostFacts, facts: Facts) -> Iterator[Fire]:
    version = torch_version(facts)
    if host.system != "Darwin" or not version or not isinstance(host.macos_version, str):
        return
    minimum = load_tables().mps_min_macos(version)
    if not minimum:
        return
    if not older(host.macos_version, minimum):
        return
    yield Fire(
        (
            ev(Source.PLATFORM, "macOS", host.macos_version),
            ev(Source.COMPAT, f"MPS in torch {series(version)} needs", f"macOS {minimum}+"),
        ),
        f"Update macOS to {minimum} or newer to use the Apple GPU, or install an older torch whose MPS supports "
        f"macOS {host.macos_version}.",
    )


@check(
    "TD107",
    "glibc-too-old",
    "glibc is too old for this torch",
    Severity.ERROR,
    Area.COMPAT,
    "Linux wheels are built for a minimum glibc (2.17 up to torch 2.5, 2.28 from 2.6); on an older system "
    '`import torch` fails with "GLIBC_2.28\' not found".',
)
def glibc_too_old(host: HostFacts, facts: Facts) -> Iterator[Fire]:
    version = torch_version(facts)
    if host.system != "Linux" or not version or not isinstance(host.glibc, str):
        return
    tables = load_tables()
    release = tables.release(version)
    if release is None:
        return
    problems = release_problems(tables, release, machine_from_facts(facts))
    problem = next((p for p in problems if p.kind == "glibc"), None)
    if problem is None:
        return
    fix = install_torch_fix(facts, reinstall=True)  # the same answer to "does this build run here" as recommend
    yield Fire(
        (ev(Source.PLATFORM, "glibc", host.glibc), ev(Source.COMPAT, *problem.rule)),
        "Use a newer OS or container image (Ubuntu 20.04+, Debian 10+, RHEL 8+), or a torch built for this "
        f"glibc. {fix.text}",
        fix.command,
    )


@check(
    "TD108",
    "torch-unknown-version",
    "a torch version the tables cannot judge",
    Severity.INFO,
    Area.COMPAT,
    "Local builds (2.6.0a0+git...), NVIDIA containers (...nv24.05), nightlies and releases newer than the "
    "tables cannot be judged from the tables; torchdoctor judges them from runtime facts only.",
)
def torch_unknown_version(torch: TorchSeen, facts: Facts) -> Iterator[Fire]:
    version = torch_version(facts)
    if not version:
        return
    tables = load_tables()
    if tables.known_patch(version):
        return
    try:
        v = Version(version)
    except InvalidVersion:
        kind = "a version string that is not PEP 440"
    else:
        if v.is_devrelease:
            kind = "a nightly build"
        elif v.is_prerelease or "git" in version or ".nv" in version:
            kind = "a local or vendor build (pre-release version)"
        elif Version(v.base_version) > Version(tables.newest().latest):
            kind = f"newer than the tables (as of {tables.as_of})"
        else:
            kind = "a release the tables do not list"
    yield Fire(
        (ev(Source.TORCH, "torch", version), ev(Source.COMPAT, "tables as of", tables.as_of)),
        "Nothing to fix: findings that need the release tables (driver floor, wheel architectures, companions) "
        "use torch's own runtime facts instead where it can. Upgrade torchdoctor for newer tables.",
        title=f"torch {version} is {kind}",
    )
