"""Every default timeout, in seconds: one table, each with why it is that long.

Options (``ProbeOptions``, ``SmokeOptions``, ``DistOptions``), the command line's defaults and the
``[90]`` in its help texts all read these; a test or a user passes shorter or longer ones in.
"""

from __future__ import annotations

IMPORT_TORCH = 90.0
"""``import torch`` in the torch facts child (``--timeout``): slow from a network filesystem or a cold disk."""

FAST_PROBE = 20.0
"""The interpreter-metadata child (``sys``, ``site``, installed distributions): no torch, so quick."""

INTERPRETER_CHECK = 20.0
"""Asking a ``--python`` interpreter whether it runs at all, before it is examined (capped by ``--timeout``)."""

NVML = 20.0
"""NVML's child, then nvidia-smi in what is left, to read the driver (``--nvml-timeout``); a hung GPU hangs both."""

NVML_INIT = 15.0
"""``nvmlInit`` inside NVML's child when it is run on its own; under ``probe_nvml`` it gets most of ``NVML``."""

NVML_FIELD = 5.0
"""One NVML call; the first call on a GPU without persistence mode takes about a second."""

PROBE_GUARD = 10.0
"""Slack of the outer bound on all probes: every child has its own timeout, this only catches a probe bug."""

PSUTIL = 5.0
"""The host probe's physical cores and RAM (/proc and /sys on Linux, psutil elsewhere): milliseconds unless a
filesystem hangs."""

NVCC = 10.0
"""``nvcc --version``: a binary on PATH that answers at once, unless the filesystem under it hangs."""

SMOKE_PER_DEVICE = 120.0
"""One device's smoke tests (``--smoke-timeout``): import torch, a first CUDA context, a few train steps."""

BENCH_START = 60.0
"""What a bench child may take beyond ``--seconds``: ``import torch`` and CUDA start-up."""

DIST_RENDEZVOUS = 60.0
"""``dist``: every rank joining the process group (``--rdzv-timeout``)."""

DIST_COLLECTIVE = 60.0
"""``dist``: one collective (``--collective-timeout``); a hung NCCL ring is caught here."""

DIST_RUN = 600.0
"""``dist``: the whole run on each rank (``--timeout``); past it the rank reports what it has and exits."""

DIST_LAUNCH_SLACK = 60.0
"""``dist --nproc``: what torchrun may take beyond the run's own timeout to start and collect its ranks."""

SIDECHANNEL_CONNECT = 3.0
"""``dist``: one TCP connect to the rendezvous address, to say whether it is reachable at all."""


def shown(seconds: float) -> str:
    """A default as the command line's help shows it: ``[90]``, ``[0.5]``."""
    return f"[{seconds:g}]"
