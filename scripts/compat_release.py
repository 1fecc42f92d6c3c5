"""Draft and check compat/ rows for a torch release (maintainers only).

    python scripts/compat_release.py 2.16.0 --wheel torch-2.16.0-cp312-cp312-manylinux_2_28_x86_64.whl
    python scripts/compat_release.py 2.15.0 --registry [--package torchvision]

``--wheel`` reads a wheel file (no network): METADATA (Requires-Python, classifiers, pinned CUDA
wheels), torch/version.py (cuda, git version) and PYTORCH_RELEASES_CODE_CC from
torch/cuda/__init__.py, and prints TOML rows for releases.toml and arches.toml, marking what must be
filled in by hand with TODO.

``--registry`` reads the release's metadata from the package registry, one platform at a time, with
``pip install --dry-run --no-deps --report`` (only the metadata is fetched, never a multi-GB wheel):
Requires-Python, the Python classifiers, the manylinux tag (glibc), the macOS of the arm64 wheel,
and the CUDA that PyPI's wheel brings on each platform (its Requires-Dist, markers evaluated for
that platform). It prints what it read and, for torch, how the row in releases.toml differs.

Neither mode edits compat/: a person reviews every row and its source.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

PLATFORM_TAGS = {  # the platform tag pip is asked for, and the marker environment of that platform
    "linux-x86_64": (
        ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"],
        {"platform_system": "Linux", "platform_machine": "x86_64"},
    ),
    "linux-aarch64": (
        ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
        {"platform_system": "Linux", "platform_machine": "aarch64"},
    ),
    "windows-x86_64": (
        ["win_amd64"],
        {"platform_system": "Windows", "sys_platform": "win32", "platform_machine": "AMD64"},
    ),
    "macos-arm64": (
        ["macosx_26_0_arm64", "macosx_14_0_arm64", "macosx_11_0_arm64"],  # the newest first: any wheel
        {"platform_system": "Darwin", "sys_platform": "darwin", "platform_machine": "arm64"},
    ),
}
CUDA_RUNTIME = ("cuda-toolkit", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime")
PYTHONS = ["3.12", "3.11", "3.13", "3.10", "3.14", "3.9"]
FREE_THREADED = ["3.13", "3.14", "3.15"]
"""The Pythons with a free-threaded build (PEP 703: from 3.13), asked for by their ABI tag (cp313t)."""
EVERY_PYTHON = ["3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]


def registry_metadata(
    package: str, version: str, platform_tag: str | list[str], python: str, abi: str = ""
) -> dict | None:
    """The metadata pip reads from the registry for one wheel, or None when there is no such wheel.

    ``platform_tag``: one tag, or several (any of them will do: pip picks the best wheel among them).
    ``abi``: ask for this ABI only (cp313t: the free-threaded build).
    """
    tags = [platform_tag] if isinstance(platform_tag, str) else platform_tag
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        argv = [
            sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--no-deps", "--ignore-installed",
            "--target", str(Path(tmp) / "t"), "--only-binary=:all:", *[a for t in tags for a in ("--platform", t)],
            "--python-version", python, *(["--abi", abi] if abi else []),
            "--report", str(report), f"{package}=={version}",
        ]  # fmt: skip
        subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if not report.exists():
            return None
        installs = json.loads(report.read_text()).get("install", [])
        if not installs:
            return None
        found = installs[0]
        return {**found["metadata"], "wheel": found["download_info"]["url"].rsplit("/", 1)[-1]}


def cuda_of(requires: list[str], environment: dict[str, str], python: str) -> str:
    """The variant a wheel's Requires-Dist brings on a platform: cu132 for cuda-toolkit==13.2.2, else cpu."""
    from packaging.requirements import Requirement

    env = {"python_version": python, "python_full_version": python + ".0", **environment}
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        pins = [s.version for s in req.specifier if s.operator == "=="]
        if req.name in CUDA_RUNTIME and pins:
            major, minor = pins[0].split(".")[:2]
            return f"cu{major}{minor}"
    return "cpu"


def pins_cuda(package: str, version: str) -> bool:
    """Whether a wheel's Requires-Dist says which CUDA it brings: torch from 1.13 (before, PyPI's Linux wheel
    carried CUDA inside itself, so its metadata cannot tell a cu102 wheel from a CPU one)."""
    from packaging.version import Version

    return package == "torch" and Version(version) >= Version("1.13")


