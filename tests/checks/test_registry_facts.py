"""Facts read from the registry that a whole-series row cannot say: a Python on one platform only, a
free-threaded build in one patch only. Each has a machine where `python-unsupported` fires and one where
it must stay quiet (the installed wheel exists, so saying it does not would be a false error)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests import factories as f
from torchdoctor.cli import app
from torchdoctor.compat.tables import load_tables
from torchdoctor.doctor import judge
from torchdoctor.model import Facts, Unavailable

QUICK = Unavailable("torch", "skipped: --quick", "skipped")
WINDOWS = f.host(system="Windows", os_name="Windows 10.0.19045", glibc=Unavailable("platform", "not glibc"))


def on(torch: str, python: str, free_threaded: bool = False, windows: bool = False) -> Facts:
    return f.facts(
        torch=QUICK,
        host=WINDOWS if windows else f.host(),
        python=f.python(version=python, free_threaded=free_threaded, machine="AMD64" if windows else "x86_64"),
        packages=f.packages(f.dist("torch", torch), f.dist("numpy", "1.26.4")),
    )


def python_finding(facts: Facts):  # type: ignore[no-untyped-def]
    return next((x for x in judge(facts).findings if x.slug == "python-unsupported"), None)


def test_torch_1_13_on_python_3_11_is_right_on_linux_x86_64_and_wrong_on_windows() -> None:
    assert python_finding(on("1.13.1", "3.11.9")) is None  # PyPI has torch-1.13.1-cp311-...-manylinux1_x86_64
    windows = python_finding(on("1.13.1", "3.11.9", windows=True))
    assert windows is not None
    assert any("3.11 only on linux-x86_64" in e.value for e in windows.evidence)


def test_free_threaded_3_13_has_torch_2_12_0_but_not_2_12_1() -> None:
    assert python_finding(on("2.12.0", "3.13.1", free_threaded=True)) is None
    later = python_finding(on("2.12.1", "3.13.1", free_threaded=True))
    assert later is not None and any("free-threaded 3.13 only in 2.12.0" in e.value for e in later.evidence)


def test_apple_silicon_wheels_start_at_1_10() -> None:
    tables = load_tables()
    assert tables.platform_has_wheels(tables.release("1.10.2"), "macos-arm64")  # type: ignore[arg-type]
    assert not tables.platform_has_wheels(tables.release("1.9.1"), "macos-arm64")  # type: ignore[arg-type]


def test_recommend_for_free_threaded_python_names_it_and_its_interpreter() -> None:
    result = CliRunner().invoke(app, ["recommend", "--python-version", "3.13t", "-f", "json"], env={"NO_COLOR": "1"})
    doc = json.loads(result.stdout)
    assert "free-threaded Python 3.13" in doc["machine"]
    assert doc["command"].startswith("python3.13t -m pip install torch==2.11.0 ")  # PyPI: cp313t wheels up to 2.12.0
    assert any("free-threaded Python 3.13 has wheels of torch 2.11" in r for r in doc["reasons"])
    assert any("torch 2.15 has no free-threaded Python 3.13 wheels (it has: 3.14, 3.15)" in u for u in doc["upgrades"])
