"""The CUDA libraries torch loads, and who ships each: the nvidia-* wheel torch's Requires-Dist names, the
conda package, the CUDA major a wheel is built for.

Sources: torch's Requires-Dist on PyPI (compat/registry/torch.json: nvidia-cublas-cu11 ... nvidia-nvtx-cu12,
nvidia-cudnn-cu13, nvidia-nccl-cu13); the wheels' file lists (nvidia/<lib>/lib/<soname>; the CUDA 13 wheels
put every library in nvidia/cu13/lib except NCCL, which stays in nvidia/nccl/lib, NVIDIA/cuml#7304, so
nvidia-nccl-cu12 and nvidia-nccl-cu13 write the same file); conda: ``cudatoolkit`` ships every CUDA runtime
library up to CUDA 11, from CUDA 12 each has its own package (conda-forge cuda-feedstock: cuda-cudart,
libcublas, libcusparse, libnvjitlink ...); ``cudnn`` and ``nccl`` are packages of their own.
"""

from __future__ import annotations

import re

WHEELS: dict[str, str] = {
    "libcudart": "nvidia-cuda-runtime",
    "libcublas": "nvidia-cublas",
    "libcublasLt": "nvidia-cublas",
    "libcudnn": "nvidia-cudnn",
    "libcufft": "nvidia-cufft",
    "libcurand": "nvidia-curand",
    "libcusolver": "nvidia-cusolver",
    "libcusparse": "nvidia-cusparse",
    "libcusparseLt": "nvidia-cusparselt",
    "libnccl": "nvidia-nccl",
    "libnvJitLink": "nvidia-nvjitlink",
    "libnvrtc": "nvidia-cuda-nvrtc",
    "libcupti": "nvidia-cuda-cupti",
    "libnvToolsExt": "nvidia-nvtx",
    "libcufile": "nvidia-cufile",
    "libnvshmem_host": "nvidia-nvshmem",
}
"""A library's stem (soname without ``.so...``; cuDNN's sub-libraries libcudnn_* count as libcudnn) -> its wheel."""

CONDA_SPLIT: dict[str, str] = {
    "libcudart": "cuda-cudart",
    "libcublas": "libcublas",
    "libcublasLt": "libcublas",
    "libcufft": "libcufft",
    "libcurand": "libcurand",
    "libcusolver": "libcusolver",
    "libcusparse": "libcusparse",
    "libnvJitLink": "libnvjitlink",
    "libnvrtc": "cuda-nvrtc",
    "libcupti": "cuda-cupti",
}
"""CUDA >= 12 on conda: the package of each runtime library (before 12 they are all in ``cudatoolkit``)."""

OWN_PACKAGE = {"libcudnn": "cudnn", "libnccl": "nccl"}

SONAME_IS_CUDA = {
    "libcudart",
    "libcublas",
    "libcublasLt",
    "libcufft",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libnvJitLink",
    "libnvrtc",
}
"""Libraries whose soname version is the CUDA version (libcudart.so.12, libcublas.so.9.0); not cuDNN or NCCL."""

WHEEL_NAME = re.compile(r"^(?P<base>nvidia-[a-z0-9-]+?)-cu(?P<major>\d+)$")


def stem(soname: str) -> str:
    base = re.sub(r"\.so.*$", "", soname.rsplit("/", 1)[-1])
    return "libcudnn" if base.startswith("libcudnn") else base


def wheel_base(soname: str) -> str:
    """The nvidia wheel (without its -cuXX) that ships ``soname``, or "" when it is not a CUDA library."""
    return WHEELS.get(stem(soname), "")


def is_cuda_library(soname: str) -> bool:
    return bool(wheel_base(soname))


def split_wheel(name: str) -> tuple[str, int] | None:
    """``nvidia-nccl-cu12`` -> (``nvidia-nccl``, 12); None for a name without a CUDA major."""
    match = WHEEL_NAME.match(name.lower().replace("_", "-"))
    return (match["base"], int(match["major"])) if match else None


def cuda_of_soname(soname: str) -> str:
    """The CUDA version a runtime library's soname states (``libcudart.so.9.0`` -> 9.0, ``.so.12`` -> 12)."""
    if stem(soname) not in SONAME_IS_CUDA:
        return ""
    match = re.search(r"\.so\.(\d+(?:\.\d+)?)$", soname)
    return match.group(1) if match else ""


def conda_package(soname: str) -> str:
    """The conda package that ships ``soname`` ("" when not known): cudatoolkit before CUDA 12."""
    name = stem(soname)
    if name in OWN_PACKAGE:
        return OWN_PACKAGE[name]
    cuda = cuda_of_soname(soname)
    if not cuda:
        return ""
    return "cudatoolkit" if int(cuda.split(".")[0]) < 12 else CONDA_SPLIT.get(name, "")


CUDNN_MISMATCH = re.compile(
    r"cuDNN version (?:incompatibility|mismatch): PyTorch was compiled\s+against (?P<compiled>\([\d, ]+\)|\d+) "
    r"but (?:found runtime version|linked against) (?P<found>\([\d, ]+\)|\d+)"
)
"""torch's own check (torch/backends/cudnn/__init__.py ``_init``): "cuDNN version incompatibility: PyTorch was
compiled  against (8, 5, 0) but found runtime version (8, 4, 1)"; before 1.13 "... but linked against (8, 0, 3)"
or, with integers, "cuDNN version mismatch: PyTorch was compiled against 7102 but linked against 7605"."""


def cudnn_version(text: str) -> str:
    """ "(8, 3, 2)" or 8302 -> "8.3.2" (cuDNN < 9 encodes major*1000 + minor*100 + patch, 9 and later *10000)."""
    if text.startswith("("):
        return ".".join(p.strip() for p in text.strip("()").split(","))
    n = int(text)
    major, rest = (n // 10000, n % 10000) if n >= 90000 else (n // 1000, n % 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def cudnn_mismatch(text: str) -> tuple[str, str] | None:
    """(compiled against, found) from torch's message, or None when it holds none."""
    match = CUDNN_MISMATCH.search(text or "")
    return (cudnn_version(match["compiled"]), cudnn_version(match["found"])) if match else None


WHEEL_FILE = re.compile(r"^(?P<root>.*/nvidia)/(?P<folder>[A-Za-z0-9_]+)/lib/(?P<name>[^/]+)$")
"""A file of an nvidia-* wheel: ``<site-packages>/nvidia/<folder>/lib/<soname>`` (``cu13``: the CUDA 13 wheels)."""


def wheel_root(path: str) -> str:
    """The ``<site-packages>/nvidia`` folder ``path`` lies in when it is a file of an nvidia-* wheel, else ""."""
    match = WHEEL_FILE.match(path.replace("\\", "/"))
    return match["root"] if match and is_cuda_library(match["name"]) else ""


def wheel_lib_dir(root: str, soname: str, major: int) -> str:
    """Where the nvidia-* wheel of CUDA ``major`` puts ``soname`` under ``root`` (``<site-packages>/nvidia``): its own
    ``<lib>/lib`` folder up to CUDA 12 (nvidia-nvjitlink-cu12 -> nvjitlink/lib), ``cu13/lib`` from 13 except NCCL."""
    base = wheel_base(soname)
    if not base:
        return ""
    if major >= 13 and base != "nvidia-nccl":
        return f"{root}/cu13/lib"
    return f"{root}/{base[len('nvidia-') :].replace('-', '_')}/lib"
