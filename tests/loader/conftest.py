"""Real ELF objects built with gcc: stand-in libraries, version scripts, RUNPATHs, extension modules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from torchdoctor.probes import elf

SYSTEM_LIBSTDCXX = next(iter(elf.read_ld_cache().get("libstdc++.so.6", ())), "")


def gcc(out: Path, source: str, *flags: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(out.suffix + ".c")
    src.write_text(source)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src), *flags], check=True, capture_output=True)
    return out


def versioned(out: Path, soname: str, nodes: dict[str, list[str]]) -> Path:
    """A library named ``soname`` defining each version node with its symbols (a node may be empty)."""
    script, source, previous = [], [], ""
    for node, symbols in nodes.items():
        body = " ".join(f"{s};" for s in symbols)
        script.append(f"{node} {{ {'global: ' + body if body else ''} }} {previous};")
        source += [f"int {s}(void) {{ return 1; }}" for s in symbols]
        previous = node
    vmap = out.with_suffix(out.suffix + ".map")
    out.parent.mkdir(parents=True, exist_ok=True)
    vmap.write_text("\n".join(script) + "\n")
    return gcc(out, "\n".join(source) + "\n", f"-Wl,-soname,{soname}", f"-Wl,--version-script={vmap}")


@pytest.fixture(scope="session")
def have_gcc() -> None:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the ELF objects these tests load")
