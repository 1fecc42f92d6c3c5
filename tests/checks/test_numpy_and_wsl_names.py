"""Which way a NumPy mismatch goes (TD002, TD105), and WSL 2's libcuda by another name than libcuda.so.1 (TD041).

Each fix fires on the evidence that decides it and stays quiet on the healthy neighbour.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests import factories as f
from torchdoctor.checks.base import REGISTRY, run_checks
from torchdoctor.model import (
    Facts,
    ImportFailureKind,
    OtherLoaderFacts,
    TorchImportFailure,
    Unavailable,
    WslFacts,
)

NA = Unavailable("loaders", "does not apply", "not_applicable")
WSL_LIB = "/usr/lib/wsl/lib"
OLD_API = (
    "RuntimeError: module compiled against API version 0xb but this version of numpy is 0xa\n"
    "ImportError: numpy.core.multiarray failed to import"
)
NO_LIBCUDA = (
    "Could not load library libcudnn_cnn_infer.so.8. Error: libcuda.so: cannot open shared object file: "
    "No such file or directory\nPlease make sure libcudnn_cnn_infer.so.8 is in your library path!"
)


def fired(code: str, facts: Facts) -> tuple[Any, ...]:
    out = run_checks(facts, [REGISTRY[code]])[0]
    assert "internal error" not in out.reason, out.reason
    return out.findings


def numpy_failure(message: str, torch: str = "") -> Facts:
    failure = TorchImportFailure(ImportFailureKind.NUMPY_ABI, "ImportError", message)
    dists = (f.dist("torch", torch),) if torch else ()
    return f.facts(torch=failure, packages=f.packages(*dists, f.dist("numpy", "1.11.3")))


def test_td002_upgrades_a_numpy_older_than_torchs_build_and_keeps_it_below_2_for_an_old_torch() -> None:
    (finding,) = fired("TD002", numpy_failure(OLD_API, torch="1.4.0"))
    assert "install --upgrade" in finding.fix_command and '"numpy<2"' in finding.fix_command
    assert "older than the one torch needs" in finding.fix


def test_td002_upgrades_numpy_freely_for_a_torch_built_for_numpy_2() -> None:
    (finding,) = fired("TD002", numpy_failure(OLD_API, torch="2.5.1"))
    assert finding.fix_command.endswith("install --upgrade numpy")


def test_td002_still_pins_numpy_1_when_numpy_2_meets_a_numpy_1_build() -> None:
    (finding,) = fired(
        "TD002", numpy_failure("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0")
    )
    assert finding.fix_command.endswith('install "numpy<2"') and "--upgrade" not in finding.fix_command


def test_td105_fires_on_torchs_own_warning_where_numpys_version_is_not_known() -> None:
    warned = f.runtime(warnings=("UserWarning: Failed to initialize NumPy: _ARRAY_API not found",))
    unknown = f.packages(f.dist("torch", "2.2.2"), f.dist("numpy", ""))
    (finding,) = fired("TD105", f.facts(torch=warned, packages=unknown))
    assert finding.fix_command.endswith('install "numpy<2"')


def test_td105_quiet_where_numpys_version_is_not_known_and_torch_did_not_warn() -> None:
    unknown = f.packages(f.dist("torch", "2.2.2"), f.dist("numpy", ""))
    assert fired("TD105", f.facts(torch=f.runtime(), packages=unknown)) == ()
    older = f.runtime(
        warnings=(
            "Failed to initialize NumPy: module compiled against API version 0xf but this version of numpy is 0xe",
        )
    )
    assert fired("TD105", f.facts(torch=older, packages=unknown)) == ()  # an older NumPy is not NumPy 2's ABI


def wsl_facts(facts: Facts) -> Facts:
    wsl = WslFacts("wsl2", "5.15.153.1-microsoft-standard-WSL2", WSL_LIB, True, (f"{WSL_LIB}/libcuda.so.1",))
    return replace(facts, other_loaders=OtherLoaderFacts(wsl=wsl, tegra=NA, rocm=NA, dlls=NA))


def test_td041_puts_wsls_lib_dir_on_the_path_when_a_library_cannot_open_the_unversioned_libcuda() -> None:
    failed = f.facts(env=f.env(LD_LIBRARY_PATH="/opt/x"), smoke=f.smoke_failure("cuda:0", "tensors", NO_LIBCUDA))
    (finding,) = fired("TD041", wsl_facts(failed))
    assert finding.fix_command == f"export LD_LIBRARY_PATH={WSL_LIB}:/opt/x"
    assert "libcuda.so is not on the loader's search path" in finding.title


def test_td041_quiet_on_wsl_when_nothing_failed_to_open_libcuda_and_off_wsl_when_something_did() -> None:
    assert fired("TD041", wsl_facts(f.facts(smoke=f.smoke_failure("cuda:0", "tensors", "CUDA out of memory")))) == ()
    linux = f.facts(smoke=f.smoke_failure("cuda:0", "tensors", NO_LIBCUDA))
    assert all(not x for x in fired("TD041", replace(linux, other_loaders=OtherLoaderFacts(NA, NA, NA, NA))))
