"""Environment variables from an allowlist, and nvcc (a toolkit for building extensions).

The variables the doctor looks at are ``EXACT`` and ``PREFIXES``; of those, a value is recorded only when
``rules.envvars`` knows the variable's grammar and the value fits it (``redact.env_value``). Any other is
recorded as set, its value withheld.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping

from torchdoctor.model import EnvFacts, EnvVar, Maybe, Nvcc, Unavailable
from torchdoctor.probes.subproc import run_command
from torchdoctor.redact import env_value
from torchdoctor.rules import envvars, limits, timeouts

EXACT = {
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_ROOT",
    "CUDA_LAUNCH_BLOCKING",
    "CUDA_MODULE_LOADING",
    "CUDA_CACHE_DISABLE",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "DYLD_LIBRARY_PATH",
    "PATH",
    "PYTHONPATH",
    "PYTHONNOUSERSITE",
    "PYTHONHOME",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "HSA_OVERRIDE_GFX_VERSION",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "KMP_AFFINITY",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CC",
    "CXX",
    "MASTER_ADDR",
    "MASTER_PORT",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "SLURM_JOB_ID",
    "SLURM_NTASKS",
    "KUBERNETES_SERVICE_HOST",
    "TRITON_CACHE_DIR",
}
PREFIXES = ("PYTORCH_", "TORCH_", "NCCL_", "GLOO_", "CUBLAS_", "CUDNN_", "MIOPEN_")


def allowed(name: str) -> bool:
    """Whether the doctor looks at this variable (its value is recorded only if ``env_value`` gives one)."""
    return name in EXACT or name in envvars.KNOWN or name.startswith(PREFIXES)


def env_var(name: str, value: str) -> EnvVar:
    known = env_value(name, readable(value))
    return EnvVar(readable(name), "", withheld=True) if known is None else EnvVar(readable(name), known)


def readable(text: str) -> str:
    """Bytes that are not UTF-8 (kept by Python as lone surrogates) become U+FFFD, so every format can write them."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def probe_env(environ: Mapping[str, str] | None = None) -> EnvFacts:
    environ = os.environ if environ is None else environ
    variables = tuple(env_var(name, value) for name, value in sorted(environ.items()) if allowed(name))
    return EnvFacts(variables, probe_nvcc(environ))


NVCC_VERSION = re.compile(r"release (\d+\.\d+)(?:, V([\d.]+))?")


def probe_nvcc(environ: Mapping[str, str], timeout: float = timeouts.NVCC) -> Maybe[Nvcc]:
    path = shutil.which("nvcc", path=environ.get("PATH"))
    if path is None:
        for var in ("CUDA_HOME", "CUDA_PATH"):
            home = environ.get(var)
            candidate = os.path.join(home, "bin", "nvcc") if home else ""
            if candidate and os.access(candidate, os.X_OK):
                path = candidate
                break
    if path is None:
        return Unavailable("nvcc", "nvcc is not on PATH, CUDA_HOME or CUDA_PATH", "not_found")
    result = run_command([path, "--version"], timeout)
    if result.start_error:
        return Unavailable(
            "nvcc", f"{path} --version could not start: {result.start_error}", limits.LIMIT if result.own_limit else ""
        )
    if result.timed_out:
        return Unavailable("nvcc", f"{path} --version did not finish within {timeout:g} s", "timeout")
    out = result.stdout
    match = NVCC_VERSION.search(out)
    if not match:
        return Unavailable("nvcc", f"{path} --version printed no release number")
    return Nvcc(path, match.group(2) or match.group(1))
