"""Draft compat/ rows for a new torch release from its wheel file (maintainers only; no network).

    python scripts/compat_release.py 2.16.0 --wheel torch-2.16.0-cp312-cp312-manylinux_2_28_x86_64.whl

Reads the wheel's METADATA (Requires-Python, classifiers, pinned CUDA wheels), torch/version.py
(cuda, git version) and PYTORCH_RELEASES_CODE_CC from torch/cuda/__init__.py, and prints TOML rows
for releases.toml and arches.toml, marking what must be filled in by hand with TODO. It never edits
compat/ itself: a person reviews every row and its source.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import zipfile
from email.parser import Parser


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
    parser.add_argument("--wheel", required=True)
    args = parser.parse_args(argv)
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
