"""torch's CUDA libraries from more than one provider: two nvidia-* wheels of different CUDA majors for one
library, and a cuDNN other than the one torch was built with (named by file, directory and installer)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator

from torchdoctor.checks.base import Area, Fire, check, ev
from torchdoctor.checks.loader import without
from torchdoctor.compat.machine import torch_cuda
from torchdoctor.model import (
    Candidate,
    Distribution,
    Evidence,
    Facts,
    ImportFailureKind,
    LoaderFacts,
    Owner,
    OwnerKind,
    PackagesFacts,
    Severity,
    Source,
    TorchImportFailure,
    TorchRuntime,
    Via,
)
from torchdoctor.rules import cudalibs, dlerror
from torchdoctor.rules.index import pip
from torchdoctor.rules.shell import quote


def _loaded(facts: Facts, base: str) -> tuple[str, Candidate | None, Owner | None] | None:
    """The copy of a library of wheel ``base`` the loader takes: (path, how, who installed it), from the facts."""
    loader = facts.loader if isinstance(facts.loader, LoaderFacts) else None
    if loader is not None:
        for res in loader.resolutions:
            if cudalibs.wheel_base(res.needed) == base and res.candidates:
                cand = res.candidates[0]
                obj = loader.object_at(cand.path)
                return cand.path, cand, obj.owner if obj and isinstance(obj.owner, Owner) else None
    torch = facts.torch
    if isinstance(torch, TorchRuntime):
        for path in torch.mapped:
            if cudalibs.wheel_base(os.path.basename(path)) == base:
                obj = loader.object_at(path) if loader else None
                return path, None, obj.owner if obj and isinstance(obj.owner, Owner) else None
    return None


def _kept(facts: Facts, packages: PackagesFacts, wheels: list[tuple[int, Distribution]]) -> Distribution | None:
    """The wheel torch asks for: the one its Requires-Dist names, else the one of torch's CUDA major."""
    for torch in packages.named("torch"):
        for req in torch.requires:
            named = [d for _, d in wheels if req.lower().replace("_", "-").startswith(d.name.lower())]
            if named:
                return named[0]
    cuda = torch_cuda(facts)
    major = int(cuda.split(".")[0]) if cuda and cuda.split(".")[0].isdigit() else None
    same = [d for m, d in wheels if m == major]
    return same[0] if len(same) == 1 else None


@check(
    "TD033",
    "mixed-cuda-major-wheels",
    "nvidia-* wheels of two CUDA majors for one library",
    Severity.ERROR,
    Area.PACKAGES,
    "Two wheels ship the same library for different CUDA majors (nvidia-nccl-cu12 and nvidia-nccl-cu13 both write "
    "nvidia/nccl/lib/libnccl.so.2): the loader takes one copy, and whatever was built against the other fails "
    "with an undefined symbol (ncclCommRegister, ...) or at the first collective.",
)
def mixed_cuda_major_wheels(packages: PackagesFacts, facts: Facts) -> Iterator[Fire]:
    for base, wheels in mixed_majors(packages).items():
        evidence = [ev(Source.METADATA, d.name, f"{d.version} in {d.location}") for _, d in wheels]
        loaded = _loaded(facts, base)
        if loaded is not None:
            path, _, owner = loaded
            evidence.append(ev(Source.ENV, "the loader takes", f"{path} ({owner or 'installer not known'})"))
        keep = _kept(facts, packages, wheels)
        names = " and ".join(d.name for _, d in wheels)
        if keep is None:
            either = "; or ".join(
                f"uninstall {d.name} if torch is built for CUDA {other}"
                for m, d in wheels
                for other in sorted({o for o, _ in wheels} - {m})[:1]
            )
            fix = (
                f"{names} are both installed, and which one torch asks for is not known here: {either}. Then "
                "reinstall the kept one, whose files the uninstall may have removed."
            )
            yield Fire(tuple(evidence), fix, title=f"two CUDA majors of {base}: {names}")
            continue
        stray = [d.name for _, d in wheels if d is not keep]
        evidence.append(ev(Source.METADATA, "torch asks for", f"{keep.name} {keep.version}"))
        fix = (
            f"{names} are both installed; torch asks for {keep.name}. Uninstall {' '.join(stray)}, then reinstall "
            f"{keep.name} at its version: where both wheels wrote the same file, the uninstall removes it."
        )
        steps = [
            pip(facts, f"uninstall -y {' '.join(map(quote, stray))}"),
            pip(facts, f"install --force-reinstall --no-deps {quote(f'{keep.name}=={keep.version}')}"),
        ]
        command = " && ".join(steps) if all(steps) else ""  # an installer that cannot uninstall: the prose says it
        yield Fire(tuple(evidence), fix, command, title=f"two CUDA majors of {base}: {names}")


def mixed_majors(packages: PackagesFacts) -> dict[str, list[tuple[int, Distribution]]]:
    """Each nvidia-* library installed for more than one CUDA major -> its wheels, with their majors."""
    groups: dict[str, list[tuple[int, Distribution]]] = defaultdict(list)
    for dist in packages.distributions:
        split = cudalibs.split_wheel(dist.name)
        if split is not None:
            groups[split[0]].append((split[1], dist))
    return {b: w for b, w in sorted(groups.items()) if len({m for m, _ in w}) > 1}


