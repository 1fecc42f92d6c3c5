"""Real objects, the real loader: each diagnosis fires on its failure and stays quiet on a harmless path.

A stand-in ``libfoo.so.1`` exists in three builds: ``good`` (FOO_1, FOO_2 with foo2), ``old`` (FOO_1 only:
too few version nodes) and ``hollow`` (both nodes, but no foo2). ``ext/_ext.so`` is an extension module that
needs foo2@FOO_2 and finds ``good`` through its RUNPATH ($ORIGIN/../good). A real child imports it with
LD_LIBRARY_PATH set, so the real loader writes the real message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loader.conftest import gcc, versioned
from torchdoctor.checks.loader import diagnose, without
from torchdoctor.model import ImportFailureKind, OwnerKind, TorchImportFailure, Via
from torchdoctor.probes import elf
from torchdoctor.probes.loader import Search, resolve, with_lookups

pytestmark = pytest.mark.usefixtures("have_gcc")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loader")
    versioned(root / "good" / "libfoo.so.1", "libfoo.so.1", {"FOO_1": ["foo1"], "FOO_2": ["foo2"]})
    versioned(root / "old" / "libfoo.so.1", "libfoo.so.1", {"FOO_1": ["foo1"]})
    versioned(root / "hollow" / "libfoo.so.1", "libfoo.so.1", {"FOO_1": ["foo1"], "FOO_2": ["foo3"]})
    (root / "junk").mkdir()
    (root / "junk" / "libfoo.so.1").write_bytes(b"\x7fELF" + b"\x02\x01\x01" + b"\0" * 9 + b"\x03\x00\x3e\x00")
    gcc(
        root / "ext" / "_ext.so",
        "int foo1(void); int foo2(void); int use(void) { return foo1() + foo2(); }\n",
        f"-L{root / 'good'}",
        "-l:libfoo.so.1",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../good",
    )
    return root


def import_ext(tree: Path, ld_library_path: str) -> str:
    """What `import _ext` says in a real child (the loader's message, or the module-init complaint)."""
    env = {**os.environ, "LD_LIBRARY_PATH": ld_library_path}
    code = "import sys; sys.path.insert(0, sys.argv[1])\ntry:\n import _ext\nexcept ImportError as e:\n print(e)"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tree / "ext")], env=env, capture_output=True, text=True, timeout=60
    )
    return proc.stdout.strip()


def facts_for(tree: Path, ld_library_path: str, message: str = ""):
    search = Search({"LD_LIBRARY_PATH": ld_library_path}, sys.executable, elf.read_ld_cache())
    loader = resolve([str(tree / "ext" / "_ext.so")], search)
    failure = TorchImportFailure(ImportFailureKind.OTHER, "ImportError", message)
    return with_lookups(loader, failure)


def test_runpath_resolves_with_origin_and_nobody_owns_a_hand_built_file(tree: Path) -> None:
    loader = facts_for(tree, "")
    res = loader.resolution(str(tree / "ext" / "_ext.so"), "libfoo.so.1")
    assert res is not None
    first = res.candidates[0]
    assert (first.via, first.entry) == (Via.RUNPATH, "$ORIGIN/../good")
    assert os.path.samefile(first.path, tree / "good" / "libfoo.so.1")
    obj = loader.object_at(first.path)
    assert obj is not None and obj.defines == ("FOO_1", "FOO_2") and obj.soname == "libfoo.so.1"
    assert obj.owner.kind is OwnerKind.NOBODY  # type: ignore[union-attr]


def test_missing_version_names_the_entry_and_takes_exactly_it_out(tree: Path) -> None:
    path = f"/opt/a:{tree / 'old'}:/opt/b"
    message = import_ext(tree, path)
    assert "version `FOO_2' not found" in message or "version 'FOO_2' not found" in message
    found = diagnose(message, facts_for(tree, path, message))
    assert found is not None
    assert str(tree / "old") in found.title and "LD_LIBRARY_PATH" in found.title
    assert found.command == "export LD_LIBRARY_PATH=/opt/a:/opt/b"
    assert any(os.path.join("good", "libfoo.so.1") in e.value for e in found.evidence)


def test_missing_symbol_is_found_by_looking_the_symbol_up_in_each_copy(tree: Path) -> None:
    path = str(tree / "hollow")
    message = import_ext(tree, path)
    assert "undefined symbol: foo2, version FOO_2" in message
    loader = facts_for(tree, path, message)
    assert [lk.defined for lk in loader.lookups] == [False, True]
    found = diagnose(message, loader)
    assert found is not None and found.command == "unset LD_LIBRARY_PATH"
    assert path in found.title


@pytest.mark.parametrize("where", ["good", "junk"])
def test_quiet_when_the_directory_on_the_path_is_harmless(tree: Path, where: str) -> None:
    """A compatible copy first, or a file the loader skips (not an ELF it can load): no loader error at all."""
    path = str(tree / where)
    message = import_ext(tree, path)
    assert "not found" not in message and "undefined symbol" not in message
    loader = facts_for(tree, path, message)
    assert diagnose(message, loader) is None
    if where == "good":  # LD_LIBRARY_PATH does take it first: a fact, not a finding
        res = loader.resolution(str(tree / "ext" / "_ext.so"), "libfoo.so.1")
        assert res is not None and res.candidates[0].via is Via.LD_LIBRARY_PATH


def test_an_unparsable_file_is_could_not_check_not_a_crash(tree: Path) -> None:
    broken = elf.read_object(str(tree / "junk" / "libfoo.so.1"))
    assert broken.problem and not broken.needed
    assert elf.read_object(str(tree / "nothing-here.so")).problem.startswith("cannot stat")


def test_without_keeps_the_other_entries_in_order() -> None:
    assert without(("/x", "/bad", "/y", "/bad/"), "/bad", "LD_LIBRARY_PATH") == "export LD_LIBRARY_PATH=/x:/y"
    assert without(("/bad",), "/bad", "LD_LIBRARY_PATH") == "unset LD_LIBRARY_PATH"
