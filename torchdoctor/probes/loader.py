"""Where the dynamic loader finds torch's libraries, worked out the way ld.so(8) does, without loading any.

For each object (torch's ``_C*.so`` and what it needs, breadth first): its DT_NEEDED, and for each needed
name every copy in the loader's order: LD_PRELOAD, DT_RPATH (only without DT_RUNPATH; the object's, then
the executable's), LD_LIBRARY_PATH, DT_RUNPATH (``$ORIGIN`` expanded), ld.so.cache, the default
directories. A copy of another ELF class or machine is skipped, as the loader skips it. The first copy is
the one taken; the rest are what it shadows. Not modelled: a soname already loaded by an earlier object
(the torch child's /proc/self/maps is the ground truth for that), glibc-hwcaps subdirectories, DF_1_NODEFLIB.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Mapping
from dataclasses import replace

from torchdoctor.model import (
    Candidate,
    LoaderFacts,
    Maybe,
    PackagesFacts,
    Resolution,
    SharedObject,
    SymbolLookup,
    TorchImportFailure,
    TorchState,
    Unavailable,
    Via,
)
from torchdoctor.probes import elf
from torchdoctor.probes.provenance import Owners
from torchdoctor.rules import dlerror

MAX_OBJECTS = 160
MAX_CANDIDATES = 6
MAX_LOOKUPS = 8
DEFAULT_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)
"""glibc's built-in system directories (multiarch on Debian/Ubuntu, lib64 on Fedora/RHEL); missing ones skip."""


def split_path(value: str) -> tuple[str, ...]:
    """LD_LIBRARY_PATH's entries as written (ld.so splits on ':' and ';'); empty entries are kept."""
    return tuple(value.replace(";", ":").split(":")) if value else ()


def split_preload(value: str) -> tuple[str, ...]:
    return tuple(p for p in value.replace(":", " ").split() if p)


class Search:
    """One machine's loader search: its environment, its executable's RPATH, its ld.so.cache."""

    def __init__(self, environ: Mapping[str, str], executable: str, cache: Mapping[str, tuple[str, ...]]) -> None:
        self.ld_library_path = split_path(environ.get("LD_LIBRARY_PATH", ""))
        self.preload = split_preload(environ.get("LD_PRELOAD", ""))
        self.cache = cache
        self.preloaded: dict[str, str] = {}
        for entry in self.preload:
            path = entry if "/" in entry else next(iter(self._dirs(DEFAULT_DIRS, entry, None)), "")
            if path:
                soname = elf.read_object(path).soname
                self.preloaded.setdefault(soname or os.path.basename(path), path)
                self.preloaded.setdefault(os.path.basename(path), path)
        exe = elf.read_object(executable) if executable else None
        self.exe_rpath: tuple[str, ...] = ()
        self.exe_dir = os.path.dirname(executable)
        if exe is not None and not exe.runpath:
            self.exe_rpath = exe.rpath

    def _dirs(self, dirs: tuple[str, ...], name: str, ident: tuple[int, int, int] | None) -> list[str]:
        found = []
        for d in dirs:
            path = os.path.join(os.path.abspath(d) if d else os.getcwd(), name)
            if os.path.isfile(path) and (ident is None or elf.identity(path) == ident):
                found.append(path)
        return found

    def candidates(self, obj: SharedObject, name: str) -> tuple[Candidate, ...]:
        ident = elf.identity(obj.path)
        out: list[Candidate] = []
        seen: set[str] = set()

        def add(path: str, via: Via, entry: str) -> None:
            real = os.path.realpath(path)
            if real not in seen and len(out) < MAX_CANDIDATES:
                seen.add(real)
                out.append(Candidate(path, via, entry))

        if "/" in name:
            if os.path.isfile(name):
                add(name, Via.DEFAULT, "")
            return tuple(out)
        if name in self.preloaded:
            add(self.preloaded[name], Via.PRELOAD, self.preloaded[name])
        origin = os.path.dirname(obj.path)
        if not obj.runpath:
            for entry in obj.rpath:
                for path in self._dirs((expand(entry, origin),), name, ident):
                    add(path, Via.RPATH, entry)
            for entry in self.exe_rpath:
                for path in self._dirs((expand(entry, self.exe_dir),), name, ident):
                    add(path, Via.RPATH, entry)
        for entry in self.ld_library_path:
            for path in self._dirs((entry,), name, ident):
                add(path, Via.LD_LIBRARY_PATH, entry)
        for entry in obj.runpath:
            for path in self._dirs((expand(entry, origin),), name, ident):
                add(path, Via.RUNPATH, entry)
        for path in self.cache.get(name, ()):
            if os.path.isfile(path) and elf.identity(path) == ident:
                add(path, Via.CACHE, "/etc/ld.so.cache")
        for path in self._dirs(DEFAULT_DIRS, name, ident):
            add(path, Via.DEFAULT, os.path.dirname(path))
        return tuple(out)


