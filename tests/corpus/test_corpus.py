"""The corpus of real cases runs in the suite: every case is well formed, replays, and gets the thread's verdict.

Each case must score "right" (a finding names the cause the thread confirmed, with a fix of the kind it
confirmed: replay.score, from the case's own ``verdict``), except the cases in KNOWN_WRONG, each with why the
doctor still gets it wrong. Those are strict xfails: a change that makes one right fails the suite until it is
taken off the list, and a change that makes any other case wrong fails it too. tests/corpus/README.md keeps the
list's reasons in prose.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.corpus import replay as r

CASES = r.load_cases()

KNOWN_WRONG: dict[str, str] = {
    "018-second-nccl-provider-torch22": "wrong cause: only the undefined nccl symbol is shown, no nvidia-* wheels and "
    "no library path, so TD033 has nothing to fire on (naming NCCL from the symbol alone would be matching wording)",
    "023-c10-dll-init-fails-torch-2-9": "wrong cause: c10.dll fails to initialise (WinError 1114) under torch 2.9; "
    "only the project's maintainer blames the release, no pytorch maintainer confirms a broken wheel (#169429 is "
    "open), so compat/loaders.toml has no row for it",
    "028-gfx1031-laptop-segfault": "silent: the thread states the GPU's gfx1031 but not torch's gfx list (the list "
    "quoted is TensorFlow's), and the failure is a segfault with no HIP error name",
    "036-aarch64-gb200-pypi-cpu-wheel": "wrong fix: the thread names the GPU but neither its driver nor its compute "
    "capability, so TD003 will not pick a CUDA build (it says to fix the driver first)",
    "040-rx7600xt-gfx1102-override-11-0-0": "wrong cause: the thread states no gfx target and no build list, and "
    "the override was already set when the rocm6.0 wheels failed (the rocm5.7 wheels fixed it)",
    "058-torch-2-2-nccl-from-ms-amp": "wrong cause: only the undefined nccl symbol is shown, no nvidia-* wheels "
    "(the second NCCL came from MS-AMP) and no library path, so TD033 has nothing to fire on",
    "065-rtx-a6000-sm86-cuda-10-build": "silent: the build's list ends at sm_75 but carries compute_37 PTX, which "
    "TD102 counts as covering sm_86 (torch's own check ignores PTX and warns); the thread states neither torch's "
    "version nor its CUDA, so nothing says whether that PTX runs here (the thread's fix was a CUDA 11.1 build)",
    "059-torch-1-13-cublas-wheel-in-cuda-11-3-image": "wrong fix: TD002 finds the image's libcublasLt taken instead "
    "of the wheel's and puts the wheel's folder first on LD_LIBRARY_PATH (a fix that works); the reporter's fix, "
    "uninstalling nvidia-cublas-cu11, is the other of two",
    "086-almalinux9-torch-2-5-0-lib64-libcudart-not-found": "wrong cause: TD002 names libcudart.so.12 missing; the "
    "thread shows neither where the nvidia-cuda-runtime wheel went nor that it sits in another site-packages than "
    "torch (lib vs lib64), and no table row says 2.5.0's preload misses it there",
    "093-gfx1151-rocm7-nightly-hsa-override": "wrong cause: the thread states gfx1151 but not the nightly's gfx list, "
    "so TD043 has no build list to compare with (as 028); TD202 names the missing kernel image without the gfx",
    "094-voicebox-docker-triton-no-c-compiler": "wrong cause: no probe records whether a C compiler is on PATH (or CC "
    "set), so only TD201's failed smoke step speaks; naming the compiler from Triton's message would be wording",
    "095-mistral-image-h100-sm90": "wrong fix: TD102 names sm_90 and installs a build of a CUDA index that covers it; "
    "the thread's fix was a newer torch (2.2.0), the other of two working fixes",
    "101-nccl-shm-open-permission-denied-four-gpus": "wrong cause: NCCL could not open its segment in /dev/shm "
    "(shm_open: Permission denied); no probe records whether /dev/shm is writable (its size is not the problem), "
    "so only TD201's failed step speaks; naming /dev/shm from NCCL's message would be wording",
    "102-torch-1-8-0-cublas-internal-error-fixed-by-1-8-1": "wrong cause: torch 1.8.0's cuBLAS failure was fixed by "
    "1.8.1, but the thread shows no maintainer's statement of the cause (pytorch/pytorch#53336 is labelled, not "
    "explained), so compat/loaders.toml has no row that names 1.8.0 broken; only TD201's failed step speaks",
    "105-colab-torch-compile-libcuda-so-not-in-ldconfig": "wrong cause: Triton needs the unversioned libcuda.so in "
    "ld.so.cache; the thread shows neither the cache nor where the driver's libcuda lives (Colab's /usr/lib64-nvidia "
    "appears only in the fix), and no probe records it, so only TD201's failed smoke step speaks",
}
"""The cases the doctor does not get right yet (case name -> why). The one place to change when a case flips."""


def verdict_params() -> list[object]:
    """Each case, a strict xfail where KNOWN_WRONG lists it: passing then means it is right now."""
    return [
        pytest.param(
            case,
            id=case.name,
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason=f"{KNOWN_WRONG[case.name]} (if this passes, it is now right: remove it from KNOWN_WRONG)",
            ),
        )
        if case.name in KNOWN_WRONG
        else pytest.param(case, id=case.name)
        for case in CASES
    ]


REQUIRED = ("source", "title", "class", "confirmed_cause", "confirmed_fix", "machine", "import_error", "runtime")
STATED = re.compile(r"(machine|runtime)\.\w+")
"""A key of a case's ``stated``: the fact (``machine.gfx``) whose value it quotes the thread for."""


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_well_formed(case: r.Case) -> None:
    data = case.data
    assert re.fullmatch(r"\d{3}-[a-z0-9.-]+", case.name)
    assert all(key in data for key in REQUIRED), [k for k in REQUIRED if k not in data]
    assert data["source"].startswith("https://")
    assert data["class"] in r.CLASSES
    assert data["machine"]["platform"] in r.PLATFORMS
    assert data["machine"].get("installer", "unknown") in r.INSTALLERS
    assert (data["import_error"] is None) != (data["runtime"] is None), "a case shows an import error or a runtime"
    if data["import_error"]:
        assert data["import_error"]["exc_type"] and data["import_error"]["message"]
    assert all(e["role"] in r.ROLES and e["installed_by"] in (*r.INSTALLERS, "none") for e in data.get("loader", []))
    for key, words in data.get("stated", {}).items():  # each cited fact is one the case records, with the words
        assert STATED.fullmatch(key) and words.strip(), key
        group, _, name = key.partition(".")
        assert name in (data[group] or {}), f"{key} is cited but the case has no such fact"
    verdict = case.verdict
    assert verdict["cause"] in r.CAUSE_SIGNS
    assert verdict["fix_kind"] in r.FIX_SIGNS
    assert {"culprit_file", "culprit_dir"} <= set(verdict)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_replays_and_is_scored(case: r.Case) -> None:
    outcome = r.replay(case)
    assert outcome.internal_errors == ()
    assert isinstance(outcome.score, r.Score) and outcome.reason


