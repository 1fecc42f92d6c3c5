"""A local package index of stand-in wheels, served on 127.0.0.1, for running printed fix commands for real.

Each wheel is tiny (a module and its .dist-info) but carries the real name, version, local tag (``+cu126``),
``Requires-Python`` and ``Requires-Dist`` of the build it stands for, so pip and uv resolve and install it
exactly as they would the real one. The layout is PEP 503's simple API, one index per PyTorch variant
(``/whl/cu126/torch/``) and ``/simple/`` for PyPI, so that a printed ``https://download.pytorch.org/whl/cu126``
becomes ``http://127.0.0.1:PORT/whl/cu126`` and nothing else in the command changes.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import re
import threading
import zipfile
from functools import partial
from pathlib import Path

PYTORCH = "https://download.pytorch.org/whl"

CUDA_RUNTIME = {"cu126": "12.6.77", "cu128": "12.8.90", "cu129": "12.9.79", "cu130": "13.0.96"}
"""The nvidia-cuda-runtime wheel each CUDA variant requires (as PyTorch's own wheels pin it)."""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(
    folder: Path, name: str, version: str, requires: tuple[str, ...] = (), extra: dict[str, bytes] | None = None
) -> Path:
    """A py3-none-any wheel of ``name`` ``version`` whose module says its own version; ``extra``: more files in it
    (``nvidia/nccl/lib/libnccl.so.2``, ``torch/lib/fbgemm.dll``), by their path inside site-packages."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    if path.exists():
        return path
    metadata = "\n".join(
        ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Requires-Python: >=3.9"]
        + [f"Requires-Dist: {r}" for r in requires]
    )
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist}.dist-info/METADATA": (metadata + "\n").encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: torchdoctor-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    files.update(extra or {})
    record = [_record_line(n, d) for n, d in files.items()] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    tmp.rename(path)
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the tests' output stays the report's
        pass


class WheelIndex:
    """Stand-in wheels under ``root``, served over HTTP by a thread; wheels are added as tests ask for them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        handler = partial(_Quiet, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def index(self, variant: str) -> str:
        """The local URL standing for PyTorch's index of ``variant`` ("" or "pypi": the PyPI stand-in)."""
        return f"{self.url}/simple" if variant in ("", "pypi") else f"{self.url}/whl/{variant}"

    def add(self, variant: str, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
        """Publish one wheel on ``variant``'s index (and rewrite that index's pages)."""
        with self.lock:
            base = self.root / ("simple" if variant in ("", "pypi") else f"whl/{variant}")
            files = self.root / "files"
            files.mkdir(parents=True, exist_ok=True)
            wheel = build_wheel(files, name, version, requires)
            project = base / name
            project.mkdir(parents=True, exist_ok=True)
            listed = project / "wheels.txt"
            names = set(listed.read_text().split()) if listed.exists() else set()
            names.add(wheel.name)
            listed.write_text("\n".join(sorted(names)))
            links = "".join(
                f'<a href="../../{"../" if variant not in ("", "pypi") else ""}files/{n}#sha256='
                f'{hashlib.sha256((files / n).read_bytes()).hexdigest()}">{n}</a><br>\n'
                for n in sorted(names)
            )
            (project / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")

    def torch(self, version: str, variant: str, companions: dict[str, str] | None = None) -> None:
        """torch ``version`` as the ``variant`` index serves it (``2.13.0+cu126``), with its CUDA runtime."""
        requires: tuple[str, ...] = ()
        local = version if "+" in version or variant in ("", "pypi") else f"{version}+{variant}"
        runtime = CUDA_RUNTIME.get(variant)
        if runtime:
            dep = f"nvidia-cuda-runtime-cu{runtime.split('.')[0]}"
            requires = (f"{dep}=={runtime}",)
            self.add(variant, dep, runtime)
            self.add("pypi", dep, runtime)  # a project's explicit index serves torch alone: the rest is PyPI's
        self.add(variant, "torch", local, requires)
        for name, companion in (companions or {}).items():
            self.add(variant, name, f"{companion}+{variant}", (f"torch=={version}",))

    def serve_printed(self, command: str) -> str:
        """``command`` with PyTorch's index URLs swapped for this one's, after publishing what it asks for."""
        for variant in sorted(set(re.findall(re.escape(PYTORCH) + r"/([\w.]+)", command))):
            for name, version in re.findall(r"\b(torch|torchvision|torchaudio)==([\w.]+)", command):
                if name == "torch":
                    self.torch(version, variant)
        return command.replace(PYTORCH, f"{self.url}/whl")
