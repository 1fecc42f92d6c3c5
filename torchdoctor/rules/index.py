"""Where pip finds a PyTorch build: the index URL for a local tag, a pinned requirement, a pip command.

PyTorch publishes each build variant on an index of its own (``https://download.pytorch.org/whl/cu126``);
a local version tag (``2.5.1+cu124``) names a build only that index has, so pinning it must name the
index too.
"""

from __future__ import annotations

from torchdoctor.model import Facts
from torchdoctor.rules import installers
from torchdoctor.rules.shell import quote

PYTORCH_INDEX = "https://download.pytorch.org/whl"
"""The root of PyTorch's own package indexes; each variant is a folder under it."""

PYPI = "https://pypi.org/simple"
"""The default index, which is what pip uses when no ``--index-url`` is given."""

VARIANT_PREFIXES = ("cpu", "cu", "rocm", "xpu")
"""Local tags (and variants) that PyTorch's index serves: cpu, cuXYZ, rocmX.Y, xpu."""


def index_url(tag: str) -> str:
    """The PyTorch index for a local tag or variant (``cu124`` -> ``.../whl/cu124``); "" when it names none."""
    return f"{PYTORCH_INDEX}/{tag}" if tag.startswith(VARIANT_PREFIXES) else ""


def index_option(tag: str) -> str:
    """`` --index-url URL`` for a pip command installing a build with this local tag; "" when there is none."""
    url = index_url(tag)
    return f" --index-url {quote(url)}" if url else ""


def pinned(name: str, version: str) -> str:
    """``name==version`` for pip, as shell words; a local version (+cpu, +cu124) only PyTorch's own index has, so
    it names it."""
    if not version:
        return quote(name)
    return quote(f"{name}=={version}") + index_option(version.partition("+")[2])


def pip(facts: Facts, args: str) -> str:
    """pip's ``args`` in the installer of the environment the facts came from (see :mod:`.installers`)."""
    return installers.command(facts, args).command
