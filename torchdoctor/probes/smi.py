"""The driver and GPUs as ``nvidia-smi`` reports them: asked only when NVML could not tell.

nvidia-smi talks to the same driver through its own copy of NVML, so it still answers when the
doctor's bindings cannot (missing, or too new for the driver). It runs in its own process group
with a timeout: on a hung GPU it hangs too.
"""

from __future__ import annotations

import shutil

from torchdoctor.model import Maybe, SmiFacts, SmiGpu, Unavailable
from torchdoctor.probes.subproc import run_command

FIELDS = ("index", "driver_version", "name", "uuid", "pci.bus_id", "memory.total", "compute_cap")
"""``compute_cap`` is queryable from driver R510 on; older nvidia-smi rejects it, so it is asked last."""


def _query(path: str, fields: tuple[str, ...], timeout: float) -> tuple[list[list[str]], str]:
    argv = [path, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]
    result = run_command(argv, timeout)
    if result.start_error:
        return [], f"{path} could not start: {result.start_error}"
    if result.timed_out:
        return [], f"nvidia-smi did not answer within {timeout:g} s"
    if result.returncode != 0:
        said = (result.stdout.strip() or result.stderr.strip()).splitlines()
        return [], f"nvidia-smi failed (exit {result.returncode}): {said[0] if said else 'no output'}"
    rows = [[cell.strip() for cell in line.split(",")] for line in result.stdout.splitlines() if line.strip()]
    if not rows or any(len(r) != len(fields) for r in rows):
        return [], "nvidia-smi printed something other than the rows asked for"
    return rows, ""


def _mib(text: str) -> Maybe[int]:
    try:
        return int(float(text)) * 1024**2
    except ValueError:
        return Unavailable("nvidia-smi", f"memory.total is {text!r}")


def probe_smi(timeout: float) -> Maybe[SmiFacts]:
    path = shutil.which("nvidia-smi")
    if path is None:
        return Unavailable("nvidia-smi", "nvidia-smi is not on PATH", "not_found")
    rows, why = _query(path, FIELDS, timeout)
    with_cc = True
    if why and "compute_cap" in why:  # an nvidia-smi older than R510
        rows, why = _query(path, FIELDS[:-1], timeout)
        with_cc = False
    if why:
        return Unavailable("nvidia-smi", why, "timeout" if "did not answer" in why else "failed")
    gpus: list[SmiGpu] = []
    for row in rows:
        cc: Maybe[str] = row[6] if with_cc and row[6][:1].isdigit() else Unavailable("nvidia-smi", "not reported")
        index = int(row[0]) if row[0].isdigit() else len(gpus)
        gpus.append(SmiGpu(index, row[2], row[3], row[4], cc, _mib(row[5])))
    return SmiFacts(path, rows[0][1], tuple(gpus))
