"""`torchdoctor compat`: answer questions from the tables alone."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.version import InvalidVersion

from torchdoctor.compat.recommend import Gpu, Row, parse_torch_filter, rows
from torchdoctor.compat.tables import Release, Tables, cc_str
from torchdoctor.rules.versions import driver_version_key
from torchdoctor.rules.versions import release as release_of


@dataclass(frozen=True)
class Query:
    torch: str = ""
    python: str = ""
    driver: str = ""
    cuda: str = ""
    gpus: tuple[Gpu, ...] = ()
    platforms: tuple[str, ...] = ()
    torchvision: str = ""
    torchaudio: str = ""


@dataclass(frozen=True)
class Answer:
    query: Query
    answers: tuple[str, ...]
    rows: tuple[Row, ...]
    as_of: str
    notes: tuple[str, ...] = field(default=())

    @property
    def negative(self) -> bool:
        """Did any answer say no ("is NOT right", "is NOT supported", "does NOT run")? `compat` then exits 1."""
        return any(" NOT " in answer for answer in self.answers)

    def to_json(self) -> dict[str, Any]:
        query = asdict(self.query)
        query["gpus"] = [{"capability": cc_str(g.cc), "name": g.label} for g in self.query.gpus]
        return {
            "as_of": self.as_of,
            "query": query,
            "answers": list(self.answers),
            "rows": [asdict(r) for r in self.rows],
        }


def normalize_cuda(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("cu") and value[2:].isdigit():
        digits = value[2:]
        return f"{digits[:-1]}.{digits[-1]}"
    parts = value.split(".")
    return ".".join(parts[:2])


def answer(tables: Tables, q: Query) -> Answer:
    torch_filter = parse_torch_filter(q.torch) if q.torch else None
    cuda = normalize_cuda(q.cuda) if q.cuda else ""
    found = rows(tables, q.platforms, torch_filter, q.python, q.driver, cuda, q.gpus)
    answers: list[str] = []
    for g in q.gpus:
        answers.append(f"{g.label} has compute capability {cc_str(g.cc)} (sm_{g.cc})")
    if q.torch:
        answers += _torch_answers(tables, q)
    if cuda:
        answers += _cuda_answers(tables, cuda, q.driver)
    elif q.driver:
        answers.append(_driver_answer(tables, q.driver))
    if not found:
        answers.append("no published torch build matches all of these conditions")
    return Answer(q, tuple(answers), tuple(found), tables.as_of)


def _torch_answers(tables: Tables, q: Query) -> list[str]:
    out: list[str] = []
    try:
        release_of(q.torch)
    except InvalidVersion:
        return out
    release = tables.release(q.torch)
    if release is None:
        return [f"torch {q.torch} is not in the tables (as of {tables.as_of})"]
    out.append(
        f"torch {release.torch} ({', '.join(release.patches)}, {release.date}): Python {release.python_range}; "
        f"glibc {release.glibc}+ on Linux; "
        + (f"Apple-silicon wheels need macOS {_macos(release, q.python)}+; " if release.macos_arm64_min else "")
        + f"MPS needs macOS {release.mps_min_macos or '(no MPS)'}; "
        f"PyPI gives {release.pypi.get('linux-x86_64', '?')} on Linux x86_64 [source: {release.source}]"
    )
    if q.python:
        platform = q.platforms[0] if len(q.platforms) == 1 else ""
        patch = q.torch if q.torch in release.patches else ""
        support = release.python_support(q.python, platform=platform, patch=patch)
        said = {
            "supported": "is supported by",
            "experimental": "has only EXPERIMENTAL wheels of",
            "": "is NOT supported by",
        }
        elsewhere = not support and platform and release.supports_python(q.python, patch=patch)
        if elsewhere:  # in the range, but its wheels are for other platforms only
            minor = ".".join(q.python.rstrip("t").split(".")[:2])
            only_on = ", ".join(dict(release.python_only_on).get(minor, ()))
            out.append(
                f"Python {q.python} is NOT supported by torch {release.torch} on {platform}: "
                f"its Python {minor} wheels are for {only_on} only"
            )
        else:
            out.append(f"Python {q.python} {said[support]} torch {release.torch} ({release.python_range})")
    for package, version in (("torchvision", q.torchvision), ("torchaudio", q.torchaudio)):
        if not version:
            continue
        row = tables.companion(package, version)
        right = tables.companion_for(package, q.torch)
        if row is None:
            out.append(f"{package} {version} is not in the tables")
        elif release_of(q.torch) in row.torch:
            out.append(f"{package} {version} is right for torch {q.torch} (it needs torch {row.torch})")
        else:
            fix = f"; use {package} {right.version}" if right else ""
            out.append(f"{package} {version} is NOT right for torch {q.torch}: it needs torch {row.torch}{fix}")
    return out


def _cuda_answers(tables: Tables, cuda: str, driver: str) -> list[str]:
    floor = tables.floor(cuda)
    toolkit = tables.toolkit(cuda)
    if floor is None:
        return [f"CUDA {cuda} is not in the driver table"]
    linux = tables.min_driver(cuda, "linux")
    windows = tables.min_driver(cuda, "windows")
    text = f"CUDA {cuda} wheels need driver >= {linux} (Linux) / >= {windows} (Windows)"
    if floor.mvc and toolkit and toolkit.linux:
        text += f" through minor-version compatibility; the {cuda} toolkit itself ships {toolkit.linux}"
    out = [text + f" [source: {floor.source}]"]
    if driver:
        ok = driver_version_key(driver) >= driver_version_key(linux)
        out.append(f"driver {driver} {'runs' if ok else 'does NOT run'} CUDA {cuda} wheels (Linux)")
    return out


def _driver_answer(tables: Tables, driver: str) -> str:
    runs = [f.cuda_major for f in tables.floors if driver_version_key(driver) >= driver_version_key(f.linux)]
    if not runs:
        return f"driver {driver} is older than every CUDA major's floor in the tables"
    newest = max(runs, key=int)
    return f"driver {driver} runs wheels built with CUDA {newest}.x and older (Linux)"


def _macos(release: Release, python: str) -> str:
    """The macOS of the Apple-silicon wheel for this Python; without one, every Python's where they differ."""
    if python or not release.macos_arm64_min_by_python:
        return release.macos_arm64_min_for(python)
    return release.macos_arm64_min + "".join(f" ({m}: {v})" for m, v in release.macos_arm64_min_by_python)