def explains_import_failure(facts: Facts) -> tuple[str, str] | None:
    """("TD033", what) when `import torch` fails on an undefined symbol and one library's nvidia-* wheels of two CUDA
    majors are installed (what TD033 reports): the loader took one major's copy, torch was built against the other."""
    torch, packages = facts.torch, facts.packages
    if not isinstance(torch, TorchImportFailure) or not isinstance(packages, PackagesFacts):
        return None
    error = dlerror.parse(torch.message)
    undefined = error.kind is dlerror.LoaderErrorKind.UNDEFINED_SYMBOL if error else False
    if not (undefined or torch.kind is ImportFailureKind.UNDEFINED_SYMBOL):
        return None
    mixed = mixed_majors(packages)
    if not mixed:
        return None
    names = "; ".join(" and ".join(d.name for _, d in wheels) for wheels in mixed.values())
    return "TD033", f"nvidia-* wheels of two CUDA majors ({names})"


def _mismatch_texts(torch: TorchRuntime) -> list[str]:
    texts = [torch.cuda_error, *torch.warnings]
    cudnn = torch.cudnn
    if not isinstance(cudnn, int):
        texts.append(cudnn.reason)
    return texts


def _ld_library_path(facts: Facts) -> tuple[str, ...]:
    return facts.loader.ld_library_path if isinstance(facts.loader, LoaderFacts) else ()


def _cudnn_fix(facts: Facts, path: str, cand: Candidate | None, owner: Owner | None, compiled: str) -> tuple[str, str]:
    folder = os.path.dirname(path)
    entries = _ld_library_path(facts)
    entry = cand.entry if cand is not None and cand.via is Via.LD_LIBRARY_PATH else None
    entry = entry or next((e for e in entries if e and os.path.normpath(e) == os.path.normpath(folder)), None)
    if entry:
        return (
            f"The LD_LIBRARY_PATH entry {entry} holds that cuDNN and the loader takes it before torch's own. Take "
            "that one entry out of LD_LIBRARY_PATH (the others stay, in order).",
            without(entries, entry, "LD_LIBRARY_PATH"),
        )
    if owner is not None and owner.kind is OwnerKind.CONDA and owner.package and owner.record:
        prefix = os.path.dirname(os.path.dirname(owner.record))
        return (
            f"The conda package {owner.package} {owner.version} in {prefix} ships it. Install the cuDNN this torch "
            f"was built with there (or remove the package where torch brings its own cuDNN).",
            f"conda install -p {quote(prefix)} {quote(f'{owner.package}={compiled}')}",
        )
    who = f" ({owner})" if owner is not None else ""
    return (
        f"{folder}{who} is not torch's own cuDNN. Install cuDNN {compiled} in its place, or take {folder} off the "
        "loader's path (LD_LIBRARY_PATH, /etc/ld.so.conf.d) so torch finds the cuDNN it ships.",
        "",
    )


@check(
    "TD034",
    "cudnn-version-mismatch",
    "torch found a cuDNN other than the one it was built with",
    Severity.ERROR,
    Area.TORCH,
    "torch checks the cuDNN it loads against the one it was compiled with and refuses an older or other-major "
    "one: every convolution, RNN and attention kernel that uses cuDNN fails.",
)
def cudnn_version_mismatch(torch_runtime: TorchRuntime, facts: Facts) -> Iterator[Fire]:
    found = next((m for m in map(cudalibs.cudnn_mismatch, _mismatch_texts(torch_runtime)) if m), None)
    if found is None:
        return
    compiled, runtime = found
    evidence: list[Evidence] = [
        ev(Source.TORCH, "compiled against cuDNN", compiled),
        ev(Source.TORCH, "found cuDNN", runtime),
    ]
    loaded = _loaded(facts, "nvidia-cudnn")
    if loaded is None:
        why = facts.loader.reason if not isinstance(facts.loader, LoaderFacts) else "no libcudnn in the loader facts"
        evidence.append(ev(Source.ENV, "which file", f"could not tell: {why}"))
        fix = (
            f"torch loaded cuDNN {runtime} from somewhere else than its own (an LD_LIBRARY_PATH entry, a conda "
            f"package, a system CUDA). Find it (`ldconfig -p | grep cudnn`, LD_LIBRARY_PATH) and take it off the "
            f"loader's path, or install cuDNN {compiled} in its place."
        )
        yield Fire(tuple(evidence), fix, title=f"torch found cuDNN {runtime}, built with {compiled}")
        return
    path, cand, owner = loaded
    how = f", {cand.via.value} {cand.entry}" if cand is not None else ""
    evidence.append(ev(Source.ENV, "the cuDNN loaded", f"{path}{how}"))
    if owner is not None:
        evidence.append(ev(Source.METADATA, "installed by", str(owner)))
    fix, command = _cudnn_fix(facts, path, cand, owner, compiled)
    title = f"torch loaded cuDNN {runtime} from outside torch's wheels ({os.path.dirname(path)}), built with {compiled}"
    yield Fire(tuple(evidence), fix, command, title=title)