@pytest.mark.parametrize("case", verdict_params())
def test_case_gets_the_threads_verdict(case: r.Case) -> None:
    outcome = r.replay(case)
    said = "; ".join(f"{x.code} {x.severity.value}: {x.title}" for x in outcome.findings) or "no findings"
    assert outcome.score is r.Score.RIGHT, (
        f"{case.name} is {outcome.score.value} ({outcome.reason}); the thread decided cause "
        f"{case.verdict['cause']}, fix {case.verdict['fix_kind']}. The doctor said: {said}"
    )


def test_known_wrong_names_only_cases_that_exist() -> None:
    assert set(KNOWN_WRONG) <= {c.name for c in CASES}, set(KNOWN_WRONG) - {c.name for c in CASES}


def test_sources_are_unique() -> None:
    sources = [c.data["source"] for c in CASES]
    assert len(sources) == len(set(sources))


def test_table_counts_every_case() -> None:
    outcomes = [r.replay(c) for c in CASES]
    last = r.table(outcomes).splitlines()[-1]
    assert last.startswith(f"| **all** | {len(CASES)} |")
    assert sum(int(n) for n in last.strip("| ").split(" | ")[2:]) == len(CASES)


def test_the_child_classifier_is_read_from_the_child() -> None:
    """The replay classifies messages with the torch child's own function, not a copy that could drift."""
    assert r.import_kind("ModuleNotFoundError", "No module named 'x'").value == "missing Python module"
    assert r.import_kind("ImportError", "libfoo.so.1: cannot open shared object file").value == "missing shared library"


def _case(name: str) -> r.Case:
    return next(c for c in CASES if c.name.startswith(name))


def test_a_path_built_from_the_executables_rpath_is_an_rpath_candidate() -> None:
    loader = r.facts_for(_case("062")).loader
    (res,) = loader.resolutions  # type: ignore[union-attr]
    assert [(c.via.value, c.entry) for c in res.candidates] == [("RPATH", "$ORIGIN/../lib")]


def test_no_gpu_stands_in_for_a_cpu_torch_whose_thread_names_none() -> None:
    assert isinstance(r.facts_for(_case("062")).nvml, r.Unavailable)  # aarch64 PyPI torch: the CPU build
    assert not isinstance(r.facts_for(_case("055")).nvml, r.Unavailable)  # a cpu-only-build case has a GPU


def test_torchs_requires_dist_comes_from_the_registry_for_a_pypi_release() -> None:
    (torch,) = r.facts_for(_case("009")).packages.named("torch")  # type: ignore[union-attr]
    assert any(req.startswith("nvidia-cudnn-cu12") for req in torch.requires)