LEGACY_MANYLINUX = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}
"""What the legacy tags promise (PEP 513, 571, 599); a wheel may need more than its tag says."""


def glibc_of(wheel: str) -> str:
    tag = re.search(r"manylinux_(\d+)_(\d+)", wheel)
    if tag:
        return f"{tag.group(1)}.{tag.group(2)}"
    legacy = re.search(r"(manylinux1|manylinux2010|manylinux2014)_", wheel)
    return LEGACY_MANYLINUX[legacy.group(1)] + " (legacy tag)" if legacy else ""


def registry(package: str, version: str) -> int:
    rows = {}
    for platform, (tags, environment) in PLATFORM_TAGS.items():
        for tag in tags:
            found = None
            for python in PYTHONS:
                found = registry_metadata(package, version, tag, python)
                if found:
                    break
            if found:
                break
        if not found:
            print(f"{platform}: no wheel of {package} {version} on the registry")
            continue
        pythons = sorted(
            {c.split("::")[-1].strip() for c in found.get("classifier", []) if re.search(r"Python :: 3\.\d+$", c)},
            key=lambda v: tuple(map(int, v.split("."))),
        )
        glibc = glibc_of(found["wheel"])
        rows[platform] = {
            "requires_python": found.get("requires_python") or "",
            "classifiers": pythons,
            "pypi": cuda_of(found.get("requires_dist", []), environment, python) if pins_cuda(package, version) else "",
            "glibc": glibc,
            "macos_arm64_min": ".".join(m.groups())
            if (m := re.search(r"macosx_(\d+)_(\d+)_arm64", found["wheel"]))
            else "",
            "wheel": found["wheel"],
        }
        print(f"{platform}: {json.dumps(rows[platform])}")
    tags = PLATFORM_TAGS["linux-x86_64"][0]  # every manylinux tag: torch <= 2.6 tagged its x86_64 wheels manylinux1
    # a late micro: "3.6" is 3.6.0 to pip, which Requires-Python >=3.6.2 turns away though cp36 wheels exist
    wheels = [py for py in EVERY_PYTHON if registry_metadata(package, version, tags, f"{py}.99")]
    print(f"Python versions with a linux-x86_64 wheel: {', '.join(wheels)}")
    free = [py for py in FREE_THREADED if registry_metadata(package, version, tags, py, f"cp{py.replace('.', '')}t")]
    print(f"free-threaded Python versions with a linux-x86_64 wheel: {', '.join(free) or 'none'}")
    if rows:
        rows["linux-x86_64"] = {**rows.get("linux-x86_64", {}), "wheels_for": wheels, "free_threaded": free}
    if package == "torch":
        compare(version, rows)
    return 0


def compare(version: str, rows: dict[str, dict]) -> None:
    """What releases.toml says about this release that the registry does not."""
    from packaging.specifiers import SpecifierSet

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from torchdoctor.compat.tables import load_tables

    release = load_tables().release(version)
    if release is None:
        print(f"releases.toml has no row for {version}")
        return
    table = SpecifierSet(release.python)
    wheels = rows.get("linux-x86_64", {}).get("wheels_for", [])
    for python in EVERY_PYTHON:
        if python in wheels and python not in table:
            print(f"DIFF Python {python}: the registry has a wheel, the table's range {table} leaves it out")
        if python in table and wheels and python not in wheels:
            print(f"DIFF Python {python}: the table's range {table} includes it, the registry has no wheel")
    free = rows.get("linux-x86_64", {}).get("free_threaded")
    if free is not None and sorted(free) != sorted(release.free_threaded):
        print(f"DIFF free-threaded: PyPI has wheels for {free or 'none'}, the table says {list(release.free_threaded)}")
    for platform, row in rows.items():
        table_pypi = release.pypi.get(platform)
        if row.get("pypi") and table_pypi and row["pypi"] != table_pypi:
            print(f"DIFF {platform}: PyPI gives {row['pypi']}, the table says {table_pypi}")
    macos = rows.get("macos-arm64", {}).get("macos_arm64_min", "")
    if macos != release.macos_arm64_min:
        print(
            f"DIFF macos-arm64: the wheel needs macOS {macos or '(no wheel)'}, the table says {release.macos_arm64_min}"
        )


def read(wheel: zipfile.ZipFile, suffix: str) -> str:
    name = next((n for n in wheel.namelist() if n.endswith(suffix)), None)
    return wheel.read(name).decode("utf-8", "replace") if name else ""