def expand(entry: str, origin: str) -> str:
    """An RPATH/RUNPATH entry with its dynamic string tokens replaced ($ORIGIN, $LIB, $PLATFORM)."""
    lib = "lib64" if sys.maxsize > 2**32 else "lib"
    for token, value in (("ORIGIN", origin), ("LIB", lib), ("PLATFORM", os.uname().machine)):
        entry = entry.replace("${" + token + "}", value).replace("$" + token, value)
    return entry


def resolve(roots: list[str], search: Search, torch_dir: str = "") -> LoaderFacts:
    """Read ``roots`` and everything the loader would load for them, breadth first, within the bounds."""
    objects: dict[str, SharedObject] = {}
    resolutions: list[Resolution] = []
    queue = list(roots)
    truncated = ""
    while queue:
        path = queue.pop(0)
        if path in objects:
            continue
        if len(objects) >= MAX_OBJECTS:
            truncated = f"stopped after {MAX_OBJECTS} objects"
            break
        obj = objects[path] = elf.read_object(path)
        for name in obj.needed:
            found = search.candidates(obj, name)
            resolutions.append(Resolution(obj.path, name, found))
            for i, cand in enumerate(found):
                if i == 0:
                    queue.append(cand.path)
                elif cand.path not in objects and len(objects) < MAX_OBJECTS:
                    objects[cand.path] = elf.read_object(cand.path)  # read for what it defines, not followed
    owners = Owners().owners(objects)
    return LoaderFacts(
        torch_dir=torch_dir,
        ld_library_path=search.ld_library_path,
        ld_preload=search.preload,
        objects=tuple(replace(o, owner=owners[o.path]) for o in objects.values()),
        resolutions=tuple(resolutions),
        truncated=truncated,
    )


def torch_folder(packages: Maybe[PackagesFacts]) -> Maybe[str]:
    """torch's package folder, from where `import torch` would load (the interpreter probe's find_spec)."""
    if isinstance(packages, Unavailable):
        return Unavailable("loader", f"needs the interpreter's package facts: {packages.reason}", packages.code)
    origin = packages.torch_origin
    if isinstance(origin, Unavailable):
        return Unavailable("loader", f"torch's folder is unknown: {origin.reason}", origin.code)
    return os.path.dirname(origin)


def probe_loader(
    packages: Maybe[PackagesFacts], executable: str, environ: Mapping[str, str] | None = None
) -> Maybe[LoaderFacts]:
    """torch's shared objects and where this machine's loader finds what they need."""
    if not sys.platform.startswith("linux"):
        return Unavailable("loader", "the ELF loader's search is read on Linux only", "not_applicable")
    folder = torch_folder(packages)
    if isinstance(folder, Unavailable):
        return folder
    roots = sorted(glob.glob(os.path.join(glob.escape(folder), "_C*.so")))
    if not roots:
        return Unavailable("loader", f"no torch/_C*.so in {folder}", "not_found")
    search = Search(os.environ if environ is None else environ, executable, elf.read_ld_cache())
    return resolve(roots, search, folder)


def same_file(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def with_lookups(loader: LoaderFacts, torch: TorchState) -> LoaderFacts:
    """For an import that failed on an undefined versioned symbol: which copies of its library define it."""
    if not isinstance(torch, TorchImportFailure):
        return loader
    error = dlerror.parse(torch.message)
    if error is None or error.kind is not dlerror.LoaderErrorKind.UNDEFINED_SYMBOL or not error.version:
        return loader
    lookups: list[SymbolLookup] = []
    for res in loader.resolutions:
        obj = loader.object_at(res.requester)
        if obj is None or not same_file(res.requester, error.requester):
            continue
        if not any(n.library == res.needed and error.version in n.versions for n in obj.requires):
            continue
        for cand in res.candidates[:MAX_LOOKUPS]:
            lookups.append(elf.lookup_symbol(cand.path, error.symbol, error.version))
        break
    return replace(loader, lookups=tuple(lookups)) if lookups else loader
