"""Record, and re-check, what the package registry says about the releases in compat/ (maintainers only).

    python scripts/compat_registry.py            # write compat/registry/{torch,torchvision,torchaudio}.json
    python scripts/compat_registry.py --check    # re-read the registry: what changed since the snapshot (exit 1)
    python scripts/compat_registry.py --index https://download.pytorch.org/whl/cu130 --label pytorch-cu130

For every release of torch, torchvision and torchaudio that the tables name, it reads the project's simple
index page (PEP 691 JSON, or PEP 503 HTML where an index serves only that) and, per wheel: the file name
(Python, ABI and platform tags, the local version tag `+cu130` on the PyTorch index), `Requires-Python`,
whether it is yanked, and from the wheel's core metadata (PEP 658: `<url>.metadata`) the `Requires-Dist`
entries that pin CUDA (`nvidia-*`, `cuda-*`), triton and torch. For torch it also reads `torch/version.py`
out of one wheel per platform (HTTP range requests on the zip's central directory: a few MB, never the wheel)
for the local version tag the installed torch reports (`2.11.0+cu130`). Everything goes through pip's own
HTTP session (its certificates and proxies); nothing is cached outside the snapshot.

The snapshot is data: `torchdoctor/compat/registry.py` derives the registry's fields of a release row from it
and `tests/compat/test_registry_facts.py` fails when a typed row in compat/*.toml disagrees.
"""

from __future__ import annotations

import argparse
import datetime
import html.parser
import json
import re
import struct
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "compat" / "registry"
PYPI = "https://pypi.org/simple"
PROJECTS = ("torch", "torchvision", "torchaudio")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
KEPT = re.compile(r"^(torch|triton|pytorch-triton(-\w+)?|nvidia-[\w-]+|cuda-[\w-]+)\b", re.I)
"""The Requires-Dist entries the snapshot keeps: the CUDA pins, triton, and a companion's torch pin."""


@dataclass(frozen=True)
class IndexFile:
    """One file on a simple-index page."""

    filename: str
    url: str
    requires_python: str
    yanked: str
    """"" when not yanked; else the reason ("yanked" when the index gives none)."""
    uploaded: str


# ---------------------------------------------------------------------- reading an index page


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append({k: v if v is not None else "" for k, v in attrs})


def _yanked(value: Any) -> str:
    if value is True or value == "":
        return "yanked"
    return value if isinstance(value, str) else ""


def parse_index_page(body: str, content_type: str, page_url: str) -> list[IndexFile]:
    """The files a simple-index project page lists: PEP 691 JSON or PEP 503 HTML (PEP 592 yanked)."""
    if content_type.split(";")[0].strip() == JSON_TYPE:
        return [
            IndexFile(
                f["filename"],
                urljoin(page_url, f["url"]),
                f.get("requires-python") or "",
                _yanked(f.get("yanked", False)),
                (f.get("upload-time") or "")[:10],
            )
            for f in json.loads(body)["files"]
        ]
    parser = _Anchors()
    parser.feed(body)
    files = []
    for a in parser.anchors:
        url = urljoin(page_url, a.get("href", ""))
        name = url.split("#", 1)[0].rsplit("/", 1)[-1]
        yanked = _yanked(a["data-yanked"]) if "data-yanked" in a else ""
        files.append(IndexFile(_unquote(name), url.split("#", 1)[0], a.get("data-requires-python", ""), yanked, ""))
    return files


def _unquote(name: str) -> str:
    from urllib.parse import unquote

    return unquote(name)


# ---------------------------------------------------------------------- HTTP (pip's session)


def _session() -> Any:
    from pip._internal.network.session import PipSession

    return PipSession()


def get(session: Any, url: str, headers: dict[str, str] | None = None) -> Any:
    started = time.monotonic()
    response = session.get(url, headers=headers or {}, timeout=120)
    response.raise_for_status()
    if time.monotonic() - started > 5:
        print(f"slow ({time.monotonic() - started:.0f} s, {len(response.content)} B): {url} {headers}", file=sys.stderr)
    return response


def read_page(session: Any, index: str, project: str) -> list[IndexFile]:
    url = f"{index.rstrip('/')}/{project}/"
    response = get(session, url, {"Accept": ACCEPT})
    return parse_index_page(response.text, response.headers.get("content-type", ""), url)


def core_metadata(session: Any, url: str) -> str:
    """The wheel's METADATA: PEP 658's `<url>.metadata`, else read out of the zip with range requests."""
    response = session.get(url + ".metadata", timeout=120)
    if response.status_code == 200:
        return str(response.text)
    return ranged_member(session, url, ".dist-info/METADATA").decode("utf-8", "replace")


