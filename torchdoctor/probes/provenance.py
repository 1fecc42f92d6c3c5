"""Who installed a file: a pip distribution (its RECORD), a conda package (conda-meta), dpkg, or nobody.

Read-only lookups of the installers' own records; nothing is run. The rpm database cannot be read without
running rpm, so a file under /usr/lib* or /lib* that dpkg does not list is "system, not identified".
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
from collections.abc import Iterable

from torchdoctor.model import Owner, OwnerKind

DPKG_INFO = "/var/lib/dpkg/info"
SYSTEM_DIRS = ("/usr/lib", "/lib", "/usr/lib64", "/lib64")
"""Where only the OS's package manager puts libraries: a file here that no record names is "not identified"."""
MAX_PARENTS = 8
MAX_RECORD_BYTES = 32 << 20


def _variants(path: str) -> set[str]:
    """The path as an installer may have recorded it: as given, resolved, and across the /lib → /usr/lib merge."""
    out = {os.path.normpath(path)}
    with contextlib.suppress(OSError):
        out.add(os.path.realpath(path))
    for p in list(out):
        if p.startswith("/usr/lib"):
            out.add(p[len("/usr") :])
        elif p.startswith("/lib"):
            out.add("/usr" + p)
    return out


def _pip_index(site: str) -> dict[str, Owner]:
    index: dict[str, Owner] = {}
    for record in glob.glob(os.path.join(glob.escape(site), "*.dist-info", "RECORD")):
        dist = os.path.basename(os.path.dirname(record))[: -len(".dist-info")]
        name, _, version = dist.partition("-")
        owner = Owner(OwnerKind.PIP, name, version, record)
        try:
            if os.path.getsize(record) > MAX_RECORD_BYTES:
                continue
            with open(record, newline="", encoding="utf-8", errors="replace") as fh:
                for row in csv.reader(fh):
                    if row and (row[0].endswith((".so", ".dll")) or ".so." in row[0]):
                        index[os.path.normpath(os.path.join(site, row[0]))] = owner
        except (OSError, csv.Error):
            continue
    return index


def _conda_index(prefix: str) -> dict[str, Owner]:
    index: dict[str, Owner] = {}
    for meta in glob.glob(os.path.join(glob.escape(prefix), "conda-meta", "*.json")):
        try:
            with open(meta, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        owner = Owner(OwnerKind.CONDA, str(data.get("name", "")), str(data.get("version", "")), meta)
        for rel in data.get("files") or ():
            if isinstance(rel, str) and (".so" in rel or rel.endswith(".dll")):
                index[os.path.normpath(os.path.join(prefix, rel))] = owner
    return index


class Owners:
    """Looks up owners, reading each installer's records once and only where a file asks for them."""

    def __init__(self, dpkg_info: str = DPKG_INFO) -> None:
        self.dpkg_info = dpkg_info
        self._pip: dict[str, dict[str, Owner]] = {}
        self._conda: dict[str, dict[str, Owner]] = {}

    def _pip_owner(self, path: str) -> Owner | None:
        folder = os.path.dirname(path)
        for _ in range(MAX_PARENTS):
            if os.path.basename(folder) in ("site-packages", "dist-packages"):
                if folder not in self._pip:
                    self._pip[folder] = _pip_index(folder)
                return next((self._pip[folder][v] for v in _variants(path) if v in self._pip[folder]), None)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        return None

    def _conda_owner(self, path: str) -> Owner | None:
        folder = os.path.dirname(path)
        for _ in range(MAX_PARENTS):
            if os.path.isdir(os.path.join(folder, "conda-meta")):
                if folder not in self._conda:
                    self._conda[folder] = _conda_index(folder)
                found = next((self._conda[folder][v] for v in _variants(path) if v in self._conda[folder]), None)
                return found or Owner(OwnerKind.NOBODY, record=folder)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        return None

    def _dpkg(self, paths: Iterable[str]) -> dict[str, Owner]:
        wanted = {p: _variants(p) for p in paths}
        found: dict[str, Owner] = {}
        for listing in sorted(glob.glob(os.path.join(glob.escape(self.dpkg_info), "*.list"))):
            if len(found) == len(wanted):
                break
            try:
                with open(listing, encoding="utf-8", errors="replace") as fh:
                    text = "\n" + fh.read() + "\n"
            except OSError:
                continue
            package = os.path.basename(listing)[: -len(".list")].split(":")[0]
            for path, variants in wanted.items():
                if path not in found and any(f"\n{v}\n" in text for v in variants):
                    found[path] = Owner(OwnerKind.SYSTEM, package, "", listing)
        return found

    def owners(self, paths: Iterable[str]) -> dict[str, Owner]:
        """The owner of each path (every path gets one: NOBODY when no installer records it)."""
        out: dict[str, Owner] = {}
        system: list[str] = []
        for path in dict.fromkeys(paths):
            owner = self._pip_owner(path) or self._conda_owner(path)
            if owner is not None:
                out[path] = owner
            else:
                system.append(path)
        listed = self._dpkg(system) if system and os.path.isdir(self.dpkg_info) else {}
        for path in system:
            in_system_dir = any(v.startswith(d + "/") for v in _variants(path) for d in SYSTEM_DIRS)
            out[path] = listed.get(path) or Owner(OwnerKind.SYSTEM_UNIDENTIFIED if in_system_dir else OwnerKind.NOBODY)
        return out
