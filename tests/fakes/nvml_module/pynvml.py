"""A stand-in ``pynvml`` for whole-process tests: put this folder on PYTHONPATH and describe the
machine in FAKE_NVML (a JSON scenario, see tests/fakes/fake_nvml.py). FAKE_NVML=missing makes the
import itself fail, as when nvidia-ml-py is not installed."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if os.environ.get("FAKE_NVML") == "missing":
    raise ImportError("No module named 'pynvml' (fake: bindings not installed)")

from fake_nvml import FakeNVML, NVMLError

_fake = FakeNVML(json.loads(os.environ.get("FAKE_NVML") or "{}"))


def __getattr__(name):
    return getattr(_fake, name)


__all__ = ["NVMLError"]