def ranged_member(session: Any, url: str, suffix: str) -> bytes:
    """One member of a remote zip, read with HTTP range requests: the end record, the central directory, and
    the member itself (b"" when there is no such member)."""
    tail = get(session, url, {"Range": "bytes=-65536"}).content
    end = tail.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", tail[end + 12 : end + 20])
    if cd_offset == 0xFFFFFFFF:  # zip64: the locator precedes the end record
        locator = tail.rfind(b"PK\x06\x07", 0, end)
        (z64_offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        z64 = get(session, url, {"Range": f"bytes={z64_offset}-{z64_offset + 55}"}).content
        cd_size, cd_offset = struct.unpack("<QQ", z64[40:56])
    directory = get(session, url, {"Range": f"bytes={cd_offset}-{cd_offset + cd_size - 1}"}).content
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == b"PK\x01\x02":
        (method,) = struct.unpack("<H", directory[pos + 10 : pos + 12])
        (size,) = struct.unpack("<I", directory[pos + 20 : pos + 24])
        n, m, k = struct.unpack("<HHH", directory[pos + 28 : pos + 34])
        (offset,) = struct.unpack("<I", directory[pos + 42 : pos + 46])
        name = directory[pos + 46 : pos + 46 + n].decode("utf-8", "replace")
        if name.endswith(suffix):
            local = get(session, url, {"Range": f"bytes={offset}-{offset + 30 + 1024 + size}"}).content
            ln, lm = struct.unpack("<HH", local[26:30])
            data = local[30 + ln + lm : 30 + ln + lm + size]
            return zlib.decompress(data, -15) if method == 8 else data
        pos += 46 + n + m + k
    return b""


# ---------------------------------------------------------------------- the snapshot


def wheel_parts(filename: str) -> tuple[str, str, str] | None:
    """(public version, local tag incl. "+", the rest: "[build-]python-abi-platform") of a wheel's name."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[: -len(".whl")].split("-")
    if len(parts) < 5:
        return None
    version, _, local = parts[1].partition("+")
    return version, f"+{local}" if local else "", "-".join(parts[2:])


def wheel_id(local: str, rest: str) -> str:
    """How the snapshot names a wheel: its file name after "{project}-{version}" ("+cu130-" first on the
    PyTorch index), without ".whl"."""
    return f"{local}-{rest}" if local else rest


PLATFORM_OF = (
    (re.compile(r"(many|musl)?linux.*_x86_64$"), "linux-x86_64"),
    (re.compile(r"(many|musl)?linux.*_aarch64$"), "linux-aarch64"),
    (re.compile(r"win_amd64$"), "windows-x86_64"),
    (re.compile(r"macosx_.*_(arm64|universal2)$"), "macos-arm64"),
    (re.compile(r"macosx_.*_x86_64$"), "macos-x86_64"),
)


def platform_of(tag: str) -> str:
    platform = tag.rsplit("-", 1)[-1]
    return next((name for pattern, name in PLATFORM_OF if pattern.search(platform)), "other")


def kept_requires(metadata: str) -> list[str]:
    from email.parser import Parser

    parsed = Parser().parsestr(metadata, headersonly=True)
    return [r for r in parsed.get_all("Requires-Dist") or [] if KEPT.match(r)]


def local_tag(session: Any, url: str) -> str:
    """The local version tag torch/version.py of a wheel states ("+cu130", "+cpu"; "" when none)."""
    text = ranged_member(session, url, "torch/version.py").decode("utf-8", "replace")
    found = re.search(r"__version__\s*=\s*'[^'+]*(\+[^']*)'", text)
    return found.group(1) if found else ""


def snapshot(session: Any, index: str, project: str, versions: list[str], local_tags: bool) -> dict[str, Any]:
    """What the index says about these releases of a project: one entry per release."""
    files = [f for f in read_page(session, index, project) if (p := wheel_parts(f.filename)) and p[0] in versions]
    with ThreadPoolExecutor(8) as pool:
        metadata = dict(zip(files, pool.map(lambda f: core_metadata(session, f.url), files), strict=True))
        first_per_platform: dict[tuple[str, str], IndexFile] = {}
        for f in files:
            version, local, rest = wheel_parts(f.filename) or ("", "", "")
            first_per_platform.setdefault((version + local, platform_of(rest)), f)
        wanted = list(first_per_platform.values()) if local_tags and project == "torch" else []
        locals_ = dict(zip(wanted, pool.map(lambda f: local_tag(session, f.url), wanted), strict=True))
    releases: dict[str, Any] = {}
    for f in sorted(files, key=lambda f: f.filename):
        version, local, rest = wheel_parts(f.filename) or ("", "", "")
        release = releases.setdefault(version, {"uploaded": f.uploaded, "groups": [], "yanked": {}})
        release["uploaded"] = min(release["uploaded"], f.uploaded) if f.uploaded else release["uploaded"]
        requires = kept_requires(metadata[f])
        key = {"requires_python": f.requires_python, "requires_dist": requires}
        group = next((g for g in release["groups"] if {k: g[k] for k in key} == key), None)
        if group is None:
            group = {**key, "wheels": []}
            release["groups"].append(group)
        group["wheels"].append(wheel_id(local, rest))
        if f in locals_:
            release.setdefault("version_py", {})[platform_of(rest) + local] = locals_[f]
        if f.yanked:
            release["yanked"][wheel_id(local, rest)] = f.yanked
    for release in releases.values():
        if not release["yanked"]:
            del release["yanked"]
    return dict(sorted(releases.items(), key=lambda kv: _version_key(kv[0])))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.+]", version))


def table_versions() -> dict[str, list[str]]:
    """Every release of torch, torchvision and torchaudio that compat/*.toml names."""
    import tomllib

    releases = tomllib.loads((REPO / "compat" / "releases.toml").read_text())
    companions = tomllib.loads((REPO / "compat" / "companions.toml").read_text())
    return {
        "torch": [p for r in releases["release"] for p in r["patches"]],
        "torchvision": [r["version"] for r in companions["torchvision"]],
        "torchaudio": [r["version"] for r in companions["torchaudio"]],
    }


def document(project: str, index: str, releases: dict[str, Any], absent: list[str]) -> dict[str, Any]:
    return {
        "project": project,
        "index": index,
        "read": datetime.date.today().isoformat(),
        "read_with": "scripts/compat_registry.py (PEP 691 page, PEP 658 core metadata, torch/version.py by range)",
        "requires_dist_kept": KEPT.pattern,
        "absent": absent,
        "releases": releases,
    }


def dump(doc: dict[str, Any]) -> str:
    """One release per line: compact, and a diff shows which release changed."""
    head = {k: v for k, v in doc.items() if k != "releases"}
    lines = [json.dumps(head)[:-1] + ', "releases": {']
    items = list(doc["releases"].items())
    for i, (version, release) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"  {json.dumps(version)}: {json.dumps(release, separators=(',', ':'), sort_keys=True)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- drift


def drift(old: dict[str, Any], new_files: list[IndexFile], project: str) -> list[str]:
    """What the index says now that the snapshot does not: new releases, new, gone or yanked files."""
    from packaging.version import InvalidVersion, Version

    recorded = old["releases"]
    newest = max((Version(v) for v in recorded), default=Version("0"))
    now: dict[str, dict[str, str]] = {}
    for f in new_files:
        parts = wheel_parts(f.filename)
        if parts:
            now.setdefault(parts[0], {})[wheel_id(parts[1], parts[2])] = f.yanked
    out = []
    for version in sorted(now, key=_version_key):
        try:
            v = Version(version)
        except InvalidVersion:
            continue
        if version not in recorded:
            if v > newest and not v.is_prerelease and not v.is_devrelease:
                out.append(f"{project} {version}: a new release ({len(now[version])} wheels), not in the snapshot")
            continue
        before = {w for g in recorded[version]["groups"] for w in g["wheels"]}
        yanked_before = recorded[version].get("yanked", {})
        for wheel in sorted(set(now[version]) - before):
            out.append(f"{project} {version}: new file {wheel}")
        for wheel in sorted(before - set(now[version])):
            out.append(f"{project} {version}: file gone {wheel}")
        for wheel, reason in sorted(now[version].items()):
            if reason and wheel not in yanked_before:
                out.append(f"{project} {version}: yanked {wheel} ({reason})")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="print what changed since the snapshot; exit 1 if any")
    parser.add_argument("--index", default=PYPI, help="a simple index (PEP 503/691); default PyPI")
    parser.add_argument("--label", default="", help="file-name suffix for a non-PyPI index (torch@LABEL.json)")
    parser.add_argument("--project", action="append", choices=PROJECTS, help="only these projects")
    parser.add_argument("--no-local-tags", action="store_true", help="skip reading torch/version.py by range")
    args = parser.parse_args(argv)
    session = _session()
    suffix = f"@{args.label}" if args.label else ""
    if args.index != PYPI and not suffix:
        parser.error("--index needs --label (the snapshot of PyPI is the one without a label)")
    changes = []
    for project in args.project or PROJECTS:
        path = OUT / f"{project}{suffix}.json"
        if args.check:
            old = json.loads(path.read_text())
            found = drift(old, read_page(session, args.index, project), project)
            changes += found
            print("\n".join(found) or f"{project}: as recorded on {old['read']}")
            continue
        versions = table_versions()[project]
        releases = snapshot(session, args.index, project, versions, not args.no_local_tags)
        missing = [v for v in versions if v not in releases]  # recorded: the tables name it, the index has no wheel
        OUT.mkdir(exist_ok=True)
        path.write_text(dump(document(project, args.index, releases, missing)))
        print(f"{path.relative_to(REPO)}: {len(releases)} releases" + (f"; no wheels for {missing}" if missing else ""))
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
