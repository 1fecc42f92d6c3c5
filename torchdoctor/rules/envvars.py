"""The environment variables whose values the doctor records: one table, each name with its grammar.

Redaction is an allowlist: a variable's value goes into a report only when its name is in ``KNOWN``
and the value fits that name's grammar (``torchdoctor.redact.env_value`` also requires that no secret
rule fires on it). Any other variable the doctor looks at is recorded as set, its value withheld.
Every grammar accepts the empty string: "set but empty" is a fact (CUDA_VISIBLE_DEVICES="" hides
every GPU) and holds no secret.

Sources for the grammars:
- CUDA: https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
- NVIDIA Container Toolkit: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
- NCCL: https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html (NCCL_SOCKET_IFNAME: prefix list,
  ``^`` excludes, ``=`` exact; NCCL_DEBUG: VERSION, WARN, INFO, TRACE; NCCL_P2P_LEVEL: LOC..SYS or a number)
- PyTorch: https://pytorch.org/docs/stable/notes/cuda.html#optimizing-memory-usage-with-pytorch-cuda-alloc-conf
  (``<option>:<value>,...``; c10/cuda/CUDAAllocatorConfig.cpp parses ``roundup_power2_divisions:[256:1,>:8]``),
  https://pytorch.org/docs/stable/torch_nccl_environment_variables.html,
  https://pytorch.org/docs/stable/distributed.html (TORCH_DISTRIBUTED_DEBUG: OFF, INFO, DETAIL),
  https://pytorch.org/docs/stable/notes/randomness.html (CUBLAS_WORKSPACE_CONFIG=:4096:8)
"""

from __future__ import annotations

import functools
import re

_BOOL = r"(?i:0|1|true|false|yes|no|on|off|y|n|t|f)"
_INT = r"[+-]?\d{1,19}"
_NUMBER = r"[+-]?\d{1,19}(?:\.\d{1,19})?(?:[eE][+-]?\d{1,3})?"
_WORD = r"[A-Za-z][A-Za-z0-9_]{0,31}"
_PATH_ITEM = r"[\w .,+@%~()\[\]{}\\/\ufffd-]{1,4096}"
"""One path: letters (any script), digits, the punctuation of real paths, and U+FFFD (bytes that are not UTF-8, as
the probe makes them readable); a Windows drive's colon is added where it fits."""


def _list(item: str, sep: str = ",") -> str:
    return rf"(?:{item})?(?:{sep}(?:{item})?)*"


BOOL = _BOOL
INT = _INT
NUMBER = _NUMBER
INTS = _list(rf"\s*{_INT}\s*")
"""OMP_NUM_THREADS=8 or a nesting list 8,2."""
DEVICES = _list(r"\s*(?:[A-Za-z0-9_:/.-]{1,64})\s*")
"""CUDA_VISIBLE_DEVICES and kin: indices, GPU-/MIG- UUIDs (or their prefixes), all/none/void; an invalid entry is
still an entry (the visibility check names it)."""
PATH = rf"(?:[A-Za-z]:)?{_PATH_ITEM}"
PATHS = _list(_PATH_ITEM, r"[:;]") + r"|" + _list(rf"[A-Za-z]:{_PATH_ITEM}", ";")
"""PATH-like lists: ":" on POSIX, ";" on Windows (with drive letters)."""
PRELOAD = _list(_PATH_ITEM.replace(" ", ""), r"[: ]")
"""LD_PRELOAD: paths separated by spaces or colons (ld.so(8))."""
COMMAND = r"[\w .,+@%~=/\\:-]{1,1024}"
"""CC, CXX: a compiler, perhaps behind a launcher (``ccache gcc``) or with flags."""
WORDS = _list(rf"\s*[\^+-]?{_WORD}\s*", r"[,;:]")
"""NCCL_ALGO, NCCL_PROTO, NCCL_DEBUG_SUBSYS, TORCH_LOGS, NVIDIA_DRIVER_CAPABILITIES: words, perhaps ^excluded."""
IFNAMES = r"\^?=?" + _list(r"\s*=?[A-Za-z0-9_.:@-]{1,15}\s*")
"""NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME: interface names (at most 15 characters, IFNAMSIZ) or prefixes."""
HCAS = r"\^?=?" + _list(r"\s*=?[A-Za-z0-9_.-]{1,32}(?::\d{1,3})?\s*")
"""NCCL_IB_HCA: mlx5_0:1,mlx5_1."""
HOST = r"[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.%]{2,64}\]?"
"""MASTER_ADDR: a host name, IPv4 or IPv6 address."""
ALLOC_CONF = _list(r"\s*[A-Za-z_][A-Za-z0-9_]{0,47}\s*:\s*(?:\[[0-9>:,\s]{0,256}\]|[A-Za-z0-9_.+-]{1,32})\s*")
"""PYTORCH_CUDA_ALLOC_CONF: option:value pairs, comma separated."""
ARCH_LIST = r"[0-9.+;, A-Za-z]{0,256}"
"""TORCH_CUDA_ARCH_LIST: 7.0;7.5;8.0+PTX (or spaces)."""
CUBLAS_WORKSPACE = r"(?::\d{1,9}:\d{1,9}){1,8}"
LEVEL = rf"{_INT}|{_WORD}"
"""NCCL_P2P_LEVEL, NCCL_NET_GDR_LEVEL, TORCH_CPP_LOG_LEVEL: a name (LOC, NVL, PIX, PHB, SYS, INFO) or a number."""
VERSION = r"\d{1,4}(?:\.\d{1,4}){0,3}"
"""HSA_OVERRIDE_GFX_VERSION=10.3.0."""
NAME = r"[\w.+-]{1,128}"
"""A conda environment's name, a plugin's name."""