def code_cc_table(source: str) -> dict[str, dict[str, list[int]]]:
    """PYTORCH_RELEASES_CODE_CC from torch/cuda/__init__.py, without importing it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        target = getattr(node, "target", None) or (getattr(node, "targets", [None]) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "PYTORCH_RELEASES_CODE_CC" and node.value is not None:
            value = ast.literal_eval(node.value)
            return {cuda: {arch: sorted(ccs) for arch, ccs in by_arch.items()} for cuda, by_arch in value.items()}
    return {}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version")
    parser.add_argument("--wheel")
    parser.add_argument("--registry", action="store_true", help="read the metadata from the package registry")
    parser.add_argument("--package", default="torch", help="with --registry: torch, torchvision or torchaudio")
    args = parser.parse_args(argv)
    if args.registry:
        return registry(args.package, args.version)
    if not args.wheel:
        parser.error("give --wheel PATH or --registry")
    with zipfile.ZipFile(args.wheel) as wheel:
        metadata = Parser().parsestr(read(wheel, ".dist-info/METADATA"))
        version_py = read(wheel, "torch/version.py")
        cuda_init = read(wheel, "torch/cuda/__init__.py")
    series = ".".join(args.version.split(".")[:2])
    pythons = sorted(
        {c.split("::")[-1].strip() for c in metadata.get_all("Classifier") or [] if re.search(r"Python :: 3\.\d+$", c)},
        key=lambda v: tuple(map(int, v.split("."))),
    )
    cuda = re.search(r"cuda\s*(?::\s*\S+)?\s*=\s*'([^']*)'", version_py)
    git = re.search(r"git_version\s*=\s*'([0-9a-f]+)'", version_py)
    wheel_name = args.wheel.rsplit("/", 1)[-1]
    source = f"wheel {wheel_name} (METADATA, torch/version.py git {git.group(1)[:10] if git else '?'})"
    upper = pythons[-1].split(".") if pythons else ["3", "0"]
    print("# --- releases.toml ---")
    print("[[release]]")
    print(f'torch = "{series}"')
    print(f'patches = ["{args.version}"]')
    print('date = "TODO (release notes)"')
    print(
        f'python = "{metadata.get("Requires-Python", "TODO")},<{upper[0]}.{int(upper[1]) + 1}"'
        f"  # classifiers: {', '.join(pythons)}"
    )
    print("python_experimental = []  # TODO from RELEASE.md")
    print("free_threaded = []  # TODO: cpXYt wheels on the index")
    print("rocm = []  # TODO from RELEASE.md")
    print(
        'glibc = "2.28"  # from the manylinux tag of the wheel: '
        + (re.search(r"manylinux_(\d+)_(\d+)", wheel_name) or ["?"])[0]
    )
    print("macos_x86_64 = false")
    print('mps_min_macos = "TODO"')
    print('macos_arm64_min = "TODO: --registry reads it from the macosx_X_Y_arm64 wheel tag"')
    deps = [d for d in metadata.get_all("Requires-Dist") or [] if "cudnn" in d or "nccl" in d]
    print(f'cudnn = "{"; ".join(d for d in deps if "cudnn" in d) or "TODO"}"')
    print(f'nccl = "{"; ".join(d for d in deps if "nccl" in d) or "TODO"}"')
    print(f'source = "{source}; TODO: RELEASE.md row"')
    print('confidence = "W"')
    print("[release.cuda]  # TODO: the variants on download.pytorch.org")
    print("[release.pypi]")
    print(f'linux-x86_64 = "{("cu" + cuda.group(1).replace(".", "")) if cuda and cuda.group(1) else "cpu"}"')
    print()
    print("# --- arches.toml: one row per variant (PYTORCH_RELEASES_CODE_CC of this wheel) ---")
    for cuda_version, by_arch in code_cc_table(cuda_init).items():
        variant = "cu" + cuda_version.replace(".", "")
        for arch, ccs in by_arch.items():
            platform = "linux-aarch64" if arch == "aarch64" else "linux-x86_64"
            print("[[build]]")
            print(f'torch = ">={series},<TODO"')
            print(f'variants = ["{variant}"]')
            print(f'platforms = ["{platform}"]')
            print(f"sm = {ccs}")
            print("ptx = false  # TODO: true on download.pytorch.org Linux builds that add +PTX")
            print(f'source = "{wheel_name} PYTORCH_RELEASES_CODE_CC[{cuda_version!r}][{arch!r}]"')
            print('confidence = "W"')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