def test_a_rocm_builds_gfx_list_is_only_what_the_thread_states() -> None:
    """No CUDA sm_* list stands in for a ROCm build's targets: unstated, it is empty (TD043 then claims nothing)."""
    assert r.facts_for(_case("028")).torch.arch_list == ()  # type: ignore[union-attr]
    assert "gfx1030" in r.facts_for(_case("029")).torch.arch_list  # type: ignore[union-attr]
    assert r.facts_for(_case("033")).torch.arch_list  # type: ignore[union-attr]  # a CUDA build: the builders' list


def test_a_container_with_the_gpu_keeps_it_and_its_stated_shm() -> None:
    """``container_gpu``: the process runs in a container that has the GPU; /dev/shm is what the thread states, and
    "not stated" (never the builders' 16 GiB) where it states none."""
    facts = r.facts_for(_case("099"))
    assert facts.host.container == "docker" and facts.host.shm_bytes == 64 * 1024**2  # type: ignore[union-attr]
    assert not isinstance(facts.nvml, r.Unavailable) and len(facts.nvml.gpus) == 4  # type: ignore[union-attr]
    assert isinstance(r.facts_for(_case("069")).host.shm_bytes, r.Unavailable)  # type: ignore[union-attr]


def test_an_empty_gpu_list_is_a_machine_with_no_nvidia_gpu() -> None:
    facts = r.facts_for(_case("044"))
    assert isinstance(facts.nvml, r.Unavailable)
    assert facts.kernel.pci_gpus == ()  # type: ignore[union-attr]


def _report(*findings: r.Finding) -> r.Report:
    """What ``score`` reads of a report: its findings."""
    return SimpleNamespace(findings=findings)  # type: ignore[return-value]


def _finding(code: str, title: str, command: str) -> r.Finding:
    return r.Finding(code, "x", r.Severity.ERROR, title, (), "", "Reinstall torch 1.11.0 (cu115).", command)


CPU_ONLY = {
    "cause": "cpu-only-build",
    "culprit_file": None,
    "culprit_dir": None,
    "fix_kind": "install-other-torch-version",
}
INDEX = "https://download.pytorch.org/whl/"
CPU_ONLY_TITLE = "a CPU-only torch on a machine with an NVIDIA GPU"


def test_the_same_version_from_another_builds_index_is_another_torch() -> None:
    """A CPU build's culprit is the build: 1.11.0 from the cu115 index replaces it (not the same torch)."""
    fix = _finding("TD003", CPU_ONLY_TITLE, f"pip install --force-reinstall torch==1.11.0 --index-url {INDEX}cu115")
    assert r.score(_report(fix), CPU_ONLY, "1.11.0", "cpu")[0] is r.Score.RIGHT


def test_the_same_version_from_the_same_builds_index_keeps_the_culprit() -> None:
    fix = _finding("TD003", CPU_ONLY_TITLE, f"pip install --force-reinstall torch==1.11.0 --index-url {INDEX}cpu")
    assert r.score(_report(fix), CPU_ONLY, "1.11.0", "cpu")[0] is r.Score.WRONG_FIX


def test_another_build_of_a_broken_release_still_keeps_the_culprit() -> None:
    """Where the release is the culprit, its other build is no cure."""
    broken = dict(CPU_ONLY, cause="torch-release-broken-here")
    fix = _finding(
        "TD002", "a known bug of this release", f"pip install --force-reinstall torch==1.11.0 --index-url {INDEX}cu115"
    )
    assert r.score(_report(fix), broken, "1.11.0", "cpu")[0] is r.Score.WRONG_FIX


def test_a_reinstall_of_the_installed_cpu_wheel_keeps_the_culprit() -> None:
    """torch 2.11.0+cpu reinstalled as torch==2.11.0 from the cpu index is the same torch (its tag is the build)."""
    fix = _finding("TD003", CPU_ONLY_TITLE, f"pip install --force-reinstall torch==2.11.0 --index-url {INDEX}cpu")
    assert r.score(_report(fix), CPU_ONLY, "2.11.0+cpu", "cpu")[0] is r.Score.WRONG_FIX


def test_the_cuda_build_of_the_installed_cpu_wheels_release_is_another_torch() -> None:
    fix = _finding("TD003", CPU_ONLY_TITLE, f"pip install --force-reinstall torch==2.11.0 --index-url {INDEX}cu130")
    assert r.score(_report(fix), CPU_ONLY, "2.11.0+cpu", "cpu")[0] is r.Score.RIGHT


def test_the_conda_list_a_thread_shows_is_the_envs_conda_records() -> None:
    """073's `conda list`: TD003's fix removes conda's CPU pytorch (and cpuonly) before pip puts the CUDA build in."""
    outcome = r.replay(_case("073"))
    (fix,) = [x for x in outcome.findings if x.code == "TD003"]
    assert fix.fix_command.startswith("conda remove") and " cpuonly " in fix.fix_command
    assert "/whl/cu" in fix.fix_command


def test_a_conda_env_whose_thread_lists_no_conda_packages_gets_no_conda_remove() -> None:
    outcome = r.replay(_case("056"))
    (fix,) = [x for x in outcome.findings if x.code == "TD003"]
    assert "conda remove" not in fix.fix_command and "/whl/cu" in fix.fix_command