def _enum(*members: str) -> str:
    return "(?i:" + "|".join(re.escape(m) for m in members) + ")"


KNOWN: dict[str, str] = {
    # CUDA and the NVIDIA driver
    "CUDA_VISIBLE_DEVICES": DEVICES,
    "CUDA_DEVICE_ORDER": _enum("FASTEST_FIRST", "PCI_BUS_ID"),
    "CUDA_HOME": PATH,
    "CUDA_PATH": PATH,
    "CUDA_ROOT": PATH,
    "CUDA_LAUNCH_BLOCKING": BOOL,
    "CUDA_MODULE_LOADING": _enum("LAZY", "EAGER"),
    "CUDA_CACHE_DISABLE": BOOL,
    "CUDA_CACHE_PATH": PATH,
    "NVIDIA_VISIBLE_DEVICES": DEVICES,
    "NVIDIA_DRIVER_CAPABILITIES": WORDS,
    "ROCR_VISIBLE_DEVICES": DEVICES,
    "HIP_VISIBLE_DEVICES": DEVICES,
    "HSA_OVERRIDE_GFX_VERSION": VERSION,
    # the dynamic loader and Python
    "LD_LIBRARY_PATH": PATHS,
    "LD_PRELOAD": PRELOAD,
    "DYLD_LIBRARY_PATH": PATHS,
    "PATH": PATHS,
    "PYTHONPATH": PATHS,
    "PYTHONHOME": PATH,
    "PYTHONNOUSERSITE": BOOL,
    "VIRTUAL_ENV": PATH,
    "CONDA_PREFIX": PATH,
    "CONDA_DEFAULT_ENV": rf"{NAME}|{PATH}",
    "CC": COMMAND,
    "CXX": COMMAND,
    # threads
    "OMP_NUM_THREADS": INTS,
    "MKL_NUM_THREADS": INT,
    "OPENBLAS_NUM_THREADS": INT,
    "KMP_AFFINITY": _list(r"\s*[\w.=\[\]-]{1,64}\s*"),
    # launchers
    "MASTER_ADDR": HOST,
    "MASTER_PORT": INT,
    "WORLD_SIZE": INT,
    "RANK": INT,
    "LOCAL_RANK": INT,
    "LOCAL_WORLD_SIZE": INT,
    "SLURM_JOB_ID": INT,
    "SLURM_NTASKS": INT,
    "KUBERNETES_SERVICE_HOST": HOST,
    "TRITON_CACHE_DIR": PATH,
    # PyTorch
    "PYTORCH_CUDA_ALLOC_CONF": ALLOC_CONF,
    "PYTORCH_HIP_ALLOC_CONF": ALLOC_CONF,
    "PYTORCH_ALLOC_CONF": ALLOC_CONF,
    "PYTORCH_NVML_BASED_CUDA_CHECK": BOOL,
    "PYTORCH_NO_CUDA_MEMORY_CACHING": BOOL,
    "PYTORCH_KERNEL_CACHE_PATH": PATH,
    "PYTORCH_ENABLE_MPS_FALLBACK": BOOL,
    "PYTORCH_MPS_HIGH_WATERMARK_RATIO": NUMBER,
    "PYTORCH_JIT": BOOL,
    "PYTORCH_TUNABLEOP_ENABLED": BOOL,
    "TORCH_CUDA_ARCH_LIST": ARCH_LIST,
    "TORCH_HOME": PATH,
    "TORCH_EXTENSIONS_DIR": PATH,
    "TORCH_SHOW_CPP_STACKTRACES": BOOL,
    "TORCH_USE_CUDA_DSA": BOOL,
    "TORCH_LOGS": WORDS,
    "TORCH_COMPILE_DEBUG": BOOL,
    "TORCH_CPP_LOG_LEVEL": LEVEL,
    "TORCH_FORCE_WEIGHTS_ONLY_LOAD": BOOL,
    "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": BOOL,
    "TORCH_DISTRIBUTED_DEBUG": _enum("OFF", "INFO", "DETAIL"),
    "TORCH_DIST_INIT_BARRIER": BOOL,
    "TORCH_GLOO_LAZY_INIT": BOOL,
    "TORCH_NCCL_ASYNC_ERROR_HANDLING": INT,
    "TORCH_NCCL_BLOCKING_WAIT": BOOL,
    "TORCH_NCCL_DUMP_ON_TIMEOUT": BOOL,
    "TORCH_NCCL_TRACE_BUFFER_SIZE": INT,
    "TORCH_NCCL_TRACE_CPP_STACK": BOOL,
    "TORCH_NCCL_ENABLE_MONITORING": BOOL,
    "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC": INT,
    "TORCH_NCCL_DESYNC_DEBUG": BOOL,
    "TORCH_NCCL_ENABLE_TIMING": BOOL,
    "TORCH_NCCL_NAN_CHECK": BOOL,
    "TORCH_NCCL_HIGH_PRIORITY": BOOL,
    "TORCH_NCCL_DEBUG_INFO_TEMP_FILE": PATH,
    "TORCH_FR_BUFFER_SIZE": INT,
    "TORCH_FR_DUMP_TEMP_FILE": PATH,
    "CUBLAS_WORKSPACE_CONFIG": CUBLAS_WORKSPACE,
    "CUBLAS_LOGINFO_DBG": BOOL,
    "CUBLAS_LOGDEST_DBG": PATH,
    "CUDNN_LOGINFO_DBG": BOOL,
    "CUDNN_LOGWARN_DBG": BOOL,
    "CUDNN_LOGERR_DBG": BOOL,
    "CUDNN_LOGDEST_DBG": PATH,
    "CUDNN_LOGLEVEL_DBG": INT,
    # NCCL and gloo
    "NCCL_DEBUG": _enum("VERSION", "WARN", "INFO", "TRACE", "ABORT"),
    "NCCL_DEBUG_SUBSYS": WORDS,
    "NCCL_DEBUG_FILE": PATH,
    "NCCL_CONF_FILE": PATH,
    "NCCL_TOPO_FILE": PATH,
    "NCCL_TOPO_DUMP_FILE": PATH,
    "NCCL_GRAPH_FILE": PATH,
    "NCCL_SOCKET_IFNAME": IFNAMES,
    "GLOO_SOCKET_IFNAME": IFNAMES,
    "NCCL_SOCKET_FAMILY": _enum("AF_INET", "AF_INET6"),
    "NCCL_SOCKET_NTHREADS": INT,
    "NCCL_NSOCKS_PERTHREAD": INT,
    "NCCL_IB_HCA": HCAS,
    "NCCL_IB_DISABLE": BOOL,
    "NCCL_IB_GID_INDEX": INT,
    "NCCL_IB_TIMEOUT": INT,
    "NCCL_IB_RETRY_CNT": INT,
    "NCCL_IB_SL": INT,
    "NCCL_IB_TC": INT,
    "NCCL_NET": NAME,
    "NCCL_NET_PLUGIN": NAME,
    "NCCL_NET_GDR_LEVEL": LEVEL,
    "NCCL_NET_GDR_READ": BOOL,
    "NCCL_P2P_DISABLE": BOOL,
    "NCCL_P2P_LEVEL": LEVEL,
    "NCCL_SHM_DISABLE": BOOL,
    "NCCL_CUMEM_ENABLE": BOOL,
    "NCCL_ALGO": WORDS,
    "NCCL_PROTO": WORDS,
    "NCCL_MAX_NCHANNELS": INT,
    "NCCL_MIN_NCHANNELS": INT,
    "NCCL_BUFFSIZE": INT,
    "NCCL_NTHREADS": INT,
    "NCCL_CROSS_NIC": INT,
    "NCCL_LAUNCH_MODE": _enum("PARALLEL", "GROUP"),
    "NCCL_NVLS_ENABLE": BOOL,
    "NCCL_COLLNET_ENABLE": BOOL,
    "NCCL_IGNORE_CPU_AFFINITY": BOOL,
    "NCCL_ASYNC_ERROR_HANDLING": INT,
    "NCCL_BLOCKING_WAIT": BOOL,
    "NCCL_TIMEOUT": INT,
}
"""Each variable whose value the doctor records, with its grammar (a regular expression the whole value must match)."""


@functools.cache
def _compiled(name: str) -> re.Pattern[str] | None:
    """The grammar of ``name``, compiled when a value of it is first read (a machine sets a few of them)."""
    grammar = KNOWN.get(name)
    return None if grammar is None else re.compile(rf"(?:{grammar})?")


def fits(name: str, value: str) -> bool:
    """Whether ``name`` is a variable the doctor knows and ``value`` fits its grammar (no control characters)."""
    grammar = _compiled(name)
    if grammar is None or len(value) > 8192 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return False
    return grammar.fullmatch(value) is not None
